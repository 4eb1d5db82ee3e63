"""The world model: a recurrent state-space model whose latent holds the physical state explicitly.

    frame_t ──Encoder──► e_t ─┐
                              ▼
    (s, h, z)_t ──GRU(a_t)──► h_t+1 ──► prior p(z | h)            (imagination: step)
                              │    └──► posterior q(z | h, e)     (observation: encode)
                              ▼
    physical state  s_t+1 = α · (s_t + Δ(h, z, s, a))  +  (1 − α) · prior_physics(s_t, a_t)
                    (dynamics "prior": s_t+1 = prior_physics(s_t, a_t) + α · Δ(h, z, s, a);
                     "kinematic": the same, Δ zero on the prior's exact fields)
                              ▼
    latent (s, h, z) ──Decoder(previous frame)──► frame    ──heads──► reward, termination, state

The latent is one flat tensor [s | h | z]: s is the physical state, normalised by the training
data's mean and std; h is deterministic memory (a GRU); z is a Gaussian sample. Because the
decoder and the heads read s directly, a state written into the latent by the explicit physics
prior (α = 0) is what the decoded frame shows; in between, states are blended before decoding.
The decoder also sees the previous frame (real, or its own last output) through skip connections,
so that the static scene is carried forward in pixels while the latent says what moves; a model
configured with `draws_on_previous=False` instead draws every frame from its latent alone.
Stochastic steps draw their noise from a caller's torch.Generator (or per-row generators, or the
counter-based `NoiseStreams` the environments use), so rollouts are reproducible.

`imagine` is the one imagination loop (step -> draw -> snap, with rewards and the crash signal read
off the result): training, evaluation, the environments, counterfactuals and diagnostics all call
it. `unroll_posterior` is the one filtering loop over real frames. The model runs on whatever
device its parameters are on; inputs are moved there, and noise drawn from a generator on another
device (a CPU generator, by default) is moved too, so a seed gives the same noise everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import nn

from worldsim import domains
from worldsim.model import ego_view, slots
from worldsim.model.config import ModelConfig
from worldsim.model.frame_fit import FrameFit
from worldsim.model.lanes import Lanes
from worldsim.model.networks import BroadcastDecoder, Decoder, Encoder, FieldDecoder, mlp
from worldsim.model.noise_streams import NoiseStreams
from worldsim.model.painted_ground import PaintedGround
from worldsim.model.palette import SNAP_CHUNK, snap
from worldsim.model.stochastic import stochastic_latent

# A scene's test-time correction of the learned dynamics: features of their last layer -> a change
# of the state code (worldsim.model.adapt.SceneAdapter).
Adapter = Callable[[torch.Tensor], torch.Tensor]

# One generator for the whole batch, one per batch row (each dream its own stream; NoiseStreams
# draws them a block of steps at a time), or None: the global RNG.
Generators = torch.Generator | Sequence[torch.Generator] | NoiseStreams | None


def build_decoder(c: ModelConfig, channels: int | None = None) -> nn.Module:
    """The decoder `c` describes, `channels` wide (default the config's): a distilled decoder
    (worldsim.model.distill) is the same network, narrower."""
    decoder = {"upsample": Decoder, "broadcast": BroadcastDecoder, "field": FieldDecoder}[c.decoder]
    options = {"view_channels": ego_view.channels(c.decoder_view)} if c.decoder_view else {}
    if c.decoder_static:
        options["static"] = True
    return decoder(c.channels if channels is None else channels, c.decoder_input_dim, c.frame_size, **options)


class WorldModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        # S: the physical state's width inside the latent (its code; see ModelConfig.angle_coding)
        S, D, Z, A, H = c.state_code_dim, c.deter_dim, c.stoch_width, c.action_dim, c.hidden_dim
        self.stochastic = stochastic_latent(c.stoch_dim, c.stoch_classes, c.min_std)
        self.encoder = Encoder(c.channels, c.embed_dim, c.frame_size, c.encoder_coordinates)
        self.decoder = build_decoder(c)
        self.ego_view = ego_view.EgoView(c.decoder_view, c.state_fields, c.frame_size // 4) if c.decoder_view else None
        painted = c.decoder_view and "paint" in c.decoder_view.get("lines", {})
        self.painted_lines = ego_view.PaintedLines(c.decoder_view, c.state_fields, c.frame_size) if painted else None
        ground = c.decoder_view and "paint" in c.decoder_view
        self.painted_ground = PaintedGround(c.decoder_view, c.state_fields, c.frame_size) if ground else None
        self.frame_fit = FrameFit(c.frame_fit, self.painted_ground, c.state_fields) if c.frame_fit else None
        self.gru_in = nn.Sequential(nn.Linear(Z + S + A, H), nn.LayerNorm(H), nn.ELU())
        self.gru = nn.GRUCell(H, D)
        self.prior_net = mlp(D, H, self.stochastic.stats_dim)
        self.posterior_net = mlp(D + c.embed_dim, H, self.stochastic.stats_dim)
        self.state_net = mlp(D + c.embed_dim, H, S) if S else None  # physical state seen in a frame
        G = c.dynamics_age  # the age's one-hot width (0: not read)
        reads = D + Z + S + A + G if c.dynamics_reads == "latent" else S + A + G
        self.state_delta = mlp(reads, H, S) if S else None  # learned physical dynamics
        # The physical state read off one frame alone (no memory): trained on real frames, it is
        # the judge of whether a decoded frame shows the state its latent holds.
        self.frame_reader = mlp(c.embed_dim, H, S) if S and c.frame_reader else None
        # Independently initialised copies of the dynamics, trained on the same transitions with
        # the latent held fixed: where they disagree, the data did not pin the next state down.
        self.dynamics_ensemble = nn.ModuleList(mlp(D + Z + S + A, H, S) for _ in range(c.ensemble)) if S else None
        self.reward_head = mlp(c.latent_dim, H, 1)
        self.termination_head = mlp(c.latent_dim, H, 1)
        spec = domains.of_model(c.domain)
        self.physics = spec.load("prior")(c.state_fields) if S and spec.prior else None
        carried = [c.state_fields.index(f) for f in c.carried_fields]
        self.register_buffer("carried_index", torch.tensor(carried, dtype=torch.long), persistent=False)
        self.constrain = getattr(self.physics, "constrain", None) if c.dynamics != "delta" else None
        if c.dynamics != "delta" and self.physics is None:
            raise ValueError(f"dynamics {c.dynamics!r}: the {c.domain} domain has no physics prior (DomainSpec.prior)")
        if c.prior_reward and not callable(getattr(self.physics, "reward", None)):
            raise ValueError(f"prior_reward: the {c.domain} domain's physics prior reads no reward off a step")
        # standard normal draws per step for the prior's random part (ModelConfig.prior_noise)
        self.prior_noise_dim = int(getattr(self.physics, "NOISE_DIM", 0)) if c.prior_noise else 0
        if c.prior_noise and not (self.prior_noise_dim and set(getattr(self.physics, "NOISY", ())) & set(c.state_fields)):
            raise ValueError(f"prior_noise: the {c.domain} prior draws no random part of this state (its NOISE_DIM, NOISY)")
        # Where the learned correction acts on the state code: 0 on the slots of the prior's exact
        # fields under "kinematic" and of those its random part lays under `prior_noise` (an angle's
        # cosine and its appended sine), 1 elsewhere.
        free = torch.ones(c.state_code_dim)
        exact = self.physics.NOISY if c.prior_noise else ()
        if c.dynamics == "kinematic":
            kinematic = (*getattr(self.physics, "KINEMATIC", ()), *c.kinematic_fields)
            if not set(kinematic) & set(c.state_fields):
                raise ValueError(f"dynamics 'kinematic': the {c.domain} prior names no kinematic fields of this state")
            exact = (*exact, *kinematic)
        if exact:
            angles = [f for f in c.state_fields if f in c.angle_fields]
            for name in set(exact) & set(c.state_fields):
                free[c.state_fields.index(name)] = 0.0
                if name in angles and c.angle_coding == "cos_sin":
                    free[c.state_dim + angles.index(name)] = 0.0
        self.register_buffer("correctable", free, persistent=False)
        self._crash_rule = None  # (key, rule), built on first use: see crash_signal
        self.register_buffer("state_mean", torch.zeros(c.state_dim))
        self.register_buffer("state_std", torch.ones(c.state_dim))
        # which state fields are angles, and where; not saved: the config says
        self.register_buffer(
            "angles", torch.tensor([f in c.angle_fields for f in c.state_fields], dtype=torch.bool), persistent=False
        )
        self.register_buffer("angle_index", self.angles.nonzero().flatten(), persistent=False)
        self.sines = c.angle_coding == "cos_sin" and bool(c.angle_fields)  # the code appends each angle's sine
        if c.matched_slots:  # worldsim.model.slots: each slot's code columns, and every order of them
            columns = slots.code_slots(c.state_fields, c.angle_fields, self.sines)
            self.register_buffer("slot_columns", columns, persistent=False)
            self.register_buffer("slot_orders", slots.orders(columns, c.state_code_dim), persistent=False)
            parts = [c.state_fields[i].split("_", 1)[1] for i in slots.slot_fields(c.state_fields)[0]]
            self.slot_parts = tuple(parts.index(part) for part in slots.PARTS)
        # the road's lanes that every dreamt state keeps to (ModelConfig.lanes), or None
        self.lanes = Lanes(c.lanes, {f: i for i, f in enumerate(c.state_fields)}) if c.lanes else None
        # fields the decoder reads as phases (ModelConfig.decoder_periods), and their periods
        self.register_buffer(
            "phase_index", torch.tensor([c.state_fields.index(f) for f in c.decoder_periods], dtype=torch.long), persistent=False
        )
        self.register_buffer("periods", torch.tensor(list(c.decoder_periods.values()), dtype=torch.float32), persistent=False)
        if not c.discrete:
            self.register_buffer("action_low", torch.tensor(c.action_space["low"], dtype=torch.float32).flatten())
            self.register_buffer("action_high", torch.tensor(c.action_space["high"], dtype=torch.float32).flatten())

    # ---- layout of the flat latent -------------------------------------------------------------
    def split(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        return latent.split([c.state_code_dim, c.deter_dim, c.stoch_width], -1)

    def settle(self, latent: torch.Tensor) -> torch.Tensor:
        """A latent made outside the filter (a prompt's generated scene) with its stochastic part
        where the model's own latents have it: each categorical variable one-hot at its largest
        entry (the dynamics never saw anything else). Gaussian latents are returned as they are."""
        s, h, z = self.split(latent)
        return torch.cat([s, h, self.stochastic.settle(z)], -1)

    def initial(self, batch: int) -> torch.Tensor:
        return self.state_mean.new_zeros(batch, self.config.latent_dim)

    @property
    def device(self) -> torch.device:
        return self.state_mean.device

    def noise(self, batch: int, generator: Generators = None) -> torch.Tensor:
        """(batch, noise width) noise for one step: the stochastic latent's (standard normal for
        Gaussians, uniform for categorical variables), then the physics prior's standard normal
        draws under `prior_noise`, on the model's device, drawn from `generator` (NoiseStreams: each
        row its stream's next step)."""
        Z, P, draw = self.stochastic.noise_dim, self.prior_noise_dim, self.stochastic.draw_noise

        def one(shape: tuple[int, ...], g: torch.Generator | None, device) -> torch.Tensor:
            latent = draw((*shape, Z), g, device)
            return torch.cat([latent, torch.randn((*shape, P), generator=g, device=device)], -1) if P else latent

        if generator is None or isinstance(generator, torch.Generator):
            return one((batch,), generator, self.device if generator is None else generator.device).to(self.device)
        if isinstance(generator, NoiseStreams):
            if generator.num != batch:
                raise ValueError(f"{generator.num} noise streams for a batch of {batch}")
            uniform = Z if self.stochastic.noise_uniform else 0
            return generator.next(uniform, Z + P - uniform).to(self.device)
        if len(generator) != batch:
            raise ValueError(f"{len(generator)} generators for a batch of {batch}")
        return torch.stack([one((), g, g.device) for g in generator]).to(self.device)

    # ---- inputs ---------------------------------------------------------------------------------
    def frames_in(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [0, 1], on the model's device."""
        return frames.to(self.device).movedim(-1, -3).float() / 255.0

    def action_features(self, action: torch.Tensor) -> torch.Tensor:
        """Discrete ids -> one-hot; boxes -> scaled to [-1, 1] and flattened."""
        action = torch.as_tensor(action, device=self.device)
        if self.config.discrete:
            return F.one_hot(action.long(), self.config.action_dim).float()
        action = action.float().flatten(action.dim() - (len(self.config.action_space["shape"])))
        return 2 * (action - self.action_low) / (self.action_high - self.action_low) - 1

    def action_physical(self, features: torch.Tensor) -> torch.Tensor:
        """Features back to the simulator's units (one-hot stays one-hot), for the physics prior."""
        if self.config.discrete:
            return features
        return self.action_low + (features + 1) / 2 * (self.action_high - self.action_low)

    @torch.no_grad()
    def fit_state_normalisation(self, states: torch.Tensor) -> None:
        """Set the physical state's normalisation from data, (N, S) in physical units."""
        std = states.std(0)
        self.state_mean.copy_(states.mean(0))
        self.state_std.copy_(torch.where(std < 1e-6, torch.ones_like(std), std))  # constant fields pass through

    def normalise_state(self, state: torch.Tensor) -> torch.Tensor:
        """Physical state (..., state_dim) -> its code in the latent (..., state_code_dim): each field
        standardised; under "cos_sin" an angle's slot holds its cosine and its sine is appended."""
        code = (state - self.state_mean) / self.state_std
        if not self.sines:
            return code
        angle = state[..., self.angle_index]
        code = code.index_copy(-1, self.angle_index, angle.cos())
        return torch.cat([code, angle.sin()], -1)

    def denormalise_state(self, code: torch.Tensor) -> torch.Tensor:
        """The inverse of `normalise_state`: a code (..., state_code_dim) -> physical units (..., state_dim)."""
        S = self.config.state_dim
        state = code[..., :S] * self.state_std + self.state_mean
        if not self.sines:
            return state
        angle = torch.atan2(code[..., S:], code[..., self.angle_index])
        return state.index_copy(-1, self.angle_index, angle)

    def on_circle(self, code: torch.Tensor) -> torch.Tensor:
        """A code with each angle's (cos, sin) put back on the unit circle: steps of the learned
        dynamics add to the pair, and a pair that drifts in length is a state never seen in data."""
        if not self.sines:
            return code
        S = self.config.state_dim
        cos, sin = code[..., self.angle_index], code[..., S:]
        norm = torch.sqrt(cos**2 + sin**2).clamp(min=1e-3)
        return torch.cat([code[..., :S].index_copy(-1, self.angle_index, cos / norm), sin / norm], -1)

    def wrap_state(self, state: torch.Tensor) -> torch.Tensor:
        """A state code (..., state_code_dim) with its angles where they belong: wrapped to (-pi, pi]
        (in physical units) under the "wrapped" coding; a (cos, sin) pair needs no wrapping. Under
        `matched_slots` its slots are put in the simulator's order, nearest first."""
        if self.config.matched_slots:
            state = slots.nearest_first(state, self.slot_columns, self.slot_parts, *self.code_units())
        if not self.config.angle_fields or self.sines:
            return state
        physical = state * self.state_std + self.state_mean
        wrapped = torch.atan2(torch.sin(physical), torch.cos(physical))
        return torch.where(self.angles, (wrapped - self.state_mean) / self.state_std, state)

    def state_error(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Squared error of state codes summed over fields (...); under `matched_slots`, the least
        over the orders of the target's slots (a car is scored against the car it predicts)."""
        if not self.config.matched_slots:
            return self.state_errors(predicted, target).sum(-1)
        scale, shift = self.code_units()  # a car moved to another slot is standardised as that slot
        reordered = ((target * scale + shift)[..., self.slot_orders] - shift) / scale  # (..., orders, D)
        return self.state_errors(predicted.unsqueeze(-2), reordered).sum(-1).min(-1).values

    def code_units(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift), each (state_code_dim,): code * scale + shift is the state in units, but
        for angles, which stay as the code holds them (a cosine and a sine, or a wrapped angle
        standardised)."""
        scale, shift = self.state_std, self.state_mean
        if self.sines:  # a cosine in the angle's slot, its sine appended: both as they are
            scale = torch.where(self.angles, torch.ones_like(scale), scale)
            shift = torch.where(self.angles, torch.zeros_like(shift), shift)
            ones = scale.new_ones(len(self.angle_index))
            scale, shift = torch.cat([scale, ones]), torch.cat([shift, 0 * ones])
        return scale, shift

    def state_errors(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Squared error of state codes per slot (..., state_code_dim); wrapped angles are measured
        around the circle (a (cos, sin) pair's plain error already is)."""
        error = predicted - target
        if self.config.angle_fields and not self.sines:
            turn = error * self.state_std
            around = torch.atan2(torch.sin(turn), torch.cos(turn)) / self.state_std
            error = torch.where(self.angles, around, error)
        return error**2

    def drawn_state(self, code: torch.Tensor) -> torch.Tensor:
        """What a decoder reading the state sees of a state code: the code, with each of
        `decoder_periods`' fields as the cosine of its phase (in its slot) and the sine appended."""
        if not len(self.phase_index):
            return code
        i = self.phase_index
        phase = 2 * torch.pi * (code[..., i] * self.state_std[i] + self.state_mean[i]) / self.periods
        return torch.cat([code.index_copy(-1, i, phase.cos()), phase.sin()], -1)

    def decoder_inputs(self, code: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What a decoder reading the state is given for state codes (B, state_code_dim): the drawn
        state (`drawn_state`) and, with an ego view, the view's channels (else None). `state`: the
        codes' physical state, where the caller has it already."""
        if self.ego_view is None:
            return self.drawn_state(code), None
        return self.drawn_state(code), self.ego_view(self.denormalise_state(code) if state is None else state)

    def draw_state(self, code: torch.Tensor, decoder: nn.Module | None = None) -> torch.Tensor:
        """(B, state_code_dim) state codes -> (B, 3, H, W) frames, by a decoder reading the state:
        the model's own, or `decoder` of the same kind (a distilled one, worldsim.model.distill);
        a camera's painted ground and lines (`painted_ground.PaintedGround`, `ego_view.PaintedLines`)
        go over either's drawing."""
        state = self.denormalise_state(code) if self.ego_view is not None else None  # read by the view and the paint
        ground = self.painted_ground
        if decoder is None and ground is not None and ground.covers_frame and not torch.is_grad_enabled():
            # the camera paints every pixel over the decoder's drawing: at inference it would not show
            # (about 70 % of CarRacing's drawing time; trained, the decoder still gets its gradient)
            size = self.config.frame_size
            frames = code.new_zeros(len(code), 3, size, size)
        else:
            drawn, view = self.decoder_inputs(code, state)
            frames = (self.decoder if decoder is None else decoder)(drawn, view=view)
        if ground is not None:
            frames = ground(frames, state)
        return frames if self.painted_lines is None else self.painted_lines(frames, state)

    def physical_state(self, latent: torch.Tensor) -> torch.Tensor:
        """The latent's physical state in the domain's units, (B, S)."""
        return self.denormalise_state(self.split(latent)[0])

    # ---- dynamics -------------------------------------------------------------------------------
    def _advance(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        s, h, z = self.split(latent)
        return self.gru(self.gru_in(torch.cat([z, s, action], -1)), h)

    def observe(
        self, latent: torch.Tensor, action: torch.Tensor, embed: torch.Tensor, noise: torch.Tensor | None, carry: bool = True
    ):
        """One filtering step with a real frame's embedding. `action` are features, `noise` a
        `noise` draw or None (the posterior's mean or mode); returns the posterior latent and the
        (prior, posterior) distributions' parameters for the KL term (`self.stochastic`). `carry`:
        the carried fields are the prior's step of `latent`'s (False: as read, 0; a first frame)."""
        h = self._advance(latent, action)
        prior = self.stochastic.params(self.prior_net(h))
        posterior = self.stochastic.params(self.posterior_net(torch.cat([h, embed], -1)))
        z = self.stochastic.sample(posterior, self._split_noise(noise)[0])
        parts = [self.wrap_state(self.state_net(torch.cat([h, embed], -1)))] if self.state_net else []
        if parts and carry and self.config.carried_fields:
            parts[0] = self._carried(parts[0], self.split(latent)[0], action)
        return torch.cat(parts + [h, z], -1), prior, posterior

    def _carried(self, code: torch.Tensor, before: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """A posterior state code with the carried fields (`ModelConfig.carried_fields`), which no
        frame tells, as the physics prior steps them from the state code `before` under `action`."""
        state, stepped = self.denormalise_state(code), self.physics(self.denormalise_state(before), self.action_physical(action))
        state = state.index_copy(1, self.carried_index, stepped.index_select(1, self.carried_index))
        return self.normalise_state(state)

    def imagine_step(
        self,
        latent: torch.Tensor,
        action: torch.Tensor,
        noise: torch.Tensor | None,
        alpha,
        adapter: Adapter | None = None,
        age: int | torch.Tensor = 0,
    ) -> torch.Tensor:
        """One step of imagination from features `action`; `alpha` is a float or a (B,) tensor;
        `noise` None takes the mean (or mode) of every random part. `adapter` adds a scene's
        test-time correction to the learned dynamics' last layer (worldsim.model.adapt). `age`, an
        int or (B,) integers: the steps the dream has taken since `latent` left the filter (0: fresh
        from it, or a scene generated for a prompt), read by dynamics with `dynamics_age`."""
        s, _, _ = self.split(latent)
        h = self._advance(latent, action)
        noise, prior_noise = self._split_noise(noise)
        z = self.stochastic.sample(self.stochastic.params(self.prior_net(h)), noise)
        if self.state_delta is None:
            return torch.cat([h, z], -1)
        memory = [h, z] if self.config.dynamics_reads == "latent" else []
        delta = self.state_change(torch.cat([*memory, s, action, *self.age_features(age, s)], -1), adapter)
        pure = isinstance(alpha, (int, float)) and alpha == 1.0
        if self.config.dynamics != "delta":
            delta = delta * self.correctable
            # α · (prior + Δ) + (1 − α) · prior: the blend scales the learned correction.
            learned = self.prior_step(s, action, prior_noise) + (delta if pure else self._alpha(alpha, s) * delta)
            if self.constrain is not None:
                learned = self._constrained(learned)
        elif self.physics is not None and not pure:
            # α = 1 (a plain number) is pure learned dynamics: skip the prior, a third of a latent step.
            alpha = self._alpha(alpha, s)
            learned = alpha * (s + delta) + (1 - alpha) * self.prior_step(s, action)
        else:
            learned = s + delta
        if self.lanes is not None:
            learned = self.lanes(learned, *self.code_units(), before=s, action=action if self.config.discrete else None)
        return torch.cat([self.on_circle(self.wrap_state(learned)), h, z], -1)

    def age_features(self, age: int | torch.Tensor, like: torch.Tensor) -> list[torch.Tensor]:
        """[(B, G) one-hot of the age, its last bucket holding every later step], or [] where the
        dynamics read no age; `like` (B, ...) gives the batch, dtype and device."""
        G = self.config.dynamics_age
        if not G:
            return []
        age = torch.as_tensor(age, device=like.device).long().expand(like.shape[0]).clamp(0, G - 1)
        # a comparison, not F.one_hot: it exports to the ONNX step graph as it is
        return [(age[:, None] == torch.arange(G, device=like.device)).to(like.dtype)]

    def state_change(self, inputs: torch.Tensor, adapter: Adapter | None = None) -> torch.Tensor:
        """The learned dynamics' change of the state code for `inputs` ([h, z,] s, action[, age]); an
        `adapter` adds its correction, read off the features the last layer reads."""
        if adapter is None:
            return self.state_delta(inputs)
        features = self.state_delta[:-1](inputs)
        return self.state_delta[-1](features) + adapter(features)

    def _constrained(self, code: torch.Tensor) -> torch.Tensor:
        """A state code after the learned correction, within the prior's bounds (its `constrain`,
        which reads and writes no angle field: the angles' slots, a cosine under "cos_sin", pass
        through the affine round trip unchanged, and no atan2 of a short (cos, sin) pair lends
        its steep gradient to training)."""
        S = self.config.state_dim
        physical = self.constrain(code[..., :S] * self.state_std + self.state_mean)
        return torch.cat([(physical - self.state_mean) / self.state_std, code[..., S:]], -1)

    def _split_noise(self, noise: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """A step's noise (`noise`) as the stochastic latent's and the prior's (None: the mode, mean)."""
        if noise is None or not self.prior_noise_dim:
            return noise, None
        return noise[..., : -self.prior_noise_dim], noise[..., -self.prior_noise_dim :]

    def prior_step(self, s: torch.Tensor, action: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """The physics prior's next state code from state code `s` under action features; `noise`,
        the prior's own draws under `prior_noise` (None: its random part's mean)."""
        physical, state = self.action_physical(action), self.denormalise_state(s)
        return self.normalise_state(self.physics(state, physical) if noise is None else self.physics(state, physical, noise))

    @staticmethod
    def _alpha(alpha, s: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(alpha, dtype=s.dtype, device=s.device).reshape(-1, 1)

    def ensemble_states(self, previous: torch.Tensor, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(E, B, S): each ensemble head's next normalised physical state for the step from
        `previous` (B, L) to `latent` (B, L) under action features (B, A); inputs are detached."""
        s = self.split(previous)[0].detach()
        base = s if self.config.dynamics == "delta" else self.prior_step(s, action.detach())
        return base + self._ensemble_changes(s, latent, action)

    def _ensemble_changes(self, s: torch.Tensor, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(E, B, S): what each head adds to the state code `s` (B, S, detached) the step starts from
        (to its prior's step under non-"delta" dynamics), for the step to `latent` under `action`."""
        _, h, z = self.split(latent.detach())
        inputs = torch.cat([h, z, s, action.detach()], -1)
        changes = torch.stack([head(inputs) for head in self.dynamics_ensemble])
        return changes if self.config.dynamics == "delta" else changes * self.correctable

    def uncertainty(self, previous: torch.Tensor, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(B,): the ensemble's disagreement on this step, the standard deviation across heads of the
        next physical state averaged over its fields, in units of the data's standard deviation."""
        if not self.config.ensemble:
            raise ValueError("this model has no dynamics ensemble (ModelConfig.ensemble = 0)")
        # The heads share the state they add to (and the prior's step of it), which cancels in their
        # spread: an env step with uncertainty on does not pay for the prior twice.
        heads = self._ensemble_changes(self.split(previous)[0].detach(), latent, action)
        # spread around the first head (the same spread); angles differ around the circle, so heads
        # at +179 and -179 degrees agree
        apart = heads - heads[:1]
        if self.config.angle_fields and not self.sines:
            turn = apart * self.state_std
            apart = torch.where(self.angles, torch.atan2(torch.sin(turn), torch.cos(turn)) / self.state_std, apart)
        return apart.std(0).mean(-1)

    # ---- filtering real frames (the posterior) ---------------------------------------------------
    def unroll_posterior(self, embed: torch.Tensor, actions: torch.Tensor | None = None, generator: Generators = None):
        """Filter T frames' encoder embeddings (B, T, E), with the T-1 raw actions taken between them
        (None: none known). With a `generator` the posterior is sampled (training), without it its
        mean (or mode) is used (encoding is then exact). Returns the latents (B, T, L) and, per frame,
        the (prior, posterior) distributions' parameters for the KL term."""
        B, T = embed.shape[:2]
        latent = self.initial(B)
        action = latent.new_zeros(B, self.config.action_dim)  # nothing was done before the first frame
        latents, distributions = [], []
        for t in range(T):
            if t > 0 and actions is not None:
                action = self.action_features(actions[:, t - 1])
            noise = None if generator is None else self.noise(B, generator)
            latent, prior, posterior = self.observe(latent, action, embed[:, t], noise, carry=t > 0)
            latents.append(latent)
            distributions.append((prior, posterior))
        return torch.stack(latents, 1), distributions

    # ---- the public contract ---------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, frames: torch.Tensor, actions: torch.Tensor | None = None, fit: bool = True) -> torch.Tensor:
        """Latent after observing real frames: (B, T, H, W, 3) uint8 with the T-1 actions taken
        between them (or one (B, H, W, 3) frame). The posterior mean is used: encoding is exact.
        `fit`: under the config's `frame_fit`, what the camera paints is then fitted to the last
        frame (`fit_frame`; a fraction of a second per start); False keeps the filter's reading,
        for callers that encode thousands of scenes to read them, not to dream from them."""
        if frames.dim() == 4:
            frames = frames[:, None]
        B, T = frames.shape[:2]
        if actions is not None and actions.shape[1] != T - 1:
            raise ValueError(f"encode: {T} frames need {T - 1} actions between them, got {actions.shape[1]}")
        embed = self.encoder(self.frames_in(frames).flatten(0, 1)).view(B, T, -1)
        latent = self.unroll_posterior(embed, actions)[0][:, -1]
        return self.fit_frame(latent, frames[:, -1]) if fit and self.frame_fit is not None else latent

    @torch.no_grad()
    def fit_frame(self, latent: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """`latent` (B, L) with what the camera paints of its state fitted to `frames` ((B, H, W, 3)
        uint8, what it was read from; worldsim.model.frame_fit), the rest of the latent kept."""
        if self.frame_fit is None:
            raise ValueError("fit_frame: this model's config has no frame_fit")
        return self.with_fitted_fields(latent, self.frame_fit(self.physical_state(latent), self.frames_in(frames)))

    def with_fitted_fields(self, latent: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """`latent` (B, L) with the fields a frame fit may change (`FrameFit.fields`) taken from the
        physical states `state` (B, S) (a fit's, or one stored with the start bank), the rest kept."""
        s, rest = latent[:, : self.config.state_code_dim], latent[:, self.config.state_code_dim :]
        # the code's slots of those fields (a field's own; under "cos_sin" an angle's sine too,
        # after the fields): the others keep the filter's code as it was
        fields = torch.tensor(self.frame_fit.fields, dtype=torch.long, device=s.device)
        moved = torch.zeros(s.shape[1], dtype=torch.bool, device=s.device)
        moved[fields] = True
        if self.sines:
            moved[self.config.state_dim :] = (self.angle_index[:, None] == fields[None]).any(1)
        return torch.cat([torch.where(moved, self.normalise_state(state.to(s)), s), rest], -1)

    @torch.no_grad()
    def filter(self, latent: torch.Tensor, action: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """The latent after taking raw `action` and then seeing the real `frame` ((B, H, W, 3) uint8):
        `encode` one frame at a time, for agents that act on a real simulator through the model."""
        embed = self.encoder(self.frames_in(frame))
        return self.observe(latent, self.action_features(action), embed, None)[0]

    @torch.no_grad()
    def filter_episode(self, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(T+1, L): the latent after each of one episode's T+1 frames ((T+1, H, W, 3) uint8), its
        T actions taken between them. Each frame is encoded alone, as `RealWorldEnv` sees it, so the
        latents are those an agent acting on the real simulator was shown."""
        embed = torch.cat([self.encoder(self.frames_in(frames[t : t + 1])) for t in range(len(frames))])
        return self.unroll_posterior(embed[None], torch.as_tensor(actions)[None])[0][0]

    @torch.no_grad()
    def step(
        self, latent: torch.Tensor, action: torch.Tensor, generator: Generators = None, physics_blend: float = 1.0
    ) -> torch.Tensor:
        """Sample the next latent for raw actions (ids or boxes)."""
        return self.imagine_step(latent, self.action_features(action), self.noise(latent.shape[0], generator), physics_blend)

    def draw(
        self,
        latent: torch.Tensor,
        previous: torch.Tensor,
        keep: torch.Tensor | None = None,
        maps: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Decode on top of `previous` frames; `keep` (B,) in {0, 1} drops some references (those are
        drawn from the latent alone); `maps` are the encoder's maps of `previous`, when known. A model
        configured with `draws_on_previous=False` draws every frame from the latent alone (or from
        its physical state alone, `decoder_input="state"`)."""
        if not self.config.draws_on_previous:
            if self.config.decoder_input == "state":
                return self.draw_state(self.split(latent)[0].detach())
            return self.decoder(latent)
        maps = self.encoder.feature_maps(previous)[:3] if maps is None else maps
        if keep is None:
            return self.decoder(latent, maps, previous)
        k = keep.view(-1, 1, 1, 1)
        return self.decoder(latent, [m * k for m in maps], previous * k + 0.5 * (1 - k))

    def decode(self, latent: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B, 3, H, W) float frames in [0, 1].

        `previous` is the frame shown one step earlier ((B, 3, H, W) in [0, 1]; real or decoded):
        the decoder draws changes on top of it. (Drawing from the latent alone is trained only with
        `LossWeights.reference_dropout` > 0, or always with the config's `draws_on_previous=False`.)
        """
        return self.draw(latent, previous)

    def snap(self, frames: torch.Tensor, palette: torch.Tensor, chunk: int | None = SNAP_CHUNK) -> torch.Tensor:
        """(B, 3, H, W) frames snapped to `palette` (`palette.snap`), as the environments show
        them; a model whose camera paints its frames and whose decoder draws from the state alone
        shows them as drawn. Snapping stops a decoder that draws on its previous frame from
        carrying its colour errors forward, which such a decoder cannot; and a palette of a few
        frames' common colours (a start bank's) lacks the blends at painted edges, the digits'
        anti-aliased greys and the dashboard's: snapped, CarRacing's drawings of the simulator's
        own states were told from its frames in 0.90 of cases, 0.71 as drawn (BENCHMARKS.md,
        "Games: what only the frame shows")."""
        if self.painted_ground is not None and not self.config.draws_on_previous:
            return frames
        return snap(frames, palette, chunk)

    @staticmethod
    def to_uint8(frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float -> (B, H, W, 3) uint8."""
        return (frames.clamp(0, 1) * 255).round().to(torch.uint8).movedim(-3, -1)

    def read_frames(self, frames: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """(N, 3, H, W) frames in [0, 1] -> (N, S) normalised physical state, read off each frame
        alone by the encoder and the frame reader. With `params` (the model's parameters by name,
        say detached) those are used instead, so a loss can judge frames without training the judge."""
        if self.frame_reader is None:
            raise ValueError("this model has no frame reader (a format-2 model, or frame_reader=False)")
        if params is None:
            return self.wrap_state(self.frame_reader(self.encoder(frames)))
        embed = torch.func.functional_call(self.encoder, _prefixed(params, "encoder."), (frames,))
        return self.wrap_state(torch.func.functional_call(self.frame_reader, _prefixed(params, "frame_reader."), (embed,)))

    def reward(self, latent: torch.Tensor) -> torch.Tensor:
        """The reward head's reading of the latent after a step (what it was trained to predict)."""
        return self.reward_head(latent).squeeze(-1)

    def step_reward(self, previous: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """(...,): the dream's reward for the step from latent `previous` to `latent` (..., L): the
        physics prior's reading of the two states under `prior_reward`, the reward head's otherwise."""
        if not self.config.prior_reward:
            return self.reward(latent)
        before, after = self.physical_state(previous), self.physical_state(latent)
        shape = after.shape[:-1]
        return self.physics.reward(before.reshape(-1, before.shape[-1]), after.reshape(-1, after.shape[-1])).reshape(shape)

    def termination_logit(self, latent: torch.Tensor) -> torch.Tensor:
        return self.termination_head(latent).squeeze(-1)

    def crash_signal(self, latent: torch.Tensor, rule: bool = False) -> torch.Tensor:
        """(..., L) -> (...) bool: has the episode ended here? The termination head (logit above the
        config's `termination_threshold`), or with `rule` also the domain's crash rule read off the
        latent (`worldsim.model.crash`)."""
        signals = self.crash_signals(latent, rule)
        return signals["termination_head"] | signals["state_overlap"] if rule else signals["termination_head"]

    def crash_signals(self, latent: torch.Tensor, rule: bool = False) -> dict[str, torch.Tensor]:
        """`crash_signal`'s parts, each (...) bool: "termination_head", and with `rule` "state_overlap"."""
        signals = {"termination_head": self.termination_logit(latent) > self.config.termination_threshold}
        if rule:
            # The rule holds the crash bounds in normalised units: rebuilt when the normalisation
            # (a buffer: loading and fitting bump its version) or the device changes.
            key = (self.state_mean._version, self.device)
            if self._crash_rule is None or self._crash_rule[0] != key:
                self._crash_rule = (key, domains.of_model(self.config.domain).load("crash_rule")(self))
            flat = latent.reshape(-1, latent.shape[-1])
            signals["state_overlap"] = self._crash_rule[1](flat).view(latent.shape[:-1])
        return signals

    # ---- imagination: the one loop ----------------------------------------------------------------
    def imagine(
        self,
        latent: torch.Tensor,
        actions: torch.Tensor,
        *,
        previous: torch.Tensor | None = None,
        generator: Generators = None,
        physics_blend: float | torch.Tensor = 1.0,
        palette: torch.Tensor | None = None,
        crash_rule: bool = False,
        keep: torch.Tensor | None = None,
        reference: list[torch.Tensor] | None = None,
        adapter: Adapter | None = None,
        age: int | torch.Tensor = 0,
    ) -> Rollout:
        """Roll the dream forward from `latent` (B, L) through raw `actions` (B, K, ...).

        Each step samples the next latent (`physics_blend` α, a float or (B,)), then, if the frame
        shown before the first step is given (`previous`, (B, 3, H, W) in [0, 1]), draws the next
        frame on top of the last one and snaps it to `palette`. Without `previous` no frame is drawn:
        latents, rewards and crashes are the same, at a fraction of the cost. Gradients flow unless
        the caller turns them off, through the latents and each frame, not from one frame into the
        next (the decoder's reference is detached, as at inference). `keep` and `reference` are the
        training-time arguments of `draw`, `reference` for the first step only. `adapter` holds
        each dream's test-time correction of the dynamics (worldsim.model.adapt), or None. `age`
        (an int or (B,)): the steps taken since `latent` left the filter (see `imagine_step`).
        """
        start, latents, frames, features = latent, [], [], []
        for k in range(actions.shape[1]):
            noise = self.noise(len(latent), generator)
            features.append(self.action_features(actions[:, k]))
            # the age is only counted for dynamics that read it: no tensor work per step otherwise
            step_age = age + k if self.config.dynamics_age else 0
            latent = self.imagine_step(latent, features[-1], noise, physics_blend, adapter, step_age)
            latents.append(latent)
            if previous is not None:
                frame = self.draw(latent, previous, keep, reference if k == 0 else None)
                if palette is not None:
                    frame = self.snap(frame, palette.to(frame.device))
                frames.append(frame)
                previous = frame.detach()
        return Rollout(self, _stack(latents), _stack(frames) if frames else None, crash_rule, start, _stack(features))


def _prefixed(params: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def _stack(steps: list[torch.Tensor]) -> torch.Tensor:
    """K tensors (B, ...) -> (B, K, ...). One step (an env's) is a view, not a copy: it keeps the
    frame's memory layout (snapped frames are channels-last), which the next decode's convolutions
    see, so a dream's frames do not depend on whether they were stacked."""
    return steps[0].unsqueeze(1) if len(steps) == 1 else torch.stack(steps, 1)


@dataclass
class Rollout:
    """K imagined steps of a batch of B dreams, as `WorldModel.imagine` returns them. Rewards,
    crashes and physical states are read off the latents when first asked for."""

    model: WorldModel = field(repr=False)
    latents: torch.Tensor  # (B, K, L): the latent after each action
    frames: torch.Tensor | None  # (B, K, 3, H, W) in [0, 1], or None when none were drawn
    crash_rule: bool = False
    start: torch.Tensor | None = field(default=None, repr=False)  # (B, L): the latent before the first step
    actions: torch.Tensor | None = field(default=None, repr=False)  # (B, K, A): the steps' action features

    @cached_property
    def rewards(self) -> torch.Tensor:
        """(B, K): the reward of each action (`WorldModel.step_reward`)."""
        if not self.model.config.prior_reward:
            return self.model.reward(self.latents)
        if self.start is None:
            raise ValueError("a reward read off each step needs the latent before the first (Rollout.start)")
        return self.model.step_reward(torch.cat([self.start[:, None], self.latents[:, :-1]], 1), self.latents)

    @cached_property
    def terminations(self) -> torch.Tensor:
        """(B, K) bool: `WorldModel.crash_signal` after each action."""
        return self.model.crash_signal(self.latents, self.crash_rule)

    @cached_property
    def states(self) -> torch.Tensor:
        """(B, K, S): the physical state after each action, in the domain's units."""
        return self.model.physical_state(self.latents)

    @cached_property
    def uncertainty(self) -> torch.Tensor:
        """(B, K): the dynamics ensemble's disagreement on each step (`WorldModel.uncertainty`)."""
        before = torch.cat([self.start[:, None], self.latents[:, :-1]], 1)
        flat = lambda x: x.flatten(0, 1)  # noqa: E731
        return self.model.uncertainty(flat(before), flat(self.latents), flat(self.actions)).view(self.latents.shape[:2])

    def pixels(self) -> torch.Tensor:
        """(B, K, H, W, 3) uint8: the frames as an environment shows them."""
        if self.frames is None:
            raise ValueError("this rollout drew no frames (imagine without `previous`)")
        return self.model.to_uint8(self.frames.flatten(0, 1)).unflatten(0, self.frames.shape[:2])
