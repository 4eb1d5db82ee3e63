"""Keyboard bindings for `gymnasium.utils.play.play` (pygame key codes -> actions)."""

from __future__ import annotations

import numpy as np


def keys_to_action(domain: str) -> dict[tuple[int, ...], object]:
    import pygame

    if domain == "driving":
        # highway-env's own manual control: up/down change lane, right/left speed up/slow down.
        return {
            (): 1,
            (pygame.K_UP,): 0,
            (pygame.K_DOWN,): 2,
            (pygame.K_RIGHT,): 3,
            (pygame.K_LEFT,): 4,
        }
    if domain == "games":
        steer = {(): 0.0, (pygame.K_LEFT,): -1.0, (pygame.K_RIGHT,): 1.0}
        pedal = {(): (0.0, 0.0), (pygame.K_UP,): (1.0, 0.0), (pygame.K_DOWN,): (0.0, 0.8)}
        return {tuple(sorted(s + p)): np.array([sv, *pv], dtype=np.float32) for s, sv in steer.items() for p, pv in pedal.items()}
    raise ValueError(
        f"no fixed key bindings for the {domain!r} domain: its action is a target position "
        "(use `worldsim play`, which follows the mouse)"
    )
