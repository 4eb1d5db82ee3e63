"""`WorldSimEnv`: a learned world model served as a `gymnasium.Env`, with no simulator at run time.

Observations are the dream's frames (`pixels`, uint8 HWC), its latent (`latent`) or its decoded
physical state (`state`). Rewards and terminations come from the model's heads (driving dreams
also end at an imagined crash read off the state, `crash_rule`, see `worldsim.model.crash`);
episodes are truncated after `episode_steps`. `info` carries the decoded physical state and the α in use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from worldsim.envs.actions import check_action
from worldsim.envs.world import World, adapt_options, check_physics_blend, prompt_search, reset_options
from worldsim.model.adapt import scene_report


class WorldSimEnv(gym.Env):
    """One dream: a thin `gymnasium.Env` over a `Dream` of one (the batched engine of the vector env)."""

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
        device: str | torch.device = "cpu",
        uncertainty: bool = False,
        engine: str = "torch",
        decoder: str = "exact",
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.world = world = World.open(domain, checkpoint, obs_type, physics_blend, episode_steps, device, decoder)
        self.model, self.checkpoint, self.domain = world.model, world.checkpoint, world.domain
        self.obs_type, self.physics_blend, self.episode_steps = obs_type, float(physics_blend), world.episode_steps
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": world.spec.fps}
        self.action_space, self.observation_space = world.action_space, world.observation_space
        self.dream = world.dream(1, self.physics_blend, render_mode is not None, snap_colours, crash_rule, uncertainty, engine)
        self.context_frames = world.bank["frames"].shape[1]
        self._t = 0
        self._viewer = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start from a real start frame of the model's bank, or with `options`: "context" (real
        frames and the actions between them), "scenario" (a scenario's start, run once on the
        simulator) or "prompt" (a scene generated from words; `info["prompt_match"]` then says
        what was understood and whether each asked attribute holds). With a prompt, "variety" (a
        number, default 1) scales the generator's code: larger spreads seeds' scenes further apart,
        at some cost to how often the words hold (worldsim.model.scene.check_variety); "search":
        {"method": "best_of_n", "samples": K} keeps the verifier's best of K generated scenes
        (worldsim.search.best_of_n; `info["prompt_match"]["search"]` has each candidate's scores).
        With a context or a scenario, "adapt": True (or a dict of `worldsim.model.adapt.AdaptConfig`
        settings) first fits this episode's own correction of the dynamics to the real frames
        (test-time training; `info["adapt"]` says what it did); the model's weights are untouched."""
        options = reset_options(options)
        starts = {"context", "scenario", "prompt"}
        unknown = set(options) - starts - {"search", "adapt", "variety"}
        if unknown:
            known = "adapt, context, prompt, scenario, search, variety"
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(map(str, unknown)))}; known: {known}")
        if len(starts & set(options)) > 1:
            raise ValueError(f"reset options {', '.join(sorted(starts & set(options)))} are different starts: give one")
        search = prompt_search(options)
        adapting = adapt_options(options, self.physics_blend)
        super().reset(seed=seed)
        match = adapted = None
        if "prompt" in options:
            seeds = self.np_random.integers(2**63 - 1, size=1)
            latents, matches = self.world.prompt_starts([options["prompt"]], seeds, self.dream.draw, search)
            self.dream.reset_from_latents(np.array([0]), seeds, latents)
            match = matches[0]
        elif "scenario" in options or "context" in options:
            if "scenario" in options:
                frames, actions = self._scenario(options["scenario"])
            else:
                frames, actions = self.world.context(options["context"])
            seeds = self.np_random.integers(2**63 - 1, size=1)
            adapted = self.dream.reset(np.array([0]), seeds, frames, actions, adapting)
        else:
            choice = self.np_random.integers(self.dream.bank_size, size=1)
            self.dream.reset_from_bank(np.array([0]), self.np_random.integers(2**63 - 1, size=1), choice)
        self._t = 0
        if self.render_mode == "human":
            self.render()
        info = self._info()
        if match is not None:
            info["prompt_match"] = match
        if adapted is not None:
            info["adapt"] = scene_report(adapted, 0)
        return self._observation(), info

    def step(self, action):
        action = check_action(self.action_space, action)
        rewards, terminated = self.dream.step(torch.as_tensor(action, device=self.model.device)[None])
        rewards, terminated = float(rewards[0]), bool(terminated[0])
        self._t += 1
        if self.render_mode == "human":
            self.render()
        truncated = self._t >= self.episode_steps and not terminated
        return self._observation(), rewards, terminated, truncated, self._info()

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
        self.physics_blend = self.dream.physics_blend = check_physics_blend(alpha)

    def get_keys_to_action(self) -> dict[tuple[int, ...], Any]:
        from worldsim.envs.keys import keys_to_action

        return keys_to_action(self.domain)

    def noop_action(self):
        """The action of no key held, for `gymnasium.utils.play.play(env, noop=env.unwrapped.noop_action())`."""
        from worldsim.envs.keys import noop_action

        return noop_action(self.domain)

    def _observation(self) -> np.ndarray:
        return self.world.observations(self.dream)[0]

    def _info(self) -> dict[str, Any]:
        info = self.world.infos(self.dream, self.physics_blend, np.array([self._t]))
        single = {"state": info["state"][0], "physics_blend": self.physics_blend, "step": self._t}
        if "uncertainty" in info:
            single["uncertainty"] = float(info["uncertainty"][0])
        return single

    def _scenario(self, ref) -> tuple[torch.Tensor, torch.Tensor]:
        """The real frames at a scenario's start (runs the simulator once; see scenario_start)."""
        from worldsim.envs.scenario_start import scenario_context

        if not isinstance(ref, (str, Path)):
            raise TypeError(f'options["scenario"] must be a scenario name or a path, got {type(ref).__name__}')
        frames, actions = scenario_context(ref, self.domain, self.model.config.frame_size, self.context_frames)
        return torch.from_numpy(frames)[None], torch.from_numpy(actions)[None]
