"""Reading a dataset directory written by `collect`: its description, its episodes, its summary."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from worldsim.data.collect import FORMAT, FORMAT_VERSION
from worldsim.data.episode import Episode

GOLDEN = (5**0.5 - 1) / 2


def field_columns(source: dict[str, Any], names: list[str], root, whose: str = "the") -> list[int]:
    """Where each of the state fields `names` sits in the states of a dataset at `root` described
    by `source`; a ValueError names the fields it lacks (`whose` fields: "the model's", say)."""
    have = [f["name"] for f in source["state_fields"]]
    missing = [n for n in names if n not in have]
    if missing:
        raise ValueError(f"{root}: {whose} state fields {missing} are not in the data's ({', '.join(have)})")
    return [have.index(n) for n in names]


def is_validation(index: int, val_fraction: float) -> bool:
    """Held-out split by episode index, stable as a dataset grows.

    The golden-ratio sequence {i * 0.618...} spreads evenly over [0, 1), so any prefix of a dataset
    sends close to `val_fraction` of its episodes to validation, and episode 0 always goes there.
    """
    return (index * GOLDEN) % 1.0 < val_fraction


class Dataset:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta_path = self.root / "dataset.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{self.root}: no dataset.json; not a WorldSim dataset (see `worldsim collect`)")
        try:
            self.description = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{meta_path}: invalid JSON ({exc})") from None
        if self.description.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: format is {self.description.get('format')!r}, expected {FORMAT!r}")
        if self.description.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{meta_path}: format_version {self.description.get('format_version')!r}, this WorldSim reads {FORMAT_VERSION}"
            )
        self._columns: list[int] | None = None  # the state columns read (`with_fields`), None: all

    def with_fields(self, names: list[str]) -> Dataset:
        """This dataset read through the state fields `names`, in that order: a model trained on an
        older recording of its domain (fewer fields) reads newer data so."""
        columns = field_columns(self.source, names, self.root)
        if columns == list(range(len(self.source["state_fields"]))):
            return self
        view = copy.copy(self)
        source = {**self.source, "state_fields": [self.source["state_fields"][c] for c in columns]}
        view.description = {**self.description, "source": source}
        view._columns = columns if self._columns is None else [self._columns[c] for c in columns]
        return view

    @property
    def source(self) -> dict[str, Any]:
        return self.description["source"]

    @property
    def domain(self) -> str:
        return self.source["domain"]

    @property
    def angles(self) -> np.ndarray:
        """(S,) bool: which state fields are angles (unit "rad"), to be measured around the circle."""
        return np.array([f.get("unit") == "rad" for f in self.source["state_fields"]], dtype=bool)

    @cached_property
    def episode_paths(self) -> dict[int, Path]:
        paths = sorted((self.root / "episodes").glob("episode_*.npz"))
        return {int(p.stem.split("_")[1]): p for p in paths}

    def __len__(self) -> int:
        return len(self.episode_paths)

    def indices(self, split: str = "all", val_fraction: float = 0.1) -> list[int]:
        if split not in ("all", "train", "val"):
            raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
        if split == "all":
            return list(self.episode_paths)
        held_out = split == "val"
        return [i for i in self.episode_paths if is_validation(i, val_fraction) == held_out]

    def episode(self, index: int) -> Episode:
        episode = Episode.load(self.episode_paths[index])
        return episode if self._columns is None else dataclasses.replace(episode, states=episode.states[:, self._columns])

    def episodes(self, indices: list[int] | None = None, progress: bool = False) -> Iterator[Episode]:
        chosen = list(self.episode_paths) if indices is None else indices
        for i in tqdm(chosen, desc=f"read {self.root.name}", unit="ep", disable=not progress):
            yield self.episode(i)

    def summary(self, progress: bool = False) -> dict[str, Any]:
        lengths, returns, crashes = [], [], 0
        reward_sum = reward_sq = 0.0
        reward_min, reward_max = np.inf, -np.inf
        styles: dict[str, int] = {}
        for ep in self.episodes(progress=progress):
            lengths.append(len(ep))
            returns.append(float(ep.rewards.sum()))
            crashes += bool(ep.terminated.any())
            reward_sum += float(ep.rewards.sum())
            reward_sq += float((ep.rewards.astype(np.float64) ** 2).sum())
            reward_min = min(reward_min, float(ep.rewards.min(initial=np.inf)))
            reward_max = max(reward_max, float(ep.rewards.max(initial=-np.inf)))
            styles[ep.meta.get("style", "")] = styles.get(ep.meta.get("style", ""), 0) + 1
        n = int(sum(lengths))
        mean = reward_sum / n if n else 0.0
        return {
            "path": str(self.root),
            "domain": self.domain,
            "env_id": self.source["env_id"],
            "scenario": self.description["request"].get("scenario"),
            "episodes": len(lengths),
            "transitions": n,
            "frame_shape": self.source["frame_shape"],
            "action_space": self.source["action_space"],
            "state_fields": [f["name"] for f in self.source["state_fields"]],
            "reward": {
                "mean": mean,
                "std": float(np.sqrt(max(reward_sq / n - mean**2, 0.0))) if n else 0.0,
                "min": reward_min if n else 0.0,
                "max": reward_max if n else 0.0,
            },
            "episode_return": _stats(returns),
            "episode_length": _stats(lengths),
            "terminated_episodes": crashes,
            "behaviour_styles": dict(sorted(styles.items())),
            "split": {"train": len(self.indices("train")), "val": len(self.indices("val"))},
        }


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()), "max": float(a.max())}
