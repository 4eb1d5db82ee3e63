"""Test-time training: fit a small, named set of weights to one scene's context, at reset.

A scene unlike the training data (traffic slowing to a jam, a track never driven) is seen for a few
real frames before the dream takes over. `adapt` spends a few gradient steps on that context: the
dream replays the context's recorded actions open-loop from each of its frames, and its physical
state is pulled towards the state the model's own filter reads off the real frames that followed
(`AdaptConfig.target` "filter"), or, where the decoder draws the state alone, its state is drawn
and compared pixel by pixel with those frames ("frames": no reading by the filter in between). No
simulator state is needed; the loss is self-supervised.

What adapts is a per-scene correction of the learned dynamics' last layer (`AdaptConfig.weights`):

    "last_layer"  Δ(x) + features(x) · W_scene + b_scene    (hidden × state + state numbers a scene)
    "bias"        Δ(x) + b_scene                              (state numbers a scene)

The correction lives in its own tensors, one row per scene (`SceneAdapter`), which `imagine` adds
to the dynamics' output; the model's parameters are never written, so the shipped weights stay as
they are and a vector of dreams adapts each env apart (row i belongs to env i alone). A decay on the
correction keeps a few frames from rewriting the dynamics. Rows are independent: Adam's update is
elementwise and each row's loss reads only its own scene, so adapting a batch of scenes gives each
the correction it would get alone.

Measured on the shipped models (BENCHMARKS.md, "Test-time training at reset"), it does not yet cut
the error over the next 50 steps: it lowers the first step's, but the filter's reading it fits is
noisier than the dream's own open-loop state for most fields, so what agrees with the filter for a
few steps strays from the simulator over many. Fitted to the frames themselves, the story is the
same: the first step's error falls and the later ones rise. `worldsim adapt` measures it on any model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from worldsim.model.world_model import WorldModel

WEIGHTS = ("last_layer", "bias")
TARGETS = ("filter", "frames")


@dataclass(frozen=True)
class AdaptConfig:
    weights: str = "bias"  # which correction adapts (see the module docstring)
    steps: int = 10  # gradient steps at reset
    lr: float = 1e-3  # Adam's step size
    horizon: int = 8  # open-loop steps the dream replays from each context frame in the loss
    decay: float = 1e-3  # L2 pull of the correction towards none
    # last context frames the fit never sees (at most all but two): a correction that does not help
    # the dream replayed up to them from the first frame is dropped
    holdout: int = 2
    # what the replayed dream is pulled towards: "filter", the state the filter reads off the real
    # frames that followed; "frames", those frames themselves, the dream's state drawn by a decoder
    # that reads the state alone and compared pixel by pixel (no reading by the filter in between)
    target: str = "filter"
    physics_blend: float = 1.0  # the α the dream replays the context with (the env's)

    def __post_init__(self):
        if self.weights not in WEIGHTS:
            raise ValueError(f"adapt weights must be one of {', '.join(WEIGHTS)}, got {self.weights!r}")
        if self.target not in TARGETS:
            raise ValueError(f"adapt target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        for name, least in (("steps", 0), ("horizon", 1), ("holdout", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"adapt {name} must be an integer >= {least}, got {value!r}")
        for name in ("lr", "decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise ValueError(f"adapt {name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def from_options(cls, options: Any, physics_blend: float = 1.0) -> AdaptConfig:
        """`reset(options={"adapt": ...})`: True for the defaults, or a dict of this config's fields
        (the env's physics blend is the env's, not an option)."""
        if options is True:
            return cls(physics_blend=physics_blend)
        if not isinstance(options, Mapping):
            raise TypeError(f'options["adapt"] must be True or a dict of adapt settings, got {type(options).__name__}')
        known = {f.name for f in fields(cls)} - {"physics_blend"}
        unknown = set(options) - known
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise ValueError(f'unknown options["adapt"] key(s) {names}; known: {", ".join(sorted(known))}')
        return cls(**dict(options), physics_blend=physics_blend)

    def parameters(self, model: WorldModel) -> int:
        """How many numbers adapt per scene."""
        hidden, out = model.state_delta[-1].in_features, model.state_delta[-1].out_features
        return out + (hidden * out if self.weights == "last_layer" else 0)


class SceneAdapter:
    """Per-scene corrections of the dynamics' last layer: row i adds `features @ weight[i] + bias[i]`.
    A batch whose size is the adapter's row count reads row by row; a one-row adapter serves any
    batch (the windows of one scene)."""

    def __init__(self, weight: torch.Tensor | None, bias: torch.Tensor):
        self.weight, self.bias = weight, bias  # (N, hidden, S) or None; (N, S)

    @classmethod
    def zeros(cls, model: WorldModel, rows: int, weights: str) -> SceneAdapter:
        last = model.state_delta[-1]
        weight = last.weight.new_zeros(rows, last.in_features, last.out_features) if weights == "last_layer" else None
        return cls(weight, last.bias.new_zeros(rows, last.out_features))

    def __len__(self) -> int:
        return len(self.bias)

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        if len(self) == 1:
            return self.bias[0] + (features @ self.weight[0] if self.weight is not None else 0)
        if len(features) != len(self):
            raise ValueError(f"an adapter of {len(self)} scenes for a batch of {len(features)}")
        if self.weight is None:
            return self.bias
        return torch.baddbmm(self.bias[:, None], features[:, None], self.weight)[:, 0]

    def rows(self, index: torch.Tensor) -> SceneAdapter:
        """The adapter of scenes `index` (a long tensor; repeats allowed)."""
        return SceneAdapter(None if self.weight is None else self.weight[index], self.bias[index])

    def put(self, which: np.ndarray, other: SceneAdapter | None) -> None:
        """Rows `which` take `other`'s rows in order (None: no correction there)."""
        which = torch.as_tensor(which, dtype=torch.long, device=self.bias.device)
        if other is None:
            self.bias[which] = 0.0
            if self.weight is not None:
                self.weight[which] = 0.0
            return
        self.bias[which] = other.bias.to(self.bias)
        if self.weight is not None:
            self.weight[which] = other.weight.to(self.weight) if other.weight is not None else 0.0

    def active(self) -> bool:
        """Does any row correct anything?"""
        return bool(self.bias.any() or (self.weight is not None and self.weight.any()))

    def detached(self) -> SceneAdapter:
        return SceneAdapter(None if self.weight is None else self.weight.detach(), self.bias.detach())


