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
   crash signal: the termination head, and for driving the state-overlap rule of worldsim/envs/crash.py).
3. Model error along the agent's own trajectories: from every --stride-th real state, the model
   imagines --horizon steps with the actions the agent really took; frame PSNR at the horizon and the
   error of the imagined reward sum. Random-policy trajectories are the data the model was trained
   on; an agent that drives the model off that distribution sees larger errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import dream_venv, evaluate, play_real, write_json  # noqa: E402
from transfer import RandomAgent  # noqa: E402

from worldsim import domains  # noqa: E402
from worldsim.envs.world import World  # noqa: E402
from worldsim.model.crash import states_overlap  # noqa: E402
from worldsim.model.metrics import psnr  # noqa: E402
from worldsim.model.palette import palette_from_frames, snap  # noqa: E402


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=["driving", "robotics", "games"])
    p.add_argument("--checkpoint", help="world model run (default: the shipped weights)")
    p.add_argument(
        "--agent",
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


def load_agents(specs: list[str]) -> dict[str, object]:
    agents = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"--agent takes LABEL=PATH.zip, got {spec!r}")
        if not Path(path).is_file():
            raise FileNotFoundError(f"--agent {label}: no such file {path}")
        algo = _algo_of(Path(path))
        agents[label] = algo.load(path, device="cpu")
    return agents


def _algo_of(path: Path):
    """PPO or SAC, read from the run's result.json when there is one (SB3 zips do not say)."""
    import stable_baselines3

    for result in (path.parent / "result.json", path.parent.parent / "result.json"):
        if result.is_file():
            return getattr(stable_baselines3, json.loads(result.read_text())["algo"].upper())
    return stable_baselines3.PPO


@torch.no_grad()
def head_and_model_errors(model, palette, episodes, horizon: int, stride: int, seed: int, crash_rule: bool) -> dict[str, float]:
    generator = torch.Generator().manual_seed(seed)
    reward_err, return_pred, return_true, crash_pred, crash_true = [], [], [], [], []
    psnrs, sum_err = [], []
    for ep in episodes:
        frames = torch.from_numpy(ep.frames)
        actions = torch.as_tensor(ep.actions)
        latents = model.filter_episode(frames, actions)
        predicted = model.reward(latents[1:]).numpy()  # reward of action t is read off the latent after it
        reward_err.append(np.abs(predicted - ep.rewards))
        return_pred.append(predicted.sum())
        return_true.append(ep.rewards.sum())
        crashed = model.termination_logit(latents[1:]) > 0  # the dream's own crash signal, as WorldSimEnv reads it
        if crash_rule:
            crashed |= states_overlap(model.physical_state(latents[1:]))
        crash_pred.append(crashed.numpy())
        crash_true.append(ep.terminated)
        starts = np.arange(0, len(actions) - horizon + 1, stride)
        if len(starts) == 0:
            continue
        latent, frame = latents[starts], model.frames_in(frames[starts])
        imagined = torch.zeros(len(starts))
        for i in range(horizon):
            latent = model.step(latent, actions[starts + i], generator)
            frame = snap(model.decode(latent, frame), palette)
            imagined += model.reward(latent)
        target = model.frames_in(frames[starts + horizon])
        psnrs.append(psnr((frame * 255).round() / 255, target).numpy())
        true_sums = np.array([ep.rewards[s : s + horizon].sum() for s in starts])
        sum_err.append(np.abs(imagined.numpy() - true_sums))
    crash_pred, crash_true = np.concatenate(crash_pred), np.concatenate(crash_true)
    return {
        "reward_mae": float(np.mean(np.concatenate(reward_err))),
        "return_predicted": float(np.mean(return_pred)),
        "return_true": float(np.mean(return_true)),
        "crashes": int(crash_true.sum()),
        "crash_recall": float(crash_pred[crash_true].mean()) if crash_true.any() else None,
        "false_crash_rate": float(crash_pred[~crash_true].mean()),
        "open_loop_windows": int(sum(len(p) for p in psnrs)),
        "open_loop_psnr": float(np.mean(np.concatenate(psnrs))) if psnrs else None,
        "open_loop_reward_sum_error": float(np.mean(np.concatenate(sum_err))) if sum_err else None,
    }


def diagnose(args) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    world = World.open(args.domain, args.checkpoint, args.obs_type)
    model, bank = world.model, world.bank
    palette = palette_from_frames(bank["frames"])
    agents = load_agents(args.agent)
    crash_rule = domains.get(args.domain).resolve_crash_rule(args.crash_rule)
    report = {"domain": args.domain, "episodes": args.episodes, "horizon": args.horizon, "crash_rule": crash_rule, "agents": {}}
    for label, agent in [*agents.items(), ("random", None)]:
        dream = dream_venv(
            args.domain, args.checkpoint, args.obs_type, min(args.episodes, 8), args.seed, 1.0, args.episode_steps, crash_rule
        )
        policy = agent or RandomAgent(dream, args.seed)
        dream_return = evaluate(policy, dream, args.episodes)
        dream.close()
        episodes = play_real(
            agent, args.domain, args.checkpoint, args.obs_type, args.episodes, args.seed + 20_000, args.episode_steps
        )
        real_return = [float(ep.rewards.sum()) for ep in episodes]
        report["agents"][label] = {
            "real_return": float(np.mean(real_return)),
            "dream_return": dream_return["mean"],
            "real_episode_steps": float(np.mean([len(ep.actions) for ep in episodes])),
            **head_and_model_errors(model, palette, episodes, args.horizon, args.stride, args.seed, crash_rule),
        }
    return report


def format_report(report: dict) -> str:
    head = (
        f"{'agent':<10} {'real ret':>9} {'dream ret':>9} {'pred ret':>9} {'rew MAE':>8} {'crashes':>7} "
        f"{'recall':>6} {'PSNR@k':>7} {'Σr err@k':>9}"
    )
    lines = [f"{report['domain']}: {report['episodes']} episodes per agent and world, open loop k={report['horizon']}", head]
    for label, a in report["agents"].items():
        recall = "-" if a["crash_recall"] is None else f"{a['crash_recall']:.2f}"
        psnr_k = "-" if a["open_loop_psnr"] is None else f"{a['open_loop_psnr']:.2f}"
        sum_err = "-" if a["open_loop_reward_sum_error"] is None else f"{a['open_loop_reward_sum_error']:.3f}"
        lines.append(
            f"{label:<10} {a['real_return']:>9.2f} {a['dream_return']:>9.2f} {a['return_predicted']:>9.2f} "
            f"{a['reward_mae']:>8.3f} {a['crashes']:>7d} {recall:>6} {psnr_k:>7} {sum_err:>9}"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse(argv)
    report = diagnose(args)
    report["command"] = "python agents/diagnose.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out), report)
    return report


if __name__ == "__main__":
    print(format_report(main()))
