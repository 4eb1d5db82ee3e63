"""The bank of real start contexts shipped with a model: what an environment resets from.

Each entry is the first `context` frames of a recorded episode, with the actions between them and
their physical states, so an environment can start a dream from real pixels with no simulator.
Stored as a compressed `.npz` of plain arrays (read with allow_pickle=False).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from worldsim.data import Dataset

START_BANK = "start_frames.npz"


def write_start_bank(dataset: Dataset, indices: list[int], context: int, directory: Path, count: int = 64, seed: int = 0) -> int:
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
    path = Path(directory) / START_BANK
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no start-frame bank next to the model")
    try:
        with np.load(path, allow_pickle=False) as data:
            bank = {k: data[k] for k in ("frames", "actions", "states")}
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: unreadable start-frame bank ({exc})") from None
    return bank
