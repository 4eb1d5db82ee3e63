"""Random fixed-length windows over a dataset split, for world-model training.

All episodes of the split are loaded once into flat in-memory arrays (uint8 frames: ~12 KB per
64x64 frame, so 100k transitions take ~1.2 GB); a batch is then a single fancy-indexing gather,
which keeps the sampler far faster than any training step that consumes it.

A window of `length` L starting at step t holds frames[t : t+L+1], actions[t : t+L],
rewards/terminated[t : t+L] and states[t : t+L+1]. Episodes shorter than L (crashes end early, and
those endings matter most) still yield windows: the tail is padded by repeating the last frame and
state, with `mask` False on the padded steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldsim.data.dataset import Dataset
from worldsim.data.union import DatasetUnion, open_dataset


@dataclass
class Windows:
    frames: np.ndarray  # (B, L+1, H, W, 3) uint8
    actions: np.ndarray  # (B, L) int64 or (B, L, A) float32
    rewards: np.ndarray  # (B, L) float32
    terminated: np.ndarray  # (B, L) bool
    states: np.ndarray  # (B, L+1, S) float32
    mask: np.ndarray  # (B, L) bool: False where the window ran past its episode's end
    episodes: np.ndarray  # (B,) episode index of each window
    starts: np.ndarray  # (B,) first step of each window


class WindowSampler:
    def __init__(
        self,
        dataset: Dataset | DatasetUnion | str | Path,
        length: int,
        split: str = "train",
        val_fraction: float = 0.1,
        progress: bool = False,
        shares: list[float] | None = None,
    ):
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        self.dataset = open_dataset(dataset) if isinstance(dataset, (str, Path)) else dataset
        self.length = length
        indices = self.dataset.indices(split, val_fraction)
        if not indices:
            raise ValueError(f"{self.dataset.root}: the {split!r} split holds no episodes")
        self._index(list(self.dataset.episodes(indices, progress=progress)), np.asarray(indices))
        if shares:
            self._share_out(shares)

    @classmethod
    def from_episodes(cls, episodes: list, length: int) -> WindowSampler:
        """Windows over episodes held in memory (anything with frames, states, actions, rewards and
        terminated arrays laid out as a dataset's episodes), e.g. trajectories an agent just played."""
        if length < 1:
            raise ValueError(f"window length must be >= 1, got {length}")
        if not episodes:
            raise ValueError("from_episodes: no episodes given")
        sampler = cls.__new__(cls)
        sampler.dataset, sampler.length = None, length
        sampler._index(episodes, np.arange(len(episodes)))
        return sampler

    def _index(self, episodes: list, ids: np.ndarray) -> None:
        self.episode_ids = ids
        self.lengths = np.array([len(e.actions) for e in episodes])  # transitions per episode
        # Offsets into the flat per-frame arrays (T+1 rows per episode) and per-step arrays (T rows).
        self.frame_offsets = np.concatenate([[0], np.cumsum(self.lengths + 1)[:-1]])
        self.step_offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.frames = np.concatenate([e.frames for e in episodes])
        self.states = np.concatenate([e.states for e in episodes])
        self.actions = np.concatenate([e.actions for e in episodes])
        self.rewards = np.concatenate([e.rewards for e in episodes])
        self.terminated = np.concatenate([e.terminated for e in episodes])
        # Every start position is equally likely: an episode is drawn in proportion to its starts.
        self.starts_per_episode = np.maximum(self.lengths - self.length + 1, 1)
        self.weights = self.starts_per_episode / self.starts_per_episode.sum()
        # Episodes (positions) that end in a termination: what `sample`'s event_share draws from.
        self.terminal_episodes = np.flatnonzero([len(e.terminated) and bool(e.terminated[-1]) for e in episodes])
        self.terminal_weights = None  # uniform over terminal_episodes

    def _share_out(self, shares: list[float]) -> None:
        """Draw windows from a union's members in the proportions `shares` (one per member, any
        positive scale) rather than in proportion to their windows, the event windows included."""
        members = getattr(self.dataset, "members", None)
        if members is None or len(shares) != len(members):
            count = len(members) if members else 1
            raise ValueError(f"{len(shares)} data shares for {count} dataset(s): give one share per --data directory")
        if any(not np.isfinite(s) or s <= 0 for s in shares):
            raise ValueError(f"data shares must be positive numbers, got {shares}")
        member = np.searchsorted(self.dataset.offsets, self.episode_ids, side="right") - 1
        share = np.asarray(shares, dtype=np.float64) / sum(shares)
        for k in range(len(members)):
            if not (member == k).any():
                raise ValueError(f"{members[k].root}: no episodes in this split, so it cannot have a share of the windows")
        self.weights = self.weights * share[member] / np.bincount(member, self.weights, len(members))[member]
        self.weights /= self.weights.sum()
        if len(self.terminal_episodes):
            ends = member[self.terminal_episodes]
            weights = share[ends] / np.bincount(ends, minlength=len(members))[ends]
            self.terminal_weights = weights / weights.sum()

    @property
    def transitions(self) -> int:
        return int(self.lengths.sum())

    def sample(self, batch_size: int, rng: np.random.Generator, event_share: float = 0.0, event_span: int = 1) -> Windows:
        """`batch_size` windows, every start position equally likely; with `event_share` > 0 that
        share of them (rounded) instead hold an episode's termination on one of their last
        `event_span` steps (windows then run past the episode's end, masked). Terminations are a
        few percent of steps: balanced windows give the termination head enough of them to learn."""
        if not 0.0 <= event_share <= 1.0:
            raise ValueError(f"event_share must lie in [0, 1], got {event_share}")
        events = round(event_share * batch_size) if len(self.terminal_episodes) else 0
        which = rng.choice(len(self.lengths), size=batch_size - events, p=self.weights)
        starts = (rng.random(batch_size - events) * self.starts_per_episode[which]).astype(np.int64)
        if events:
            ends = rng.choice(self.terminal_episodes, size=events, p=self.terminal_weights)
            offsets = rng.integers(0, max(1, min(event_span, self.length)), size=events)
            which = np.concatenate([which, ends])
            starts = np.concatenate([starts, np.maximum(self.lengths[ends] - self.length + offsets, 0)])
        return self.window(which, starts)

    def window(self, which: np.ndarray, starts: np.ndarray) -> Windows:
        """The windows of episodes `which` (positions in this split) starting at `starts`."""
        which, starts = np.asarray(which), np.asarray(starts)
        steps = starts[:, None] + np.arange(self.length)[None, :]  # (B, L)
        last = self.lengths[which][:, None]
        mask = steps < last
        step_idx = self.step_offsets[which][:, None] + np.minimum(steps, last - 1)
        frame_steps = starts[:, None] + np.arange(self.length + 1)[None, :]
        frame_idx = self.frame_offsets[which][:, None] + np.minimum(frame_steps, last)
        return Windows(
            frames=self.frames[frame_idx],
            actions=np.where(_expand(mask, self.actions.ndim), self.actions[step_idx], 0).astype(self.actions.dtype),
            rewards=np.where(mask, self.rewards[step_idx], 0.0).astype(np.float32),
            terminated=mask & self.terminated[step_idx],
            states=self.states[frame_idx],
            mask=mask,
            episodes=self.episode_ids[which],
            starts=starts,
        )


def _expand(mask: np.ndarray, ndim: int) -> np.ndarray:
    """Broadcast a (B, L) mask over trailing action dimensions."""
    return mask.reshape(mask.shape + (1,) * (ndim - 1))
