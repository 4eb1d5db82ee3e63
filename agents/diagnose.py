"""Why does a dream-trained agent fall short on the real simulator? Measure it.

    python agents/diagnose.py --domain driving \\
        --agent dream=runs/transfer/driving-10k/dream-seed0/final.zip \\
        --agent real=runs/transfer/driving-10k/real-seed0/final.zip --out runs/diagnose/driving.json

Each agent (and a random policy) plays --episodes episodes on the real simulator and as many in the
dream. Three questions, one block of numbers each:

1. Exploitation: return in the dream against return on the real simulator. A dream that rates a
   policy far above what the simulator pays has been exploited (or is biased); compare the gap of the
   dream-trained agent with the real-trained agent's.
2. Reward and termination heads along the agent's own real trajectories: the heads read the latent
   filtered from the real frames, so this is the reward signal the dream would have given on exactly
   these states (per-step error, episode-return error, and the recall of the crashes by the dream's
   crash signal: the termination head, and for driving the state-overlap rule of worldsim/model/crash.py).
3. Model error along the agent's own trajectories: from every --stride-th real state, the model
   imagines --horizon steps with the actions the agent really took; frame PSNR at the horizon and the
   error of the imagined reward sum. Random-policy trajectories are the data the model was trained
   on; an agent that drives the model off that distribution sees larger errors.

The command line of `worldsim.agents.diagnose.diagnose`.
"""

from __future__ import annotations

import argparse

from worldsim import domains
from worldsim.agents.diagnose import DiagnoseConfig, diagnose, format_report


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=domains.names())
    p.add_argument("--checkpoint", help="world model run (default: the shipped weights)")
    p.add_argument(
        "--agent",
        dest="agents",
        action="append",
        default=[],
        metavar="LABEL=ZIP",
        help="an SB3 agent to diagnose (repeatable); a random policy is always added",
    )
    p.add_argument("--obs-type", default="latent", choices=["pixels", "latent", "state"])
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--episode-steps", type=int)
    p.add_argument("--horizon", type=int, default=10, help="imagined steps for the open-loop error")
    p.add_argument("--stride", type=int, default=5, help="steps between open-loop start states")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-crash-rule",
        dest="crash_rule",
        action="store_false",
        default=None,
        help="driving dreams (and crash recall) use the termination head alone",
    )
    p.add_argument("--threads", type=int)
    p.add_argument("--out", help="write the report as JSON here")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    return diagnose(DiagnoseConfig(**vars(parse(argv))))


if __name__ == "__main__":
    print(format_report(main()))
