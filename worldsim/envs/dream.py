"""N dreams stepped as one torch batch: the engine under both the single and the vector env.

Each dream keeps its latent, the last frame it showed (the decoder draws the next frame on top of
it) and its own seeded noise stream (worldsim.model.noise_streams: every dream's draw in one batched
call), so dream i produces the same rollout whether it runs alone or in a batch. Everything here
is batched tensor work; no simulator is imported.

Frames cost most of a step (the decoder), and the latent never reads them back: a dream that
nobody looks at (latent or state observations, no rendering) is built with `draw=False` and skips
decoding altogether. Its latents, rewards and terminations are the same as a drawn dream's.

A step is one step of `WorldModel.imagine`, the loop every part of WorldSim imagines with. The
dream lives on the model's device; numpy arrays are made only when an env asks for observations.
With `engine="onnx"` the same step runs as one ONNX Runtime graph (`worldsim.model.onnx_engine`)
wherever the learned dynamics step alone (α = 1); the noise is drawn and the frames are snapped
here either way.
"""

from __future__ import annotations

import numpy as np
import torch

from worldsim.model.adapt import AdaptConfig, SceneAdapter, adapt, bank_trust
from worldsim.model.noise_streams import NoiseStreams
from worldsim.model.onnx_engine import OnnxStep, check_engine
from worldsim.model.palette import palette_from_frames
from worldsim.model.start_bank import fitted_starts
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
        uncertainty: bool = False,
        engine: str = "torch",
    ):
        self.model = model
        self.uncertainty = uncertainty  # compute the ensemble's disagreement on every step
        self.draw = draw
        self.crash_rule = crash_rule
        device = model.device
        # Only frames are snapped: a dream that draws none needs no palette (reading one costs seconds).
        self.palette = palette_from_frames(bank["frames"]).to(device) if snap_colours and draw else None
        self.bank = {k: torch.from_numpy(v) for k, v in bank.items()}
        self.num = num
        self.physics_blend = physics_blend
        c = model.config
        self.latent = torch.zeros(num, c.latent_dim, device=device)
        self.disagreement = torch.zeros(num, device=device)
        # steps each dream has taken since its start (filtered or generated), counted only for
        # dynamics that read it (ModelConfig.dynamics_age): other models' steps pay nothing for it
        self.counts_age = bool(c.dynamics_age)
        self.age = torch.zeros(num, dtype=torch.long, device=device)
        self.frame = torch.zeros(num, 3, c.frame_size, c.frame_size, device=device)
        # One seeded noise stream per dream, all drawn in one batched call (NoiseStreams).
        self.streams = NoiseStreams(num)
        self._bank_latents: torch.Tensor | None = None
        # Test-time training: each dream's own correction of the dynamics (row i is dream i's), and
        # the start it was fitted on, which an autoreset returns to; none until a reset adapts.
        self.adapter: SceneAdapter | None = None
        self.adapted = np.zeros(num, dtype=bool)
        self.held: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._trust: torch.Tensor | None = None
        # The graph draws; the palette snap runs here, through its table of colours met: scoring every
        # pixel against every colour inside the graph took longer than the rest of a 64-env step.
        self.graph = OnnxStep(model, draw, snap_colours=False) if check_engine(engine) == "onnx" else None

    @property
    def bank_size(self) -> int:
        return len(self.bank["frames"])

    @torch.no_grad()
    def reset(
        self,
        which: np.ndarray,
        seeds: np.ndarray,
        frames: torch.Tensor,
        actions: torch.Tensor | None,
        adapt_to: AdaptConfig | None = None,
        hold: bool = False,
    ) -> dict | None:
        """Start dreams `which` from real context `frames` (k, T, H, W, 3) with `actions` between
        them. With `adapt_to`, each dream first fits its own correction of the dynamics to its
        context (worldsim.model.adapt); the report is returned. With `hold`, `restart` returns
        these dreams to this start (and keeps their correction)."""
        self.streams.seed(which, seeds)
        self.forget(which)
        self.latent[which] = self.model.encode(frames, actions)
        if self.draw:
            self.frame[which] = self.model.frames_in(frames[:, -1])
        self.disagreement[which] = 0.0
        self.age[which] = 0
        report = None
        if adapt_to is not None:
            with torch.enable_grad():
                rows, report = adapt(self.model, frames, actions, adapt_to, self.trust())
            self._adapter(adapt_to.weights).put(which, rows)
            self.adapted[which] = np.array(report["kept"], dtype=bool)
        if hold:
            for i in which:
                self.held[int(i)] = (self.latent[i].clone(), self.frame[i].clone())
        return report

    def restart(self, which: np.ndarray, seeds: np.ndarray) -> None:
        """Dreams `which` back at the start they hold (`reset(..., hold=True)`), correction kept."""
        self.streams.seed(which, seeds)
        for i in which:
            self.latent[i], self.frame[i] = self.held[int(i)]
        self.disagreement[which] = 0.0
        self.age[which] = 0

    def trust(self) -> torch.Tensor | None:
        """How well the filter reads each state field, measured once on the start bank's real frames
        (adapt.bank_trust); None where the bank holds no states of the model's width."""
        if self._trust is None:
            self._trust = bank_trust(self.model, self.bank)
        return self._trust

    def _adapter(self, weights: str) -> SceneAdapter:
        """The dreams' corrections, with room for `weights`' kind (a bias-only adapter grows a weight)."""
        if self.adapter is None or (self.adapter.weight is None and weights == "last_layer"):
            fresh = SceneAdapter.zeros(self.model, self.num, weights)
            if self.adapter is not None:
                fresh.bias = self.adapter.bias
            self.adapter = fresh
        return self.adapter

    def forget(self, which: np.ndarray) -> None:
        """Dreams `which` start afresh: no correction, no held start."""
        if self.adapter is not None and self.adapted[which].any():
            self.adapter.put(which, None)
        self.adapted[which] = False
        for i in which:
            self.held.pop(int(i), None)

    @torch.no_grad()
    def reset_from_bank(self, which: np.ndarray, seeds: np.ndarray, indices: np.ndarray) -> None:
        """`reset` from bank entries `indices`. Encoding is deterministic (posterior mean), so each
        entry is encoded once and kept: with short episodes, re-encoding on every reset would cost
        more than all the stepping (a 64-env driving batch restarts about one env per step)."""
        if self._bank_latents is None:
            frames, actions = self.bank["frames"], self.bank["actions"]
            fitted = fitted_starts(self.bank, self.model)  # stored with the bank, else fitted now
            fit = fitted is None
            self._bank_latents = torch.cat(
                [self.model.encode(frames[i : i + 64], actions[i : i + 64], fit=fit) for i in range(0, len(frames), 64)]
            )
            if fitted is not None:
                self._bank_latents = self.model.with_fitted_fields(self._bank_latents, fitted.to(self._bank_latents))
        self.streams.seed(which, seeds)
        self.forget(which)
        self.latent[which] = self._bank_latents[indices]
        if self.draw:  # a dream nobody looks at keeps no frame (converting one costs as much as a latent step)
            self.frame[which] = self.model.frames_in(self.bank["frames"][indices, -1])
        self.disagreement[which] = 0.0
        self.age[which] = 0

    @torch.no_grad()
    def reset_from_latents(self, which: np.ndarray, seeds: np.ndarray, latents: torch.Tensor) -> None:
        """Start dreams `which` from given latents (generated from a prompt); their first frame is
        drawn from the latent alone (snapped like every other frame)."""
        self.streams.seed(which, seeds)
        self.forget(which)
        latents = latents.to(self.latent.device)
        self.latent[which] = latents
        if self.draw:
            frame = self.model.draw(latents, self.frame[which])
            self.frame[which] = frame if self.palette is None else self.model.snap(frame, self.palette)
        self.disagreement[which] = 0.0
        self.age[which] = 0

    @torch.no_grad()
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance every dream; returns (rewards (N,), terminated (N,) bool)."""
        adapter = self.adapter if self.adapted.any() else None
        # a blend with the physics prior, or a test-time correction, runs in torch (the graph has neither)
        if self.graph is not None and self.physics_blend == 1.0 and adapter is None:
            return self._step_graph(actions)
        rollout = self.model.imagine(
            self.latent,
            actions[:, None],
            previous=self.frame if self.draw else None,
            generator=self.streams,
            physics_blend=self.physics_blend,
            palette=self.palette,
            crash_rule=self.crash_rule,  # see worldsim.model.crash: the head misses crashes into slower traffic
            adapter=adapter,
            age=self.age if self.counts_age else 0,
        )
        if self.counts_age:
            self.age += 1
        self.latent = rollout.latents[:, 0]
        if self.draw:
            self.frame = rollout.frames[:, 0]
        if self.uncertainty:
            self.disagreement = rollout.uncertainty[:, 0]
        return rollout.rewards[:, 0], rollout.terminations[:, 0]

    def _step_graph(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`step` through the ONNX graph: the same noise draws, heads and crash rule as `imagine`."""
        model, start = self.model, self.latent
        features = model.action_features(actions)
        noise = model.noise(self.num, self.streams)
        out = self.graph(start, features, noise, self.frame, self.palette, self.age.float() if self.counts_age else None)
        if self.counts_age:
            self.age += 1
        self.latent, rewards, logits = out[:3]
        if self.draw:
            self.frame = out[3] if self.palette is None else self.model.snap(out[3], self.palette)
        terminated = logits > model.config.termination_threshold
        if self.crash_rule:
            terminated = terminated | model.crash_signals(self.latent, rule=True)["state_overlap"]
        if self.uncertainty:
            self.disagreement = model.uncertainty(start, self.latent, features)
        return rewards, terminated

    def uncertainties(self) -> np.ndarray:
        """(N,) float32: the dynamics ensemble's disagreement on each dream's last step (0 after a reset)."""
        return self.disagreement.cpu().numpy().astype(np.float32)

    def pixels(self) -> np.ndarray:
        if not self.draw:
            raise RuntimeError("this dream does not draw frames (latent or state observations, no render_mode)")
        return self.model.to_uint8(self.frame).cpu().numpy()

    def states(self) -> np.ndarray:
        return self.model.physical_state(self.latent).cpu().numpy()

    def latents(self) -> np.ndarray:
        return self.latent.cpu().numpy().copy()
