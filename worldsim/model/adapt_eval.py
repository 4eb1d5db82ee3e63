"""`worldsim adapt`: what test-time training buys on whole held-out episodes, and what it costs.

Each episode's first `context` real frames (and the actions between them) are the scene a user
gives; the dream then replays the episode's recorded actions open-loop for `horizon` steps, and its
physical state is scored against the simulator's at every step. The same episodes are replayed
with no adaptation and after each number of gradient steps, from the same noise (one seed per
episode, the same for every arm), so the differences are the adaptation's alone.

The error is the mean absolute difference per field in units of the training data's standard
deviation (angles around the circle), averaged over fields: at k = 1, 10 and `horizon` steps, and
over all `horizon` steps. Per episode, the share of that whole-horizon error an adaptation removes
is its quality (0: no gain); `worldsim adapt` fits the scaling curve to it over the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from worldsim.data import Dataset
from worldsim.model.adapt import AdaptConfig, SceneAdapter, adapt
from worldsim.model.critics import absolute_difference
from worldsim.model.long_horizon import model_columns
from worldsim.model.world_model import WorldModel


@dataclass(frozen=True)
class AdaptEvalConfig:
    context: int = 8  # real frames given at reset
    horizon: int = 50  # steps scored after the context (episodes too short to reach it are skipped)
    steps: tuple[int, ...] = (0, 5, 10, 20)  # gradient steps to compare; 0 is the model as shipped
    adapt: AdaptConfig = AdaptConfig()
    episodes: int | None = None  # at most this many episodes (the first ones long enough)
    seed: int = 0


def evaluate_adaptation(
    model: WorldModel, data: Dataset, config: AdaptEvalConfig, trust: torch.Tensor | None = None, progress: bool = False
) -> dict[str, Any]:
    """The report `format_adapt_report` prints; `trust` weighs the adaptation's loss (adapt.filter_trust)."""
    c, h = config.context, config.horizon
    if c < 2:
        raise ValueError(f"test-time training needs a context of 2 frames or more, got {c}")
    chosen, episodes = [], []
    for i in data.indices():
        episode = data.episode(i)
        if len(episode) >= c - 1 + h:  # its actions reach the horizon's last step
            chosen.append(i)
            episodes.append(episode)
        if config.episodes and len(chosen) == config.episodes:
            break
    if not chosen:
        raise ValueError(f"{data.root}: no episode has the {c} + {h} frames a context and a horizon of {h} need")
    columns = model_columns(model, data)
    frames = torch.from_numpy(np.stack([e.frames[:c] for e in episodes]))
    actions = torch.from_numpy(np.stack([e.actions[: c - 1 + h] for e in episodes]))
    truth = torch.from_numpy(np.stack([e.states[c : c + h][:, columns] for e in episodes])).to(model.device)
    with torch.no_grad():
        latent = model.encode(frames, actions[:, : c - 1])
    arms: dict[str, Any] = {}
    baseline = None
    for steps in tqdm(config.steps, desc="adapt steps", disable=not progress):
        adapter, report = None, None
        if steps:
            # one scene at a time, as a reset adapts it, so the cost is a reset's
            adapters, reports = [], []
            for j in range(len(episodes)):
                a, r = adapt(model, frames[j : j + 1], actions[j : j + 1, : c - 1], replace(config.adapt, steps=steps), trust)
                adapters.append(a)
                reports.append(r)
            adapter = _stacked(adapters)
            keys = ("ms", "loss_before", "loss_after", "kept")
            report = {key: [r[key][0] if isinstance(r[key], list) else r[key] for r in reports] for key in keys}
        errors = _replay_errors(model, latent, actions[:, c - 1 :], truth, adapter, config)  # (E, h, S)
        per_episode = errors.mean((1, 2))
        if baseline is None:
            baseline = per_episode
        arms[str(steps)] = _summary(model, errors, per_episode, baseline, report)
    return {
        "data": str(data.root),
        "episodes": [int(i) for i in chosen],
        "context": c,
        "horizon": h,
        "adapt": {k: v for k, v in config.adapt.__dict__.items() if k != "steps"},
        "parameters_per_scene": config.adapt.parameters(model),
        "trust": None if trust is None else dict(zip(model.config.state_fields, trust.tolist(), strict=False)),
        "steps": arms,
    }


@torch.no_grad()
def _replay_errors(model, latent, actions, truth, adapter: SceneAdapter | None, config: AdaptEvalConfig) -> torch.Tensor:
    """(E, horizon, S): each episode's absolute state error per step and field, in data stds."""
    generators = [torch.Generator().manual_seed(config.seed + i) for i in range(len(latent))]
    rollout = model.imagine(latent, actions, generator=generators, physics_blend=config.adapt.physics_blend, adapter=adapter)
    error = absolute_difference(rollout.states.cpu().numpy(), truth.cpu().numpy(), model.angles.cpu().numpy())
    return torch.from_numpy(error) / model.state_std.cpu()


def _stacked(adapters: list[SceneAdapter]) -> SceneAdapter:
    weight = None if adapters[0].weight is None else torch.cat([a.weight for a in adapters])
    return SceneAdapter(weight, torch.cat([a.bias for a in adapters]))


def _summary(model, errors: torch.Tensor, per_episode: torch.Tensor, baseline: torch.Tensor, report) -> dict[str, Any]:
    h = errors.shape[1]
    at = {str(k): float(errors[:, k - 1].mean()) for k in (1, 10, h) if k <= h}
    gain = 1 - per_episode / baseline.clamp(min=1e-9)
    out: dict[str, Any] = {
        "error": float(per_episode.mean()),
        "error_at": at,
        "error_per_field": dict(zip(model.config.state_fields, errors.mean((0, 1)).tolist(), strict=True)),
        "gain": float(1 - per_episode.mean() / baseline.mean()),  # the share of the mean error removed
        "gain_per_episode": gain.tolist(),
        "episodes_better": float((per_episode < baseline).float().mean()),
    }
    if report is not None:
        ms = np.array(report["ms"])
        out["ms_per_reset"] = {"median": float(np.median(ms)), "p90": float(np.percentile(ms, 90))}
        out["loss_before"] = float(np.mean(report["loss_before"]))
        out["loss_after"] = float(np.mean(report["loss_after"]))
        out["kept"] = float(np.mean(report["kept"]))  # scenes whose correction held on the held-out frames
    return out


def format_adapt_report(report: dict[str, Any]) -> str:
    h = report["horizon"]
    columns = ("steps", "err k=1", "k=10", f"k={h}", "mean", "gain", "better", "ms/reset", "kept")
    lines = [
        f"{report['data']}: {len(report['episodes'])} episodes, {report['context']} context frames, "
        f"{h} steps replayed open-loop; {report['parameters_per_scene']} numbers adapt per scene "
        f"({report['adapt']['weights']})",
        " ".join(f"{c:>8}" for c in columns),
    ]
    for steps, arm in report["steps"].items():
        e, ms = arm["error_at"], arm.get("ms_per_reset", {}).get("median")
        cells = [steps, *(f"{e[k]:.3f}" if k in e else "" for k in ("1", "10", str(h))), f"{arm['error']:.3f}"]
        cells += [f"{arm['gain']:+.1%}", f"{arm['episodes_better']:.0%}"]
        cells += ["" if ms is None else f"{ms:.0f}", "" if "kept" not in arm else f"{arm['kept']:.0%}"]
        lines.append(" ".join(f"{c:>8}" for c in cells))
    return "\n".join(lines)
