"""Why does a dream-trained agent fall short on the real simulator? Three measurements per agent.

1. Exploitation: return in the dream against return on the real simulator. A dream that rates a
   policy far above what the simulator pays has been exploited (or is biased).
2. The reward and termination heads along the agent's own real trajectories: the heads read the
   latent filtered from the real frames, so this is the reward signal the dream would have given on
   exactly these states (per-step error, episode-return error, and the recall of the real crashes
   by the dream's crash signal, `WorldModel.crash_signal`).
3. Model error along the agent's own trajectories: from every `stride`-th real state the model
   imagines `horizon` steps with the actions the agent really took, through `WorldModel.imagine`
   as a dream does; frame PSNR at the horizon and the error of the imagined reward sum. Random-policy
   trajectories are the data the model was trained on; an agent that drives the model off that
   distribution sees larger errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from worldsim import domains
from worldsim.agents.command import command_line, crash_rule_flag
from worldsim.agents.envs import dream_venv
from worldsim.agents.play import PlayedEpisode, RandomAgent, play_real
from worldsim.agents.training import evaluate, load_agent
from worldsim.envs.world import World
from worldsim.model.checkpoint import write_json
from worldsim.model.metrics import psnr
from worldsim.model.palette import palette_from_frames
from worldsim.model.world_model import WorldModel


@dataclass(kw_only=True)
class DiagnoseConfig:
    domain: str
    checkpoint: str | None = None
    agents: tuple[str, ...] = ()  # LABEL=PATH.zip specs; a random policy is always added
    obs_type: str = "latent"
    episodes: int = 10  # per agent and world
    episode_steps: int | None = None
    horizon: int = 10  # imagined steps for the open-loop error
    stride: int = 5  # steps between open-loop start states
    seed: int = 0
    crash_rule: bool | None = None  # False: dreams and crash recall use the termination head alone
    threads: int | None = None
    out: str | None = None  # write the report as JSON here

    def __post_init__(self):
        self.agents = tuple(self.agents)
        self.checkpoint = None if self.checkpoint is None else str(self.checkpoint)
        self.out = None if self.out is None else str(self.out)


def load_agents(specs: Sequence[str]) -> dict[str, object]:
    """Agents by label from LABEL=PATH.zip specs."""
    paths = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise ValueError(f"an agent is given as LABEL=PATH.zip, got {spec!r}")
        if not Path(path).is_file():
            raise FileNotFoundError(f"agent {label}: no such file {path}")
        paths[label] = path
    return {label: load_agent(path) for label, path in paths.items()}


@torch.no_grad()
def head_and_model_errors(
    model: WorldModel,
    palette: torch.Tensor,
    episodes: Sequence[PlayedEpisode],
    horizon: int,
    stride: int,
    seed: int,
    crash_rule: bool,
) -> dict[str, float]:
    generator = torch.Generator().manual_seed(seed)
    reward_err, return_pred, return_true, crash_pred, crash_true = [], [], [], [], []
    psnrs, sum_err = [], []
    for ep in episodes:
        frames = torch.from_numpy(ep.frames)
        actions = torch.as_tensor(ep.actions, device=model.device)
        latents = model.filter_episode(frames, actions)
        after = latents[1:]  # the reward and crash of action t are read off the latent after it
        predicted = model.step_reward(latents[:-1], after).cpu().numpy()  # as the dream pays
        reward_err.append(np.abs(predicted - ep.rewards))
        return_pred.append(predicted.sum())
        return_true.append(ep.rewards.sum())
        crash_pred.append(model.crash_signal(after, rule=crash_rule).cpu().numpy())  # as the dream ends episodes
        crash_true.append(ep.terminated)
        starts = np.arange(0, len(actions) - horizon + 1, stride)
        if len(starts) == 0:
            continue
        windows = torch.stack([actions[starts + i] for i in range(horizon)], 1)  # (N, horizon, ...)
        rollout = model.imagine(
            latents[starts], windows, previous=model.frames_in(frames[starts]), generator=generator, palette=palette
        )
        target = model.frames_in(frames[starts + horizon])
        psnrs.append(psnr((rollout.frames[:, -1] * 255).round() / 255, target).cpu().numpy())
        true_sums = np.array([ep.rewards[s : s + horizon].sum() for s in starts])
        sum_err.append(np.abs(rollout.rewards.sum(1).cpu().numpy() - true_sums))
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


def diagnose(config: DiagnoseConfig) -> dict:
    """Measure every agent and a random policy; the report, also written to `config.out` if given."""
    c = config
    if c.threads:
        torch.set_num_threads(c.threads)
    agents = load_agents(c.agents)
    world = World.open(c.domain, c.checkpoint, c.obs_type)
    palette = palette_from_frames(world.bank["frames"])
    crash_rule = domains.get(c.domain).resolve_crash_rule(c.crash_rule)
    report = {"domain": c.domain, "episodes": c.episodes, "horizon": c.horizon, "crash_rule": crash_rule, "agents": {}}
    for label, agent in [*agents.items(), ("random", None)]:
        dream = dream_venv(c.domain, c.checkpoint, c.obs_type, min(c.episodes, 8), c.seed, 1.0, c.episode_steps, crash_rule)
        dream_return = evaluate(agent or RandomAgent(dream, c.seed), dream, c.episodes)
        dream.close()
        episodes = play_real(agent, c.domain, c.checkpoint, c.obs_type, c.episodes, c.seed + 20_000, c.episode_steps)
        report["agents"][label] = {
            "real_return": float(np.mean([ep.rewards.sum() for ep in episodes])),
            "dream_return": dream_return["mean"],
            "real_episode_steps": float(np.mean([len(ep) for ep in episodes])),
            **head_and_model_errors(world.model, palette, episodes, c.horizon, c.stride, c.seed, crash_rule),
        }
    report["config"] = asdict(c)
    report["command"] = command_line(
        "diagnose.py",
        c,
        agents=[arg for spec in c.agents for arg in ("--agent", spec)],
        crash_rule=crash_rule_flag(c.crash_rule),
    )
    if c.out:
        Path(c.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(c.out), report)
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
