"""The bank of real start contexts shipped with a model: what an environment resets from.

Each entry is the first `context` frames of a recorded episode, with the actions between them and
their physical states, so an environment can start a dream from real pixels with no simulator.
Stored as a compressed `.npz` of plain arrays (read with allow_pickle=False). `worldsim train`
writes it into the run directory with the run's first checkpoint; a run's `checkpoint/` reads it
from there. A model that fits what its camera paints to a start's frame (`ModelConfig.frame_fit`,
a fraction of a second per start) may find the fits stored beside them (`write_fitted_starts`),
marked with what made them, so that an environment's first reset does not spend a minute on them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from worldsim.data import Dataset, DatasetUnion
from worldsim.model.checkpoint import CheckpointError, latents_fingerprint
from worldsim.model.frame_fit import FIT_VERSION

START_BANK = "start_frames.npz"
# the contexts' last states as the model's frame fit reads them, and (as ASCII bytes) what fitted them
FITTED, FITTED_FOR = "fitted", "fitted_for"


def write_start_bank(
    dataset: Dataset | DatasetUnion, indices: list[int], context: int, directory: Path, count: int = 64, seed: int = 0
) -> int:
    """Save up to `count` episode-start contexts from episodes `indices`; returns how many."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(indices)
    frames, actions, states = [], [], []
    for index in chosen:
        episode = dataset.episode(int(index))
        if len(episode) < context - 1 or episode.terminated[: context - 1].any():
            continue  # the context must be real frames of a running episode
        frames.append(episode.frames[:context])
        actions.append(episode.actions[: context - 1])
        states.append(episode.states[:context])
        if len(frames) == count:
            break
    if not frames:
        raise ValueError(f"{dataset.root}: no episode is long enough for a {context}-frame start context")
    tmp = Path(directory) / (START_BANK + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, frames=np.stack(frames), actions=np.stack(actions), states=np.stack(states))
    os.replace(tmp, Path(directory) / START_BANK)
    return len(frames)


def load_start_bank(directory: str | Path) -> dict[str, np.ndarray]:
    directory = Path(directory)
    path = directory / START_BANK
    if not path.is_file() and directory.name == "checkpoint" and (directory.parent / START_BANK).is_file():
        path = directory.parent / START_BANK  # a run's checkpoint/ shares the run's bank
    if not path.is_file():
        raise CheckpointError(
            f"{path}: not found; environments start dreams from this bank of real start frames. "
            f"`worldsim train` writes it into the run directory with the run's first checkpoint "
            f"(`worldsim train --resume` on the same --out adds it to an older run), and `worldsim export` copies it"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            bank = {k: data[k] for k in ("frames", "actions", "states")}
            bank.update({k: data[k] for k in (FITTED, FITTED_FOR) if k in data.files})
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: unreadable start-frame bank ({exc})") from None
    return bank


def fit_fingerprint(model) -> np.ndarray:
    """(24,) uint8, ASCII: what a start's frame fit depends on: the filter's weights, the fit's and
    the camera's specs, the fit's own version."""
    digest = hashlib.sha256(latents_fingerprint(model).encode())
    digest.update(json.dumps([FIT_VERSION, model.config.frame_fit, model.config.decoder_view], sort_keys=True).encode())
    return np.frombuffer(digest.hexdigest()[:24].encode(), dtype=np.uint8).copy()


@torch.no_grad()
def write_fitted_starts(directory: str | Path, model, chunk: int = 16) -> int:
    """Store in the bank of `directory` its contexts' last states as `model` reads them with its
    frame fit (`fitted_starts` gives them back to that model alone); returns how many."""
    if model.frame_fit is None:
        raise ValueError("write_fitted_starts: the model fits nothing to its frames (no frame_fit)")
    path = Path(directory) / START_BANK
    bank = {k: v for k, v in load_start_bank(directory).items() if k not in (FITTED, FITTED_FOR)}
    frames, actions = torch.from_numpy(bank["frames"]), torch.from_numpy(bank["actions"])
    states = [
        model.physical_state(model.encode(frames[i : i + chunk], actions[i : i + chunk])).cpu().numpy()
        for i in range(0, len(frames), chunk)
    ]
    tmp = path.with_name(START_BANK + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **bank, **{FITTED: np.concatenate(states).astype(np.float32), FITTED_FOR: fit_fingerprint(model)})
    os.replace(tmp, path)
    return len(frames)


def fitted_starts(bank: dict, model) -> torch.Tensor | None:
    """(N, S) the bank's stored fits (`write_fitted_starts`) where `model` made them, else None."""
    if model.frame_fit is None or FITTED not in bank or FITTED_FOR not in bank:
        return None
    if not np.array_equal(np.asarray(bank[FITTED_FOR]), fit_fingerprint(model)):
        return None
    fitted = bank[FITTED]  # an environment's `Dream` holds its bank as tensors already
    return fitted if isinstance(fitted, torch.Tensor) else torch.from_numpy(np.asarray(fitted))
