"""Robotics: gym-pusht `PushT-v0` (pymunk), Box(2) actions = the target position of the agent.

The PushT workspace is 512 x 512 units (one unit is one pixel of its 512 canvas; y points down in
the frame). The agent is a disc pulled towards the action target by a PD controller (k_p = 100,
k_v = 20); the T-shaped block moves only when pushed. Frames are drawn by PushT at twice the frame
size and area-downsampled: at 64x64 the agent is a ~4 px disc and the T's bars are ~4 px thick.

Physical state (float32): agent_x, agent_y [units], agent_vx, agent_vy [units/s],
block_x, block_y [units], block_angle [rad, wrapped to (-pi, pi]], coverage [0..1] (the fraction of
the green goal area the block covers, from which PushT computes reward and success).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from worldsim.scenario import Scenario
from worldsim.sources.base import Observation, Source, StateField, to_square_frame

STATE_FIELDS = (
    StateField("agent_x", "unit", "agent position, x (PushT's 512-unit workspace)"),
    StateField("agent_y", "unit", "agent position, y (down in the frame)"),
    StateField("agent_vx", "unit/s", "agent velocity, x"),
    StateField("agent_vy", "unit/s", "agent velocity, y"),
    StateField("block_x", "unit", "T block position, x"),
    StateField("block_y", "unit", "T block position, y"),
    StateField("block_angle", "rad", "T block orientation, wrapped to (-pi, pi]"),
    StateField("coverage", "1", "fraction of the goal area covered by the block"),
)
GOAL_POSE = np.array([256.0, 256.0, np.pi / 4])  # PushT's fixed goal T: position and angle
GOAL_XY = GOAL_POSE[:2]


class _Coverage:
    """PushT's own coverage (the share of the goal T's area under the block) for any block pose,
    with gym-pusht's geometry: its T built by `PushTEnv.add_tee` (centre of gravity included) and
    its shapely intersection, as `PushTEnv._get_coverage` computes it (~70 us a pose)."""

    def __init__(self):
        import pymunk
        from gym_pusht.envs.pusht import PushTEnv, pymunk_to_shapely

        self.block, self.shapes = PushTEnv.add_tee(pymunk.Space(), (256, 400), 0)
        self.to_shapely = pymunk_to_shapely
        self.goal = pymunk_to_shapely(PushTEnv.get_goal_pose_body(GOAL_POSE), self.shapes)

    def __call__(self, x: float, y: float, angle: float) -> float:
        # the angle first: pymunk turns a body about its centre of gravity, so setting the position
        # (the body's origin, what PushT records) first would leave it displaced by the turn
        self.block.angle = float(angle)
        self.block.position = (float(x), float(y))
        return self.goal.intersection(self.to_shapely(self.block, self.shapes)).area / self.goal.area


_coverage: _Coverage | None = None


def with_derived_fields(states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) states with `coverage` recomputed from the block's pose, as PushT derives it. A state
    made elsewhere (a prompt's generated scene) carries a coverage of its own, often one no pose
    gives (a block over the goal covering none of it, or a slightly negative share); the decoder
    learnt coverage with the pose it belongs to, and drew such a state as a grey cloud."""
    global _coverage
    _coverage = _coverage or _Coverage()
    states = np.array(states, dtype=np.float32, copy=True)
    fields = list(fields)
    x, y, angle, coverage = (fields.index(n) for n in ("block_x", "block_y", "block_angle", "coverage"))
    states[:, coverage] = [_coverage(*row[[x, y, angle]]) for row in states]
    return states


class RoboticsSource(Source):
    domain = "robotics"
    state_fields = STATE_FIELDS

    def __init__(self, frame_size: int = 64, scenario: Scenario | None = None):
        super().__init__(frame_size)
        import gym_pusht  # noqa: F401  (registers gym_pusht/PushT-v0)

        self.scenario = scenario
        self.env = gym.make(
            "gym_pusht/PushT-v0",
            obs_type="pixels",
            render_mode="rgb_array",
            observation_width=2 * frame_size,
            observation_height=2 * frame_size,
        )

    def _reset(self, seed):
        if self.scenario is None:
            pixels, info = self.env.reset(seed=seed)
        else:
            pixels, info = self._reset_to(self.scenario.seed if seed is None else seed, self.scenario.spec)
        info.setdefault("coverage", self.core._get_coverage())
        return self._observe(pixels, 0.0, False, False, info)

    def _reset_to(self, seed, spec):
        """Start from the scenario's exact agent position and block pose.

        PushT's `reset_to_state` sets the block position before its angle, and the angle turns the
        block about its centre of gravity, so the block ends up displaced by an offset that depends
        only on the angle. One probe reset measures that offset; the second reset compensates it.
        """
        agent, block = np.asarray(spec["agent"], float), np.asarray(spec["block"], float)
        self.env.reset(seed=seed, options={"reset_to_state": [*agent, *block]})
        shift = np.asarray(self.core.block.position) - block[:2]
        return self.env.reset(seed=seed, options={"reset_to_state": [*agent, *(block[:2] - shift), block[2]]})

    def _step(self, action):
        pixels, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(pixels, float(reward), bool(terminated), bool(truncated), info)

    def _observe(self, pixels, reward, terminated, truncated, info) -> Observation:
        agent, velocity, block = info["pos_agent"], info["vel_agent"], info["block_pose"]
        angle = float(np.angle(np.exp(1j * block[2])))
        state = np.array([*agent, *velocity, block[0], block[1], angle, info["coverage"]], dtype=np.float32)
        extra = {"is_success": bool(info.get("is_success", False)), "n_contacts": int(info.get("n_contacts", 0))}
        frame = to_square_frame(pixels, self.frame_size)
        return Observation(frame, state, self.caption(state, extra["n_contacts"]), reward, terminated, truncated, extra)

    @staticmethod
    def caption(state: np.ndarray, contacts: int = 0) -> str:
        ax, ay, vx, vy, bx, by, angle, coverage = (float(v) for v in state)
        goal_dist = float(np.hypot(bx - GOAL_XY[0], by - GOAL_XY[1]))
        moving = "still" if np.hypot(vx, vy) < 5 else f"moving {compass(vx, vy)}"
        touch = "touching the block" if contacts > 0 else f"{np.hypot(ax - bx, ay - by):.0f} units from the block"
        return (
            f"agent at ({ax:.0f}, {ay:.0f}) {moving}, {touch}; "
            f"block at ({bx:.0f}, {by:.0f}) turned {np.degrees(angle):.0f} deg, "
            f"{goal_dist:.0f} units from the goal, covering {100 * coverage:.0f}% of it"
        )


def compass(dx: float, dy: float) -> str:
    """Direction of a vector in frame coordinates (y down), as a compass word."""
    names = ("right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right")
    return names[int(np.round(np.arctan2(dy, dx) / (np.pi / 4))) % 8]
