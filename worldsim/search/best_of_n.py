"""Test-time search over prompted scenes: spend more samples, keep the one a verifier rates best.

Best-of-N draws N candidate scenes for a prompt in one batch and keeps the best by the verifier:

0. where the domain names states no scene can start in (`DomainSpec.infeasible`: driving, a car on
   the ego or two stacked in a lane), a candidate that can be a start before one that cannot, then
1. the share of the prompt's attributes that hold on the candidate's generated physical state
   (what the scene claims; verifier "state"), or on the state the model's own encoder reads back
   off the candidate's drawn frame (what the scene shows; verifier "frame", which draws every
   candidate), and among the candidates that tie on it
2. the lowest disagreement of the model's dynamics ensemble on the scene's first calm step (a scene
   the model knows how to go on from), where the model has an ensemble and the caller says what a
   calm step is (the envs' `calm_action`; this package never imports the envs).

Either verifier is the model's own reading; `worldsim eval-prompts` judges the frame apart with a
probe trained on real frames only, so what search buys is measured by a judge that did not choose.
On CarRacing, graded on the state alone, search found states that hold the words and frames that
show them hardly more often than one sample does (BENCHMARKS.md, "Best-of-N over prompted scenes").

Candidate 0 is the scene the same seed gives without search, and the candidates of fewer samples
are among those of more: one sample is the plain prompt start, and the kept scene's score never
falls as samples grow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from worldsim.model.scene import GeneratedScenes, draw_latents, generate_scenes
from worldsim.search import MAX_SAMPLES, METHODS, VERIFIERS

if TYPE_CHECKING:
    from worldsim.model.text import SharedSpace
    from worldsim.model.world_model import WorldModel

Calm = Callable[[np.ndarray], np.ndarray]  # states (N, S) -> actions that leave the scenes to themselves


@dataclass(frozen=True)
class Search:
    method: str = "best_of_n"
    samples: int = 1
    verifier: str = "state"
    temperature: float | None = None  # reflect: how far new candidates stray (None: reflect.TEMPERATURE)
    variety: float = 1.0  # the scale of the fresh codes drawn (worldsim.model.scene.check_variety)
    plain: bool = False  # no search was asked, only a variety: one draw, with no search report

    @classmethod
    def from_options(cls, options: Any) -> Search:
        """`reset(options={"search": {...}})` or the command line's: a dict with "method",
        "samples" and "verifier"; a ValueError names what is wrong."""
        if isinstance(options, Search):
            return options
        if not isinstance(options, dict):
            raise ValueError(f'the "search" option must be a dict with "method", "samples" and "verifier", got {options!r}')
        unknown = set(options) - {"method", "samples", "verifier", "temperature"}
        if unknown:
            known = "method, samples, temperature, verifier"
            raise ValueError(f'unknown "search" key(s) {", ".join(sorted(map(str, unknown)))}; known: {known}')
        method, samples = options.get("method", "best_of_n"), options.get("samples", 1)
        verifier = options.get("verifier", "state")
        if method not in METHODS:
            raise ValueError(f"unknown search method {method!r}; known: {', '.join(METHODS)}")
        if verifier not in VERIFIERS:
            raise ValueError(f"unknown search verifier {verifier!r}; known: {', '.join(VERIFIERS)}")
        if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or not 1 <= samples <= MAX_SAMPLES:
            raise ValueError(f'"samples" must be a whole number from 1 to {MAX_SAMPLES}, got {samples!r}')
        temperature = options.get("temperature")
        if temperature is not None:
            if method != "reflect":
                raise ValueError('"temperature" is a setting of search method "reflect"')
            if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature < 100:
                raise ValueError(f'"temperature" must be a number from 0 (below 100), got {temperature!r}')
        return cls(method, int(samples), verifier, None if temperature is None else float(temperature))


def candidate_seeds(seed: int, samples: int) -> list[int]:
    """The seeds of a start's candidates: the start's own first, then streams derived from (seed, k)."""
    derived = [int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint64)[0] >> 1) for k in range(1, samples)]
    return [int(seed), *derived]


@torch.no_grad()
def verified_states(model: WorldModel, scenes: GeneratedScenes, verifier: str) -> np.ndarray:
    """(N, S): the physical states a verifier judges: each candidate's generated state ("state"),
    or the state the model's encoder reads back off its drawn frame ("frame")."""
    if verifier == "frame":
        frames = torch.as_tensor(scenes.frames, device=model.device)
        return model.physical_state(model.encode(frames, fit=False)).cpu().numpy()  # the encoder's own reading
    return scenes.states


