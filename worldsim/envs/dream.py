"""N dreams stepped as one torch batch: the engine under both the single and the vector env.

Each dream keeps its latent, the last frame it showed (the decoder draws the next frame on top of
it) and its own torch.Generator, so dream i produces the same rollout whether it runs alone or in a
batch. Everything here is batched tensor work; no simulator is imported.

Frames cost most of a step (the decoder), and the latent never reads them back: a dream that
nobody looks at (latent or state observations, no rendering) is built with `draw=False` and skips
decoding altogether. Its latents, rewards and terminations are the same as a drawn dream's.
"""

from __future__ import annotations

import numpy as np
import torch

from worldsim.envs.crash import LatentOverlap
from worldsim.model.palette import palette_from_frames, snap
from worldsim.model.world_model import WorldModel


class Dream:
    def __init__(
        self,
        model: WorldModel,
        bank: dict[str, np.ndarray],
        num: int,
        physics_blend: float,
        draw: bool = True,
        snap_colours: bool = True,
        crash_rule: bool = False,
    ):
        self.model = model
        self.draw = draw
        self.crash_rule = crash_rule
        self._overlap = LatentOverlap(model) if crash_rule else None
        self.palette = palette_from_frames(bank["frames"]) if snap_colours else None
        self.bank = {k: torch.from_numpy(v) for k, v in bank.items()}
        self.num = num
        self.physics_blend = physics_blend
        c = model.config
        self.latent = torch.zeros(num, c.latent_dim)
        self.frame = torch.zeros(num, 3, c.frame_size, c.frame_size)
        self.generators = [torch.Generator() for _ in range(num)]
        self._bank_latents: torch.Tensor | None = None

    @property
    def bank_size(self) -> int:
        return len(self.bank["frames"])

    @torch.no_grad()
    def reset(self, which: np.ndarray, seeds: np.ndarray, frames: torch.Tensor, actions: torch.Tensor) -> None:
        """Start dreams `which` from real context `frames` (k, T, H, W, 3) with `actions` between them."""
        for i, seed in zip(which, seeds, strict=True):
            self.generators[i].manual_seed(int(seed))
        self.latent[which] = self.model.encode(frames, actions)
        self.frame[which] = self.model.frames_in(frames[:, -1])

    @torch.no_grad()
    def reset_from_bank(self, which: np.ndarray, seeds: np.ndarray, indices: np.ndarray) -> None:
        """`reset` from bank entries `indices`. Encoding is deterministic (posterior mean), so each
        entry is encoded once and kept: with short episodes, re-encoding on every reset would cost
        more than all the stepping (a 64-env driving batch restarts about one env per step)."""
        if self._bank_latents is None:
            frames, actions = self.bank["frames"], self.bank["actions"]
            self._bank_latents = torch.cat(
                [self.model.encode(frames[i : i + 64], actions[i : i + 64]) for i in range(0, len(frames), 64)]
            )
        for i, seed in zip(which, seeds, strict=True):
            self.generators[i].manual_seed(int(seed))
        self.latent[which] = self._bank_latents[indices]
        self.frame[which] = self.model.frames_in(self.bank["frames"][indices, -1])

    @torch.no_grad()
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance every dream; returns (rewards (N,), terminated (N,) bool)."""
        noise = torch.stack([torch.randn(self.model.config.stoch_dim, generator=g) for g in self.generators])
        features = self.model.action_features(actions)
        self.latent = self.model.imagine_step(self.latent, features, noise, self.physics_blend)
        if self.draw:
            self.frame = self.model.decode(self.latent, self.frame)
            if self.palette is not None:
                self.frame = snap(self.frame, self.palette)
        terminated = self.model.termination_logit(self.latent) > 0
        if self.crash_rule:  # see worldsim.envs.crash: the head misses crashes into slower traffic
            terminated |= self._overlap(self.latent)
        return self.model.reward(self.latent), terminated

    def pixels(self) -> np.ndarray:
        if not self.draw:
            raise RuntimeError("this dream does not draw frames (latent or state observations, no render_mode)")
        return self.model.to_uint8(self.frame).numpy()

    def states(self) -> np.ndarray:
        return self.model.physical_state(self.latent).numpy()

    def latents(self) -> np.ndarray:
        return self.latent.numpy().copy()
