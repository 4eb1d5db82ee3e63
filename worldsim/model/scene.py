"""Scenes from a prompt: prompt -> start latent (and with it the physical state and the frame).

    prompt ──parse_prompt──► attributes asked (or a PromptError: what cannot be grounded)
       └────SharedSpace.embed_texts──► t ──SceneGenerator(t, noise)──► latent (s, h, z)
                                                                        ├─► physical state s
                                                                        └─► frame (decoder)

`SceneGenerator` is a conditional VAE over the latents of real scenes given a caption's embedding:
a code of `code_dim` numbers carries what the caption leaves open, so noise gives different scenes
that all fit the words; nothing is looked up. It learns from the same (caption, scene) pairs as the
shared space (worldsim.model.text_training) and ships in the same file.

A generated start is only as good as the model's ability to draw it: a model that draws each frame
on top of the previous one has no previous frame here, so prompts need a model that draws from its
latent alone (`ModelConfig.draws_on_previous = False`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from worldsim import domains
from worldsim.language.prompt import ParsedPrompt, parse_prompt
from worldsim.model.networks import mlp

if TYPE_CHECKING:
    from worldsim.model.text import SharedSpace
    from worldsim.model.world_model import WorldModel


class SceneGenerator(nn.Module):
    def __init__(self, latent_dim: int, shared_dim: int, code_dim: int = 16, width: int = 256):
        super().__init__()
        self.code_dim = code_dim
        self.encoder = mlp(latent_dim + shared_dim, width, 2 * code_dim)
        self.decoder = mlp(shared_dim + code_dim, width, latent_dim, layers=3)
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))

    def fit_normalisation(self, latents: torch.Tensor) -> None:
        self.latent_mean.copy_(latents.mean(0))
        self.latent_std.copy_(latents.std(0).clamp(min=1e-3))

    def loss(
        self, latents: torch.Tensor, texts: torch.Tensor, noise: torch.Tensor, kl_weight: float = 0.05
    ) -> tuple[torch.Tensor, dict]:
        """The negative ELBO of real `latents` (N, L) given their captions' embeddings `texts` (N, D),
        in normalised latent units; `noise` (N, code_dim) draws the code."""
        x = (latents - self.latent_mean) / self.latent_std
        mean, log_std = self.encoder(torch.cat([x, texts], -1)).chunk(2, -1)
        log_std = log_std.clamp(-6, 2)
        code = mean + log_std.exp() * noise
        rebuilt = self.decoder(torch.cat([texts, code], -1))
        reconstruction = ((rebuilt - x) ** 2).mean(-1).mean()
        kl = (0.5 * (mean**2 + (2 * log_std).exp() - 1) - log_std).sum(-1).mean()
        return reconstruction + kl_weight * kl, {"reconstruction": reconstruction.item(), "kl": kl.item()}

    def sample(self, texts: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(N, D) caption embeddings and (N, code_dim) standard normal noise -> (N, L) latents."""
        return self.decoder(torch.cat([texts, noise], -1)) * self.latent_std + self.latent_mean


@dataclass
class GeneratedScenes:
    parsed: ParsedPrompt
    latents: torch.Tensor  # (N, L)
    states: np.ndarray  # (N, S) the physical state each scene holds
    frames: np.ndarray | None  # (N, H, W, 3) uint8, where drawn
    understood: dict[str, Any]  # what the text heads read off the prompt, every attribute
    matches: list[dict[str, dict[str, Any]]]  # per scene, per asked attribute: asked, generated, holds
    feasible: np.ndarray  # (N,) bool: a state a scene can start in (the domain's `infeasible` check)

    def take(self, indices: list[int]) -> GeneratedScenes:
        """The scenes at `indices`, in that order."""
        return GeneratedScenes(
            self.parsed,
            self.latents[indices],
            self.states[indices],
            None if self.frames is None else self.frames[indices],
            self.understood,
            [self.matches[i] for i in indices],
            self.feasible[indices],
        )

    def all_hold(self) -> np.ndarray:
        """(N,) bool: every asked attribute holds on the generated state."""
        return np.array([all(m["holds"] for m in match.values()) for match in self.matches])


def check_can_draw_from_latent(model: WorldModel, what: str = "a prompt") -> None:
    if model.config.draws_on_previous:
        raise ValueError(
            f"{what} needs a model that draws frames from its latent alone; this {model.config.domain} model draws "
            "each frame on top of the previous one (draws_on_previous), and a generated scene has no previous frame"
        )


@torch.no_grad()
def draw_latents(model: WorldModel, latents: torch.Tensor) -> np.ndarray:
    """(N, H, W, 3) uint8 frames of generated start latents, drawn from the latent alone."""
    check_can_draw_from_latent(model)
    blank = torch.zeros(len(latents), 3, model.config.frame_size, model.config.frame_size)
    return model.to_uint8(model.draw(latents, blank)).cpu().numpy()


@torch.no_grad()
def _through_state(model: WorldModel, latents: torch.Tensor, parts: tuple[str, ...]) -> torch.Tensor:
    """`latents` with their physical state passed through the domain's state functions named by
    `parts` (each `f(states, fields)`, those the domain has, in order), the rest of each latent as it is."""
    spec = domains.of_model(model.config.domain)
    steps = [spec.load(part) for part in parts if getattr(spec, part) is not None]
    if not steps:
        return latents
    states = model.physical_state(latents).cpu().numpy()
    for step in steps:
        states = step(states, model.config.state_fields)
    _, h, z = model.split(latents)
    return torch.cat([model.normalise_state(torch.from_numpy(states).to(latents)), h, z], -1)


