"""Several dataset directories of one source read as one: `worldsim train --data A,B`.

A behaviour that one recording lacks (drivers who hold an action until it ends the episode) is
best collected on its own, into its own directory, and trained on beside the main recording rather
than instead of it: a model fine-tuned on the new episodes alone forgets what only the main ones
show. The union numbers its episodes one member after another; each member keeps its own
train/validation split (by its own episode indices), so an episode is held out in the union
exactly when it is held out in its directory.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from worldsim.data.dataset import Dataset
from worldsim.data.episode import Episode

# What the members must share: a model reads the same pixels, actions and state fields from each.
_SAME = ("domain", "env_id", "frame_shape", "action_space", "state_fields", "frame_skip")


def open_dataset(spec: str | Path) -> Dataset | DatasetUnion:
    """The dataset in directory `spec`, or the union of the comma-separated directories it names."""
    roots = [part.strip() for part in str(spec).split(",")]
    if len(roots) == 1:
        return Dataset(roots[0])
    if not all(roots):
        raise ValueError(f"--data {spec!r}: an empty directory name between commas")
    if len(set(roots)) != len(roots):
        raise ValueError(f"--data {spec!r}: a directory is named twice")
    return DatasetUnion(roots)


class DatasetUnion:
    """The episodes of several `Dataset`s of one source, numbered one member after another."""

    def __init__(self, roots: list[str | Path]):
        if len(roots) < 2:
            raise ValueError("a dataset union needs at least two directories")
        self.members = [Dataset(root) for root in roots]
        self.root = Path(",".join(str(m.root) for m in self.members))  # named in errors as given
        first = self.members[0]
        for member in self.members[1:]:
            for key in _SAME:
                if member.source.get(key) != first.source.get(key):
                    raise ValueError(
                        f"{member.root} and {first.root} cannot be trained on together: their {key} differ "
                        f"({member.source.get(key)!r} against {first.source.get(key)!r})"
                    )
        # Member k's episode i is the union's episode offsets[k] + i.
        spans = [max(m.episode_paths, default=-1) + 1 for m in self.members]
        self.offsets = [int(o) for o in np.concatenate([[0], np.cumsum(spans)[:-1]])]

    @property
    def description(self) -> dict[str, Any]:
        return self.members[0].description

    @property
    def source(self) -> dict[str, Any]:
        return self.members[0].source

    @property
    def domain(self) -> str:
        return self.members[0].domain

    @property
    def angles(self) -> np.ndarray:
        return self.members[0].angles

    def __len__(self) -> int:
        return sum(len(m) for m in self.members)

    def indices(self, split: str = "all", val_fraction: float = 0.1) -> list[int]:
        return [offset + i for m, offset in zip(self.members, self.offsets, strict=True) for i in m.indices(split, val_fraction)]

    def _locate(self, index: int) -> tuple[Dataset, int]:
        k = bisect.bisect_right(self.offsets, index) - 1
        member, local = self.members[max(k, 0)], index - self.offsets[max(k, 0)]
        if index < 0 or local not in member.episode_paths:
            raise KeyError(f"{self.root}: no episode {index}")
        return member, local

    def episode(self, index: int) -> Episode:
        member, local = self._locate(index)
        return member.episode(local)

    def episodes(self, indices: list[int] | None = None, progress: bool = False) -> Iterator[Episode]:
        chosen = self.indices() if indices is None else indices
        for i in tqdm(chosen, desc="read datasets", unit="ep", disable=not progress):
            yield self.episode(i)

    def summary(self, progress: bool = False) -> dict[str, Any]:
        """The members' summaries added up, each member's own kept under "members"."""
        parts = [m.summary(progress) for m in self.members]
        episodes, transitions = [p["episodes"] for p in parts], [p["transitions"] for p in parts]
        styles = sum((Counter(p["behaviour_styles"]) for p in parts), Counter())
        first = parts[0]
        return {
            **{k: first[k] for k in ("domain", "env_id", "frame_shape", "action_space", "state_fields")},
            "path": str(self.root),
            "scenario": first["scenario"],
            "episodes": sum(episodes),
            "transitions": sum(transitions),
            "reward": _pooled([p["reward"] for p in parts], transitions),  # per step
            "episode_return": _pooled([p["episode_return"] for p in parts], episodes),
            "episode_length": _pooled([p["episode_length"] for p in parts], episodes),
            "terminated_episodes": sum(p["terminated_episodes"] for p in parts),
            "behaviour_styles": dict(sorted(styles.items())),
            "split": {s: sum(p["split"][s] for p in parts) for s in ("train", "val")},
            "members": parts,
        }


def _pooled(stats: list[dict[str, float]], counts: list[int]) -> dict[str, float]:
    """Mean, standard deviation, min and max of groups pooled from each group's own."""
    n = sum(counts)
    if not n:
        return {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
    mean = sum(s["mean"] * c for s, c in zip(stats, counts, strict=True)) / n
    second = sum((s["std"] ** 2 + s["mean"] ** 2) * c for s, c in zip(stats, counts, strict=True)) / n
    live = [s for s, c in zip(stats, counts, strict=True) if c]
    return {
        "mean": mean,
        "std": float(np.sqrt(max(second - mean**2, 0.0))),
        "min": min(s["min"] for s in live),
        "max": max(s["max"] for s in live),
    }
