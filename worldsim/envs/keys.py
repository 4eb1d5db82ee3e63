"""Keyboard bindings for `gymnasium.utils.play.play` (pygame key codes -> actions).

`play` rejects an empty key combination: the action for "no key held" is `noop_action(domain)`,
given as `play(env, noop=noop_action(domain))` (play's own default, 0, is a lane change in driving
and no action at all in the games' continuous space).
"""

from __future__ import annotations

import numpy as np


def keys_to_action(domain: str) -> dict[tuple[int, ...], object]:
    import pygame

    if domain == "driving":
        # highway-env's own manual control: up/down change lane, right/left speed up/slow down.
        return {(pygame.K_UP,): 0, (pygame.K_DOWN,): 2, (pygame.K_RIGHT,): 3, (pygame.K_LEFT,): 4}
    if domain == "games":
        steer = {(): 0.0, (pygame.K_LEFT,): -1.0, (pygame.K_RIGHT,): 1.0}
        pedal = {(): (0.0, 0.0), (pygame.K_UP,): (1.0, 0.0), (pygame.K_DOWN,): (0.0, 0.8)}
        return {
            tuple(sorted(s + p)): np.array([sv, *pv], dtype=np.float32)
            for s, sv in steer.items()
            for p, pv in pedal.items()
            if s + p
        }
    raise _no_bindings(domain)


def noop_action(domain: str):
    """The action while no bound key is held: driving's IDLE, no steering, gas or brake in the games."""
    if domain == "driving":
        return 1
    if domain == "games":
        return np.zeros(3, dtype=np.float32)
    raise _no_bindings(domain)


def calm_action(domain: str, state_fields: list[str], states: np.ndarray) -> np.ndarray:
    """(N, ...) actions that leave N scenes to themselves: the no-op where the domain has one, and
    for PushT, whose action is a target position, each agent's own position in `states` (N, S)."""
    states = np.atleast_2d(states)
    if domain == "robotics":
        agent = [state_fields.index("agent_x"), state_fields.index("agent_y")]
        return states[:, agent].astype(np.float32)
    action = np.asarray(noop_action(domain))
    return np.broadcast_to(action, (len(states), *action.shape)).copy()


def _no_bindings(domain: str) -> ValueError:
    if domain == "robotics":
        return ValueError(
            f"no fixed key bindings for the {domain!r} domain: its action is a target position "
            "(use `worldsim play`, which follows the mouse)"
        )
    return ValueError(f"no key bindings for the {domain!r} domain: give play(env, keys_to_action=..., noop=...)")
