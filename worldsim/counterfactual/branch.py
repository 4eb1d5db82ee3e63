"""One counterfactual: the factual episode, its branch at step T in the simulator, and the dream.

The factual ego drives a scenario with the cruise behaviour (seeded by the scenario). At step T the
simulator is deep-copied; the copy plays the alternative actions (the ground-truth counterfactual)
while the factual run goes on with its own policy. The world model filters the factual frames up to
T (the last `context` of them) and imagines the same alternative actions from there. Frames, states
and crash flags of all three are kept for metrics and video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from worldsim.counterfactual.metrics import compare
from worldsim.envs.world import check_physics_blend
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.palette import palette_from_frames
from worldsim.scenario import load_scenario
from worldsim.sources.driving import ACTIONS

# An imagined crash is `WorldModel.crash_signal` with the driving crash rule, as in the environments.
CONTEXT = 4  # real frames the model filters before imagining, as in training and evaluation


@dataclass
class Track:
    """What one line of events showed: frames and states (n+1), then per step (n) its action and
    whether the ego crashed."""

    frames: list[np.ndarray] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    crashed: list[bool] = field(default_factory=list)
    crash_signals: list[dict[str, bool]] = field(default_factory=list)  # imagined tracks: what fired

    def add(self, frame: np.ndarray, state: np.ndarray, action: int | None = None, crashed: bool = False) -> None:
        self.frames.append(frame)
        self.states.append(np.asarray(state, dtype=np.float32))
        if action is not None:
            self.actions.append(int(action))
            self.crashed.append(bool(crashed))


@dataclass
class Counterfactual:
    scenario: str
    at: int
    actions: list[int]
    seconds_per_step: float
    history: Track  # the factual frames and states up to and including step T
    factual: Track  # from T on (frame T first), the factual policy's continuation
    real: Track  # from T on, the simulator's answer to the alternative actions
    imagined: Track  # from T on, the world model's answer
    metrics: dict[str, Any] = field(default_factory=dict)


def parse_actions(text: str | list) -> list[int]:
    """'FASTER,IDLE,3' or a list of names/ids -> meta-action ids."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        name = str(item).strip().upper()
        if name in ACTIONS:
            out.append(ACTIONS.index(name))
        elif name.isdigit() and int(name) < len(ACTIONS):
            out.append(int(name))
        else:
            raise ValueError(f"unknown driving action {item!r}; use ids 0-4 or {', '.join(ACTIONS)}")
    if not out:
        raise ValueError("give at least one alternative action")
    return out


def run_counterfactual(
    scenario: str | Path,
    at: int,
    actions,
    checkpoint: str | Path = "driving",
    physics_blend: float = 1.0,
    seed: int = 0,
    model=None,
) -> Counterfactual:
    """Branch `scenario` at step `at` and play `actions` in the simulator and in the world model."""
    from worldsim.behaviour.driving import DrivingBehaviour
    from worldsim.sources import make_source

    check_physics_blend(physics_blend)
    spec = load_scenario(scenario)
    if spec.domain != "driving":
        raise ValueError(f"scenario {spec.path}: counterfactuals are for driving scenarios, this one is {spec.domain!r}")
    actions = parse_actions(actions)
    if at < 0:
        raise ValueError(f"--at must be a step >= 0, got {at}")
    if model is None:
        model, _ = load_model(resolve_checkpoint(checkpoint), domain="driving")
    source = make_source("driving", model.config.frame_size, scenario=spec)
    policy = DrivingBehaviour(styles={"cruise": 1.0})
    try:
        obs = source.reset(seed=spec.seed)
        policy.reset(np.random.default_rng(spec.seed), source)
        history = Track()
        history.add(obs.frame, obs.state)
        for t in range(at):
            action = policy.act(source, obs)
            obs = source.step(action)
            history.add(obs.frame, obs.state, action, obs.info.get("crashed", False))
            if obs.terminated or obs.truncated:
                raise ValueError(f"--at {at} is beyond the factual episode of {spec.name}: it ended at step {t + 1}")
        seconds = 1.0 / float(source.core.config["policy_frequency"])
        branch = source.branch()
        real = _play(branch, obs, actions)
        factual = Track()
        factual.add(obs.frame, obs.state)
        for _ in actions:
            if obs.terminated or obs.truncated:
                break
            action = policy.act(source, obs)
            obs = source.step(action)
            factual.add(obs.frame, obs.state, action, obs.info.get("crashed", False))
        branch.close()
    finally:
        source.close()
    imagined = _imagine(model, history, actions, physics_blend, seed)
    result = Counterfactual(spec.name, at, actions, seconds, history, factual, real, imagined)
    result.metrics = compare(real, imagined, seconds)
    return result


def _play(source, start, actions: list[int]) -> Track:
    track = Track()
    track.add(start.frame, start.state)
    for action in actions:
        obs = source.step(action)
        track.add(obs.frame, obs.state, action, obs.info.get("crashed", False))
        if obs.terminated or obs.truncated:
            break
    return track


@torch.no_grad()
def _imagine(model, history: Track, actions: list[int], physics_blend: float, seed: int) -> Track:
    context = min(CONTEXT, len(history.frames))  # fewer real frames when branching before step 3
    frames = torch.from_numpy(np.stack(history.frames[-context:]))[None]
    past = (
        torch.tensor(history.actions[len(history.actions) - (context - 1) :], device=model.device)[None] if context > 1 else None
    )
    latent = model.encode(frames, past)
    rollout = model.imagine(
        latent,
        torch.tensor(actions, device=model.device)[None],
        previous=model.frames_in(frames[:, -1]),
        generator=torch.Generator().manual_seed(seed),
        physics_blend=physics_blend,
        palette=palette_from_frames(np.stack(history.frames)),  # as the environments do (worldsim.model.palette)
        crash_rule=True,
    )
    pixels, states = rollout.pixels()[0].cpu().numpy(), rollout.states[0].cpu().numpy()
    signals = {name: fired[0].cpu().numpy() for name, fired in model.crash_signals(rollout.latents, rule=True).items()}
    track = Track()
    track.add(history.frames[-1], model.physical_state(latent)[0].cpu().numpy())
    for k, action in enumerate(actions):
        fired = {name: bool(values[k]) for name, values in signals.items()}
        track.add(pixels[k], states[k], action, any(fired.values()))
        track.crash_signals.append(fired)
        if any(fired.values()):  # the imagined episode ends at its crash
            break
    return track
