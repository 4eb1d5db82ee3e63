"""`WorldSimEnv`: a learned world model served as a `gymnasium.Env`, with no simulator at run time.

Observations are the dream's frames (`pixels`, uint8 HWC), its latent (`latent`) or its decoded
physical state (`state`). Rewards and terminations come from the model's heads (driving dreams
also end at an imagined crash read off the state, `crash_rule`, see `worldsim.envs.crash`);
episodes are truncated after `episode_steps`. `info` carries the decoded physical state and the α in use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from worldsim.envs.actions import check_action
from worldsim.envs.crash import resolve_crash_rule
from worldsim.envs.dream import Dream
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.start_bank import load_start_bank
from worldsim.sources.base import space_from_json

OBS_TYPES = ("pixels", "latent", "state")
# Episode lengths and viewing rates per domain: highway-fast-v0 ends at 30 s (1 step per second,
# shown at twice real time), PushT's limit is 300 steps at 10 Hz, CarRacing 1000 frames at 50 Hz
# (500 steps of 2 frames).
EPISODE_STEPS = {"driving": 30, "robotics": 300, "games": 500}
RENDER_FPS = {"driving": 2, "robotics": 10, "games": 25}


def load_world(domain: str | None, checkpoint: str | Path | None, obs_type: str, physics_blend: float):
    """Check the options every WorldSim env takes, then load (model, start bank, checkpoint directory)
    for a domain's shipped weights or a checkpoint; with both, the checkpoint must be of that domain."""
    if obs_type not in OBS_TYPES:
        raise ValueError(f"obs_type must be one of {', '.join(OBS_TYPES)}, got {obs_type!r}")
    if not 0.0 <= float(physics_blend) <= 1.0:
        raise ValueError(f"physics_blend must lie in [0, 1], got {physics_blend!r}")
    if domain is not None and domain not in EPISODE_STEPS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(EPISODE_STEPS)}")
    path = resolve_checkpoint(checkpoint if checkpoint is not None else (domain or "driving"))
    model, _ = load_model(path, domain=domain)
    if obs_type == "state" and not model.config.state_dim:
        raise ValueError(f"obs_type 'state': the {model.config.domain!r} model has no physical state")
    return model, load_start_bank(path), path


