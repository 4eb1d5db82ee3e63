"""The transfer experiment: is an agent trained only in the dream as good on the real simulator?

    python agents/transfer.py --domain driving --steps 20000 --seeds 0,1,2 --out runs/transfer/driving

For each seed, at one budget of N environment steps: (a) the agent trained in WorldSim only, (b) the
same agent trained on the real simulator (observed through the same encoder), (c) a random policy;
all evaluated on the real simulator. Reports mean ± std of the real-simulator return over seeds and
the training wall-clock of (a) and (b), real-simulator evaluations excluded; --json for the full
record (each run's result.json too). Rerunning the same command resumes: agents that finished are
read back from their result.json, so a killed experiment loses only the agent it was training.

With --correct-rounds R, each dream agent plays --correct-episodes real episodes, the dream's reward
and termination heads are refitted on them (agents/correct_heads.py; nothing else in the model
changes) and a new agent is trained from scratch in the corrected dream, R times. The agent still
learns only in the dream, but the dream has now seen real steps: they are reported with it, and
their wall-clock (playing, fitting and every round's training) is counted in its own.

The command line of `worldsim.agents.transfer.run_transfer`.
"""

from __future__ import annotations

import argparse
import json

from worldsim import domains
from worldsim.agents.training import ALGOS
from worldsim.agents.transfer import AGENTS, TransferConfig, format_report, run_transfer
from worldsim.fanout import add_backend_arguments


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=domains.names())
    p.add_argument("--checkpoint", help="world model run (default: the shipped weights)")
    p.add_argument("--obs-type", default="latent", choices=["pixels", "latent", "state"])
    p.add_argument("--algo", default="ppo", choices=ALGOS)
    p.add_argument("--steps", type=int, default=20_000, help="environment steps per agent (default 20k)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--episode-steps", type=int)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--agents", default="dream,real,random", help="which of dream, real, random to run (default all)")
    p.add_argument(
        "--no-crash-rule",
        dest="crash_rule",
        action="store_false",
        default=None,
        help="driving dreams end on the termination head alone (the ablation; worldsim/model/crash.py)",
    )
    p.add_argument(
        "--physics-blend",
        type=float,
        default=1.0,
        help="the dream's physics blend α: 1 the learned dynamics alone (default), lower mixes in the physics prior",
    )
    p.add_argument(
        "--correct-rounds",
        type=int,
        default=0,
        help="rounds of head correction for each dream agent (agents/correct_heads.py; default 0)",
    )
    p.add_argument("--correct-episodes", type=int, default=10, help="real episodes the agent plays per round")
    p.add_argument("--correct-steps", type=int, default=300, help="head-fitting steps per round")
    p.add_argument("--correct-data", help="the model's training data, mixed into head fitting (default: data/<domain>)")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, help="torch threads per run (default: torch's own choice)")
    add_backend_arguments(p, "run the seeds one after another")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def config(args: argparse.Namespace) -> TransferConfig:
    agents = tuple(a.strip() for a in args.agents.split(","))
    if not agents or set(agents) - set(AGENTS):
        raise ValueError(f"--agents takes a comma list of {', '.join(AGENTS)}; got {args.agents!r}")
    options = {k: v for k, v in vars(args).items() if k != "json"}
    return TransferConfig(**{**options, "seeds": tuple(int(s) for s in args.seeds.split(",")), "agents": agents})


def main(argv=None) -> dict:
    return run_transfer(config(parse(argv)))


if __name__ == "__main__":
    args = parse()
    report = run_transfer(config(args))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
