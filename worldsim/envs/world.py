"""What every WorldSim env is built from, and how it shows what it holds.

`World.open` checks the options all envs take (domain or checkpoint, observation type, physics
blend, episode length, device), loads the model and its bank of real start frames, and reads the
domain's facts from `worldsim.domains`. The single, vector and real envs differ in how they step,
not in what they observe: `observations` and `infos` turn a batch of dreams into what an env
returns (a single env takes row 0).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch

from worldsim import domains
from worldsim.envs.actions import check_action
from worldsim.envs.dream import Dream
from worldsim.model.adapt import AdaptConfig
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.device import resolve_device
from worldsim.model.distill import with_decoder
from worldsim.model.start_bank import load_start_bank
from worldsim.model.world_model import WorldModel
from worldsim.sources.base import space_from_json

if TYPE_CHECKING:
    from worldsim.search.best_of_n import Search

OBS_TYPES = ("pixels", "latent", "state")
# Finite bounds for vector observations (Gymnasium and SB3 warn on infinite ones). They never bind
# in practice: the latent is a normalised state, a tanh memory and a Gaussian sample, and physical
# states are positions and speeds; observations are clipped to them all the same.
OBS_BOUND = {"latent": 1e3, "state": 1e6}


def check_physics_blend(alpha: float) -> float:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"physics_blend must lie in [0, 1], got {alpha!r}")
    return float(alpha)


def check_episode_steps(steps: int | None) -> int | None:
    """A whole, positive number of steps, or None for the domain's own episode length."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"episode_steps must be a whole number of steps (or None), got {steps!r} ({type(steps).__name__})")
    if steps < 1:
        raise ValueError(f"episode_steps must be a positive number of steps, got {steps!r}")
    return int(steps)


def reset_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """`reset`'s options as a dict to read; anything but a mapping or None is a caller's mistake that
    would otherwise surface as an obscure error from inside `dict()`."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"reset options must be a dict (or None), got {type(options).__name__}: {options!r:.60}")
    return dict(options)


def adapt_options(options: Mapping[str, Any], physics_blend: float) -> AdaptConfig | None:
    """`options["adapt"]` as the test-time training it asks for (None: none); it needs real frames
    to adapt on, so a start from the bank or a prompt cannot take it."""
    if options.get("adapt") in (None, False):
        return None
    if "context" not in options and "scenario" not in options:
        raise ValueError('options["adapt"] adapts to real frames: give them as "context" (or a "scenario")')
    return AdaptConfig.from_options(options["adapt"], physics_blend)


def prompt_search(options: Mapping[str, Any]) -> Search | None:
    """The "search" and "variety" reset options read (None without either); they go with a prompt
    only. "variety" alone is a plain draw (`Search.plain`) at that scale of the generator's code."""
    if "search" not in options and "variety" not in options:
        return None
    if options.get("prompt") is None:
        given = " and ".join(f'"{k}"' for k in ("search", "variety") if k in options)
        raise ValueError(f'the {given} reset option(s) go with scenes generated from a prompt: give "prompt" with it')
    from worldsim.model.scene import check_variety
    from worldsim.search.best_of_n import Search

    search = Search.from_options(options["search"]) if "search" in options else Search(plain=True)
    return replace(search, variety=check_variety(options["variety"])) if "variety" in options else search


