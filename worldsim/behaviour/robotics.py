"""PushT behaviour: reach the block, touch it, push it.

Styles (one per episode, weights in `PushBehaviour.styles`):
- to_goal: pushes the block towards the goal pose from behind, re-planning every few steps.
- scatter: pushes the block in a random direction each plan (moves it all over the table).
- wander:  drifts to random targets, touching the block only by chance.
Targets carry Ornstein-Uhlenbeck noise (`noise` units) so contacts happen at many angles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worldsim.behaviour.base import BehaviourPolicy, OrnsteinUhlenbeck, pick_style
from worldsim.behaviour.programs import Program, change
from worldsim.sources.robotics import GOAL_XY

WORKSPACE = (20.0, 492.0)


@dataclass
class PushBehaviour(BehaviourPolicy):
    styles: dict[str, float] = field(default_factory=lambda: {"to_goal": 0.45, "scatter": 0.4, "wander": 0.15})
    noise: float = 12.0
    standoff: float = 70.0  # how far behind the block centre the push starts
    push_steps: tuple[int, int] = (4, 14)

    def reset(self, rng, source):
        self.rng = rng
        self.style = pick_style(rng, self.styles)
        self.ou = OrnsteinUhlenbeck(rng, 2, theta=0.25, sigma=self.noise)
        self.phase, self.left, self.target, self.direction = "plan", 0, None, np.zeros(2)

    def act(self, source, obs):
        agent, block = obs.state[0:2].astype(float), obs.state[4:6].astype(float)
        if self.style == "wander":
            if self.target is None or np.linalg.norm(agent - self.target) < 15 or self.rng.random() < 0.1:
                self.target = self.rng.uniform(*WORKSPACE, size=2)
            return self._emit(self.target)
        if self.phase == "plan":
            if self.style == "to_goal" and np.linalg.norm(GOAL_XY - block) > 10:
                self.direction = (GOAL_XY - block) / np.linalg.norm(GOAL_XY - block)
            else:
                angle = self.rng.uniform(-np.pi, np.pi)
                self.direction = np.array([np.cos(angle), np.sin(angle)])
            self.phase = "reach"
        if self.phase == "reach":
            approach = block - self.standoff * self.direction
            if np.linalg.norm(agent - approach) < 20:
                self.phase, self.left = "push", int(self.rng.integers(*self.push_steps))
            return self._emit(approach)
        self.left -= 1
        if self.left <= 0:
            self.phase = "plan"
        return self._emit(block + 40.0 * self.direction)

    def _emit(self, target: np.ndarray) -> np.ndarray:
        return np.clip(target + self.ou(), *WORKSPACE).astype(np.float32)


def _move(dx: float, dy: float):
    """Target a fixed offset from the agent's start position."""
    return lambda k, start: np.clip([start["agent_x"] + dx, start["agent_y"] + dy], *WORKSPACE).astype(np.float32)


def _push_direction(start) -> np.ndarray:
    """Unit vector from the agent to the block at the start (+x if they coincide)."""
    offset = np.array([start["block_x"] - start["agent_x"], start["block_y"] - start["agent_y"]])
    norm = float(np.linalg.norm(offset))
    return offset / norm if norm > 1.0 else np.array([1.0, 0.0])


def _push(k, start) -> np.ndarray:
    target = np.array([start["block_x"], start["block_y"]]) + 80.0 * _push_direction(start)
    return np.clip(target, *WORKSPACE).astype(np.float32)


def _pushed(start, now) -> float:
    moved = np.array([now["block_x"] - start["block_x"], now["block_y"] - start["block_y"]])
    return float(moved @ _push_direction(start))


# Controllability programs (`worldsim.behaviour.programs`), 1 step = 0.1 s. Measured in PushT: the
# agent reaches a target 150 units away in ~5 steps (y points down: "up" lowers agent_y); aiming 80
# units beyond the block along the agent-to-block line pushes the block 40-130 units along that line
# within ~8 steps.
PROGRAMS = (
    Program(
        "move right", 10, _move(150, 0), change("agent_x"), sign=1, dead_band=5.0, what="target 150 units right: agent_x rises"
    ),
    Program(
        "move left", 10, _move(-150, 0), change("agent_x"), sign=-1, dead_band=5.0, what="target 150 units left: agent_x falls"
    ),
    Program(
        "move down", 10, _move(0, 150), change("agent_y"), sign=1, dead_band=5.0, what="target 150 units down: agent_y rises"
    ),
    Program("move up", 10, _move(0, -150), change("agent_y"), sign=-1, dead_band=5.0, what="target 150 units up: agent_y falls"),
    Program(
        "push the block",
        15,
        _push,
        _pushed,
        sign=1,
        dead_band=2.0,
        what="target 80 units beyond the block, seen from the agent: the block moves along that line",
    ),
)
