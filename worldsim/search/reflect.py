"""Reflection: each new candidate scene is made from the best one so far and the verifier's critique
of it, not drawn afresh.

    candidate 0 ── the plain prompt start (the same scene as Best-of-N's candidate 0)
    candidate k ── code = Reflector(prompt, best code so far, critique of the best so far)
                          + TEMPERATURE · a fresh draw from candidate k's seed
                   scene = SceneGenerator(prompt, code)

The critique (worldsim.model.reflect.critique) says which asked attributes failed on the verifier's
reading of the best candidate and by how much; the reflector, a small trained conditioning path,
turns it into a move of the generator's code. The fresh draw keeps successive candidates apart, so
a search that reflects on a scene it cannot fix still explores. The candidates are made one after
another (each depends on the verdict on those before); the kept scene is the verifier's best, ties
broken as in Best-of-N, so one sample is the plain prompt start here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from worldsim import domains
from worldsim.model.reflect import critique, failed_attributes
from worldsim.model.scene import GeneratedScenes, scenes_from_codes
from worldsim.search.best_of_n import (
    Calm,
    Search,
    best_candidate,
    candidate_seeds,
    kept_scene,
    verified_states,
    verifier_scores,
)

if TYPE_CHECKING:
    from worldsim.model.reflect import Reflector
    from worldsim.model.text import SharedSpace
    from worldsim.model.world_model import WorldModel

# How far each new candidate strays from the reflector's move, in the generator's code units (its
# prior is a standard normal); chosen on the development prompts (BENCHMARKS.md, "Reflection against
# Best-of-N").
TEMPERATURE = 0.5


@torch.no_grad()
def reflect(
    model: WorldModel,
    space: SharedSpace,
    reflector: Reflector,
    prompt: str,
    seed: int,
    search: Search,
    draw: bool = True,
    calm: Calm | None = None,
    temperature: float | None = None,
) -> tuple[GeneratedScenes, dict[str, Any]]:
    """The verifier's best of `search.samples` scenes for `prompt`, each after the first made by
    reflecting on the best before it, and what the search saw (as `best_of_n` reports it).
    `temperature`: how far each new code strays from the reflector's move (None: TEMPERATURE)."""
    temperature = TEMPERATURE if temperature is None else temperature
    table = domains.get(model.config.domain).load("attributes")
    fields = model.config.state_fields
    seeds = candidate_seeds(seed, search.samples)
    dim = space.generator.code_dim
    framed = search.verifier == "frame"
    codes = search.variety * torch.randn(1, dim, generator=torch.Generator().manual_seed(seeds[0]))
    scenes = scenes_from_codes(model, space, prompt, codes, draw=framed)
    text = space.embed_texts([prompt])
    seen = [scenes]
    scores = verifier_scores(model, scenes, search.verifier, calm)
    read = verified_states(model, scenes, search.verifier)
    critiques = []
    for k in range(1, search.samples):
        best = best_candidate(scores)
        said = critique(table, scenes.parsed.attributes, table.read(read[best : best + 1], fields))
        critiques.append(failed_attributes(table, said[0]))
        code = reflector(text, codes[best : best + 1].to(text.device), torch.from_numpy(said).to(text.device)).cpu()
        code = code + temperature * torch.randn(1, dim, generator=torch.Generator().manual_seed(seeds[k]))
        candidate = scenes_from_codes(model, space, prompt, code, draw=framed)
        seen.append(candidate)
        codes = torch.cat([codes, code])
        new = verifier_scores(model, candidate, search.verifier, calm)
        scores = {name: np.concatenate([scores[name], new[name]]) for name in scores}
        read = np.concatenate([read, verified_states(model, candidate, search.verifier)])
    best = best_candidate(scores)
    # critiques: the attributes each reflection was asked to fix
    return kept_scene(model, seen[best], best, scores, search, draw, critiques=critiques)
