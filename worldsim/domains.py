"""The domains WorldSim models, one `DomainSpec` each: the single table every layer reads.

A spec holds facts about a domain (episode length, viewing rate) and names the parts that serve it
(simulator source, behaviour policy, physics prior, crash rule) as "module:attribute" strings. The
strings are resolved only when a part is asked for, so this table imports nothing: the data layer
can read a domain's episode length without importing the model, and the model can find its
physics prior without importing a simulator.

Models of any other Gymnasium env (`worldsim collect --domain any`) get `GENERIC`: no prior, no
crash rule, random behaviour, the generic episode length.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DomainSpec:
    name: str
    simulator: str  # the ground truth, in words
    episode_steps: int  # steps before an episode is truncated, in the simulator and in the dream
    fps: int  # viewing rate: videos, play and `render_fps`
    source: str  # the simulator adapter, `worldsim.sources.base.Source`
    behaviour: str  # the data-collection policy, `worldsim.behaviour.base.BehaviourPolicy`
    # explicit physics prior, a torch module over the physical state; optionally with `KINEMATIC`
    # (fields it steps exactly) and `constrain(state)` (the state put back into its feasible set,
    # reading and writing no angle field), both used by the "prior"/"kinematic" dynamics; with
    # `NOISE_DIM` and `NOISY` (a random part drawn from noise passed as forward's third argument,
    # and the fields it lays) for `prior_noise`, and `reward(before, after)` for `prior_reward`
    prior: str | None = None
    crash_rule: str | None = None  # a rule that reads an imagined crash off the latent's state
    # scripted action programs for the controllability evaluation, `worldsim.behaviour.programs.Program`s
    programs: str | None = None
    # the objects its frames show, found by colour (`worldsim.sources.objects`), for persistence
    objects: str | None = None
    # what a prompt may ask of its scenes, `worldsim.language.attributes.AttributeTable`
    attributes: str | None = None
    # `f(states, fields)`: states made outside the simulator (a prompt's generated scene) put in the
    # order the simulator lists their parts (highway-env: vehicles nearest first)
    state_order: str | None = None
    # `f(states, fields)`: states made outside the simulator put where the simulator's can be: the
    # fields it derives from the rest recomputed (PushT: the block's coverage of the goal, from its
    # pose), bounded fields within their ranges (CarRacing: speed not below 0, 0-4 wheels on grass),
    # parts kept as far apart as the simulator keeps them (highway-env: vehicles in a lane 20 m)
    state_derived: str | None = None
    # `f(states, fields) -> (N,) bool`: states no scene can start in (driving: a car on the ego, a
    # crash already, or two cars stacked in a lane); a prompt's generated start says so, and search
    # ranks such candidates last
    infeasible: str | None = None
    # `f(states, fields) -> (N,)` torch, differentiable: how far states lie into `infeasible` (0
    # outside it); what `worldsim train-text --feasibility` trains the scene generator away from
    infeasibility: str | None = None
    # `f(states, fields, steps, seed) -> (N, steps) bool`: each state made the simulator's own start
    # and left to itself; True from the step the simulator ends the episode on. The simulator's
    # verdict on generated starts, beside the dream's (`worldsim eval-prompts`)
    simulated_endings: str | None = None
    # an ego-centred camera's geometry, `worldsim.model.ego_view` (what `"decoder_view": "camera"` names)
    camera: str | None = None
    # the road's lanes, `worldsim.model.lanes` (what `"lanes": "road"` names)
    lanes: str | None = None
    # "unit": agents act in [-1, 1], mapped to the action space's bounds (PushT's 0..512 targets,
    # where SB3's Gaussian policies start clipped at a corner); "native": the env's own units.
    agent_actions: str = "native"

    def load(self, part: str) -> Any:
        """The object a part names (`"source"`, `"behaviour"`, `"prior"`, `"crash_rule"`, `"programs"`,
        `"objects"`, `"attributes"`, `"state_order"`, `"state_derived"`, `"infeasible"`, `"infeasibility"`,
        `"simulated_endings"`, `"camera"`, `"lanes"`), imported now."""
        ref = getattr(self, part)
        if ref is None:
            raise ValueError(f"the {self.name!r} domain has no {part.replace('_', ' ')}")
        module, _, attribute = ref.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def resolve_crash_rule(self, crash_rule: bool | None) -> bool:
        """None is the domain's default (on where a rule exists); True where none exists is an error."""
        if crash_rule is None:
            return self.crash_rule is not None
        if crash_rule and self.crash_rule is None:
            with_rule = ", ".join(d.name for d in DOMAINS.values() if d.crash_rule)
            raise ValueError(f"crash_rule: no state-overlap crash rule for the {self.name!r} domain (only {with_rule})")
        return bool(crash_rule)


