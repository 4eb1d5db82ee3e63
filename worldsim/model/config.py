"""Configuration of a world model: what it models (domain, spaces) and how big it is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from worldsim.model.ego_view import check_view
from worldsim.model.frame_fit import check_frame_fit
from worldsim.model.lanes import check_lanes
from worldsim.model.slots import check_slots

# 2: the decoder has a keep-mask channel; 3: a frame reader (see WorldModel); 4: angles as (cos, sin);
# 5: a decoder reading the state may see fields as phases (decoder_periods); 6: an ego camera's view
# of the state (decoder_view); 7: the learned dynamics may correct the physics prior (dynamics);
# 8: the prior may draw its own random part (prior_noise; the step's noise is wider for it) and
# read the reward off the step (prior_reward); the field decoder may lay a static image (decoder_static);
# 9: the learned dynamics may read how many steps the dream has taken since the filter (dynamics_age),
# and the physical state alone (dynamics_reads); 10: other bodies' slots scored in their best-matching
# order and kept nearest first (matched_slots); 11: the dream's lateral positions held on the road's
# lanes (lanes); 12: what a painted camera shows fitted to the frame a dream starts from (frame_fit)
FORMAT_VERSION = 12
# Older versions this release still reads, and the config fields they lack (with the value that
# reproduces them): a version-2 model simply has no frame reader; before version 4, angles were
# held wrapped.
READABLE = {
    2: {"frame_reader": False, "angle_coding": "wrapped"},
    3: {"angle_coding": "wrapped"},
    **{version: {} for version in range(4, FORMAT_VERSION + 1)},
}
ANGLE_CODINGS = ("cos_sin", "wrapped")
DECODERS = ("upsample", "broadcast", "field")
DECODER_INPUTS = ("latent", "state")
DYNAMICS = ("delta", "prior", "kinematic")
DYNAMICS_READS = ("latent", "state")


@dataclass
class ModelConfig:
    domain: str
    frame_size: int
    action_space: dict[str, Any]  # as written by worldsim.sources.base.space_to_json
    state_fields: list[str] = field(default_factory=list)
    env_id: str = ""
    frame_skip: int = 1
    embed_dim: int = 256  # encoder output
    deter_dim: int = 192  # recurrent (deterministic) part of the latent
    stoch_dim: int = 32  # stochastic part of the latent: Gaussians, or categorical variables (below)
    # 0: the stochastic part is stoch_dim Gaussians. k >= 2: stoch_dim categorical variables of k
    # classes each, held one-hot (stoch_dim * k entries; worldsim.model.stochastic), which can
    # choose between the modes of a next step where a Gaussian spreads over their average.
    stoch_classes: int = 0
    hidden_dim: int = 256  # MLP width
    channels: int = 16  # first conv width; doubles at each of the 4 downsamplings
    min_std: float = 0.1  # floor on the stochastic latent's standard deviation
    frame_reader: bool = True  # a head reading the physical state off one frame (consistency, info)
    # The decoder draws each frame on top of the previous one (True), or from the latent alone
    # (False): then no frame inherits the last one's errors, and what the frame shows is exactly what
    # the latent holds; the price is drawing the static scene anew every step.
    draws_on_previous: bool = True
    # "upsample": transposed convolutions from the latent, with the previous frame's maps as skips;
    # "broadcast": the latent broadcast over a grid with pixel coordinates; "field": a field over
    # pixel coordinates whose every layer the latent scales and shifts (FiLM), which draws rigid
    # poses sharply. Both draw from the latent alone (draws_on_previous=False). See
    # worldsim.model.networks.
    decoder: str = "upsample"
    # What a decoder drawing from the latent alone reads: the whole latent, or only its physical
    # state ("state"; held fixed, so pixels do not bend the state the simulator's truth teaches).
    # Where the state says all a frame shows (PushT: agent and block pose on a fixed table), a
    # dream's frame is then a drawing of its state, crisp where the state is, and never the
    # average of the futures the rest of the latent is unsure of.
    decoder_input: str = "latent"
    # State fields that a decoder reading the state sees as a phase, {field: period in the field's
    # unit}: the field's slot holds cos(2 pi value / period) and its sine is appended. highway-env
    # paints lane dashes every 4.33 m along the road, so all a frame shows of the ego's position
    # along it (hundreds of metres, standardised) is that position modulo 4.33 m; a FiLM layer
    # cannot make a sawtooth of the standardised value, and draws the dashes as a grey smear.
    decoder_periods: dict[str, float] = field(default_factory=dict)
    # An ego-centred camera's geometry (worldsim.model.ego_view): the field decoder's cells are given
    # the ground pattern and the path under them, computed from the state, which a FiLM layer
    # cannot make when the camera turns with the body. {} for none.
    decoder_view: dict[str, Any] = field(default_factory=dict)
    # The field decoder lays a learned image over every frame where a learned opacity says: what an
    # ego camera shows in the same place in every frame (CarRacing's car) is drawn once, crisply,
    # not by the field from the state (worldsim.model.networks.FieldDecoder).
    decoder_static: bool = False
    encoder_coordinates: bool = False  # pixel x, y as input channels of the encoder (CoordConv)
    # State fields that are angles (unit "rad" in the data): held as set by angle_coding, and their
    # errors measured around the circle, so that an upside-down block at +179 degrees is not a
    # regression target 358 degrees away from one at -179 (the mean of the two is right way up).
    angle_fields: list[str] = field(default_factory=list)
    # How the latent holds an angle: "cos_sin", as its cosine (in the field's own slot) and its sine
    # (appended after the other fields), so that the orientation is a smooth function of the frame;
    # or "wrapped", the normalised angle itself (format-3 models before this option). A network
    # that must output a wrapped angle has to jump at the wrap: on PushT a CNN reads the block's
    # angle off held-out frames to 0.09 rad (median) with (cos, sin) targets and 0.76 rad with the
    # wrapped angle and its error taken around the circle (scripts/angle_probe.py).
    angle_coding: str = "cos_sin"
    # What the learned dynamics add their step to: "delta", the state itself (s' = s + Δ); "prior",
    # the domain's physics prior's next state (s' = prior(s, a) + Δ), so that what the prior knows
    # (CarRacing: the heading integrates the yaw rate, the road turns with the car) holds by
    # construction and the network learns only what the prior gets wrong. Trained on "delta", the
    # games model's yaw rate answered the steering while its heading barely followed. "kinematic":
    # as "prior", but the fields the prior steps exactly from the others (its KINEMATIC: CarRacing's
    # position, heading, grass phases and road samples but the farthest) are the prior's alone;
    # trained on "prior", the learned correction cancelled most of the prior's turn of the heading.
    dynamics: str = "delta"
    # Under "kinematic", more fields the prior's step holds alone, beside its KINEMATIC ones (say
    # CarRacing's steering, the joint's exact rate, and yaw rate, which a free correction overshot).
    kinematic_fields: list[str] = field(default_factory=list)
    # The physics prior's own random part (a prior with NOISE_DIM > 0; CarRacing: the track coming
    # into view) is drawn from the dream's noise, and the fields it lays (the prior's NOISY ones)
    # are the prior's alone. What no action causes is then not learned from actions: a learned
    # farthest road sample read the wheel into the track (drivers steer along the bends they see),
    # so the dream's road bent the way an agent steered. Needs "prior" or "kinematic" dynamics.
    prior_noise: bool = False
    # Fields carried with zero weights (`worldsim.model.carried_fields`): no frame tells the
    # filter them, so it takes the physics prior's step of them from the latent before (the first
    # frame's, 0), as a filter takes its prediction where nothing is observed. Needs a prior.
    carried_fields: list[str] = field(default_factory=list)
    # The dream's reward is the physics prior's reading of each step (its `reward(before, after)`;
    # CarRacing: the distance driven forward along the track while on it, less the time), not the
    # reward head's. The shipped games model's head, trained on what the simulator paid, read "car on
    # the track" and paid a car standing on it; in the dreams measured since, it bought no better
    # drivers than the head (BENCHMARKS.md, "Games: a track no wheel bends"), so it is off by default.
    prior_reward: bool = False
    ensemble: int = 0  # extra physical-dynamics heads whose disagreement is the dream's uncertainty
    # The learned dynamics also read the steps taken since the latent left the filter, one-hot in
    # this many buckets (the last holds every later step); 0: they do not. Trained mostly on their
    # own rollouts (burn-in), the dynamics learn to correct the dream's drift, and applied that
    # correction to a filtered state that has none: PushT's first imagined step jumped the block
    # 60 units and walked back over the next five. Knowing the age, one network learns both.
    dynamics_age: int = 0
    # What the learned dynamics read beside the action (and the age): "latent", the memory, the
    # stochastic part and the physical state; "state", the physical state alone. Reading the memory,
    # PushT's learned step re-reads the state from it and overwrites the state it starts from:
    # moving a filtered start to what its frame shows changed no later step (scripts/start_fit.py).
    dynamics_reads: str = "latent"
    # Other bodies held in numbered slots (fields {name}{k}_{part}: highway-env's car0_ .. car3_):
    # each predicted state is scored against the true one in the order of its slots that fits
    # best, and every state the model makes is put back nearest first, as the simulator lists them
    # (worldsim.model.slots). Scored slot by slot, the driving dream averaged the cars it was unsure
    # would be nearest onto the ego's own place.
    matched_slots: bool = False
    # The road's lanes (worldsim.model.lanes; {} for none): every state the dynamics make has its
    # lateral positions moved to the nearest lane centre, as the simulator keeps its cars. Changes
    # no weight: `scripts/derive_checkpoint.py RUN OUT '{"lanes": "road"}'` sets the domain's own.
    lanes: dict[str, Any] = field(default_factory=dict)
    # What a painted camera shows fitted to the last frame a dream starts from (worldsim.model.
    # frame_fit; {} for none): the filter reads CarRacing's road ahead a unit or two off, and the
    # car prior carries a misread bend on for the whole dream; the fields only the painting reads it
    # cannot read at all. Changes no weight (`scripts/derive_checkpoint.py`).
    frame_fit: dict[str, Any] = field(default_factory=dict)
    # The termination head fires above this logit: 0 (probability 1/2) until `worldsim calibrate`
    # sets it on held-out episodes for a wanted recall (terminations are rare; see calibration.py).
    termination_threshold: float = 0.0

    def __post_init__(self):
        if self.stoch_classes < 0 or self.stoch_classes == 1:
            raise ValueError(f"stoch_classes is 0 (Gaussian) or at least 2 classes, got {self.stoch_classes}")
        if self.dynamics_age < 0 or self.dynamics_age == 1:
            raise ValueError(f"dynamics_age is 0 (off) or at least 2 buckets, got {self.dynamics_age}")
        if self.dynamics_age and not self.state_fields:
            raise ValueError("dynamics_age: only the learned physical dynamics read the age; this model has no physical state")
        if self.matched_slots:
            check_slots(self.state_fields)
        check_lanes(self.lanes, self.state_fields)
        steering = self.lanes.get("steering", []) if self.lanes else []
        if steering and (self.action_space.get("type") != "discrete" or max(steering) >= int(self.action_space["n"])):
            raise ValueError(f"lanes: steering names actions {steering}, not ids of this model's actions {self.action_space}")
        if self.dynamics_reads not in DYNAMICS_READS:
            raise ValueError(f"dynamics_reads is one of {', '.join(DYNAMICS_READS)}, got {self.dynamics_reads!r}")
        if self.ensemble < 0 or self.ensemble == 1:
            raise ValueError(f"ensemble is 0 (none) or at least 2 heads, got {self.ensemble}")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder is one of {', '.join(DECODERS)}, got {self.decoder!r}")
        if self.decoder != "upsample" and self.draws_on_previous:
            raise ValueError(f"the {self.decoder} decoder draws from the latent alone: set draws_on_previous to false")
        if self.decoder_input not in DECODER_INPUTS:
            raise ValueError(f"decoder_input is one of {', '.join(DECODER_INPUTS)}, got {self.decoder_input!r}")
        if self.decoder_input == "state" and (self.draws_on_previous or not self.state_fields):
            raise ValueError("decoder_input 'state' needs a decoder drawing from the latent alone and a physical state")
        if self.decoder_periods and self.decoder_input != "state":
            raise ValueError("decoder_periods need a decoder reading the state (decoder_input 'state')")
        if not set(self.decoder_periods) <= set(self.state_fields):
            raise ValueError(f"decoder_periods {sorted(set(self.decoder_periods) - set(self.state_fields))} are not state fields")
        if self.decoder_static and self.decoder != "field":
            raise ValueError(f"decoder_static is a layer of the field decoder, not the {self.decoder} decoder")
        if self.decoder_view and (self.decoder_input != "state" or self.decoder != "field"):
            raise ValueError("decoder_view needs the field decoder reading the state (decoder 'field', decoder_input 'state')")
        check_view(self.decoder_view, self.state_fields, self.angle_fields)
        if self.frame_fit:
            check_frame_fit(self.frame_fit, self.decoder_view)
        if not set(self.decoder_periods).isdisjoint(self.angle_fields):
            raise ValueError("decoder_periods: an angle field is already read as (cos, sin)")
        bad = {k: v for k, v in self.decoder_periods.items() if not (isinstance(v, (int, float)) and v > 0)}
        if bad:
            raise ValueError(f"decoder_periods must be positive numbers, got {bad}")
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics is one of {', '.join(DYNAMICS)}, got {self.dynamics!r}")
        if self.dynamics != "delta" and not self.state_fields:
            raise ValueError(f"dynamics {self.dynamics!r} corrects the physics prior's next state: it needs a physical state")
        if self.prior_noise and self.dynamics == "delta":
            raise ValueError("prior_noise draws the physics prior's random part: it needs dynamics 'prior' or 'kinematic'")
        if self.prior_reward and not self.state_fields:
            raise ValueError("prior_reward reads the reward off the physical state: it needs one")
        if self.kinematic_fields and self.dynamics != "kinematic":
            raise ValueError(f"kinematic_fields need dynamics 'kinematic', got {self.dynamics!r}")
        unknown = sorted(set(self.kinematic_fields) - set(self.state_fields))
        if unknown:
            raise ValueError(f"kinematic_fields {unknown} are not state fields")
        unknown = sorted(set(self.carried_fields) - set(self.state_fields))
        if unknown:
            raise ValueError(f"carried_fields {unknown} are not state fields")
        if self.carried_fields and self.dynamics == "delta":
            raise ValueError("carried_fields are stepped by the physics prior: they need dynamics 'prior' or 'kinematic'")
        if self.angle_coding not in ANGLE_CODINGS:
            raise ValueError(f"angle_coding is one of {', '.join(ANGLE_CODINGS)}, got {self.angle_coding!r}")
        if not set(self.angle_fields) <= set(self.state_fields):
            raise ValueError(f"angle_fields {sorted(set(self.angle_fields) - set(self.state_fields))} are not state fields")
        if self.frame_size % 16:
            raise ValueError(f"frame_size must be a multiple of 16, got {self.frame_size}")
        if self.action_space.get("type") not in ("discrete", "box"):
            raise ValueError(f"unsupported action space {self.action_space}")

    @property
    def state_dim(self) -> int:
        return len(self.state_fields)

    @property
    def state_code_dim(self) -> int:
        """Width of the physical state inside the latent: one more per angle under "cos_sin"."""
        return self.state_dim + (len(self.angle_fields) if self.angle_coding == "cos_sin" else 0)

    @property
    def decoder_input_dim(self) -> int:
        """Width of what the decoder reads: the latent, or the state code with one sine per phase."""
        if self.decoder_input == "state":
            return self.state_code_dim + len(self.decoder_periods)
        return self.latent_dim

    @property
    def discrete(self) -> bool:
        return self.action_space["type"] == "discrete"

    @property
    def action_dim(self) -> int:
        if self.discrete:
            return int(self.action_space["n"])
        size = 1
        for n in self.action_space["shape"]:
            size *= n
        return size

    @property
    def stoch_width(self) -> int:
        """Entries of the stochastic part in the latent: one per Gaussian, or per class of each variable."""
        return self.stoch_dim * (self.stoch_classes or 1)

    @property
    def latent_dim(self) -> int:
        """Flat latent layout: [physical state (normalised; see angle_coding) | deterministic | stochastic]."""
        return self.state_code_dim + self.deter_dim + self.stoch_width

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config fields: {', '.join(sorted(unknown))}")
        return cls(**data)
