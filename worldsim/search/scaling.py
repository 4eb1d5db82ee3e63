"""What another sample buys: the curve Q(K) = Q_inf - A * K^-gamma fitted to quality at K samples.

Quality against test-time samples rises with diminishing returns; the fitted curve says where it
levels off (Q_inf), how fast it gets there (gamma), and the knee K*, the number of samples after
which one more adds less than a stated marginal gain (dQ/dK = A * gamma * K^-(gamma+1)). Fitted by
least squares: for each gamma on a grid, Q_inf and A are a linear fit; the gamma with the least
squared error wins (numpy alone, no optimiser to diverge). Confidence intervals come from
resampling the prompts: each draw refits the curve to the mean over a resampled set of prompts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GAMMAS = np.linspace(0.02, 3.0, 300)


def fit_power_law(ks: np.ndarray, quality: np.ndarray) -> dict[str, float]:
    """Q_inf, A, gamma and the residual sum of squares of Q(K) = Q_inf - A * K^-gamma through the
    points (ks, quality); needs three distinct K at least."""
    ks, quality = np.asarray(ks, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    if ks.shape != quality.shape or len(np.unique(ks)) < 3 or (ks < 1).any():
        raise ValueError(f"a scaling fit needs quality at three distinct K >= 1 at least, got K = {ks.tolist()}")
    best = None
    for gamma in GAMMAS:
        design = np.stack([np.ones_like(ks), -(ks**-gamma)], 1)
        (q_inf, a), *_ = np.linalg.lstsq(design, quality, rcond=None)
        rss = float(((design @ np.array([q_inf, a]) - quality) ** 2).sum())
        if best is None or rss < best["rss"]:
            best = {"q_inf": float(q_inf), "a": float(a), "gamma": float(gamma), "rss": rss}
    # A gamma at the grid's edge means no power law with diminishing returns fits these points:
    # over these K the curve has not begun to level off (or never rose), and Q_inf is no limit.
    best["gamma_at_bound"] = best["gamma"] in (GAMMAS[0], GAMMAS[-1])
    return best


def knee(fit: dict[str, float], marginal: float) -> float:
    """K*: the number of samples after which one more adds less than `marginal` to Q (1 where the
    curve is flat or falls, or where even the first extra sample adds less)."""
    slope = fit["a"] * fit["gamma"]
    if slope <= 0:
        return 1.0
    return max(1.0, (slope / marginal) ** (1 / (fit["gamma"] + 1)))


def scaling_fit(
    ks: list[int], per_prompt: np.ndarray, marginal: float = 0.005, draws: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The curve fitted to the mean over prompts of `per_prompt` (P, len(ks)) quality, with 90 %
    intervals from `draws` resamplings of the prompts, and the knee at `marginal` gain per sample."""
    per_prompt = np.asarray(per_prompt, dtype=np.float64)
    if per_prompt.ndim != 2 or per_prompt.shape[1] != len(ks):
        raise ValueError(f"per-prompt quality must be (prompts, {len(ks)}), got {per_prompt.shape}")
    fit = fit_power_law(np.array(ks), per_prompt.mean(0))
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(draws):
        rows = rng.integers(len(per_prompt), size=len(per_prompt))
        f = fit_power_law(np.array(ks), per_prompt[rows].mean(0))
        resampled.append([f["q_inf"], f["a"], f["gamma"], knee(f, marginal)])
    low, high = np.percentile(np.array(resampled), [5, 95], axis=0)
    names = ("q_inf", "a", "gamma", "k_star")
    return {
        "ks": list(ks),
        "quality": per_prompt.mean(0).tolist(),
        **fit,
        "k_star": knee(fit, marginal),
        "marginal": marginal,
        "interval_90": {name: [float(lo), float(hi)] for name, lo, hi in zip(names, low, high, strict=True)},
    }


def plot_scaling(curves: dict[str, dict[str, Any]], path, title: str) -> None:
    """A PNG of each named curve's measured quality (dots) and fit (line) against K (log scale),
    written to a temporary name and renamed. Drawn with Pillow, a dependency already."""
    import os
    from pathlib import Path

    from PIL import Image, ImageDraw

    width, height, margin = 640, 420, 56
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    ks = sorted({k for curve in curves.values() for k in curve["ks"]})
    span = max(np.log2(ks[-1]), 1.0)

    def at(k: float, q: float) -> tuple[float, float]:
        x = margin + (width - 2 * margin) * np.log2(k) / span
        return x, height - margin - (height - 2 * margin) * float(np.clip(q, 0, 1))

    for q in np.linspace(0, 1, 6):  # the quality axis, 0 to 1
        draw.line([at(1, q), at(2**span, q)], fill=(225, 225, 225))
        draw.text((8, at(1, q)[1] - 6), f"{q:.1f}", fill="black")
    for k in ks:
        draw.text((at(k, 0)[0] - 6, height - margin + 8), str(k), fill="black")
    draw.text((width // 2 - 70, height - 24), "samples K (log scale)", fill="black")
    draw.text((margin, 12), title, fill="black")
    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]
    for i, (name, curve) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        grid = 2 ** np.linspace(0, span, 100)
        fitted = curve["q_inf"] - curve["a"] * grid ** -curve["gamma"]
        draw.line([at(k, q) for k, q in zip(grid, fitted, strict=True)], fill=colour, width=2)
        for k, q in zip(curve["ks"], curve["quality"], strict=True):
            x, y = at(k, q)
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        label = f"{name}: Q_inf {curve['q_inf']:.2f}, gamma {curve['gamma']:.2f}, K* {curve['k_star']:.1f}"
        draw.text((margin, 30 + 14 * i), label, fill=colour)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    image.save(tmp)
    os.replace(tmp, path)
