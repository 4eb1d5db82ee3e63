"""One entry to the search methods: the envs, `worldsim generate` and `eval-prompts` call this."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worldsim.search.best_of_n import Calm, Search, best_of_n
from worldsim.search.reflect import reflect

if TYPE_CHECKING:
    from worldsim.model.reflect import Reflector
    from worldsim.model.scene import GeneratedScenes
    from worldsim.model.text import SharedSpace
    from worldsim.model.world_model import WorldModel


def search_scenes(
    model: WorldModel,
    space: SharedSpace,
    prompt: str,
    seed: int,
    search: Search,
    draw: bool = True,
    calm: Calm | None = None,
    reflector: Reflector | None = None,
) -> tuple[GeneratedScenes, dict[str, Any]]:
    """The scene `search` keeps for `prompt` from `seed`, and what it saw."""
    if search.method == "reflect":
        if reflector is None:
            raise ValueError("search method 'reflect' needs the reflector trained beside the text model: worldsim train-reflect")
        return reflect(model, space, reflector, prompt, seed, search, draw, calm, search.temperature)
    return best_of_n(model, space, prompt, seed, search, draw, calm)
