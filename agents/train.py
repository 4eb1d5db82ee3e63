"""Train a Stable-Baselines3 agent inside a WorldSim dream (or, with --real, on the real simulator).

    python agents/train.py --domain driving --obs-type latent --steps 50000 --out runs/agents/driving

The agent is evaluated on the real simulator (through `RealWorldEnv`, which shows it the same
observations as the dream) every --eval-every steps and at the end: that number is the one that
counts. Writes TensorBoard logs (tb/), checkpoints (checkpoints/), the best real-simulator agent
(best/best_model.zip, when evaluated during training), the final agent (final.zip) and
result.json (wall-clock, evaluations, the run's configuration).

The command line of `worldsim.agents.training.train_agent`.
"""

from __future__ import annotations

import argparse

from worldsim import domains
from worldsim.agents.training import ALGOS, AgentConfig, train_agent


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=domains.names())
    p.add_argument("--checkpoint", help="world model run (default: the shipped weights)")
    p.add_argument("--obs-type", default="latent", choices=["pixels", "latent", "state"])
    p.add_argument("--algo", default="ppo", choices=ALGOS)
    p.add_argument("--steps", type=int, default=50_000, help="environment steps (default 50k)")
    p.add_argument("--num-envs", type=int, default=16, help="parallel envs (dreams are one torch batch)")
    p.add_argument("--physics-blend", type=float, default=1.0)
    p.add_argument("--episode-steps", type=int, help="episode length in both worlds (default: the domain's)")
    p.add_argument(
        "--no-crash-rule",
        dest="crash_rule",
        action="store_false",
        default=None,
        help="driving dreams end on the termination head alone (worldsim/model/crash.py)",
    )
    p.add_argument("--real", action="store_true", help="train on the real simulator instead (the baseline)")
    p.add_argument(
        "--eval-every",
        type=int,
        default=10_000,
        help="steps between real-simulator evaluations during training (0: only the final one)",
    )
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    p.add_argument("--out", required=True)
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    return train_agent(AgentConfig(**vars(parse(argv))))


if __name__ == "__main__":
    r = main()
    print(
        f"{r['trained_in']}-trained {r['algo']} on {r['domain']}: {r['steps']} steps in {r['train_wall_clock_s']:.0f} s; "
        f"real-simulator return {r['real_return']['mean']:.2f} ± {r['real_return']['std']:.2f}"
    )
