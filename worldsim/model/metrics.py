"""Frame metrics: PSNR and SSIM (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5), per frame."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def psnr(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N,) dB. Identical frames are capped at 100 dB."""
    mse = ((predicted - target) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp(min=1e-10))).clamp(max=100.0)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N,) mean SSIM over channels and valid window positions."""
    c1, c2 = 0.01**2, 0.03**2
    channels = predicted.shape[1]
    window = _gaussian_window().to(predicted).expand(channels, 1, -1, -1)

    def blur(x):
        return F.conv2d(x, window, groups=channels)

    mu_x, mu_y = blur(predicted), blur(target)
    var_x = blur(predicted * predicted) - mu_x**2
    var_y = blur(target * target) - mu_y**2
    cov = blur(predicted * target) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1)
