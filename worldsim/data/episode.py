"""One recorded episode, stored as one `.npz` file (numpy arrays only: loading never unpickles).

Arrays, for an episode of T actions:
  frames     (T+1, H, W, 3) uint8   frames[t] is seen before actions[t]
  actions    (T,) int64 | (T, *shape) float32
  rewards    (T,) float32           rewards[t] follows actions[t]
  terminated (T,) bool
  truncated  (T,) bool
  states     (T+1, S) float32
  captions   (T+1,) unicode
  meta       () unicode, JSON: episode index, seeds, behaviour style, scenario events
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ARRAYS = ("frames", "actions", "rewards", "terminated", "truncated", "states", "captions")


class EpisodeError(ValueError):
    """An episode file that cannot be read; the message names the file."""


@dataclass
class Episode:
    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    states: np.ndarray
    captions: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        """The number of transitions (actions taken)."""
        return len(self.actions)

    def validate(self, where: str = "episode") -> None:
        n = len(self.actions)
        expect = {"frames": n + 1, "rewards": n, "terminated": n, "truncated": n, "states": n + 1, "captions": n + 1}
        for name, length in expect.items():
            if len(getattr(self, name)) != length:
                raise EpisodeError(f"{where}: {name} has {len(getattr(self, name))} rows, expected {length}")
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise EpisodeError(f"{where}: frames must be (T+1, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}")

    def save(self, path: Path, scratch: Path) -> None:
        """Write atomically: a temporary file in `scratch` (same filesystem), fsync, then rename."""
        self.validate(str(path))
        scratch.mkdir(parents=True, exist_ok=True)
        tmp = scratch / f"{path.stem}.{os.getpid()}.tmp"
        arrays = {"meta": np.array(json.dumps(self.meta)), **{name: getattr(self, name) for name in ARRAYS}}
        with open(tmp, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Episode:
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in (*ARRAYS, "meta") if k not in data.files]
                if missing:
                    raise EpisodeError(f"{path}: not a WorldSim episode (missing {', '.join(missing)})")
                episode = cls(**{k: data[k] for k in ARRAYS}, meta=json.loads(str(data["meta"])))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            if isinstance(exc, EpisodeError):
                raise
            raise EpisodeError(f"{path}: unreadable episode file ({exc})") from None
        episode.validate(str(path))
        return episode


# A fixed entry date: np.savez stamps each entry with the time of writing, so the same episode
# recorded twice (by another backend, on another day) would differ in its bytes.
_ENTRY_DATE = (1980, 1, 1, 0, 0, 0)


def _write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez_compressed writes (np.load reads it), with reproducible bytes."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ENTRY_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(array), allow_pickle=False)
