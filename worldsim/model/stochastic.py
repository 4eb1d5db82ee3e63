"""The stochastic part of the latent: Gaussian, or categorical (one-hot) variables.

Each kind turns a network's statistics into a distribution's parameters, samples from them with
noise the caller draws (so that every dream can own its random stream), and gives the KL between
two of them for the training objective. `noise=None` asks for the distribution's mean (Gaussian)
or mode (categorical): encoding real frames is then exact.

Categorical latents (DreamerV2, Hafner et al. 2021) hold a multimodal next step as a choice
between classes, where a Gaussian prior can only spread around the average of the modes; a
decoder drawing the average draws a blur. Each variable is a one-hot vector of `classes` entries,
sampled by the Gumbel-max trick and given straight-through gradients; 1 % of each distribution is
uniform (DreamerV3) so that no class's log-probability runs to minus infinity in the KL.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

UNIFORM_MIX = 0.01


class GaussianLatent:
    """`size` independent Gaussians; parameters are (mean, std), std floored at `min_std`."""

    def __init__(self, size: int, min_std: float):
        self.width = size  # entries in the latent
        self.stats_dim = 2 * size  # network outputs per distribution
        self.noise_dim = size
        self.noise_uniform = False  # its noise is standard normal
        self.min_std = min_std

    @staticmethod
    def draw_noise(shape: tuple[int, ...], generator: torch.Generator | None, device) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=device)

    def params(self, stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw_std = stats.chunk(2, -1)
        return mean, F.softplus(raw_std) + self.min_std

    @staticmethod
    def sample(params: tuple[torch.Tensor, torch.Tensor], noise: torch.Tensor | None) -> torch.Tensor:
        mean, std = params
        return mean if noise is None else mean + std * noise

    @staticmethod
    def kl(post: tuple[torch.Tensor, torch.Tensor], prior: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        (mq, sq), (mp, sp) = post, prior
        return (torch.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5).sum(-1)

    @staticmethod
    def detach(params: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return params[0].detach(), params[1].detach()

    @staticmethod
    def settle(z: torch.Tensor) -> torch.Tensor:
        """Any vector is a Gaussian draw: returned as it is."""
        return z


class CategoricalLatent:
    """`variables` one-hot categorical variables of `classes` classes each, flattened in the
    latent; parameters are the log-probabilities, (..., variables, classes)."""

    def __init__(self, variables: int, classes: int):
        self.variables, self.classes = variables, classes
        self.width = self.stats_dim = self.noise_dim = variables * classes
        self.noise_uniform = True  # its noise is uniform in [0, 1) (Gumbel-max)

    @staticmethod
    def draw_noise(shape: tuple[int, ...], generator: torch.Generator | None, device) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=device)

    def params(self, stats: torch.Tensor) -> torch.Tensor:
        logits = stats.unflatten(-1, (self.variables, self.classes))
        probs = (1 - UNIFORM_MIX) * logits.softmax(-1) + UNIFORM_MIX / self.classes
        return probs.log()

    def sample(self, log_probs: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """One-hot draws (the mode without `noise`, uniform draws in [0, 1) of the latent's width),
        with the probabilities' gradient passed straight through."""
        scores = log_probs
        if noise is not None:
            u = noise.view_as(log_probs).clamp(1e-6, 1 - 1e-6)
            scores = log_probs - torch.log(-torch.log(u))  # Gumbel-max: argmax is a draw
        one_hot = F.one_hot(scores.argmax(-1), self.classes).to(log_probs.dtype)
        if log_probs.requires_grad:  # exactly one-hot at inference; the straight-through sum rounds
            probs = log_probs.exp()
            one_hot = one_hot + probs - probs.detach()
        return one_hot.flatten(-2)

    @staticmethod
    def kl(post: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        return (post.exp() * (post - prior)).sum((-2, -1))

    @staticmethod
    def detach(params: torch.Tensor) -> torch.Tensor:
        return params.detach()

    def settle(self, z: torch.Tensor) -> torch.Tensor:
        """(..., width) -> each variable one-hot at its largest entry, as the model's own draws are."""
        one_hot = F.one_hot(z.unflatten(-1, (self.variables, self.classes)).argmax(-1), self.classes)
        return one_hot.flatten(-2).to(z.dtype)


def stochastic_latent(stoch_dim: int, stoch_classes: int, min_std: float) -> GaussianLatent | CategoricalLatent:
    """The kind a `ModelConfig` asks for: `stoch_classes` 0 is Gaussian."""
    return CategoricalLatent(stoch_dim, stoch_classes) if stoch_classes else GaussianLatent(stoch_dim, min_std)
