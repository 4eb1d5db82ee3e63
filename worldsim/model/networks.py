"""The world model's building blocks: a conv encoder, a reference-conditioned decoder, MLPs."""

from __future__ import annotations

import torch
from torch import nn


def mlp(inputs: int, hidden: int, outputs: int, layers: int = 2) -> nn.Sequential:
    dims = [inputs] + [hidden] * (layers - 1)
    blocks: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        blocks += [nn.Linear(a, b), nn.LayerNorm(b), nn.ELU()]
    return nn.Sequential(*blocks, nn.Linear(dims[-1], outputs))


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.ELU())


def coordinate_grid(batch: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """(batch, 2, size, size): x and y of each pixel centre, in [-1, 1] (y down the frame)."""
    axis = (torch.arange(size, device=like.device, dtype=like.dtype) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x, y]).expand(batch, 2, size, size)


class Encoder(nn.Module):
    """(N, 3, S, S) frames in [0, 1] -> (N, embed_dim), through four stride-2 convolutions.

    `feature_maps` exposes the maps at S/2, S/4 and S/8: the decoder reads them from a reference
    frame (the previous frame), so that what does not change need not pass through the latent.
    With `coordinates`, each pixel's x and y enter beside its colour (CoordConv): convolutions are
    blind to where they are, and reading a position off a frame is what the physical state needs.
    """

    def __init__(self, channels: int, embed_dim: int, frame_size: int, coordinates: bool = False):
        super().__init__()
        c = channels
        self.coordinates = coordinates
        first = 5 if coordinates else 3
        self.stages = nn.ModuleList([_down(first, c), _down(c, 2 * c), _down(2 * c, 4 * c), _down(4 * c, 8 * c)])
        self.out = nn.Linear(8 * c * (frame_size // 16) ** 2, embed_dim)

    def feature_maps(self, frames: torch.Tensor) -> list[torch.Tensor]:
        maps, x = [], frames - 0.5
        if self.coordinates:
            x = torch.cat([x, coordinate_grid(len(x), x.shape[-1], x)], 1)
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.out(self.feature_maps(frames)[-1].flatten(1))


class Decoder(nn.Module):
    """(N, latent_dim), a reference frame and its feature maps -> (N, 3, S, S) in [0, 1].

    A U-Net-like path: at S/8, S/4 and S/2 the upsampling stream is concatenated with the
    reference's encoder maps of the same size (zeros when there is no reference). Four channels come
    out: new content, as a change to the reference in logit space, and a keep mask m. The frame is
    m * reference + (1 - m) * content. The mask starts near 1 and the change near 0, so an untrained
    decoder copies the reference; training opens the mask where things move. The mask is what keeps
    a static background exact over long rollouts: a small residual on every pixel, repeated each
    step, drifts, while a closed mask does not. Without a reference the base is mid-grey.
    """

    KEEP_BIAS = 4.0  # initial keep-mask logit: m = 0.982

    def __init__(self, channels: int, latent_dim: int, frame_size: int):
        super().__init__()
        c = channels
        self.c, self.side = c, frame_size // 16
        self.inp = nn.Linear(latent_dim, 8 * c * self.side**2)
        self.ups = nn.ModuleList(
            [
                nn.ConvTranspose2d(8 * c, 4 * c, 4, 2, 1),
                nn.ConvTranspose2d(8 * c, 2 * c, 4, 2, 1),
                nn.ConvTranspose2d(4 * c, c, 4, 2, 1),
                nn.ConvTranspose2d(2 * c, 4, 4, 2, 1),
            ]
        )
        self.act = nn.ELU()
        with torch.no_grad():
            self.ups[-1].weight.mul_(0.01)
            self.ups[-1].bias.zero_()
            self.ups[-1].bias[3] = self.KEEP_BIAS

    def forward(
        self, latent: torch.Tensor, reference: list[torch.Tensor] | None = None, base: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self.act(self.inp(latent).view(-1, 8 * self.c, self.side, self.side))
        for i, up in enumerate(self.ups):
            x = up(x)
            if i < 3:
                skip = reference[2 - i] if reference is not None else torch.zeros_like(x)
                x = self.act(torch.cat([x, skip], 1))
        change, keep = x[:, :3], torch.sigmoid(x[:, 3:])
        if base is None:
            return torch.sigmoid(change)
        # 1/1024 keeps pure white and black finite in logit space and still rounds back exactly.
        content = torch.sigmoid(torch.logit(base.clamp(1 / 1024, 1 - 1 / 1024)) + change)
        return keep * base + (1 - keep) * content


class BroadcastDecoder(nn.Module):
    """(N, latent_dim) -> (N, 3, S, S) in [0, 1], from the latent alone: a spatial broadcast decoder.

    The latent, projected, is copied to every cell of an S/4 grid beside the cell's x and y; 3x3
    convolutions there draw the scene, two transposed convolutions bring it to full size. Knowing
    where each cell is, the network draws an object where the state puts it; a decoder that
    upsamples from a vector has to learn positions from nothing and draws blurs (CoordConv, Liu et
    al. 2018; spatial broadcast, Watters et al. 2019). Used by models that do not draw on the
    previous frame (`ModelConfig.decoder = "broadcast"`).
    """

    def __init__(self, channels: int, latent_dim: int, frame_size: int):
        super().__init__()
        width = 4 * channels
        self.grid = frame_size // 4
        self.inp = nn.Linear(latent_dim, width)
        self.body = nn.Sequential(
            nn.Conv2d(width + 2, width, 3, 1, 1),
            nn.ELU(),
            nn.Conv2d(width, width, 3, 1, 1),
            nn.ELU(),
            nn.Conv2d(width, width, 3, 1, 1),
            nn.ELU(),
            nn.ConvTranspose2d(width, 2 * channels, 4, 2, 1),
            nn.ELU(),
            nn.ConvTranspose2d(2 * channels, 3, 4, 2, 1),
        )

    def forward(self, latent: torch.Tensor, reference=None, base=None) -> torch.Tensor:
        n, g = len(latent), self.grid
        x = self.inp(latent)[:, :, None, None].expand(n, -1, g, g)
        return torch.sigmoid(self.body(torch.cat([x, coordinate_grid(n, g, x)], 1)))


class FieldDecoder(nn.Module):
    """(N, latent_dim) -> (N, 3, S, S) in [0, 1], from the latent alone: a field over pixel
    coordinates, modulated by the latent (FiLM).

    Each cell of an S/4 grid starts from its coordinates and their Fourier features; every layer's
    channels are scaled and shifted by a linear map of the latent (gamma, beta; Perez et al. 2018).
    Scaling what a cell knows of its place by what the latent says is the product a rigid pose
    needs: a body's own frame is cos(a) * (x - bx) + sin(a) * (y - by), products of state and
    coordinates that a decoder which only adds the latent (upsampling from a vector, spatial
    broadcast) must build from many nonlinearities and learns slowly, drawing blurs meanwhile.
    Per-cell layers (1x1) shape the objects, a 3x3 layer joins neighbours, two transposed
    convolutions bring the grid to full size. Told PushT's true state (and with the loss weighted
    to small objects, `LossWeights.foreground`), it draws the block's T in its place and pose in
    2,000 steps where the upsampling decoder draws a blob (scripts/render_probe.py; BENCHMARKS.md).
    """

    FREQUENCIES = 4  # sin and cos of pi * k * coordinate, k = 1..4, for each of x and y

    def __init__(
        self, channels: int, latent_dim: int, frame_size: int, cell_layers: int = 3, view_channels: int = 0, static: bool = False
    ):
        super().__init__()
        width = 4 * channels
        self.grid = frame_size // 4
        features = 2 + 4 * self.FREQUENCIES + view_channels  # view: per-cell features (worldsim.model.ego_view)
        self.cells = nn.ModuleList([nn.Conv2d(features, width, 1)] + [nn.Conv2d(width, width, 1) for _ in range(cell_layers - 1)])
        self.mix = nn.Conv2d(width, width, 3, 1, 1)
        # PyTorch's default initialisation: a tenth of it (an almost unmodulated field to start
        # from) drew no better in 2,000 steps (scripts/render_probe.py, pixels even: 28.3 dB
        # against 28.7 dB).
        self.film = nn.Linear(latent_dim, 2 * width * (cell_layers + 1))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(width, 2 * channels, 4, 2, 1), nn.ELU(), nn.ConvTranspose2d(2 * channels, 3, 4, 2, 1)
        )
        self.act = nn.ELU()
        self.register_buffer("places", self._places(), persistent=False)
        # A learned image laid over every frame where its opacity says (ModelConfig.decoder_static):
        # what an ego camera shows in the same place in every frame (CarRacing's car, the HUD's
        # black bar). Drawn by the field, the car came out a dull, state-dependent smudge: a
        # loss weighted by distance from the mean frame gives a thing that never moves no weight.
        # Starts nearly transparent (opacity sigmoid(-4) = 2 %).
        if static:
            self.static_colour = nn.Parameter(torch.zeros(1, 3, frame_size, frame_size))
            self.static_opacity = nn.Parameter(torch.full((1, 1, frame_size, frame_size), -4.0))
        self.static = static

    def _places(self) -> torch.Tensor:
        """(1, 2 + 4F, g, g): each cell's x, y and their sines and cosines at F frequencies."""
        grid = coordinate_grid(1, self.grid, torch.zeros(()))
        k = torch.arange(1, self.FREQUENCIES + 1, dtype=grid.dtype)
        phases = torch.pi * grid[:, :, None] * k[None, None, :, None, None]  # (1, 2, F, g, g)
        return torch.cat([grid, torch.cat([phases.sin(), phases.cos()], 2).flatten(1, 2)], 1)

    def grid_layers(self, latent: torch.Tensor, view: torch.Tensor | None = None) -> list[torch.Tensor]:
        """What each modulated layer on the S/4 grid puts out (cells, then mix), before upsampling."""
        x = self.places.expand(latent.shape[0], -1, -1, -1)  # shape, not len(): export keeps the batch dynamic
        if view is not None:
            x = torch.cat([x, view], 1)
        film = self.film(latent)[:, :, None, None].chunk(2 * (len(self.cells) + 1), 1)
        outs = []
        for i, layer in enumerate([*self.cells, self.mix]):
            x = self.act(layer(x) * (1 + film[2 * i]) + film[2 * i + 1])
            outs.append(x)
        return outs

    def forward(self, latent: torch.Tensor, reference=None, base=None, view: torch.Tensor | None = None) -> torch.Tensor:
        drawn = torch.sigmoid(self.up(self.grid_layers(latent, view)[-1]))
        if not self.static:
            return drawn
        opacity = torch.sigmoid(self.static_opacity)
        return drawn + opacity * (torch.sigmoid(self.static_colour) - drawn)
