"""The one interface over ground-truth simulators.

A `Source` wraps a real simulator and, per step, yields what the world model learns from: a square
RGB uint8 frame, the reward and episode flags, the physical state as a float32 vector with named,
documented fields, and a one-line caption of the scene written from that state.

Frame convention: `reset` returns the first frame; every `step(action)` returns the frame after the
action. An episode of T actions therefore has T + 1 frames, states and captions.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class StateField:
    name: str
    unit: str
    description: str


@dataclass
class Observation:
    """What a source shows after `reset` or `step`."""

    frame: np.ndarray  # (size, size, 3) uint8
    state: np.ndarray  # (len(state_fields),) float32
    caption: str
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class Source(abc.ABC):
    """A real simulator seen through WorldSim's data contract.

    Subclasses create the Gymnasium env they wrap as `self.env`, and implement `_reset`/`_step`.
    """

    domain: str = "any"
    state_fields: tuple[StateField, ...] = ()
    env: gym.Env

    def __init__(self, frame_size: int = 64):
        if not isinstance(frame_size, int) or frame_size < 8:
            raise ValueError(f"frame_size must be an integer >= 8, got {frame_size!r}")
        self.frame_size = frame_size
        self.last: Observation | None = None

    @property
    def action_space(self) -> gym.Space:
        return self.env.action_space

    @property
    def env_id(self) -> str:
        """The Gymnasium id of the simulator underneath."""
        return self.env.spec.id

    @property
    def core(self):
        """The simulator itself, under Gymnasium's wrappers (for behaviour policies and branching)."""
        return self.env.unwrapped

    @abc.abstractmethod
    def _reset(self, seed: int | None) -> Observation: ...

    @abc.abstractmethod
    def _step(self, action) -> Observation: ...

    def reset(self, seed: int | None = None) -> Observation:
        self.last = self._checked(self._reset(seed))
        return self.last

    def step(self, action) -> Observation:
        if self.last is None:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset()")
        if self.last.terminated or self.last.truncated:
            raise RuntimeError(f"{type(self).__name__}.step() called after the episode ended; call reset()")
        if not self.action_space.contains(_as_action(action, self.action_space)):
            raise ValueError(f"action {action!r} is outside the action space {self.action_space}")
        self.last = self._checked(self._step(_as_action(action, self.action_space)))
        return self.last

    def _checked(self, observation: Observation) -> Observation:
        """The observation, once its state holds one value per declared field: a dataset records
        the fields' names beside the states, and a mismatch would shift every column after it."""
        if observation.state.shape != (len(self.state_fields),):
            raise RuntimeError(
                f"{type(self).__name__} observed a state of shape {observation.state.shape}, "
                f"but declares {len(self.state_fields)} state fields"
            )
        return observation

    def close(self) -> None:
        self.env.close()

    def describe(self) -> dict[str, Any]:
        """Everything a dataset or checkpoint needs to know about this source's data."""
        return {
            "domain": self.domain,
            "env_id": self.env_id,
            "frame_shape": [self.frame_size, self.frame_size, 3],
            "action_space": space_to_json(self.action_space),
            "state_fields": [vars(f) for f in self.state_fields],
        }

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _as_action(action, space: gym.Space):
    if isinstance(space, gym.spaces.Discrete):
        return np.int64(action)
    return np.asarray(action, dtype=space.dtype)


def space_to_json(space: gym.Space) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "box",
            "shape": list(space.shape),
            "low": space.low.tolist(),
            "high": space.high.tolist(),
            "dtype": str(space.dtype),
        }
    raise TypeError(f"WorldSim records Discrete and Box action spaces only, not {type(space).__name__}")


def space_from_json(spec: dict[str, Any]) -> gym.Space:
    if spec["type"] == "discrete":
        return gym.spaces.Discrete(spec["n"])
    if spec["type"] == "box":
        return gym.spaces.Box(
            low=np.array(spec["low"], dtype=spec["dtype"]),
            high=np.array(spec["high"], dtype=spec["dtype"]),
            dtype=spec["dtype"],
        )
    raise ValueError(f"unknown action space type {spec['type']!r}")


def to_square_frame(image: np.ndarray, size: int) -> np.ndarray:
    """Letterbox an RGB image to a square and downsample it with area averaging.

    Area averaging (PIL's BOX filter) keeps thin, small objects (lane markings, distant cars)
    visible as blended pixels, where nearest or bilinear sampling would drop them.
    """
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    h, w = image.shape[:2]
    if h != w:
        side = max(h, w)
        canvas = np.zeros((side, side, 3), dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        canvas[top : top + h, left : left + w] = image
        image = canvas
    if image.shape[0] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BOX))
