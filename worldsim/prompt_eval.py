"""`worldsim eval-prompts`: how well generated scenes match their prompts, judged as a user would.

For a prompt set (`scenarios/prompts/<domain>-<split>.yaml`) and a world model with its text model:

- attribute accuracy: each prompt generates `seeds` scenes (each the verifier's best of `samples`
  under Best-of-N search, worldsim.search.best_of_n); every asked attribute is checked on the
  generated physical state, and on the generated frame as read by a frozen state probe trained on
  real frames only (`critics.StateProbe`; what the user sees, not what the latent claims). Whole-
  prompt accuracy is the share of scenes where every attribute holds, overall and per kind. The
  probe's own accuracy on real frames of episodes it never learnt from (attributes read off them
  against their true state) is the ceiling of the frame check, over every value of an attribute and
  on the values the prompts ask, and for the whole prompt (held-out real frames holding its words,
  read whole); with a model that draws from its physical state, the probe also reads the model's
  drawings of those true states ("drawn truth"): a frame column far below both is lost in the
  generated states, not in the drawing or the judge.
- refusals: the out-of-range prompts must be refused with the expected reason.
- seeds' spread: how far one prompt's seeds differ, against the real scenes that hold the same
  words (`seed_spread`; 1: as varied, near 0: every seed the same scene).
- realism of generated starts: a classifier two-sample test, real starts against generated ones
  (0.5: indistinguishable), grouped by episode and by prompt; then, each over several classifier
  seeds, the same test, the model's drawings of real scenes against real frames (the floor its
  decoder sets), generated starts against those drawings (what the scenes hold, whatever the
  drawing) and against real scenes holding the same words (`_realism_tests`).
- consistency after generation: `steps` dream steps from each generated start with the domain's
  no-op (or a held position): the share of steps whose physical state jumps further than any real
  step of the data does in one step (teleports), the objects found in the frames, the frame motion,
  and the share of dreams ended within 1, 5 and all steps (driving: a crash, the crash rule too),
  beside the same from real episodes' starts; where the domain can make a state the simulator's
  start (driving), the simulator's own verdict on the first 5 steps and how often the dream agrees,
  beside its verdict on real scenes that hold the same words (up to `seeds` per prompt).
- modal aphasia: "draw" (prompt -> scene -> probe reads the attributes) against "describe" (a real
  scene -> the shared space's attribute heads -> attributes), on the attributes the set asks for:
  both accuracies and the gap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from worldsim import domains
from worldsim.data import Dataset
from worldsim.envs.keys import calm_action
from worldsim.language.prompt import PromptError
from worldsim.language.prompt_sets import PromptSet
from worldsim.model.critics import ProbeRecipe, RealismRecipe, StateProbe, absolute_difference, realism_accuracy
from worldsim.model.reflect import Reflector
from worldsim.model.scene import GeneratedScenes, check_can_draw_from_latent, draw_latents, generate_scenes, on_lanes
from worldsim.model.text import SharedSpace
from worldsim.model.world_model import WorldModel
from worldsim.search.best_of_n import Search
from worldsim.search.run import search_scenes

HELD_FRAMES = 2000  # frames of the held-out episodes the probe's ceiling is measured on, at most
SCENE_EVERY = 5  # steps between the real scenes the model draws for the realism test's controls
REALISM_REPEATS = 5  # classifier seeds each realism test is fitted with (`realism_tests`)


@dataclass
class PromptEvalConfig:
    seeds: int = 4  # scenes generated per prompt
    samples: int = 1  # each scene the verifier's best of this many (worldsim.search; 1: no search)
    method: str = "best_of_n"  # how the candidates are made: fresh draws, or reflecting on the best so far
    temperature: float | None = None  # reflect: how far new candidates stray (None: the default)
    verifier: str = "state"  # what the search grades: the generated state, or the drawn frame read back
    variety: float = 1.0  # the scale of the generator's code (worldsim.model.scene.check_variety)
    steps: int = 50  # dream steps after each generated start (consistency)
    probe_frames: int = 20000  # real frames the probe learns from, at most
    probe_held_out: int = 5  # every this-many-th episode of the data is kept from the probe, for its ceiling
    context: int = 4
    seed: int = 0
    probe: ProbeRecipe = ProbeRecipe()
    realism: RealismRecipe = RealismRecipe()


@dataclass
class RealSide:
    """What the evaluation holds generated scenes against, the same whatever the search: real frames
    with their states and episodes (the probe's training data and realism's real side), each
    episode's start (latent and state, for "describe"), and the frame probe trained on them."""

    frames: np.ndarray
    states: np.ndarray
    groups: np.ndarray
    starts: tuple[torch.Tensor, np.ndarray]
    # real scenes as the model holds them (the latent after `context` frames, every SCENE_EVERY
    # steps of every episode) and the episode each is of: the realism test's controls
    scenes: torch.Tensor
    scene_groups: np.ndarray
    probe: StateProbe
    held_frames: np.ndarray  # frames of the episodes kept from the probe, and their states: its ceiling
    held_states: np.ndarray
    held_read: np.ndarray  # the states the probe reads off those frames