@dataclass
class World:
    model: WorldModel
    bank: dict[str, np.ndarray]  # real start contexts: frames (N, T, H, W, 3), actions (N, T-1, ...)
    checkpoint: Path
    spec: domains.DomainSpec
    obs_type: str
    episode_steps: int
    action_space: gym.Space
    observation_space: gym.Space
    _text: Any = None  # the shared text + scene space, loaded on the first prompt
    _reflector: Any = None  # reflection's conditioning path, loaded on the first search that reflects

    @classmethod
    def open(
        cls,
        domain: str | None,
        checkpoint: str | Path | None,
        obs_type: str,
        physics_blend: float = 1.0,
        episode_steps: int | None = None,
        device: str | torch.device = "cpu",
        decoder: str = "exact",
    ) -> World:
        """A domain's shipped weights or a checkpoint (with both, the checkpoint must be of that
        domain), on `device`; `decoder="distilled"` draws with the narrower, approximate decoder
        distilled from the model's own (worldsim.model.distill), only where asked."""
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {', '.join(OBS_TYPES)}, got {obs_type!r}")
        check_physics_blend(physics_blend)
        if domain is not None:
            domains.get(domain)  # a clear error for an unknown domain
        episode_steps = check_episode_steps(episode_steps)
        path = resolve_checkpoint(checkpoint if checkpoint is not None else (domain or domains.DEFAULT))
        model, _ = load_model(path, domain=domain)
        model = with_decoder(model, path, decoder).to(resolve_device(device))
        config = model.config
        if obs_type == "state" and not config.state_dim:
            raise ValueError(f"obs_type 'state': the {config.domain!r} model has no physical state")
        spec = domains.of_model(config.domain)
        return cls(
            model=model,
            bank=load_start_bank(path),
            checkpoint=path,
            spec=spec,
            obs_type=obs_type,
            episode_steps=spec.episode_steps if episode_steps is None else episode_steps,
            action_space=space_from_json(config.action_space),
            observation_space=observation_space(model, obs_type),
        )

    @property
    def domain(self) -> str:
        return self.model.config.domain

    def dream(
        self,
        num: int,
        physics_blend: float,
        render: bool,
        snap_colours: bool,
        crash_rule: bool | None,
        uncertainty: bool = False,
        engine: str = "torch",
    ) -> Dream:
        """`num` dreams; frames are drawn only where someone looks (pixel observations or rendering),
        the ensemble's disagreement only when asked for (it costs a third or more of a latent step:
        scripts/bench_uncertainty.py)."""
        if uncertainty and not self.model.config.ensemble:
            raise ValueError(
                f"uncertainty=True needs a model with a dynamics ensemble; {self.checkpoint} has none "
                "(train one with --model '{\"ensemble\": 4}')"
            )
        return Dream(
            self.model,
            self.bank,
            num,
            physics_blend,
            draw=self.obs_type == "pixels" or render,
            snap_colours=snap_colours,
            crash_rule=self.spec.resolve_crash_rule(crash_rule),
            uncertainty=uncertainty,
            engine=engine,
        )

    def prompt_starts(
        self, prompts: list[str], seeds: np.ndarray, draw: bool, search: Search | None = None
    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """Start latents generated from `prompts` (one per seed) and, per start, `info["prompt_match"]`:
        each asked attribute with what the text model understood, what the start holds, and whether
        it holds. With `search`, each start is the verifier's best of `search.samples` candidates
        (worldsim.search.best_of_n), and the match says what the search saw. The text model
        (`text.json`, `text.safetensors` beside the weights) loads on first use."""
        from worldsim.model.scene import check_can_draw_from_latent, generate_scenes
        from worldsim.search.run import search_scenes

        if draw:
            check_can_draw_from_latent(self.model, 'reset(options={"prompt": ...}) with frames')
        if self._text is None:
            from worldsim.model.text import load_shared_space

            self._text = load_shared_space(self.checkpoint, self.model.device, self.model)[0]
        plain = search is None or search.plain
        if not plain and search.method == "reflect" and self._reflector is None:
            from worldsim.model.reflect import load_reflector

            self._reflector = load_reflector(self.checkpoint, self._text, self.model.device)
        latents, matches = [], []
        for prompt, seed in zip(prompts, seeds, strict=True):  # one seeded stream per start
            if not isinstance(prompt, str):
                raise TypeError(f'options["prompt"] must be a string, got {type(prompt).__name__}')
            if plain:
                variety = 1.0 if search is None else search.variety
                streams = [torch.Generator().manual_seed(int(seed))]
                scenes = generate_scenes(self.model, self._text, prompt, streams, draw=False, variety=variety)
            else:
                scenes, seen = search_scenes(
                    self.model, self._text, prompt, int(seed), search, draw=False, calm=self.calm, reflector=self._reflector
                )
            latents.append(scenes.latents)
            match = {
                "prompt": prompt,
                "attributes": scenes.matches[0],
                "ignored": list(scenes.parsed.ignored),
                "all_hold": bool(scenes.all_hold()[0]),
                # False: no real scene starts so (driving: a car on the ego, two stacked in a lane); search ranks it last
                "feasible": bool(scenes.feasible[0]),
            }
            matches.append(match if plain else {**match, "search": seen})
        return torch.cat(latents), matches

    def context(self, context: Any, scenes: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`options["context"]` checked: {"frames": (T, H, W, 3) uint8, "actions": the T-1 raw
        actions between them}, as (1, T, ...) tensors. With `scenes` (a vector's envs), frames
        (scenes, T, H, W, 3) with actions (scenes, T-1, ...) give each env its own context, and
        one (T, ...) context serves them all."""
        if not isinstance(context, Mapping) or "frames" not in context:
            raise ValueError('options["context"] must be a dict with "frames" (and "actions" between them)')
        size = self.model.config.frame_size
        frames = np.asarray(context["frames"])
        shared = frames.ndim == 4
        if frames.dtype != np.uint8 or frames.shape[-3:] != (size, size, 3) or not (shared or scenes and frames.ndim == 5):
            shape = f"(T, {size}, {size}, 3)" + ("" if scenes is None else f" or ({scenes}, T, {size}, {size}, 3)")
            raise ValueError(f'options["context"]["frames"] must be {shape} uint8, got {frames.shape} {frames.dtype}')
        batch = scenes or 1
        if not shared and len(frames) != batch:
            raise ValueError(f'options["context"]["frames"] holds {len(frames)} contexts for {batch} envs')
        n = frames.shape[-4]
        if n == 0:
            raise ValueError('options["context"]["frames"] is empty')
        frames = torch.from_numpy(np.array(np.broadcast_to(frames, (batch, n, size, size, 3))))
        if n == 1:
            return frames, None
        actions = context.get("actions")
        per_scene = [actions] * batch if shared or actions is None else list(actions)
        if any(a is None or len(a) != n - 1 for a in per_scene) or len(per_scene) != batch:
            given = "" if shared else f" for each of the {batch} envs"
            raise ValueError(f'options["context"] has {n} frames: give the {n - 1} "actions" between them{given}')
        checked = np.stack([np.stack([check_action(self.action_space, a) for a in scene]) for scene in per_scene])
        return frames, torch.from_numpy(checked)

    def calm(self, states: np.ndarray) -> np.ndarray:
        """Actions that leave scenes in `states` (N, S) to themselves (a search's calm first step)."""
        from worldsim.envs.keys import calm_action

        return calm_action(self.model.config.domain, self.model.config.state_fields, states)

    def clip(self, values: np.ndarray) -> np.ndarray:
        """Vector observations clipped to the observation space's bounds, as float32."""
        bound = OBS_BOUND[self.obs_type]
        return np.clip(values, -bound, bound).astype(np.float32, copy=False)

    def observations(self, dream: Dream) -> np.ndarray:
        """The batch of observations of every dream."""
        if self.obs_type == "pixels":
            return dream.pixels()
        return self.clip(dream.latents() if self.obs_type == "latent" else dream.states())

    def infos(self, dream: Dream, physics_blend: float, steps: np.ndarray) -> dict[str, Any]:
        """The batch of infos: decoded physical states, the α in use, the steps taken, and for a
        dream that computes it the ensemble's disagreement on the last step ("uncertainty")."""
        states = dream.states() if self.model.config.state_dim else np.zeros((dream.num, 0), np.float32)
        info = {"state": states, "physics_blend": np.full(dream.num, physics_blend), "step": steps.copy()}
        if dream.uncertainty:
            info["uncertainty"] = dream.uncertainties()
        return info


def observation_space(model: WorldModel, obs_type: str) -> gym.Space:
    config = model.config
    if obs_type == "pixels":
        return gym.spaces.Box(0, 255, (config.frame_size, config.frame_size, 3), np.uint8)
    size = config.latent_dim if obs_type == "latent" else config.state_dim
    bound = OBS_BOUND[obs_type]
    return gym.spaces.Box(-bound, bound, (size,), np.float32)