DOMAINS: dict[str, DomainSpec] = {
    # highway-fast-v0 ends at 30 s: 1 step per second, shown at twice real time.
    "driving": DomainSpec(
        name="driving",
        simulator="highway-env highway-fast-v0",
        episode_steps=30,
        fps=2,
        source="worldsim.sources.driving:DrivingSource",
        behaviour="worldsim.behaviour.driving:DrivingBehaviour",
        programs="worldsim.behaviour.driving:PROGRAMS",
        objects="worldsim.sources.objects:DRIVING",
        attributes="worldsim.language.driving:ATTRIBUTES",
        state_order="worldsim.sources.driving:nearest_first",
        state_derived="worldsim.model.spacing:spaced_in_lanes",
        infeasible="worldsim.model.crash:infeasible_start",
        infeasibility="worldsim.model.crash:overlap_penalty",
        simulated_endings="worldsim.sources.driving_start:simulated_endings",
        prior="worldsim.model.physics.driving:DrivingPrior",
        crash_rule="worldsim.model.crash:LatentOverlap",
        camera="worldsim.sources.driving:CAMERA",
        lanes="worldsim.sources.driving:LANES",
    ),
    # PushT's own limit is 300 steps at 10 Hz.
    "robotics": DomainSpec(
        name="robotics",
        simulator="gym-pusht PushT-v0",
        episode_steps=300,
        fps=10,
        source="worldsim.sources.robotics:RoboticsSource",
        behaviour="worldsim.behaviour.robotics:PushBehaviour",
        programs="worldsim.behaviour.robotics:PROGRAMS",
        objects="worldsim.sources.objects:ROBOTICS",
        attributes="worldsim.language.robotics:ATTRIBUTES",
        state_derived="worldsim.sources.robotics:with_derived_fields",
        prior="worldsim.model.physics.robotics:PushTPrior",
        agent_actions="unit",
    ),
    # CarRacing's 1000 frames at 50 Hz are 500 steps of 2 frames.
    "games": DomainSpec(
        name="games",
        simulator="Gymnasium CarRacing-v3",
        episode_steps=500,
        fps=25,
        source="worldsim.sources.games:GamesSource",
        behaviour="worldsim.behaviour.games:RacingBehaviour",
        programs="worldsim.behaviour.games:PROGRAMS",
        objects="worldsim.sources.objects:GAMES",
        attributes="worldsim.language.games:ATTRIBUTES",
        state_derived="worldsim.sources.games:with_derived_fields",
        prior="worldsim.model.physics.games:CarPrior",
        camera="worldsim.sources.games:CAMERA",
    ),
}

GENERIC = DomainSpec(
    name="any",
    simulator="any registered Gymnasium env with rgb_array rendering",
    episode_steps=500,
    fps=15,
    source="worldsim.sources.generic:GenericSource",
    behaviour="worldsim.behaviour.base:RandomPolicy",
)

DEFAULT = "driving"  # the domain of `WorldSim-v0`


def names() -> tuple[str, ...]:
    """The built-in domains, those with shipped weights."""
    return tuple(DOMAINS)


def get(name: str) -> DomainSpec:
    """A built-in domain's spec, or a ValueError listing them."""
    if name not in DOMAINS:
        raise ValueError(f"unknown domain {name!r}; choose one of {', '.join(DOMAINS)}")
    return DOMAINS[name]


def of_model(name: str) -> DomainSpec:
    """The spec a model of domain `name` runs under: a built-in one, else `GENERIC`."""
    return DOMAINS.get(name, GENERIC)
