"""`WorldSimVectorEnv`: N dreams as one torch batch, a native `gymnasium.vector.VectorEnv`.

`gym.make_vec("WorldSim-v0", num_envs=N)` builds it through the ids' `vector_entry_point`. Env i
seeded with `seed + i` makes the same choices as a single `WorldSimEnv` seeded `seed + i` (start
context and noise stream), and `reset` without a seed continues each env's random stream, so env i
matches Gymnasium's `SyncVectorEnv` over single envs step for step in every autoreset mode
(`autoreset_mode`, declared in `metadata["autoreset_mode"]`):

- NEXT_STEP (default): after an episode ends, the next `step` resets that env, ignores its action
  and returns its first observation with reward 0.
- SAME_STEP: an env that ends is reset within the step and returns its new first observation; the
  last observation and info of the episode are in `infos["final_obs"]` and `infos["final_info"]`,
  masked by `infos["_final_obs"]` and `infos["_final_info"]`.
- DISABLED: ended envs stay ended until `reset(options={"reset_mask": mask})` starts the masked
  ones over; stepping an ended env is an error.

`reset_mask` works in every mode. `reset(options={"prompt": ...})` starts envs from scenes generated
from words (one string for all, or a list with one per env, None for a bank start); an env keeps
its prompt for its autoresets until a reset without one, and each prompted start reports
`infos["prompt_match"]` (masked by `infos["_prompt_match"]`). `"search": {"method": "best_of_n",
"samples": K}` beside a prompt keeps the verifier's best of K scenes for each prompted start, and
`"variety": V` scales the generator's code (above 1: seeds' scenes further apart).
`reset(options={"context": {"frames": ..., "actions": ...}})` starts the (masked) envs from real
frames, one context for all or one per env, and with `"adapt": True` each env first fits its own
test-time correction of the dynamics (worldsim.model.adapt; `infos["adapt"]`); those envs return to
that start, correction kept, at their autoresets until a reset without a context.

`make_vec` passes constructor arguments as keyword arguments, not
`vector_kwargs` (Gymnasium refuses those for a vector entry point):
`gym.make_vec(id, num_envs=N, autoreset_mode=AutoresetMode.SAME_STEP)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from worldsim.envs.actions import check_actions
from worldsim.envs.world import World, adapt_options, prompt_search, reset_options
from worldsim.model.adapt import scene_report

if TYPE_CHECKING:
    from worldsim.search.best_of_n import Search


def check_autoreset_mode(mode: str | AutoresetMode) -> AutoresetMode:
    """The mode as an `AutoresetMode` (a member or its value, e.g. "SameStep"), or a ValueError."""
    if isinstance(mode, AutoresetMode):
        return mode
    try:
        return AutoresetMode(mode)
    except ValueError:
        known = ", ".join(f"AutoresetMode.{m.name} ({m.value!r})" for m in AutoresetMode)
        raise ValueError(f"autoreset_mode must be one of {known}, got {mode!r}") from None


class WorldSimVectorEnv(gym.vector.VectorEnv):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
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
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
    ):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"the vector env renders 'rgb_array' only, got {render_mode!r}")
        self.autoreset_mode = check_autoreset_mode(autoreset_mode)
        self.world = world = World.open(domain, checkpoint, obs_type, physics_blend, episode_steps, device, decoder)
        self.model, self.checkpoint, self.domain = world.model, world.checkpoint, world.domain
        self.num_envs, self.obs_type, self.render_mode = num_envs, obs_type, render_mode
        self.physics_blend, self.episode_steps = float(physics_blend), world.episode_steps
        self.metadata = {**self.metadata, "render_fps": world.spec.fps, "autoreset_mode": self.autoreset_mode}
        self.single_action_space = world.action_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = world.observation_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        render = render_mode is not None
        self.dream = world.dream(num_envs, self.physics_blend, render, snap_colours, crash_rule, uncertainty, engine)
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._prompts: list[str | None] = [None] * num_envs  # each env's prompt, kept for its autoresets
        self._searches: list[Search | None] = [None] * num_envs  # and the search over its scenes
        self._matches: dict[int, dict] = {}  # prompt matches of envs just started, for the next infos
        self._adapted: dict[int, dict] = {}  # test-time training reports of envs just started, likewise
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._ended = np.zeros(num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        options = reset_options(options)  # a copy: wrappers read `reset_mask` after this call
        mask = options.pop("reset_mask", None)
        search, adapting = prompt_search(options), adapt_options(options, self.physics_blend)
        if "context" in options and "prompt" in options:
            raise ValueError("reset options context, prompt are different starts: give one")
        prompt, context = options.pop("prompt", None), options.pop("context", None)
        options.pop("search", None), options.pop("adapt", None), options.pop("variety", None)
        if options:
            known = "adapt, context, prompt, reset_mask, search, variety"
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(map(str, options)))}; known: {known}")
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset: {len(seeds)} seeds for {self.num_envs} envs")
        which = np.arange(self.num_envs) if mask is None else np.flatnonzero(self._check_mask(mask))
        if context is not None:
            frames, actions = self.world.context(context, scenes=len(which))
        for i in which:
            if seeds[i] is not None:
                self._rngs[i] = seeding.np_random(seeds[i])[0]
        self.dream.forget(which)  # a reset lets go of a held context and its correction
        if context is not None:
            # Each env starts from its context (adapted to it, with "adapt") and returns there at its
            # autoresets, until a reset without one; its correction is its own row (model.adapt).
            for i in which:
                self._prompts[i], self._searches[i] = None, None
            starts = np.array([self._rngs[i].integers(2**63 - 1) for i in which])
            report = self.dream.reset(which, starts, frames, actions, adapting, hold=True)
            if report is not None:
                self._adapted.update({int(i): scene_report(report, j) for j, i in enumerate(which)})
            self._t[which], self._ended[which] = 0, False
            return self._observations(), self._infos()
        # A prompt holds for the env's later episodes too (autoresets), until a reset without one.
        prompts = self._check_prompts(prompt)
        for i in which:
            self._prompts[i], self._searches[i] = prompts[i], search
        self._restart(which)
        return self._observations(), self._infos()

    def step(self, actions):
        if self.autoreset_mode == AutoresetMode.DISABLED and self._ended.any():
            raise RuntimeError(
                f"env(s) {np.flatnonzero(self._ended).tolist()} ended and autoreset is disabled: "
                'reset them first with reset(options={"reset_mask": mask})'
            )
        actions = torch.as_tensor(check_actions(self.single_action_space, actions, self.num_envs), device=self.model.device)
        ended = self._ended.copy()
        rewards, terminated = self.dream.step(actions)
        rewards, terminated = rewards.cpu().numpy().astype(np.float64), terminated.cpu().numpy()
        self._t += 1
        truncated = (self._t >= self.episode_steps) & ~terminated
        if ended.any():  # next-step autoreset: these envs start over and report their first frame
            self._restart(np.flatnonzero(ended))
            rewards[ended], terminated[ended], truncated[ended] = 0.0, False, False
        done = terminated | truncated
        if self.autoreset_mode != AutoresetMode.SAME_STEP:
            self._ended = done
        elif done.any():
            return self._same_step_reset(done, rewards, terminated, truncated)
        return self._observations(), rewards, terminated, truncated, self._infos()

    def render(self):
        return self.dream.pixels() if self.render_mode == "rgb_array" else None

    def restart(self, which: np.ndarray) -> np.ndarray:
        """Start envs `which` over now (same-step autoreset, as SB3 wants); their first observations."""
        self._restart(np.asarray(which))
        return self._observations()[which]

    def _same_step_reset(self, done, rewards, terminated, truncated):
        """Start the `done` envs over; their last observation and info go in `final_obs`/`final_info`,
        laid out as Gymnasium's `SyncVectorEnv` lays them out."""
        last_obs, last_info = self._observations(), self._infos()
        final_obs = np.full(self.num_envs, None, dtype=object)
        for i in np.flatnonzero(done):
            final_obs[i] = last_obs[i]
        final_info = {}
        for key, value in last_info.items():
            final_info[key], final_info[f"_{key}"] = value, done.copy()
        self._restart(np.flatnonzero(done))
        infos = self._infos()
        infos.update(final_obs=final_obs, _final_obs=done.copy(), final_info=final_info, _final_info=done.copy())
        return self._observations(), rewards, terminated, truncated, infos

    def _check_mask(self, mask) -> np.ndarray:
        """`options["reset_mask"]` checked as Gymnasium's `SyncVectorEnv` checks it."""
        if not isinstance(mask, np.ndarray):
            raise TypeError(f'options["reset_mask"] must be a numpy array, got {type(mask).__name__}')
        if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
            raise ValueError(
                f'options["reset_mask"] must be a bool array of shape ({self.num_envs},), got {mask.dtype} {mask.shape}'
            )
        if not mask.any():
            raise ValueError('options["reset_mask"] selects no env')
        return mask

    def _check_prompts(self, prompt) -> list[str | None]:
        """`options["prompt"]`: one string for every env, or a list of N (None: start from the bank)."""
        if prompt is None or isinstance(prompt, str):
            return [prompt] * self.num_envs
        if not isinstance(prompt, list | tuple) or len(prompt) != self.num_envs:
            raise ValueError(f'options["prompt"] must be a string or a list of {self.num_envs} (one per env, None for none)')
        for p in prompt:
            if p is not None and not isinstance(p, str):
                raise TypeError(f'options["prompt"] entries must be strings or None, got {type(p).__name__}')
        return list(prompt)

    def _restart(self, which: np.ndarray) -> None:
        held = np.array([i for i in which if int(i) in self.dream.held], dtype=np.int64)
        which = np.array([i for i in which if int(i) not in self.dream.held], dtype=np.int64)
        if len(held):
            self.dream.restart(held, np.array([self._rngs[i].integers(2**63 - 1) for i in held]))
            self._t[held], self._ended[held] = 0, False
        prompted = np.array([i for i in which if self._prompts[i] is not None], dtype=np.int64)
        banked = np.array([i for i in which if self._prompts[i] is None], dtype=np.int64)
        if len(banked):
            choices = np.array([self._rngs[i].integers(self.dream.bank_size) for i in banked])
            seeds = np.array([self._rngs[i].integers(2**63 - 1) for i in banked])
            self.dream.reset_from_bank(banked, seeds, choices)
        if len(prompted):
            seeds = np.array([self._rngs[i].integers(2**63 - 1) for i in prompted])
            for search in dict.fromkeys(self._searches[i] for i in prompted):  # envs reset apart may search apart
                group = np.array([k for k, i in enumerate(prompted) if self._searches[i] == search], dtype=np.int64)
                envs, texts = prompted[group], [self._prompts[i] for i in prompted[group]]
                latents, matches = self.world.prompt_starts(texts, seeds[group], self.dream.draw, search)
                self.dream.reset_from_latents(envs, seeds[group], latents)
                self._matches.update(zip(envs.tolist(), matches, strict=True))
        self._t[which] = 0
        self._ended[which] = False

    def _observations(self) -> np.ndarray:
        return self.world.observations(self.dream)

    def _infos(self) -> dict[str, Any]:
        infos = self.world.infos(self.dream, self.physics_blend, self._t)
        if self._matches:  # envs that just started from a prompt, laid out as Gymnasium lays out infos
            matches, present = np.full(self.num_envs, None, dtype=object), np.zeros(self.num_envs, dtype=bool)
            for i, match in self._matches.items():
                matches[i], present[i] = match, True
            infos.update(prompt_match=matches, _prompt_match=present)
            self._matches = {}
        if self._adapted:  # envs that just adapted to their context
            reports, present = np.full(self.num_envs, None, dtype=object), np.zeros(self.num_envs, dtype=bool)
            for i, report in self._adapted.items():
                reports[i], present[i] = report, True
            infos.update(adapt=reports, _adapt=present)
            self._adapted = {}
        return infos
