"""Where the termination head should fire: a threshold set on held-out episodes.

Terminations (highway-env crashes, PushT successes) are a few percent of steps, so a head trained
with a cross-entropy loss rarely reaches probability 1/2 on them and a fixed logit threshold of 0
misses most (driving: recall 0.06). Here the model imagines `ahead` steps from the latent filtered
on each held-out episode's real frames up to that point, with the recorded actions, and the
threshold is the highest logit at which the head still finds the wanted share of real terminations;
the precision it pays for that is reported beside it. `worldsim calibrate` writes the threshold into
the checkpoint's config.json (`ModelConfig.termination_threshold`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.world_model import WorldModel


@dataclass
class TerminationScores:
    """Per scored step: the head's logit `ahead` steps into the dream, the crash signal (head at the
    model's threshold, plus the domain's rule if asked), and whether the simulator ended there."""

    logits: np.ndarray
    fired: np.ndarray
    truth: np.ndarray


@torch.no_grad()
def termination_scores(
    model: WorldModel,
    data: Dataset,
    indices: list[int],
    ahead: int,
    generator: torch.Generator,
    crash_rule: bool = False,
    physics_blend: float = 1.0,
) -> TerminationScores:
    logits, fired, truth = [], [], []
    for index in indices:
        episode = data.episode(index)
        actions = torch.as_tensor(episode.actions, device=model.device)
        latents = model.filter_episode(torch.from_numpy(episode.frames), actions)
        starts = np.arange(0, len(actions) - ahead + 1)
        if not len(starts):
            continue
        windows = torch.stack([actions[starts + i] for i in range(ahead)], 1)
        rollout = model.imagine(latents[starts], windows, generator=generator, crash_rule=crash_rule, physics_blend=physics_blend)
        logits.append(model.termination_logit(rollout.latents[:, -1]).cpu().numpy())
        fired.append(rollout.terminations[:, -1].cpu().numpy())
        truth.append(episode.terminated[starts + ahead - 1].astype(bool))
    if not truth:
        empty = np.zeros(0)
        return TerminationScores(empty, empty.astype(bool), empty.astype(bool))
    return TerminationScores(np.concatenate(logits), np.concatenate(fired), np.concatenate(truth))


def threshold_for_recall(logits: np.ndarray, truth: np.ndarray, recall: float) -> dict[str, Any]:
    """The highest logit threshold (the head fires strictly above it) that finds at least `recall`
    of the positives, with the precision and recall it gives on these scores."""
    if not 0.0 < recall <= 1.0:
        raise ValueError(f"recall must lie in (0, 1], got {recall}")
    positives = np.sort(logits[truth])[::-1]
    if not len(positives):
        raise ValueError("no termination among the scored steps: nothing to calibrate on")
    needed = int(np.ceil(recall * len(positives)))
    # Just under the needed-th highest positive logit, so that one fires too.
    threshold = float(np.nextafter(positives[needed - 1], -np.inf))
    fired = logits > threshold
    return {
        "threshold": threshold,
        "recall": float((fired & truth).sum() / truth.sum()),
        "precision": float((fired & truth).sum() / fired.sum()),
        "positives": int(truth.sum()),
        "steps": len(truth),
    }


def calibrate(
    checkpoint: str | Path, data: Dataset, split: str, recall: float, ahead: int = 1, val_fraction: float = 0.1, seed: int = 0
) -> dict[str, Any]:
    """Set `checkpoint`'s termination threshold for `recall` on `split` of `data`; returns the
    result, with the head's precision and recall at the old threshold for comparison."""
    from worldsim.model.checkpoint import CONFIG, load_model, write_json

    checkpoint = Path(checkpoint)
    model, meta = load_model(checkpoint)
    if data.domain != model.config.domain:
        raise ValueError(f"{data.root} holds {data.domain!r} data; the checkpoint is a {model.config.domain!r} model")
    indices = data.indices(split, val_fraction)
    scores = termination_scores(model, data, indices, ahead, torch.Generator().manual_seed(seed))
    result = threshold_for_recall(scores.logits, scores.truth, recall)
    old = model.config.termination_threshold
    before = scores.logits > old
    result["before"] = {
        "threshold": old,
        "recall": float((before & scores.truth).sum() / scores.truth.sum()),
        "precision": float((before & scores.truth).sum() / before.sum()) if before.any() else None,
    }
    result.update(data=str(data.root), split=split, episodes=len(indices), ahead=ahead, wanted_recall=recall)
    meta["model"]["termination_threshold"] = result["threshold"]
    meta.setdefault("metrics", {})["termination_calibration"] = result
    write_json(checkpoint / CONFIG, meta)  # written to a temporary name, then renamed
    return result
