"""A trained checkpoint with model options that change how it dreams, not its weights.

Some options act only at imagination: the physics prior laying its own random part
(`prior_noise`), the reward read off each step by the prior (`prior_reward`), the fields the prior
holds alone (`kinematic_fields`), the termination threshold. This copies a checkpoint (weights,
start-frame bank) into OUT with those options set in its config, after checking that the weights
still load under them, so that one set of weights can be measured under each way of dreaming.
The derived config records where it came from and what was set (`recipe.derived`).

Usage: python scripts/derive_checkpoint.py SOURCE OUT '{"prior_noise": true}'
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from worldsim.model.checkpoint import CONFIG, WEIGHTS, load_model, read_config, write_json
from worldsim.model.config import FORMAT_VERSION
from worldsim.model.start_bank import START_BANK

# Options that leave every weight's name and shape alone and change only how the model dreams.
DREAMING = {"prior_noise", "prior_reward", "kinematic_fields", "termination_threshold"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a checkpoint directory")
    parser.add_argument("out", help="the derived checkpoint's directory (must not exist)")
    parser.add_argument("options", help="JSON object of model options to set")
    args = parser.parse_args()
    options = json.loads(args.options)
    if not isinstance(options, dict) or not options:
        parser.error(f"options must be a non-empty JSON object, got {args.options!r}")
    if set(options) - DREAMING:
        parser.error(f"{sorted(set(options) - DREAMING)} change the weights; only {', '.join(sorted(DREAMING))} can be set here")
    source, out = Path(args.source), Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; give a new directory")
    data = read_config(source)
    data["format_version"] = FORMAT_VERSION
    data["model"] = {**data["model"], **options}
    data.setdefault("recipe", {})["derived"] = {"from": str(source), "options": options}
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as staging:
        staged = Path(staging) / "checkpoint"
        staged.mkdir()
        shutil.copy2(source / WEIGHTS, staged / WEIGHTS)
        if (source / START_BANK).is_file():
            shutil.copy2(source / START_BANK, staged / START_BANK)
        write_json(staged / CONFIG, data)
        load_model(staged)  # the weights load under the new options, or a clear error
        out.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(out)
    print(f"{out}: {source} with {json.dumps(options)}")


if __name__ == "__main__":
    main()
