"""`worldsim eval`: open-loop prediction quality on held-out episodes, against copy-last-frame.

For windows drawn from held-out episodes, the model filters `context` real frames, then imagines up
to max(ks) steps with the recorded actions, each frame decoded on top of the previous one (as in
the environment). At each k it is scored against the real frame, state,
reward and termination at that step; the copy-last-frame baseline (and copy-last-state) is scored
on the same windows. This repeats for each physics blend α, on the held-out split and, if given,
on an out-of-distribution dataset. Steps past an episode's end are not scored, so `n` per k counts
the windows that reach it.

Frames are scored as the environment shows them: predictions are rounded to 8-bit like the
recorded frames. Scoring the float output instead would punish a model for sub-grey-level noise
that no user sees, and per-frame PSNR of a frame where nothing moved is then capped (100 dB) for
both the model and copy-last alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from worldsim.data import Dataset, WindowSampler
from worldsim.model.metrics import psnr, ssim
from worldsim.model.world_model import WorldModel


@dataclass
class EvalConfig:
    ks: tuple[int, ...] = (1, 5, 15, 50)
    alphas: tuple[float, ...] = (0.0, 0.5, 1.0)
    context: int = 4
    windows: int = 128
    batch_size: int = 32
    val_fraction: float = 0.1
    seed: int = 0
    palette: torch.Tensor | None = None  # snap decoded frames to it, as the environments do


def evaluate(model: WorldModel, data: Dataset, split: str, config: EvalConfig) -> dict[str, Any]:
    horizon = max(config.ks)
    sampler = WindowSampler(data, config.context - 1 + horizon, split, config.val_fraction)
    which, starts = _window_starts(sampler, config)
    alphas = config.alphas if model.physics is not None else (1.0,)
    acc = {a: _Accumulator(config.ks, model.config.state_fields) for a in alphas}
    baseline = _Accumulator(config.ks, model.config.state_fields)
    for lo in range(0, len(which), config.batch_size):
        w = sampler.window(which[lo : lo + config.batch_size], starts[lo : lo + config.batch_size])
        frames, actions = torch.from_numpy(w.frames), torch.from_numpy(w.actions)
        states, mask = torch.from_numpy(w.states), torch.from_numpy(w.mask)
        c = config.context
        last = model.frames_in(frames[:, c - 1]).cpu()
        for k in range(1, horizon + 1):
            if k in config.ks:
                baseline.add(
                    k,
                    last,
                    model.frames_in(frames[:, c - 1 + k]).cpu(),
                    states[:, c - 1],
                    states[:, c - 1 + k],
                    mask[:, c - 2 + k],
                )
        latent = model.encode(frames[:, :c], actions[:, : c - 1])  # once for every blend (a frame fit is costly)
        for alpha in alphas:
            _rollout(model, w, latent, frames, actions, states, mask, alpha, config, acc[alpha])
    return {
        "windows": int(len(which)),
        "model": {f"{a:g}": acc[a].result() for a in alphas},
        "copy_last": baseline.result(),
    }


@torch.no_grad()
def _rollout(model, w, latent, frames, actions, states, mask, alpha, config, acc) -> None:
    c, horizon = config.context, max(config.ks)
    rollout = model.imagine(
        latent,
        actions[:, c - 1 : c - 1 + horizon],
        previous=model.frames_in(frames[:, c - 1]),
        generator=torch.Generator().manual_seed(config.seed),
        physics_blend=alpha,
        palette=config.palette,
    )
    rewards, terminated = torch.from_numpy(w.rewards), torch.from_numpy(w.terminated)
    # The termination head alone is scored (the crash rule, where a domain has one, is scored by
    # `python -m worldsim.counterfactual.crash_rule`).
    predicted_rewards, crashed, predicted_states = rollout.rewards.cpu(), rollout.terminations.cpu(), rollout.states.cpu()
    for k in range(1, horizon + 1):
        step = c - 2 + k  # index of the action (and its reward) that leads to frame c-1+k
        valid = mask[:, step]
        acc.add_heads(predicted_rewards[:, k - 1], crashed[:, k - 1], rewards[:, step], terminated[:, step], valid)
        if k in config.ks:
            target = model.frames_in(frames[:, c - 1 + k]).cpu()
            acc.add(k, _as_shown(rollout.frames[:, k - 1].cpu()), target, predicted_states[:, k - 1], states[:, c - 1 + k], valid)


def _as_shown(frames: torch.Tensor) -> torch.Tensor:
    """Float frames in [0, 1], rounded to the 8-bit values the environment would show."""
    return (frames.clamp(0, 1) * 255).round() / 255


def _window_starts(sampler: WindowSampler, config: EvalConfig) -> tuple[np.ndarray, np.ndarray]:
    """Random windows with a full context, uniform over episodes' start positions (seeded)."""
    options = [(e, s) for e, n in enumerate(sampler.lengths) for s in range(max(n - config.context + 1, 0))]
    if not options:
        raise ValueError(f"{sampler.dataset.root}: no held-out episode has {config.context} frames of context")
    rng = np.random.default_rng(config.seed)
    chosen = rng.choice(len(options), size=min(config.windows, len(options)), replace=False)
    pairs = np.array([options[i] for i in sorted(chosen)])
    return pairs[:, 0], pairs[:, 1]


