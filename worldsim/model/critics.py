"""Two small learned judges of frames, for the long-horizon evaluation of dreams.

Realism (`realism_accuracy`) is a classifier two-sample test: a small CNN learns to tell real frames
(label 1) from dream frames (label 0) and is scored on frames it never saw. Its held-out accuracy
is the number reported: 0.5 means the two sets are indistinguishable to it, 1.0 that it always
tells them apart (below 0.5 is noise around chance). Train and test are each balanced between the
classes, so chance is exactly 0.5. The split is by group (episode): frames of one episode are
near-duplicates of each other, so a frame-level split would let the classifier recognise episodes it
has memorised rather than learn what makes a frame real, and a dream that merely differs episode by
episode would look distinguishable. `realism_control` runs the same test on real frames against
real frames (the episodes split into two halves): its accuracy is the test's floor on that data,
near 0.5; a dream's accuracy is read against it, not against an ideal 0.5.

State (`StateProbe`) is a small CNN regressor fitted on real frames to the simulator's state
vector: applied to dream frames it reads off the state the dream shows, so a dream's state error
can be measured where the model's own state head is not to be trusted. Every field is regressed
alike, "present" flags included.

Both are plain functions of numpy arrays (uint8 frames (N, H, W, 3), H and W multiples of 16),
independent of the world model, and deterministic given a seed on CPU: initialisation, splits and
batch sampling all draw from generators seeded from `seed`, never from the global RNGs. The
recipes are fixed and returned with each result so a number names how it was measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from worldsim.model.device import resolve_device

PREDICT_BATCH = 256  # frames per forward pass in prediction: 10,000 frames never sit in memory as floats


@dataclass(frozen=True)
class RealismRecipe:
    """The realism classifier and how it is trained: conv 3->16->32->64 (3x3, stride 2, ReLU), global
    average and max pools side by side, linear to one logit; Adam, binary cross-entropy, inputs
    scaled to [0, 1]. The max pool is what finds a small object that is there or not (PushT's agent
    disc is a few pixels of a white frame): with the average pool alone the classifier never told
    PushT dreams that had lost the agent from real frames."""

    channels: tuple[int, ...] = (16, 32, 64)
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    test_share: float = 0.3  # of the groups (episodes), held out for the accuracy


@dataclass(frozen=True)
class ProbeRecipe:
    """The state probe and how it is trained: the same conv trunk, its feature map flattened (the
    state is mostly where things are, which a global pool would discard), a hidden layer, linear to
    the state; Adam, mean squared error on the normalised state, a fixed number of steps. On PushT,
    2000 steps on 20,000 frames of 80 episodes read the block's position to ~23 units (spread ~160)
    where 600 steps on 3,000 frames of 10 episodes managed ~40: a probe needs many episodes."""

    channels: tuple[int, ...] = (16, 32, 64)
    hidden: int = 256
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3


# ---------------------------------------------------------------------------------------------
# Shared pieces


def _check_frames(frames: np.ndarray, name: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name}: frames must be (N, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"{name}: frames must be uint8, got {frames.dtype}")
    if frames.shape[1] % 16 or frames.shape[2] % 16 or frames.shape[1] == 0 or frames.shape[2] == 0:
        raise ValueError(f"{name}: frame height and width must be multiples of 16, got {frames.shape[1:3]}")
    if len(frames) == 0:
        raise ValueError(f"{name}: no frames")
    return frames


def _trunk(channels: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    previous = 3
    for width in channels:
        layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.ReLU()]
        previous = width
    return nn.Sequential(*layers)


def _build(make, generator: torch.Generator) -> nn.Module:
    # Module construction draws its default initialisation from the global RNG: that draw is fenced
    # off, and the weights redrawn (PyTorch's default scheme) from the seeded generator.
    with torch.random.fork_rng(devices=[]):
        net = make()
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(module.weight[0].numel())
            nn.init.uniform_(module.bias, -bound, bound, generator=generator)
    return net


def _to_input(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    # uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-0.5, 0.5], converted per batch to keep memory
    # small. Centred: on a white table in [0, 1] the probe sat at the mean answer for hundreds of steps.
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float() / 255.0 - 0.5


def _fit(
    net: nn.Module,
    frames: np.ndarray,
    targets: torch.Tensor,
    loss_fn,
    steps: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    device: torch.device,
) -> None:
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(steps):
        index = torch.randint(len(frames), (min(batch_size, len(frames)),), generator=generator)
        batch = _to_input(frames[index.numpy()], device)
        loss = loss_fn(net(batch), targets[index].to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    net.eval()


@torch.no_grad()
def _predict(net: nn.Module, frames: np.ndarray, device: torch.device) -> np.ndarray:
    outputs = [net(_to_input(frames[i : i + PREDICT_BATCH], device)).cpu() for i in range(0, len(frames), PREDICT_BATCH)]
    return torch.cat(outputs).numpy()


# ---------------------------------------------------------------------------------------------
# Realism: a classifier two-sample test


class _Classifier(nn.Module):
    def __init__(self, recipe: RealismRecipe):
        super().__init__()
        self.trunk = _trunk(recipe.channels)
        self.head = nn.Linear(2 * recipe.channels[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)
        return self.head(torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], 1)).squeeze(1)


def split_groups(groups_real, groups_dream, test_share: float = 0.3, seed: int = 0) -> tuple[list, list]:
    """(train groups, test groups), disjoint, each holding at least one real and one dream group.

    Groups are sorted into those both sets hold (a dream replaying a recorded episode shares its id),
    those only the real set holds and those only the dream set holds; each kind is shuffled with the
    seed and about `test_share` of it goes to test, at least one group to each side where it has two
    or more. A lone shared group goes to test and a lone one-sided group to train, which keeps both
    classes on both sides whenever each set has two groups. A ValueError names the counts otherwise.
    """
    real, dream = np.unique(np.asarray(groups_real)), np.unique(np.asarray(groups_dream))
    if len(real) < 2 or len(dream) < 2:
        raise ValueError(
            f"the realism test needs at least 2 groups (episodes) in each set to hold some out, "
            f"got {len(real)} real and {len(dream)} dream"
        )
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must be in (0, 1), got {test_share}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for kind, lone_to_test in (
        (np.intersect1d(real, dream), True),
        (np.setdiff1d(real, dream), False),
        (np.setdiff1d(dream, real), False),
    ):
        kind = kind[rng.permutation(len(kind))].tolist()
        if len(kind) == 1:
            n_test = 1 if lone_to_test else 0
        else:
            n_test = min(max(round(test_share * len(kind)), 1), len(kind) - 1)
        test += kind[:n_test]
        train += kind[n_test:]
    return sorted(train), sorted(test)


def _balanced(index_real: np.ndarray, index_dream: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Subsample the larger class so both hold equally many frames and chance is exactly 0.5.
    n = min(len(index_real), len(index_dream))
    return np.sort(rng.choice(index_real, n, replace=False)), np.sort(rng.choice(index_dream, n, replace=False))


def realism_accuracy(
    real: np.ndarray,
    dream: np.ndarray,
    groups_real,
    groups_dream,
    recipe: RealismRecipe = RealismRecipe(),
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Held-out accuracy of a small CNN telling `real` (label 1) from `dream` (label 0) frames.

    `groups_real` / `groups_dream` give each frame's group (episode id); groups are split between
    train and test whole (`split_groups`), and each side is balanced between the classes. Returns
    {"accuracy", "n_train", "n_test" (frames, both classes), "test_groups", "train_groups", "recipe"}.
    """
    real, dream = _check_frames(real, "real"), _check_frames(dream, "dream")
    if real.shape[1:] != dream.shape[1:]:
        raise ValueError(f"real frames are {real.shape[1:]}, dream frames {dream.shape[1:]}: they must match")
    groups_real, groups_dream = np.asarray(groups_real), np.asarray(groups_dream)
    for name, groups, frames in (("groups_real", groups_real, real), ("groups_dream", groups_dream, dream)):
        if groups.shape != (len(frames),):
            raise ValueError(f"{name} must name one group per frame: shape {groups.shape}, {len(frames)} frames")
    device = resolve_device(device)
    train_groups, test_groups = split_groups(groups_real, groups_dream, recipe.test_share, seed)
    rng = np.random.default_rng([seed, 1])

    def side(groups: list) -> tuple[np.ndarray, np.ndarray]:
        real_index, dream_index = _balanced(
            np.flatnonzero(np.isin(groups_real, groups)), np.flatnonzero(np.isin(groups_dream, groups)), rng
        )
        frames = np.concatenate([real[real_index], dream[dream_index]])
        labels = np.concatenate([np.ones(len(real_index), np.float32), np.zeros(len(dream_index), np.float32)])
        return frames, labels

    train_frames, train_labels = side(train_groups)
    test_frames, test_labels = side(test_groups)

    generator = torch.Generator().manual_seed(seed)
    net = _build(lambda: _Classifier(recipe), generator).to(device)
    _fit(
        net,
        train_frames,
        torch.from_numpy(train_labels),
        F.binary_cross_entropy_with_logits,
        recipe.steps,
        recipe.batch_size,
        recipe.lr,
        generator,
        device,
    )
    predicted = _predict(net, test_frames, device) > 0
    return {
        "accuracy": float(np.mean(predicted == (test_labels > 0.5))),
        "n_train": len(train_frames),
        "n_test": len(test_frames),
        "test_groups": [_plain(g) for g in test_groups],
        "train_groups": [_plain(g) for g in train_groups],
        "recipe": asdict(recipe),
    }