class WorldSimEnv(gym.Env):
    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 2}

    def __init__(
        self,
        domain: str | None = None,
        checkpoint: str | Path | None = None,
        obs_type: str = "pixels",
        physics_blend: float = 1.0,
        render_mode: str | None = None,
        episode_steps: int | None = None,
        snap_colours: bool = True,
        crash_rule: bool | None = None,
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.model, bank, self.checkpoint = load_world(domain, checkpoint, obs_type, physics_blend)
        config = self.model.config
        self.domain, self.obs_type, self.physics_blend = config.domain, obs_type, float(physics_blend)
        self.episode_steps = int(episode_steps or EPISODE_STEPS.get(config.domain, 500))
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": RENDER_FPS.get(config.domain, 15)}
        self.action_space = space_from_json(config.action_space)
        self.observation_space = observation_space(config, obs_type)
        self.dream = Dream(
            self.model,
            bank,
            1,
            self.physics_blend,
            draw=obs_type == "pixels" or render_mode is not None,
            snap_colours=snap_colours,
            crash_rule=resolve_crash_rule(config.domain, crash_rule),
        )
        self.context_frames = bank["frames"].shape[1]
        self._t = 0
        self._viewer = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"context", "scenario"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(map(str, unknown)))}; known: context, scenario")
        if {"context", "scenario"} <= set(options):
            raise ValueError('reset options "context" and "scenario" are two starts: give one')
        if "scenario" in options or "context" in options:
            if "scenario" in options:
                frames, actions = self._scenario(options["scenario"])
            else:
                frames, actions = self._context(options["context"])
            self.dream.reset(np.array([0]), self.np_random.integers(2**63 - 1, size=1), frames, actions)
        else:
            choice = self.np_random.integers(self.dream.bank_size, size=1)
            self.dream.reset_from_bank(np.array([0]), self.np_random.integers(2**63 - 1, size=1), choice)
        self._t = 0
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action):
        action = check_action(self.action_space, action)
        rewards, terminated = self.dream.step(torch.as_tensor(action)[None])
        self._t += 1
        if self.render_mode == "human":
            self.render()
        truncated = self._t >= self.episode_steps and not bool(terminated[0])
        return self._observation(), float(rewards[0]), bool(terminated[0]), truncated, self._info()

    def render(self):
        if self.render_mode is None:
            return None
        frame = self.dream.pixels()[0]
        if self.render_mode == "rgb_array":
            return frame
        if self.render_mode == "human":
            from worldsim.envs.viewer import Viewer

            if self._viewer is None:
                self._viewer = Viewer(f"WorldSim {self.domain}", frame.shape[0])
            self._viewer.show(frame, self.metadata["render_fps"])
        return None

    def close(self):
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

    def set_physics_blend(self, alpha: float) -> None:
        """Change α for the following steps (the latent is kept: the next step blends with the new α)."""
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"physics_blend must lie in [0, 1], got {alpha!r}")
        self.physics_blend = self.dream.physics_blend = float(alpha)

    def get_keys_to_action(self) -> dict[tuple[int, ...], Any]:
        from worldsim.envs.keys import keys_to_action

        return keys_to_action(self.domain)

    def _observation(self) -> np.ndarray:
        if self.obs_type == "pixels":
            return self.dream.pixels()[0]
        values = self.dream.latents()[0] if self.obs_type == "latent" else self.dream.states()[0]
        return np.clip(values, -OBS_BOUND[self.obs_type], OBS_BOUND[self.obs_type])

    def _info(self) -> dict[str, Any]:
        state = self.dream.states()[0] if self.model.config.state_dim else np.zeros(0, np.float32)
        return {"state": state, "physics_blend": self.physics_blend, "step": self._t}

    def _scenario(self, ref) -> tuple[torch.Tensor, torch.Tensor]:
        """The real frames at a scenario's start (runs the simulator once; see scenario_start)."""
        from worldsim.envs.scenario_start import scenario_context

        if not isinstance(ref, (str, Path)):
            raise TypeError(f'options["scenario"] must be a scenario name or a path, got {type(ref).__name__}')
        frames, actions = scenario_context(ref, self.domain, self.model.config.frame_size, self.context_frames)
        return torch.from_numpy(frames)[None], torch.from_numpy(actions)[None]

    def _context(self, context) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate `options["context"]`: {"frames": (T, H, W, 3) uint8, "actions": (T-1, ...)}."""
        if not isinstance(context, dict) or "frames" not in context:
            raise ValueError('options["context"] must be a dict with "frames" (and "actions" between them)')
        size = self.model.config.frame_size
        frames = np.asarray(context["frames"])
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (size, size, 3):
            raise ValueError(
                f'options["context"]["frames"] must be (T, {size}, {size}, 3) uint8, got {frames.shape} {frames.dtype}'
            )
        n = len(frames)
        if n == 0:
            raise ValueError('options["context"]["frames"] is empty')
        if n == 1:
            return torch.from_numpy(frames)[None], None
        actions = context.get("actions")
        if actions is None or len(actions) != n - 1:
            raise ValueError(f'options["context"] has {n} frames: give the {n - 1} "actions" between them')
        checked = np.stack([check_action(self.action_space, a) for a in actions])
        return torch.from_numpy(frames)[None], torch.as_tensor(checked)[None]


# Finite bounds for vector observations (Gymnasium and SB3 warn on infinite ones). They never bind
# in practice: the latent is a normalised state, a tanh memory and a Gaussian sample, and physical
# states are positions and speeds; observations are clipped to them all the same.
OBS_BOUND = {"latent": 1e3, "state": 1e6}


def observation_space(config, obs_type: str) -> gym.Space:
    if obs_type == "pixels":
        return gym.spaces.Box(0, 255, (config.frame_size, config.frame_size, 3), np.uint8)
    size = config.latent_dim if obs_type == "latent" else config.state_dim
    bound = OBS_BOUND[obs_type]
    return gym.spaces.Box(-bound, bound, (size,), np.float32)