def real_side(model: WorldModel, data: Dataset, config: PromptEvalConfig, probe_data: Dataset | None = None) -> RealSide:
    """The real side of `evaluate_prompts` for `config` (its seed, context, probe recipe and frame
    count; not its search): made once, it serves every number of samples of a scaling study. The
    probe learns from `data`'s episodes but every `probe_held_out`-th, and from all of `probe_data`
    (more episodes of the domain: a probe reads positions far better from many)."""
    if config.probe_held_out < 2:
        raise ValueError(f"probe_held_out must be 2 or more (every n-th episode kept from the probe): {config.probe_held_out}")
    if len(data) < 2:
        raise ValueError(f"{data.root} holds {len(data)} episode(s): the probe's ceiling needs episodes it did not learn from")
    if probe_data is not None and probe_data.domain != data.domain:
        raise ValueError(f"the probe data is {probe_data.domain!r}, the data {data.domain!r}: they must agree")
    data = data.with_fields(model.config.state_fields)  # a model of an older recording reads newer data
    probe_data = None if probe_data is None else probe_data.with_fields(model.config.state_fields)
    rng = np.random.default_rng(config.seed)
    held = sorted(range(config.probe_held_out - 1, len(data), config.probe_held_out)) or [len(data) - 1]
    every_frame, every_state, every_group, starts, scenes = _real_scenes(model, data, config)
    keep = np.sort(rng.choice(len(every_frame), size=min(config.probe_frames, len(every_frame)), replace=False))
    frames, states, groups = every_frame[keep], every_state[keep], every_group[keep]
    learn = ~np.isin(groups, held)
    probe_frames, probe_states = frames[learn], states[learn]
    if probe_data is not None:
        more_frames, more_states, _ = _episode_frames(probe_data, range(len(probe_data)))
        probe_frames, probe_states = np.concatenate([probe_frames, more_frames]), np.concatenate([probe_states, more_states])
        keep = np.sort(rng.choice(len(probe_frames), size=min(config.probe_frames, len(probe_frames)), replace=False))
        probe_frames, probe_states = probe_frames[keep], probe_states[keep]
    probe = StateProbe.fit(probe_frames, probe_states, config.probe, seed=config.seed, device=model.device, angles=data.angles)
    in_held = np.isin(every_group, held)
    held_frames, held_states = every_frame[in_held], every_state[in_held]
    every = max(1, -(-len(held_frames) // HELD_FRAMES))
    held_frames, held_states = held_frames[::every], held_states[::every]
    return RealSide(frames, states, groups, starts, *scenes, probe, held_frames, held_states, probe.predict(held_frames))


def _episode_frames(data: Dataset, indices, episodes=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frames, states and episode index of every step of the episodes at `indices` (`episodes`:
    those episodes, where already read)."""
    episodes = list(zip(indices, episodes or [data.episode(i) for i in indices], strict=True))
    return (
        np.concatenate([e.frames for _, e in episodes]),
        np.concatenate([e.states for _, e in episodes]).astype(np.float32),
        np.concatenate([np.full(len(e.frames), i) for i, e in episodes]),
    )


def evaluate_prompts(
    model: WorldModel,
    space: SharedSpace,
    prompts: PromptSet,
    data: Dataset,
    config: PromptEvalConfig,
    reflector: Reflector | None = None,
    real: RealSide | None = None,
    probe_data: Dataset | None = None,
) -> dict[str, Any]:
    """The report of `worldsim eval-prompts`; `real` (from `real_side` with the same seed, context
    and probe settings) saves refitting the probe when several searches are evaluated; otherwise
    the probe also learns from `probe_data`, where given."""
    domain = model.config.domain
    if prompts.domain != domain or data.domain != domain:
        raise ValueError(f"the prompt set is {prompts.domain!r}, the data {data.domain!r}, the model {domain!r}: they must agree")
    check_can_draw_from_latent(model, "judging generated frames")
    data = data.with_fields(model.config.state_fields)  # a model of an older recording reads newer data
    table = domains.get(domain).load("attributes")
    fields = model.config.state_fields
    real = real_side(model, data, config, probe_data) if real is None else real
    real_frames, real_groups, starts, probe = real.frames, real.groups, real.starts, real.probe

    per_kind: dict[str, list[bool]] = {}
    state_ok, frame_ok, draws, stated, asked, refusals, cases, feasible = [], [], {}, {}, {}, [], [], []
    real_whole, frame_where_real = [], []
    gen_frames, gen_groups, gen_latents, spreads, like_it, matched = [], [], [], [], [], {}
    search = Search(config.method, config.samples, config.verifier, config.temperature, config.variety)
    for p, case in enumerate(prompts.cases):
        if case.kind == "out_of_range":
            try:
                generate_scenes(model, space, case.text, [torch.Generator().manual_seed(0)], draw=False)
                refused, reason = False, "generated a scene"
            except PromptError as error:
                refused, reason = case.refused in str(error), str(error)
            refusals.append(refused)
            cases.append({"prompt": case.text, "kind": case.kind, "refused": refused, "reason": reason})
            continue
        seeds = [config.seed * 1000 + s for s in range(config.seeds)]
        try:
            scenes = _generate(model, space, case.text, seeds, search, reflector)
        except PromptError as error:  # a prompt the reading fails on counts as wrong, with the reason
            state_ok += [False] * config.seeds
            frame_ok += [False] * config.seeds
            per_kind.setdefault(case.kind, []).extend([False] * config.seeds)
            cases.append({"prompt": case.text, "kind": case.kind, "error": str(error)})
            continue
        on_state = table.check(case.attributes, scenes.states, fields)
        read = probe.predict(scenes.frames)
        on_frame = table.check(case.attributes, read, fields)
        whole_state = np.all([on_state[n] for n in case.attributes], 0)
        whole_frame = np.all([on_frame[n] for n in case.attributes], 0)
        state_ok += whole_state.tolist()
        frame_ok += whole_frame.tolist()
        feasible += scenes.feasible.tolist()
        per_kind.setdefault(case.kind, []).extend(whole_frame.tolist())
        for name in case.attributes:
            draws.setdefault(name, []).extend(on_frame[name].tolist())
            stated.setdefault(name, []).extend(on_state[name].tolist())
            asked.setdefault(name, []).extend([case.attributes[name]] * len(scenes.states))
        # the probe on held-out real frames that hold the whole prompt, read whole: the frame check's ceiling
        held_holding = _holding(table, case.attributes, real.held_states, fields)
        real_read = None
        if held_holding.any():
            real_read = float(_holding(table, case.attributes, real.held_read[held_holding], fields).mean())
            real_whole += [real_read] * config.seeds
            frame_where_real += whole_frame.tolist()
        holds_words = np.flatnonzero(_holding(table, case.attributes, real.states, fields))
        holding = real.states[holds_words]
        spread = seed_spread(scenes.states, holding, data.angles)
        # the realism test's words-matched real side: as many real scenes holding the words, where any do
        matched[-1 - p] = np.random.default_rng([config.seed, p]).permutation(holds_words)[: len(scenes.frames)]
        like_it.append(holding[np.random.default_rng(config.seed + p).permutation(len(holding))[: config.seeds]])
        if spread is not None:
            spreads.append(spread)
        gen_frames.append(scenes.frames)
        gen_groups += [-1 - p] * len(scenes.frames)  # apart from the episodes (ids from 0)
        gen_latents.append(scenes.latents)
        cases.append(
            {
                "prompt": case.text,
                "kind": case.kind,
                "asked": case.attributes,
                "understood": scenes.understood,
                "state_holds": float(whole_state.mean()),
                "frame_holds": float(whole_frame.mean()),
                "real_frames_read_whole": real_read,
                "feasible": float(scenes.feasible.mean()),
                "seed_spread": spread,
            }
        )
    attributes = _per_attribute(model, real, table, fields, stated, draws, asked)
    report: dict[str, Any] = {
        "domain": domain,
        "prompt_set": str(prompts.path),
        "split": prompts.split,
        "config": {k: v for k, v in asdict(config).items() if k not in ("probe", "realism")},
        "whole_prompt": {
            "on_state": _mean(state_ok),
            "on_frame": _mean(frame_ok),
            "by_kind_on_frame": {k: _mean(v) for k, v in per_kind.items()},
            # held-out real frames holding each prompt's words, read whole by the probe (prompts no
            # such frame holds left out; weighted as the scenes): the frame column's ceiling
            "real_frames_read_whole": _mean(real_whole),
            "on_frame_where_real_frames_hold": _mean(frame_where_real),  # the frame column on those prompts
        },
        "probe_ceiling": {name: a["ceiling"] for name, a in attributes.items()},
        "attributes": attributes,
        "refusals": _mean(refusals),
        # generated starts a scene can start in (the domain's `infeasible` check: driving, no car on the ego, none stacked)
        "feasible": _mean(feasible),
        # how far one prompt's seeds spread, against the real scenes that hold the same words (1: as far)
        "seed_spread": _mean(spreads),
        "cases": cases,
    }
    if gen_frames:
        frames = np.concatenate(gen_frames)
        groups = np.array(gen_groups)
        if len(set(gen_groups)) >= 2 and len(set(real_groups.tolist())) >= 2:
            test = realism_accuracy(real_frames, frames, real_groups, groups, config.realism, config.seed, model.device)
            report["realism"] = test["accuracy"]
            report["realism_tests"] = _realism_tests(model, real, frames, groups, matched, config)
        report["consistency"] = _consistency(model, torch.cat(gen_latents), data, config)
        report["consistency"]["real_starts"] = real_starts_ended(model, starts, config)
        spec = domains.get(domain)
        if spec.simulated_endings is not None:
            # The fairer floor for the simulator's verdict: a prompt may ask for a scene that ends
            # soon (a slower car close ahead), and real scenes holding the same words end as soon.
            holding = np.concatenate(like_it)
            steps = min(SIMULATED_STEPS, config.steps)
            ended = spec.load("simulated_endings")(holding, fields, steps, seed=config.seed)
            report["consistency"]["real_scenes_holding_the_words"] = {
                "scenes": len(holding),
                "simulator_ended_within": ended_within(ended, steps) if len(holding) else {},
            }
        report["modal_aphasia"] = _aphasia(space, table, starts, fields, draws)
    return report


def _generate(
    model: WorldModel, space: SharedSpace, prompt: str, seeds: list[int], search: Search, reflector: Reflector | None
) -> GeneratedScenes:
    """One drawn scene per seed: generated in one batch, or each the verifier's best of `search.samples`."""
    if search.samples == 1:
        return generate_scenes(model, space, prompt, [torch.Generator().manual_seed(s) for s in seeds], variety=search.variety)
    calm = lambda states: calm_action(model.config.domain, model.config.state_fields, states)  # noqa: E731
    chosen = [search_scenes(model, space, prompt, s, search, calm=calm, reflector=reflector)[0] for s in seeds]
    return GeneratedScenes(
        chosen[0].parsed,
        torch.cat([c.latents for c in chosen]),
        np.concatenate([c.states for c in chosen]),
        np.concatenate([c.frames for c in chosen]),
        chosen[0].understood,
        [m for c in chosen for m in c.matches],
        np.concatenate([c.feasible for c in chosen]),
    )


def _realism_tests(
    model: WorldModel, real: RealSide, frames: np.ndarray, groups: np.ndarray, matched: dict, config: PromptEvalConfig
) -> dict[str, dict[str, float] | None]:
    """The realism test and what bounds it, each fitted REALISM_REPEATS times (classifier seeds
    `config.seed` on; one fit on about 200 generated starts moves by 0.1-0.3 between seeds): its
    mean, lowest and highest accuracy. The tests: generated starts against real frames (what
    `realism` reports, on one seed); the model's drawings of real scenes (each the latent after
    `context` real frames, put on the lanes as generated starts are, as many as there are
    generated starts) against real frames, the floor
    the decoder sets whatever the generator does; generated starts against those drawings, both
    drawn by the one decoder, so what tells them apart is what the scenes hold, not how they are
    drawn; and generated starts
    against real frames whose states hold the same words (`matched`: per prompt's group, indices
    into the real side; prompts no real scene holds left out), so that what a prompt set asks for
    more often than the data holds it (the middle lane, dense traffic) does not by itself tell the
    scenes apart. 0.5: indistinguishable."""
    # as many drawings as generated starts: a classifier given more frames of one kind tells them apart better
    pick = np.sort(np.random.default_rng([config.seed, 2]).permutation(len(real.scenes))[: len(frames)])
    # on the lanes as generated starts are (`as_simulated`) and as every dreamt step puts them: the
    # filter's reading after a few frames leaves the ego up to a metre off its lane centre, which a
    # painted road shows as the road shifted against the ego, a tell no generator is to blame for
    drawn = draw_latents(model, on_lanes(model, real.scenes[torch.from_numpy(pick)]))
    episodes = real.scene_groups[pick]
    kept = np.isin(groups, [g for g, m in matched.items() if len(m)])
    words = np.concatenate([np.zeros(0, int), *matched.values()])

    def test(a, b, group_a, group_b):
        if len(np.unique(group_a)) < 2 or len(np.unique(group_b)) < 2:
            return None
        seeds = range(config.seed, config.seed + REALISM_REPEATS)
        scores = [realism_accuracy(a, b, group_a, group_b, config.realism, s, model.device)["accuracy"] for s in seeds]
        return {"mean": float(np.mean(scores)), "low": float(np.min(scores)), "high": float(np.max(scores))}

    return {
        "against_real_frames": test(real.frames, frames, real.groups, groups),
        "real_scenes_drawn": test(real.frames, drawn, real.groups, episodes),
        "generated_against_drawn_real_scenes": test(drawn, frames, episodes, groups),
        "against_real_scenes_holding_the_words": test(real.frames[words], frames[kept], real.groups[words], groups[kept]),
    }


def _mean(values: list[bool]) -> float | None:
    return float(np.mean(values)) if values else None


@torch.no_grad()
def _real_scenes(model: WorldModel, data: Dataset, config: PromptEvalConfig):
    """Every real frame with its state and episode (the probe's, the ceiling's and realism's real
    side), and each episode's start: its latent after `context` frames and its state then (for
    "describe"), and its scenes every SCENE_EVERY steps with their episodes. Each episode is read once."""
    episodes = [data.episode(index) for index in range(len(data))]
    frames, states, groups = _episode_frames(data, range(len(data)), episodes)
    starts, scenes = episode_starts(model, episodes, config.context), _episode_scenes(model, episodes, config.context)
    return frames, states, groups, starts, scenes


@torch.no_grad()
def _episode_scenes(model: WorldModel, episodes, context: int) -> tuple[torch.Tensor, np.ndarray]:
    """The latent after each `context`-frame window ending every SCENE_EVERY steps of each episode
    (from its `context`-th frame on), and the episode each is of."""
    latents, groups = [], []
    for index, episode in enumerate(episodes):
        ends = np.arange(context - 1, len(episode.frames), SCENE_EVERY)
        if len(ends):
            frames = np.stack([episode.frames[e - context + 1 : e + 1] for e in ends])
            actions = np.stack([episode.actions[e - context + 1 : e] for e in ends])
            # read, not dreamt from, as the text model was trained: no frame fit
            latents.append(model.encode(torch.from_numpy(frames), torch.from_numpy(actions), fit=False))
            groups += [index] * len(ends)
    return torch.cat(latents), np.array(groups)


@torch.no_grad()
def episode_starts(model: WorldModel, episodes, context: int) -> tuple[torch.Tensor, np.ndarray]:
    """Each episode's start, as a dream from real frames begins: its latent after the first `context`
    frames, and its true state then (episodes shorter than `context` are left out)."""
    latents, states = [], []
    for episode in episodes:
        if len(episode.frames) >= context:
            frames = torch.from_numpy(episode.frames[None, :context])
            latents.append(model.encode(frames, torch.from_numpy(episode.actions[None, : context - 1])))
            states.append(episode.states[context - 1])
    return torch.cat(latents), np.stack(states)


def _per_attribute(model: WorldModel, real: RealSide, table, fields, stated, draws, asked) -> dict[str, dict[str, float | None]]:
    """Per attribute the set asks for, where it is lost: on the generated state, off its frame, off
    the frame of the scenes whose state holds it, the probe on held-out real frames (its ceiling)
    and, for a model that draws its physical state, on the model's drawings of those real states.
    The ceiling is also taken on the values asked (`asked`: per attribute, the value each generated
    scene was asked for): how often the probe reads the asked value off held-out real frames whose
    state holds it, weighted as the scenes ask it. A value the data rarely holds (PushT's block on
    the goal, in 1.5 % of states) can be read far worse than the attribute's common ones."""
    ceiling = _read_accuracy(table, real.held_read, real.held_states, fields, draws)
    drawn = {}
    if not model.config.draws_on_previous and model.config.decoder_input == "state":
        states = real.held_states
        with torch.no_grad():
            code = model.normalise_state(torch.from_numpy(states).to(model.device))
            latents = torch.cat([code, code.new_zeros(len(code), model.config.latent_dim - code.shape[1])], -1)
        drawn = _read_accuracy(table, real.probe.predict(draw_latents(model, latents)), states, fields, draws)
    out = {}
    for name in draws:
        on_state, on_frame = np.array(stated[name], bool), np.array(draws[name], bool)
        out[name] = {
            "on_state": float(on_state.mean()),
            "on_frame": float(on_frame.mean()),
            "frame_given_state": float(on_frame[on_state].mean()) if on_state.any() else None,
            "ceiling": ceiling.get(name),
            "ceiling_on_asked": _read_asked(table, name, asked[name], real.held_read, real.held_states, fields),
            "drawn_truth": drawn.get(name),
        }
    return out


def _read_asked(table, name: str, values: list, read_states, true_states, fields) -> float | None:
    """How often the attribute `name`, asked each of `values` (one per generated scene), is read
    as asked off real frames whose true state holds it (`read_states`: what the probe read off
    them); None where no real frame holds any asked value."""
    hits, weight = 0.0, 0
    for value in {repr(v): v for v in values}.values():
        holds = table.check({name: value}, true_states, fields)[name]
        if holds.any():
            count = sum(1 for v in values if v == value)
            hits += count * float(table.check({name: value}, read_states[holds], fields)[name].mean())
            weight += count
    return hits / weight if weight else None


def _read_accuracy(table, read_states, true_states, fields, names) -> dict[str, float | None]:
    """Per attribute in `names`: how often the attribute read off `read_states` (N, S; e.g. what the
    probe reads off real frames) agrees with it on `true_states` (where the attribute is defined)."""
    read = table.read(read_states, fields)
    truth = table.read(true_states, fields)
    out = {}
    for name in names:
        attribute = table[name]
        if attribute.numeric:
            known = ~np.isnan(truth[name])
            ok = np.abs(read[name][known] - truth[name][known]) <= attribute.tolerance
        else:
            known = truth[name] >= 0
            ok = read[name][known] == truth[name][known]
        out[name] = float(ok.mean()) if known.any() else None
    return out


def teleport_fields(states: np.ndarray, real_episodes: list[np.ndarray], angles: np.ndarray) -> np.ndarray:
    """(N, T, S) dreamed states -> (N, T - 1, S) bool: where a field moves further in one step than
    any step of the real episodes ((T_i, S) each) moves it; angles are measured around the circle."""

    def step_sizes(values: np.ndarray) -> np.ndarray:  # along the time axis, the second to last
        return absolute_difference(values[..., 1:, :], values[..., :-1, :], angles)

    real_jump = np.max(np.concatenate([step_sizes(e) for e in real_episodes]), 0)
    # A field the data never changes (highway-env's presence flags, always 1 within reach) has no
    # real step to compare with: there a jump is a change beyond a tenth of its usual size, not the
    # float wobble of a learned step.
    size = np.abs(np.concatenate(real_episodes)).mean(0)
    return step_sizes(states) > np.where(real_jump > 0, real_jump, 0.1 * size) + 1e-6


def teleport_steps(states: np.ndarray, real_episodes: list[np.ndarray], angles: np.ndarray) -> np.ndarray:
    """(N, T, S) dreamed states -> (N, T - 1) bool: steps where some field teleports (`teleport_fields`)."""
    return teleport_fields(states, real_episodes, angles).any(-1)


@torch.no_grad()
def _consistency(model: WorldModel, latents: torch.Tensor, data: Dataset, config: PromptEvalConfig) -> dict[str, Any]:
    """Dream `steps` steps from each generated start (the domain's no-op, or the agent held in place)."""
    spec = domains.of_model(model.config.domain)
    fields = model.config.state_fields
    start = model.physical_state(latents).cpu().numpy()
    rollout = _left_alone(model, latents, start, config, draw=True)
    states = np.concatenate([start[:, None], rollout.states.cpu().numpy()], 1)
    teleports = teleport_fields(states, [e.states for e in data.episodes()], np.asarray(data.angles))
    frames = rollout.pixels().cpu().numpy()
    by_field = teleports.reshape(-1, len(fields)).mean(0)
    out: dict[str, Any] = {
        "steps": config.steps,
        "teleport_share": float(teleports.any(-1).mean()),
        # where the teleports are: each field's share of steps, most often first, those that ever jump
        "teleport_fields": {fields[i]: float(by_field[i]) for i in np.argsort(-by_field, kind="stable") if by_field[i] > 0},
        "motion": float(np.abs(np.diff(frames.astype(np.int16), axis=1)).mean()),
        # the share of scenes the dream has ended (a crash, a success) within 1, 5 and all steps
        "ended_within": ended_within(rollout.terminations, config.steps),
    }
    if spec.simulated_endings is not None:
        out["simulator"] = simulator_verdict(spec, start, fields, rollout.terminations, config)
    if spec.objects:
        flat = frames.reshape(-1, *frames.shape[2:])
        out["objects_found"] = {obj.name: float(obj.found(flat).mean()) for obj in spec.load("objects")}
    return out


@torch.no_grad()
def _aphasia(space: SharedSpace, table, starts, fields, draws: dict[str, list[bool]]) -> dict[str, Any]:
    """Per attribute the set asks for: "draw" (the share of generated frames the probe reads it off)
    against "describe" (the share of real starts whose attribute heads, read off the shared space,
    name it right); the gap is describe minus draw, averaged over the attributes."""
    latents, states = starts
    described = space.attribute_values(space.embed_scenes(latents), {a.name: a.values for a in table.attributes})
    truth = table.read(states, fields)
    per_attribute = {}
    for name, drawn in draws.items():
        attribute = table[name]
        right = []
        for row, reading in zip(described, truth[name], strict=True):
            value = table.value_of(name, reading)
            if value is None:
                continue
            said = row[name]
            right.append(abs(said - value) <= attribute.tolerance if attribute.numeric else said == value)
        per_attribute[name] = {"draw": float(np.mean(drawn)), "describe": _mean(right)}
    pairs = [(v["draw"], v["describe"]) for v in per_attribute.values() if v["describe"] is not None]
    draw = float(np.mean([d for d, _ in pairs])) if pairs else None
    describe = float(np.mean([d for _, d in pairs])) if pairs else None
    return {"draw": draw, "describe": describe, "gap": None if not pairs else describe - draw, "per_attribute": per_attribute}


SIMULATED_STEPS = 5  # how far the simulator's verdict on a start looks (driving: the cars the state lists)


def ended_within(terminations: torch.Tensor | np.ndarray, steps: int) -> dict[str, float]:
    """(N, K) bool termination after each step -> the share of the N episodes ended within 1, 5
    and `steps` steps (those of the three that K holds)."""
    ended = np.asarray(terminations.cpu() if isinstance(terminations, torch.Tensor) else terminations).cumsum(1) > 0
    return {str(k): float(ended[:, k - 1].mean()) for k in sorted({1, 5, steps}) if 0 < k <= ended.shape[1]}


def _left_alone(model: WorldModel, latents: torch.Tensor, start: np.ndarray, config: PromptEvalConfig, draw: bool = False):
    """`config.steps` dream steps from `latents` (their physical states `start`) with the domain's
    calm action (the no-op, or the agent held in place), ended as the env ends its dreams (the
    domain's crash rule too); frames drawn from blank with `draw`."""
    action = calm_action(model.config.domain, model.config.state_fields, start)
    actions = torch.from_numpy(np.repeat(action[:, None], config.steps, 1))
    size = model.config.frame_size
    blank = torch.zeros(len(latents), 3, size, size) if draw else None
    crash_rule = domains.of_model(model.config.domain).crash_rule is not None
    return model.imagine(
        latents, actions, previous=blank, generator=torch.Generator().manual_seed(config.seed), crash_rule=crash_rule
    )


@torch.no_grad()
def real_starts_ended(model: WorldModel, starts: tuple[torch.Tensor, np.ndarray], config: PromptEvalConfig) -> dict[str, Any]:
    """`ended_within` for the dream from real episodes' starts (their latents and true states) left
    to themselves, and the simulator's verdict on their true states where the domain has one: what
    a generated start's shares are to be held against (the dream ends some real starts at once too)."""
    latents, states = starts
    spec = domains.of_model(model.config.domain)
    rollout = _left_alone(model, latents, model.physical_state(latents).cpu().numpy(), config)
    out: dict[str, Any] = {"ended_within": ended_within(rollout.terminations, config.steps)}
    if spec.simulated_endings is not None:
        out["simulator"] = simulator_verdict(spec, states, model.config.state_fields, rollout.terminations, config)
    return out


def simulator_verdict(spec, states: np.ndarray, fields, dream: torch.Tensor, config: PromptEvalConfig) -> dict[str, Any]:
    """The simulator's own verdict on starts `states` (N, S) left to themselves (the domain's
    `simulated_endings`), over the first steps, beside the dream's (`dream`, (N, K) terminations
    from the same starts): the share each ended within 1 and SIMULATED_STEPS steps, and the share of
    starts on which the two agree."""
    steps = min(SIMULATED_STEPS, config.steps)
    simulated = spec.load("simulated_endings")(states, fields, steps, seed=config.seed)
    dreamt = dream.cpu().numpy()[:, :steps].cumsum(1) > 0
    return {
        "ended_within": ended_within(simulated, steps),
        "dream_agrees_within": {str(k): float((simulated[:, k - 1] == dreamt[:, k - 1]).mean()) for k in sorted({1, steps})},
    }


SPREAD_REAL = 300  # real scenes a prompt's spread is measured on, at most
SPREAD_MIN_REAL = 10  # fewer real scenes holding the words than this: no spread is reported


def _holding(table, asked: dict, states: np.ndarray, fields) -> np.ndarray:
    """(N,) bool: the states every asked attribute holds on."""
    return np.all(list(table.check(asked, states, fields).values()), 0)


def seed_spread(generated: np.ndarray, real: np.ndarray, angles=None, seed: int = 0) -> float | None:
    """How far one prompt's generated scenes (G, S) spread, against real scenes (R, S) that hold the
    same words: per field, the mean absolute difference between two generated scenes over that
    between two real ones; the median over the fields real scenes vary in. 1: seeds differ as much
    as the real scenes the words allow; near 0: every seed gives the same scene. None with fewer
    than two generated or SPREAD_MIN_REAL real scenes."""
    if len(generated) < 2 or len(real) < SPREAD_MIN_REAL:
        return None
    rng = np.random.default_rng(seed)
    real = real[rng.choice(len(real), size=min(SPREAD_REAL, len(real)), replace=False)]

    def pairwise(x: np.ndarray) -> np.ndarray:  # (S,) mean |x_i - x_j| over pairs i < j
        i, j = np.triu_indices(len(x), 1)
        return absolute_difference(x[i], x[j], None if angles is None else np.asarray(angles)).mean(0)

    ours, theirs = pairwise(generated), pairwise(real)
    varied = theirs > 1e-6
    return float(np.median(ours[varied] / theirs[varied])) if varied.any() else None
