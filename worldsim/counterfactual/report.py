"""A counterfactual's outputs: a labelled three-panel video and metrics.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from worldsim.video import write_video

PANELS = ("factual (real)", "counterfactual (real)", "counterfactual (imagined)")
SCALE = 4
FPS = 2  # highway-env steps are 1 s of traffic: shown at twice real time


def panel_frames(result) -> np.ndarray:
    """(T, H, 3W + gaps, 3): before the branch all panels show the factual frames; after it, each line
    of events shows its own, holding its last frame once it has ended (e.g. after a crash)."""
    rows = [[f, f, f] for f in result.history.frames[:-1]]
    tracks = (result.factual, result.real, result.imagined)
    for k in range(max(len(t.frames) for t in tracks)):
        rows.append([t.frames[min(k, len(t.frames) - 1)] for t in tracks])
    return np.stack([_labelled(row) for row in rows])


def _labelled(frames: list[np.ndarray]) -> np.ndarray:
    size = frames[0].shape[0] * SCALE
    gap = 4
    canvas = Image.new("RGB", (3 * size + 2 * gap, size + 14), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, (frame, label) in enumerate(zip(frames, PANELS, strict=True)):
        x = i * (size + gap)
        canvas.paste(Image.fromarray(frame).resize((size, size), Image.NEAREST), (x, 14))
        draw.text((x + 2, 1), label, fill=(0, 0, 0))
    return np.asarray(canvas)


def write_outputs(result, out: str | Path) -> dict[str, str]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    video = write_video(out / "counterfactual.mp4", panel_frames(result), fps=FPS, scale=1)
    summary = {
        "scenario": result.scenario,
        "at": result.at,
        "actions": result.actions,
        "seconds_per_step": result.seconds_per_step,
        **result.metrics,
    }
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, out / "metrics.json")
    return {"video": str(video), "metrics": str(out / "metrics.json")}
