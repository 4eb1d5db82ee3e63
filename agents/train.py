"""Train a Stable-Baselines3 agent inside a WorldSim dream (or, with --real, on the real simulator).

    python agents/train.py --domain driving --obs-type latent --steps 50000 --out runs/agents/driving

The agent is evaluated on the real simulator (through `RealWorldEnv`, which shows it the same
observations as the dream) every --eval-every steps and at the end: that number is the one that
counts. Writes TensorBoard logs (tb/), checkpoints (checkpoints/), the best real-simulator agent
(best/best_model.zip, when evaluated during training), the final agent (final.zip) and
result.json (wall-clock, evaluations).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ALGOS,
    ProgressBar,
    RescaledActions,
    TimedEvalCallback,
    dream_of,
    dream_venv,
    evaluate,
    make_agent,
    real_venv,
    write_json,
)
from stable_baselines3.common.callbacks import CheckpointCallback  # noqa: E402


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=["driving", "robotics", "games"])
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
        help="driving dreams end on the termination head alone (worldsim/envs/crash.py)",
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
    args = parse(argv)
    # Training in the dream and evaluating on the real simulator is the point, not a mistake.
    warnings.filterwarnings("ignore", message="Training and eval env are not of the same type")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.real:
        # Simulators step one at a time in this process: more copies only add memory.
        venv = real_venv(args.domain, args.checkpoint, args.obs_type, min(args.num_envs, 2), args.seed, args.episode_steps)
    else:
        venv = dream_venv(
            args.domain,
            args.checkpoint,
            args.obs_type,
            args.num_envs,
            args.seed,
            args.physics_blend,
            args.episode_steps,
            args.crash_rule,
        )
    agent = make_agent(args.algo, venv, args.obs_type, args.seed, str(out / "tb"), args.steps)
    eval_env = real_venv(args.domain, args.checkpoint, args.obs_type, 1, args.seed + 10_000, args.episode_steps)
    per_env = lambda steps: max(1, steps // venv.num_envs)  # noqa: E731  (SB3 counts callback calls)
    # eval_freq past the last call: SB3 never evaluates during training (--eval-every 0).
    eval_freq = per_env(args.eval_every) if args.eval_every > 0 else args.steps + 1
    evaluation = TimedEvalCallback(
        eval_env,
        n_eval_episodes=args.eval_episodes,
        eval_freq=eval_freq,
        best_model_save_path=str(out / "best"),
        log_path=str(out / "eval"),
        verbose=0,
    )
    callbacks = [
        ProgressBar(args.steps, f"{args.algo} {'real' if args.real else 'dream'} {args.domain}", disable=args.quiet),
        CheckpointCallback(per_env(max(args.steps // 5, 1)), str(out / "checkpoints"), name_prefix="agent"),
        evaluation,
    ]
    start = time.perf_counter()
    agent.learn(total_timesteps=args.steps, callback=callbacks)
    train_s = time.perf_counter() - start - evaluation.seconds
    agent.save(out / "final.zip")
    result = {
        "domain": args.domain,
        "algo": args.algo,
        "obs_type": args.obs_type,
        "trained_in": "real" if args.real else "dream",
        "steps": int(agent.num_timesteps),
        "seed": args.seed,
        "train_wall_clock_s": train_s,
        "eval_wall_clock_s": evaluation.seconds,
        "crash_rule": None if args.real else dream_of(venv).crash_rule,
        "rescaled_actions": isinstance(venv, RescaledActions),
        "real_return": evaluate(agent, eval_env, args.eval_episodes),
        "command": "python agents/train.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    write_json(out / "result.json", result)
    venv.close()
    eval_env.close()
    return result


if __name__ == "__main__":
    r = main()
    print(
        f"{r['trained_in']}-trained {r['algo']} on {r['domain']}: {r['steps']} steps in {r['train_wall_clock_s']:.0f} s; "
        f"real-simulator return {r['real_return']['mean']:.2f} ± {r['real_return']['std']:.2f}"
    )
