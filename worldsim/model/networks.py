"""The world model's building blocks: a conv encoder, a transposed-conv decoder, MLPs."""

from __future__ import annotations

import torch
from torch import nn


def mlp(inputs: int, hidden: int, outputs: int, layers: int = 2) -> nn.Sequential:
    dims = [inputs] + [hidden] * (layers - 1)
    blocks: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        blocks += [nn.Linear(a, b), nn.LayerNorm(b), nn.ELU()]
    return nn.Sequential(*blocks, nn.Linear(dims[-1], outputs))


class Encoder(nn.Module):
    """(N, 3, S, S) frames in [0, 1] -> (N, embed_dim), through four stride-2 convolutions."""

    def __init__(self, channels: int, embed_dim: int, frame_size: int):
        super().__init__()
        c = channels
        self.convs = nn.Sequential(
            nn.Conv2d(3, c, 4, 2, 1), nn.ELU(),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ELU(),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1), nn.ELU(),
            nn.Conv2d(4 * c, 8 * c, 4, 2, 1), nn.ELU(),
        )  # fmt: skip
        self.out = nn.Linear(8 * c * (frame_size // 16) ** 2, embed_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.out(self.convs(frames - 0.5).flatten(1))


class Decoder(nn.Module):
    """(N, latent_dim) -> (N, 3, S, S) frames in [0, 1], mirroring the encoder."""

    def __init__(self, channels: int, latent_dim: int, frame_size: int):
        super().__init__()
        c = channels
        self.c, self.side = c, frame_size // 16
        self.inp = nn.Linear(latent_dim, 8 * c * self.side**2)
        self.deconvs = nn.Sequential(
            nn.ELU(),
            nn.ConvTranspose2d(8 * c, 4 * c, 4, 2, 1), nn.ELU(),
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1), nn.ELU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ELU(),
            nn.ConvTranspose2d(c, 3, 4, 2, 1),
        )  # fmt: skip

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = self.inp(latent).view(-1, 8 * self.c, self.side, self.side)
        return torch.sigmoid(self.deconvs(x))
