"""Checking actions before they reach the model: a bad action is a clear error, never a silent cast."""

from __future__ import annotations

import numbers

import gymnasium as gym
import numpy as np


def check_action(space: gym.Space, action) -> np.ndarray:
    """The action as an array the model takes, or TypeError/ValueError naming what is wrong."""
    if isinstance(space, gym.spaces.Discrete):
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (numbers.Integral, np.ndarray)):
            raise TypeError(f"action must be an integer in [0, {space.n}), got {type(action).__name__} {action!r}")
        array = np.asarray(action)
        if array.shape != () or not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"action must be a single integer in [0, {space.n}), got array {array.dtype} {array.shape}")
        if not 0 <= int(array) < space.n:
            raise ValueError(f"action {int(array)} is outside the action space [0, {space.n})")
        return np.int64(array)
    if isinstance(space, gym.spaces.Box):
        try:
            array = np.asarray(action)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"action must be a numeric array of shape {space.shape}: {exc}") from None
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)) or array.dtype == bool:
            raise TypeError(f"action must be a numeric array of shape {space.shape}, got dtype {array.dtype}")
        if array.shape != space.shape:
            raise ValueError(f"action must have shape {space.shape}, got {array.shape}")
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise ValueError(f"action contains NaN or infinity: {array}")
        if (array < space.low).any() or (array > space.high).any():
            raise ValueError(f"action {array} is outside the action space [{space.low}, {space.high}]")
        return array
    raise TypeError(f"unsupported action space {space}")


def check_actions(space: gym.Space, actions, num: int) -> np.ndarray:
    """`check_action` for a batch of `num` actions at once (one vectorised check, not a loop)."""
    try:
        array = np.asarray(actions)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"actions must be an array of {num} actions: {exc}") from None
    if isinstance(space, gym.spaces.Discrete):
        if array.shape != (num,) or not np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
            raise TypeError(f"actions must be {num} integers, got {array.dtype} array of shape {array.shape}")
        bad = (array < 0) | (array >= space.n)
        if bad.any():
            raise ValueError(f"action {int(array[bad][0])} (env {int(np.flatnonzero(bad)[0])}) is outside [0, {space.n})")
        return array.astype(np.int64)
    if isinstance(space, gym.spaces.Box):
        if array.dtype == bool or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"actions must be numeric, got dtype {array.dtype}")
        if array.shape != (num, *space.shape):
            raise ValueError(f"actions must have shape {(num, *space.shape)}, got {array.shape}")
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise ValueError("actions contain NaN or infinity")
        outside = ((array < space.low) | (array > space.high)).reshape(num, -1).any(1)
        if outside.any():
            env = int(np.flatnonzero(outside)[0])
            raise ValueError(f"action {array[env]} (env {env}) is outside the action space [{space.low}, {space.high}]")
        return array
    raise TypeError(f"unsupported action space {space}")
