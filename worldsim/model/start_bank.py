"""The bank of real start contexts shipped with a model: what an environment resets from.

Each entry is the first `context` frames of a recorded episode, with the actions between them and
their physical states, so an environment can start a dream from real pixels with no simulator.
Stored as a compressed `.npz` of plain arrays (read with allow_pickle=False). `worldsim train`
writes it into the run directory with the run's first checkpoint; a run's `checkpoint/` reads it
from there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from worldsim.data import Dataset, DatasetUnion
from worldsim.model.checkpoint import CheckpointError

START_BANK = "start_frames.npz"


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
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: unreadable start-frame bank ({exc})") from None
    return bank