def filter_trust(model: WorldModel, frames: torch.Tensor, actions: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """(state_code_dim,) weights of the loss's fields: how well the model's filter reads each off
    real frames (`frames` (N, T, H, W, 3), `actions` (N, T-1, ...), true physical `states` (N, T,
    S): a model's start bank), as the inverse of its mean squared error in code units, averaging 1.
    The loss's targets are the filter's readings; a field it reads poorly (a car's heading, a few
    hundredths of a radian wide) would otherwise have the correction chase its reading's noise."""
    with torch.no_grad():
        N, T = frames.shape[:2]
        embed = model.encoder(model.frames_in(frames).flatten(0, 1)).view(N, T, -1)
        codes = model.split(model.unroll_posterior(embed, torch.as_tensor(actions))[0])[0]
        truth = model.normalise_state(torch.as_tensor(states, dtype=torch.float32, device=model.device))
        squared = model.state_errors(codes, truth).flatten(0, 1).mean(0)
        weights = 1 / squared.clamp(min=1e-2)  # a field read exactly would otherwise take the whole loss
        return weights / weights.mean()


def bank_trust(model: WorldModel, bank: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """`filter_trust` measured on a start bank (tensors "frames", "actions", "states"), as the
    envs and `worldsim adapt` weigh the loss; None where the bank holds no states of the model's width."""
    states = bank.get("states")
    if states is None or states.shape[-1] != model.config.state_dim:
        return None
    return filter_trust(model, bank["frames"], bank["actions"], states)


def adapt(
    model: WorldModel,
    frames: torch.Tensor,
    actions: torch.Tensor | None,
    config: AdaptConfig = AdaptConfig(),
    trust: torch.Tensor | None = None,
) -> tuple[SceneAdapter, dict[str, Any]]:
    """Each of B scenes' correction, fitted on its context: `frames` (B, T, H, W, 3) uint8 and the
    T-1 raw `actions` between them (B, T-1, ...); `trust` weighs the loss's fields (`filter_trust`;
    None: alike). Returns the adapter (B rows, no gradient) and a report: the self-supervised loss
    per scene before and after, and the milliseconds it took."""
    if model.state_delta is None:
        raise ValueError("test-time training adapts the learned physical dynamics: this model has none (state_dim 0)")
    B, T = frames.shape[:2]
    if T < 2 or actions is None:
        raise ValueError(f"test-time training needs at least 2 context frames and the actions between them, got {T} frames")
    if config.target == "frames" and model.config.decoder_input != "state":
        raise ValueError(
            f"adapt target \"frames\" draws the dream's state and compares it with the real frames; this model's "
            f'decoder reads {model.config.decoder_input!r}, not the state alone (use target "filter")'
        )
    started = time.perf_counter()
    latents, codes, features = _filtered(model, frames, actions)
    # what each replayed step is scored against: the filter's state codes, or the real frames (B, T, 3, H, W)
    targets = model.frames_in(frames) if config.target == "frames" else codes
    holdout = min(config.holdout, T - 2)  # a short context keeps at least one step to fit
    last = T - 1 - holdout  # the last frame the fit's windows reach; later ones judge it
    fit = _windows(latents, targets, features, range(last), min(config.horizon, last), 1, last)
    judge = _windows(latents, targets, features, [0], T - 1, last + 1, T - 1) if holdout else None
    adapter = SceneAdapter.zeros(model, B, config.weights)
    tensors = [t for t in (adapter.weight, adapter.bias) if t is not None]
    for t in tensors:
        t.requires_grad_(True)
    optimiser = torch.optim.Adam(tensors, lr=config.lr)
    frozen = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)  # gradients reach the correction alone
    weights = torch.ones(model.config.state_code_dim, device=model.device) if trust is None else trust.to(model.device)
    try:
        before = losses = _scene_losses(model, adapter, fit, weights, config)
        for _ in range(config.steps):
            penalty = sum((t**2).flatten(1).sum(1) for t in tensors)
            optimiser.zero_grad(set_to_none=True)
            # summed over scenes, each row's gradient is its own scene's
            (losses + config.decay * penalty).sum().backward()
            optimiser.step()
            losses = _scene_losses(model, adapter, fit, weights, config)
        adapter = adapter.detached()
        kept = torch.ones(B, dtype=torch.bool, device=model.device)
        report = {}
        if judge is not None:
            with torch.no_grad():
                unadapted = _scene_losses(model, SceneAdapter.zeros(model, B, config.weights), judge, weights, config)
                adapted = _scene_losses(model, adapter, judge, weights, config)
            kept = adapted < unadapted  # a correction that does not carry past the frames it was fitted on is dropped
            adapter.put((~kept).nonzero().flatten().cpu().numpy(), None)
            report = {"holdout_before": unadapted.cpu().tolist(), "holdout_after": adapted.cpu().tolist()}
    finally:
        for p, grad in zip(model.parameters(), frozen, strict=True):
            p.requires_grad_(grad)
    report = {
        **{k: v for k, v in asdict(config).items() if k != "physics_blend"},
        "holdout": holdout,
        "parameters": config.parameters(model),
        "loss_before": before.detach().cpu().tolist(),
        "loss_after": losses.detach().cpu().tolist(),
        **report,
        "kept": kept.cpu().tolist(),
        "ms": 1000 * (time.perf_counter() - started),
    }
    return adapter, report


def scene_report(report: dict[str, Any], j: int) -> dict[str, Any]:
    """Scene j's part of `adapt`'s report (its per-scene lists become that scene's value)."""
    return {k: v[j] if isinstance(v, list) else v for k, v in report.items()}


@torch.no_grad()
def _filtered(model: WorldModel, frames: torch.Tensor, actions: torch.Tensor):
    """The context as the filter reads it: latents (B, T, L) (the posterior mean), their state
    codes (B, T, S) and the action features between them (B, T-1, A)."""
    B, T = frames.shape[:2]
    embed = model.encoder(model.frames_in(frames).flatten(0, 1)).view(B, T, -1)
    latents = model.unroll_posterior(embed, actions)[0]
    features = model.action_features(torch.as_tensor(actions).flatten(0, 1)).view(B, T - 1, -1)
    return latents, model.split(latents)[0], features


@dataclass
class _Windows:
    starts: torch.Tensor  # (B·W, L): the filtered latent each window starts from
    features: torch.Tensor  # (B·W, horizon, A): the recorded actions it replays
    targets: torch.Tensor  # (B·W, horizon, S): the filtered state codes it should reach, or (..., 3, H, W) frames
    valid: torch.Tensor  # (B·W, horizon): which of those steps are scored
    scene: torch.Tensor  # (B·W,): each window's scene
    scenes: int


def _windows(latents, targets, features, starts, horizon: int, first: int, last: int) -> _Windows:
    """Windows from frames `starts`, each replaying `horizon` recorded actions towards `targets`
    (B, T, ...) of the frames it reaches; a step is scored where that frame lies in [first, last]
    (steps past the context are clamped, then dropped)."""
    B, T = targets.shape[:2]
    device = targets.device
    t = torch.as_tensor(list(starts), device=device)[:, None]
    k = torch.arange(horizon, device=device)[None]
    reached = t + k + 1  # step k of the window from frame t takes action t + k to frame t + k + 1
    valid = ((reached >= first) & (reached <= last)).float()
    return _Windows(
        latents[:, t[:, 0]].flatten(0, 1),
        features[:, (t + k).clamp(max=T - 2)].flatten(0, 1),
        targets[:, reached.clamp(max=T - 1)].flatten(0, 1),
        valid.repeat(B, 1),
        torch.arange(B, device=device).repeat_interleave(len(t)),
        B,
    )


def _scene_losses(model, adapter: SceneAdapter, w: _Windows, weights: torch.Tensor, config: AdaptConfig) -> torch.Tensor:
    """(B,): each scene's mean error over its windows' scored steps, the dream replaying the
    recorded actions open-loop with each random part at its mean: the weighted state error against
    the filter's reading, or the drawn frame's mean squared pixel error (`AdaptConfig.target`)."""
    latent, codes, rows = w.starts, [], adapter.rows(w.scene)
    for k in range(w.features.shape[1]):
        latent = model.imagine_step(latent, w.features[:, k], None, config.physics_blend, rows, age=k)
        codes.append(model.split(latent)[0])
    codes = torch.stack(codes, 1)  # (B·W, horizon, S)
    if config.target == "frames":
        scored = w.valid.bool()  # only the steps scored are drawn: the decoder is most of the cost
        drawn = model.draw_state(codes[scored])
        pixels = ((drawn - w.targets[scored]) ** 2).flatten(1).mean(1)
        errors = torch.zeros_like(w.valid).masked_scatter(scored, pixels)
    else:
        errors = model.state_errors(codes, w.targets) @ weights
    error = (errors * w.valid).sum(1)
    total = torch.zeros(w.scenes, device=error.device).index_add(0, w.scene, error)
    count = torch.zeros(w.scenes, device=error.device).index_add(0, w.scene, w.valid.sum(1))
    return total / count