def in_listed_order(model: WorldModel, latents: torch.Tensor) -> torch.Tensor:
    """Generated latents with their state's parts in the order the simulator lists them (the
    domain's `state_order`: highway-env's vehicles nearest first), the rest of each latent as it
    is. The generator may put the car ahead in any slot; the decoder and the dynamics learnt
    from the simulator's order."""
    return _through_state(model, latents, ("state_order",))


def as_simulated(model: WorldModel, latents: torch.Tensor) -> torch.Tensor:
    """Generated latents made like the simulator's states: on the road's lanes where the model keeps
    them (`ModelConfig.lanes`: the ego and each present car on a lane centre, as every
    dreamt state is), the fields it derives or bounds its own (`state_derived`: PushT's coverage
    of the goal from the block's pose, CarRacing's speed and wheels on grass in range, highway-env's
    vehicles 20 m apart in a lane), then parts in the simulator's order (`state_order`), which
    the spacing may change."""
    return _through_state(model, on_lanes(model, latents), ("state_derived", "state_order"))


def on_lanes(model: WorldModel, latents: torch.Tensor) -> torch.Tensor:
    """Latents with the ego and each present car on a lane centre, where the model keeps them on
    lanes (else as they are). Differentiable: the gradient passes straight through the snap."""
    if model.lanes is None:
        return latents
    # A conditional VAE averages what its code leaves open: an ego between two lanes, a car
    # straddling the markings; the first dreamt step would snap them, the start should too.
    s, h, z = model.split(latents)
    return torch.cat([model.lanes(s, *model.code_units()), h, z], -1)


MAX_VARIETY = 10.0


def check_variety(variety: Any) -> float:
    """A prompt's `variety`, checked: the scale of the generator's standard normal code. 1 draws codes
    as the generator was trained on; larger spreads one prompt's seeds further apart (the code
    carries what the words leave open, and the generator keeps fresh codes near its centre) at some
    cost to how often the words hold (BENCHMARKS.md, "Prompted driving starts the dream ends at once")."""
    if isinstance(variety, bool) or not isinstance(variety, int | float) or not 0 <= variety <= MAX_VARIETY:
        raise ValueError(f'"variety" must be a number from 0 to {MAX_VARIETY:g}, got {variety!r}')
    return float(variety)


def feasible(domain: str, states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) states -> (N,) bool: states a scene can start in. A conditional VAE averages what its
    code leaves open, and a car averaged between the places it could be may sit on the ego: a
    crash before the first step (29-42 % of the shipped driving model's unsearched prompt starts)."""
    spec = domains.get(domain)
    if spec.infeasible is None:
        return np.ones(len(states), dtype=bool)
    return ~spec.load("infeasible")(states, fields)


def other_tables(domain: str) -> tuple:
    return tuple(domains.get(n).load("attributes") for n in domains.names() if n != domain and domains.get(n).attributes)


@torch.no_grad()
def generate_scenes(
    model: WorldModel,
    space: SharedSpace,
    prompt: str,
    generators: list[torch.Generator],
    draw: bool = True,
    variety: float = 1.0,
) -> GeneratedScenes:
    """One scene per generator (each its own seeded stream): parsed, generated, drawn and checked.
    `variety` scales the generator's code (see `check_variety`). Raises PromptError for a prompt the
    domain cannot ground."""
    codes = variety * torch.stack([torch.randn(space.generator.code_dim, generator=g) for g in generators])
    return scenes_from_codes(model, space, prompt, codes, draw)


@torch.no_grad()
def scenes_from_codes(
    model: WorldModel, space: SharedSpace, prompt: str, codes: torch.Tensor, draw: bool = True
) -> GeneratedScenes:
    """`generate_scenes` from given generator codes (N, code_dim): a search that picks its codes."""
    domain = model.config.domain
    if space.config.domain != domain:
        raise ValueError(f"the text model is a {space.config.domain!r} model; the world model is a {domain!r} model")
    table = domains.get(domain).load("attributes")
    parsed = parse_prompt(prompt, table, other_tables(domain))
    n = len(codes)
    text = space.embed_texts([prompt]).expand(n, -1)
    latents = as_simulated(model, model.settle(space.generator.sample(text, codes.to(text.device)).to(model.device)))
    states = model.physical_state(latents).cpu().numpy()
    frames = draw_latents(model, latents) if draw else None
    understood = space.attribute_values(text[:1], {a.name: a.values for a in table.attributes})[0]
    readings = table.read(states, model.config.state_fields)
    holds = {name: table[name].holds(value, readings[name]) for name, value in parsed.attributes.items()}
    matches = [
        {
            name: {
                "asked": value,
                "understood": understood.get(name),
                "generated": table.value_of(name, readings[name][i]),
                "holds": bool(holds[name][i]),
            }
            for name, value in parsed.attributes.items()
        }
        for i in range(n)
    ]
    startable = feasible(domain, states, model.config.state_fields)
    return GeneratedScenes(parsed, latents, states, frames, understood, matches, startable)