def realism_control(
    real: np.ndarray,
    groups,
    recipe: RealismRecipe = RealismRecipe(),
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """The realism test on real frames alone: the groups (episodes) split at random into two halves,
    "real" and "other", told apart as real and dream are. Its accuracy is the test's floor on this
    data (near 0.5). Needs at least 4 groups. Returns `realism_accuracy`'s dict plus "other_groups"."""
    real = _check_frames(real, "real")
    groups = np.asarray(groups)
    if groups.shape != (len(real),):
        raise ValueError(f"groups must name one group per frame: shape {groups.shape}, {len(real)} frames")
    unique = np.unique(groups)
    if len(unique) < 4:
        raise ValueError(f"the realism control needs at least 4 groups (episodes) to split in two halves, got {len(unique)}")
    other = np.sort(np.random.default_rng([seed, 2]).permutation(unique)[: len(unique) // 2])
    is_other = np.isin(groups, other)
    result = realism_accuracy(real[~is_other], real[is_other], groups[~is_other], groups[is_other], recipe, seed, device)
    result["other_groups"] = [_plain(g) for g in other]
    return result


def _plain(value):
    # numpy scalars -> Python ones, so the result serialises to JSON as it is.
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------------------------
# State read off the pixels: a probe


class _Regressor(nn.Module):
    def __init__(self, recipe: ProbeRecipe, frame_shape: tuple[int, int], state_dim: int):
        super().__init__()
        self.trunk = _trunk(recipe.channels)
        height, width = frame_shape
        for _ in recipe.channels:  # each stride-2 conv (padding 1) halves a side, rounding up
            height, width = (height + 1) // 2, (width + 1) // 2
        cells = height * width
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(recipe.channels[-1] * cells, recipe.hidden), nn.ReLU(), nn.Linear(recipe.hidden, state_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


class StateProbe:
    """A CNN that reads the state vector off a frame, fitted on real frames (`StateProbe.fit`).
    Angle fields are read as their cosine and sine (a network that outputs an angle must jump where
    it wraps, and reads PushT's block orientation barely above chance)."""

    def __init__(
        self, net: _Regressor, mean: np.ndarray, std: np.ndarray, frame_shape: tuple[int, int], recipe, device, angles=None
    ):
        self.net, self.mean, self.std = net, mean, std
        self.frame_shape, self.recipe, self.device = frame_shape, recipe, device
        self.angles = np.zeros(len(mean), bool) if angles is None else np.asarray(angles, bool)

    @staticmethod
    def _targets(states: np.ndarray, mean: np.ndarray, std: np.ndarray, angles: np.ndarray) -> np.ndarray:
        # normalised fields; each angle's slot holds its cosine, its sine appended after the rest
        targets = (states - mean) / std
        targets[:, angles] = np.cos(states[:, angles])
        return np.concatenate([targets, np.sin(states[:, angles])], 1).astype(np.float32)

    @classmethod
    def fit(
        cls,
        frames: np.ndarray,
        states: np.ndarray,
        recipe: ProbeRecipe = ProbeRecipe(),
        seed: int = 0,
        device: str | torch.device = "cpu",
        angles: np.ndarray | None = None,
    ) -> StateProbe:
        """Fit on `frames` (N, H, W, 3) uint8 and their `states` (N, S). The target is the state
        normalised by the training states' mean and std (a constant field keeps std 1); fields marked
        in `angles` (S,) bool are learned as (cos, sin)."""
        frames = _check_frames(frames, "frames")
        states = np.asarray(states, dtype=np.float32)
        if states.ndim != 2 or len(states) != len(frames):
            raise ValueError(f"states must be (N, S) with one row per frame: shape {states.shape}, {len(frames)} frames")
        if not np.isfinite(states).all():
            raise ValueError("states hold non-finite values")
        device = resolve_device(device)
        angles = np.zeros(states.shape[1], bool) if angles is None else np.asarray(angles, bool)
        if angles.shape != (states.shape[1],):
            raise ValueError(f"angles must mark each of the {states.shape[1]} state fields, got shape {angles.shape}")
        mean = states.mean(0)
        std = states.std(0)
        std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
        generator = torch.Generator().manual_seed(seed)
        outputs = states.shape[1] + int(angles.sum())
        net = _build(lambda: _Regressor(recipe, frames.shape[1:3], outputs), generator).to(device)
        targets = torch.from_numpy(cls._targets(states, mean, std, angles))
        _fit(net, frames, targets, F.mse_loss, recipe.steps, recipe.batch_size, recipe.lr, generator, device)
        return cls(net, mean, std, tuple(frames.shape[1:3]), recipe, device, angles)

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """(N, S) float32 states read off `frames`, in the states' units."""
        frames = _check_frames(frames, "frames")
        if tuple(frames.shape[1:3]) != self.frame_shape:
            raise ValueError(f"the probe was fitted on {self.frame_shape} frames, got {tuple(frames.shape[1:3])}")
        out = _predict(self.net, frames, self.device)
        S = len(self.mean)
        states = out[:, :S] * self.std + self.mean
        states[:, self.angles] = np.arctan2(out[:, S:], out[:, :S][:, self.angles])
        return states.astype(np.float32)

    def errors(self, frames: np.ndarray, states: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        """(N, S) absolute error of each frame's read-off state against `states`; fields marked in
        `angles` (S,) bool are measured around the circle."""
        states = np.asarray(states, dtype=np.float32)
        if states.shape != (len(frames), len(self.mean)):
            raise ValueError(f"states must be ({len(frames)}, {len(self.mean)}), got {states.shape}")
        return absolute_difference(self.predict(frames), states, angles)

    def error(self, frames: np.ndarray, states: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        """(S,) mean absolute error per field (angles around the circle where marked)."""
        return self.errors(frames, states, angles).mean(0)


def absolute_difference(a: np.ndarray, b: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
    """|a - b|, with the fields marked in `angles` (bool, the last axis) measured around the circle:
    +179 and -179 degrees are 2 degrees apart."""
    difference = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if angles is not None:
        difference = np.where(angles, np.angle(np.exp(1j * difference)), difference)
    return np.abs(difference).astype(np.float32)