@torch.no_grad()
def verifier_scores(
    model: WorldModel, scenes: GeneratedScenes, verifier: str = "state", calm: Calm | None = None
) -> dict[str, np.ndarray]:
    """Per candidate: "attributes", the share of asked attributes holding on its state (verifier
    "state") or on the state read back off its drawn frame (verifier "frame": `scenes.frames`
    drawn), and, given a model with a dynamics ensemble and `calm` (states (N, S) -> the actions
    that leave those scenes to themselves; the envs' `calm_action`), "uncertainty", the heads'
    disagreement on a first calm step from it."""
    from worldsim import domains

    if verifier == "frame":
        table = domains.get(model.config.domain).load("attributes")
        holds = table.check(scenes.parsed.attributes, verified_states(model, scenes, verifier), model.config.state_fields)
        scores = {"attributes": np.mean([holds[name] for name in scenes.parsed.attributes], 0)}
    else:
        scores = {"attributes": np.array([np.mean([m["holds"] for m in match.values()]) for match in scenes.matches])}
    if domains.get(model.config.domain).infeasible is not None:
        scores["feasible"] = scenes.feasible.astype(float)
    if model.config.ensemble and calm is not None:
        action = calm(scenes.states)
        features = model.action_features(torch.as_tensor(action, device=model.device))
        noise = model.noise(len(scenes.states), torch.Generator(device=model.device).manual_seed(0))
        after = model.imagine_step(scenes.latents, features, noise, 1.0)
        scores["uncertainty"] = model.uncertainty(scenes.latents, after, features).cpu().numpy()
    return scores


def best_candidate(scores: dict[str, np.ndarray]) -> int:
    """The verifier's best candidate: a start a scene can be in (where the domain says), then most
    attributes holding, then least disagreement, then the earliest (lexsort sorts by its last key
    first). A scene that holds every word but starts in a crash is no scene to drive."""
    keys = [np.arange(len(scores["attributes"]))] + ([scores["uncertainty"]] if "uncertainty" in scores else [])
    keys.append(-scores["attributes"])
    if "feasible" in scores:
        keys.append(-scores["feasible"])
    return int(np.lexsort(keys)[0])


def best_of_n(
    model: WorldModel, space: SharedSpace, prompt: str, seed: int, search: Search, draw: bool = True, calm: Calm | None = None
) -> tuple[GeneratedScenes, dict[str, Any]]:
    """The verifier's best of `search.samples` scenes generated for `prompt` from `seed`, and what
    the search saw: each candidate's scores and the index of the one kept."""
    generators = [torch.Generator().manual_seed(s) for s in candidate_seeds(seed, search.samples)]
    scenes = generate_scenes(model, space, prompt, generators, draw=search.verifier == "frame", variety=search.variety)
    scores = verifier_scores(model, scenes, search.verifier, calm)
    best = best_candidate(scores)
    return kept_scene(model, scenes.take([best]), best, scores, search, draw)


def kept_scene(
    model: WorldModel, chosen: GeneratedScenes, best: int, scores: dict[str, np.ndarray], search: Search, draw: bool, **seen
) -> tuple[GeneratedScenes, dict[str, Any]]:
    """A search's kept scene (drawn if asked and not yet drawn) and its report: each candidate's
    scores, the index kept, and what else the search saw (`seen`)."""
    if draw and chosen.frames is None:
        chosen.frames = draw_latents(model, chosen.latents)
    report = {
        "method": search.method,
        "samples": search.samples,
        "verifier": search.verifier,
        "chosen": best,
        "scores": {name: [float(v) for v in values] for name, values in scores.items()},
        **seen,
    }
    return chosen, report