class _Accumulator:
    def __init__(self, ks, fields):
        self.fields = list(fields)
        self.sums = {
            k: {"n": 0.0, "psnr": 0.0, "ssim": 0.0, "mse": 0.0, "state": torch.zeros(len(fields), device="cpu")} for k in ks
        }
        self.reward_abs, self.reward_n = 0.0, 0.0
        self.tp = self.fp = self.fn = 0.0

    def add(self, k, predicted, target, state_pred, state_true, valid) -> None:
        v = valid.float()
        s = self.sums[k]
        s["n"] += float(v.sum())
        s["psnr"] += float((psnr(predicted, target) * v).sum())
        s["mse"] += float((((predicted - target) ** 2).flatten(1).mean(1) * v).sum())
        s["ssim"] += float((ssim(predicted, target) * v).sum())
        if self.fields:
            s["state"] += ((state_pred - state_true).abs() * v[:, None]).sum(0)

    def add_heads(self, reward, crashed, reward_true, terminated_true, valid) -> None:
        v = valid.float()
        self.reward_abs += float(((reward - reward_true).abs() * v).sum())
        self.reward_n += float(v.sum())
        predicted = crashed & valid
        actual = terminated_true & valid
        self.tp += float((predicted & actual).sum())
        self.fp += float((predicted & ~actual).sum())
        self.fn += float((~predicted & actual).sum())

    def result(self) -> dict[str, Any]:
        per_k = {}
        for k, s in self.sums.items():
            n = s["n"]
            per_k[str(k)] = {
                "n": int(n),
                "psnr": s["psnr"] / n if n else None,
                # PSNR of the mean squared error over all scored frames: unlike the per-frame mean it
                # is not dominated by frames where nothing moved (those score a capped 100 dB).
                "psnr_pooled": 10 * math.log10(n / max(s["mse"], 1e-10 * n)) if n else None,
                "ssim": s["ssim"] / n if n else None,
                "state_error": dict(zip(self.fields, (float(e) / n for e in s["state"]), strict=True))
                if n and self.fields
                else {},
            }
        out: dict[str, Any] = {"k": per_k}
        if self.reward_n:
            out["reward_mae"] = self.reward_abs / self.reward_n
            out["termination"] = {
                "precision": self.tp / (self.tp + self.fp) if self.tp + self.fp else None,
                "recall": self.tp / (self.tp + self.fn) if self.tp + self.fn else None,
                "positives": int(self.tp + self.fn),
            }
        return out
