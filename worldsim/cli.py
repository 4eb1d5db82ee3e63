"""The `worldsim` command."""

from __future__ import annotations

import argparse
import json
import sys

from worldsim.bench import add_bench
from worldsim.cli_adapt import add_adapt
from worldsim.cli_data import add_collect, add_dataset
from worldsim.cli_distill import add_distill
from worldsim.cli_model import add_calibrate, add_eval, add_export, add_train
from worldsim.cli_text import add_eval_prompts, add_scaling, add_train_reflect, add_train_text
from worldsim.counterfactual.cli import add_counterfactual
from worldsim.dream_demo import add_dream
from worldsim.generate import add_generate
from worldsim.play.cli import add_play
from worldsim.rollout import add_rollout


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="worldsim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_collect(commands)
    add_dataset(commands)
    add_bench(commands)
    add_train(commands)
    add_eval(commands)
    add_calibrate(commands)
    add_export(commands)
    add_distill(commands)
    add_train_text(commands)
    add_train_reflect(commands)
    add_generate(commands)
    add_eval_prompts(commands)
    add_scaling(commands)
    add_adapt(commands)
    add_dream(commands)
    add_rollout(commands)
    add_play(commands)
    add_counterfactual(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"worldsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"worldsim {args.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    if result is not None:
        print(json.dumps(result, indent=2) if getattr(args, "json", False) else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
