"""Driving: highway-env (`highway-fast-v0` by default) with Discrete(5) meta-actions.

Camera: an ego-centred top view, `view_m` metres across (40 m by default), with the ego at 30 % from
the left so that more road is visible ahead than behind. At 64x64 a 5 m x 2 m car covers about 8x3
pixels. The scene is drawn at twice the frame size and area-downsampled, which keeps lane markings.

Physical state (float32), in highway-env's world frame (x along the road, y across it, towards the
right-hand lanes; metres, m/s, radians):
  ego_x, ego_y, ego_vx, ego_vy, ego_heading,
  then for each of the `neighbours` nearest other vehicles (nearest first):
  car{k}_present (1 or 0; absent slots are all zero), car{k}_dx, car{k}_dy (position relative to
  the ego), car{k}_vx, car{k}_vy, car{k}_heading.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import gymnasium as gym
import numpy as np

from worldsim.scenario import Scenario
from worldsim.sources.base import Observation, Source, StateField, to_square_frame
from worldsim.sources.driving_script import DrivingScript

ACTIONS = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
LANE_WIDTH_M = 4.0
# highway-env's lane markings (highway_env.road.graphics.LaneGraphics): a dash of 3 m every 4.33 m,
# white lines one screen pixel wide (0.3 m, less than a pixel, drawn at the least width)
STRIPE_SPACING_M = 4.33
STRIPE_LENGTH_M = 3.0
MARKING_COLOUR = (255, 255, 255)
# the source renders highway-env on a screen this many times the frame's size, then shrinks it
SUPERSAMPLE = 2
EGO_FIELDS = ("x", "y", "vx", "vy", "heading")
_UNITS = {"x": "m", "y": "m", "dx": "m", "dy": "m", "vx": "m/s", "vy": "m/s", "heading": "rad", "present": "1"}


def camera(
    neighbours: int = 4,
    view_m: float = 40.0,
    centre: tuple[float, float] = (0.3, 0.5),
    lanes: int | None = 3,
    paint: bool = True,
) -> dict:
    """The source's camera (`worldsim.model.ego_view`): a `view_m`-wide square, the ego at `centre`
    of it, the road along the frame's x (a normalised coordinate is view_m / 2 metres; world +y,
    towards the right-hand lanes, is down the frame, so the view's "ahead" axis is world +y),
    every vehicle a highway-env box of 5 m by 2 m turned by its heading, and the lane markings of
    a straight road of `lanes` lanes LANE_WIDTH_M wide, the first's centre at y = 0: solid edges,
    dashed lines between lanes, a STRIPE_LENGTH_M dash every STRIPE_SPACING_M from x = 0, painted
    in MARKING_COLOUR on a screen SUPERSAMPLE times the frame's size, as the source renders them
    (`worldsim.model.ego_view.PaintedLines`; `paint=False`: the lines' geometry for the decoder only;
    `lanes=None`: no markings, the cars alone, as the camera was before the markings were added).
    Checked against the simulator's frames in tests/test_ego_view.py."""
    half = view_m / 2
    others = [[f"car{k}_present", f"car{k}_dx", f"car{k}_dy", f"car{k}_heading"] for k in range(neighbours)]
    view = {
        "scale": [half, -half],
        "origin": [2 * centre[0] - 1, 2 * centre[1] - 1],
        "bodies": {"length": 5.0, "width": 2.0, "own": "ego_heading", "others": others},
    }
    if lanes is None:
        return view
    edges = [-LANE_WIDTH_M / 2, (lanes - 0.5) * LANE_WIDTH_M]
    view["lines"] = {
        "across": "ego_y",
        "along": "ego_x",
        "solid": edges,
        # a road of one lane has no line between lanes: a dashed line far off the road stands in
        "dashed": [(k + 0.5) * LANE_WIDTH_M for k in range(lanes - 1)] or [edges[0] - view_m],
        "period": STRIPE_SPACING_M,
        "harmonics": 3,
    }
    if paint:
        view["lines"].update(dash=STRIPE_LENGTH_M, paint=list(MARKING_COLOUR), supersample=SUPERSAMPLE)
    return view


CAMERA = camera()


# No car of highway-env's traffic changes into the ego's lane within this far of it along the road
# (`worldsim.model.lanes`: MOBIL refuses a change that would have it brake as hard as a car beside
# the ego must); the crash rule's box length (`worldsim.model.crash.OVERLAP_M`).
MERGE_GAP_M = 5.5


def lanes(neighbours: int = 4, count: int = 3, merge_gap: float | None = MERGE_GAP_M, steering: bool = True) -> dict:
    """The road's lanes (`worldsim.model.lanes`): `count` lanes LANE_WIDTH_M apart, the first's
    centre at y = 0 (highway-fast-v0's road has 3), the ego's place absolute and the others'
    relative to it; with `merge_gap`, no dreamt step moves a car from the next lane onto the ego,
    and with `steering`, the ego changes lanes only under LANE_LEFT and LANE_RIGHT (None and False:
    the lanes the driving weights kept before they had them)."""
    spec = {
        "absolute": "ego_y",
        "relative": [f"car{k}_dy" for k in range(neighbours)],
        "present": [f"car{k}_present" for k in range(neighbours)],
        "width": LANE_WIDTH_M,
        "count": count,
    }
    if merge_gap is not None:
        spec.update({"along": [f"car{k}_dx" for k in range(neighbours)], "merge_gap": merge_gap})
    if steering:
        spec["steering"] = [ACTIONS.index("LANE_LEFT"), ACTIONS.index("LANE_RIGHT")]
    return spec


LANES = lanes()


def lane_index(y) -> np.ndarray:
    """The lane (0 the leftmost) whose centre lies nearest to each lateral place `y` on the road."""
    return np.clip(np.round(np.asarray(y) / LANE_WIDTH_M), 0, LANES["count"] - 1)


def driving_state_fields(neighbours: int) -> tuple[StateField, ...]:
    fields = [StateField(f"ego_{n}", _UNITS[n], f"ego {n} in the road frame") for n in EGO_FIELDS]
    for k in range(neighbours):
        for n in ("present", "dx", "dy", "vx", "vy", "heading"):
            what = "relative to the ego" if n in ("dx", "dy") else "in the road frame"
            fields.append(StateField(f"car{k}_{n}", _UNITS[n], f"{k + 1}-th nearest vehicle: {n} {what}"))
    return tuple(fields)


def nearest_first(states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) states with their vehicle slots listed as highway-env lists them: present vehicles
    nearest first (distance from the ego), absent slots last. A state made elsewhere (a prompt's
    generated scene) may list them in any order; the models learnt from this one, and a decoder
    reading car0 as the nearest draws an out-of-order list as an empty road."""
    states = np.array(states, dtype=np.float32, copy=True)
    slots = sorted({f.split("_")[0] for f in fields if f.startswith("car") and f.endswith("_present")}, key=lambda s: int(s[3:]))
    if not slots:
        return states
    names = ("present", "dx", "dy", "vx", "vy", "heading")
    columns = np.array([[list(fields).index(f"{slot}_{n}") for n in names] for slot in slots])  # (K, 6)
    cars = states[:, columns]  # (N, K, 6)
    distance = np.hypot(cars[..., 1], cars[..., 2])
    order = np.argsort(np.where(cars[..., 0] > 0.5, distance, np.inf), axis=1, kind="stable")
    states[:, columns] = np.take_along_axis(cars, order[..., None], axis=1)
    return states


class DrivingSource(Source):
    domain = "driving"

    def __init__(
        self,
        frame_size: int = 64,
        scenario: Scenario | None = None,
        env_id: str = "highway-fast-v0",
        config: dict[str, Any] | None = None,
        neighbours: int = 4,
        view_m: float = 40.0,
    ):
        super().__init__(frame_size)
        if os.environ.get("SDL_VIDEODRIVER") == "dummy":
            # highway-env's viewer draws nothing under the dummy SDL driver: every frame would be black.
            raise RuntimeError("highway-env renders black frames with SDL_VIDEODRIVER=dummy; unset it")
        import highway_env  # noqa: F401  (registers the highway-env ids)

        self.scenario = scenario
        self.script = DrivingScript(scenario.spec) if scenario else None
        env_id = scenario.spec.get("env_id", env_id) if scenario else env_id
        self.neighbours = neighbours
        self.state_fields = driving_state_fields(neighbours)
        screen = SUPERSAMPLE * frame_size
        render = {
            "screen_width": screen,
            "screen_height": screen,
            "scaling": screen / view_m,
            "centering_position": [0.3, 0.5],  # as `camera` places the ego
        }
        merged = {**(scenario.spec.get("config", {}) if scenario else {}), **(config or {}), **render}
        self.env = gym.make(env_id, render_mode="rgb_array", config=merged)
        self.steps = 0

    def _reset(self, seed):
        if seed is None and self.scenario is not None:
            seed = self.scenario.seed
        self.env.reset(seed=seed)
        if self.script:
            self.script.place(self.core)
        self.steps = 0
        return self._observe(0.0, False, False, {})

    def _step(self, action):
        fired = self.script.fire(self.core, self.steps) if self.script else []
        _, reward, terminated, truncated, info = self.env.step(int(action))
        self.steps += 1
        info = {"crashed": bool(info.get("crashed", False)), "speed": float(info.get("speed", 0.0))}
        if fired:
            info["events"] = fired
        return self._observe(float(reward), bool(terminated), bool(truncated), info)

    def _observe(self, reward, terminated, truncated, info) -> Observation:
        frame = to_square_frame(self.env.render(), self.frame_size)
        # render() arms highway-env's auto-render, which would also draw every intermediate physics
        # frame of the next step (for its video recorder); we only keep one frame per step.
        self.core.enable_auto_render = False
        state = self.physical_state()
        return Observation(frame, state, self.caption(state), reward, terminated, truncated, info)

    def physical_state(self) -> np.ndarray:
        core = self.core
        ego = core.vehicle
        state = np.zeros(len(self.state_fields), dtype=np.float32)
        state[:5] = _kinematics(ego)
        others = [v for v in core.road.vehicles if v is not ego]
        others.sort(key=lambda v: float(np.linalg.norm(v.position - ego.position)))
        for k, other in enumerate(others[: self.neighbours]):
            x, y, vx, vy, heading = _kinematics(other)
            state[5 + 6 * k : 11 + 6 * k] = (1.0, x - state[0], y - state[1], vx, vy, heading)
        return state

    def caption(self, state: np.ndarray) -> str:
        ego = self.core.vehicle
        lanes = len(self.core.road.network.all_side_lanes(ego.lane_index))
        ego_lane = int(ego.lane_index[2])
        speed = float(np.hypot(state[2], state[3]))
        parts = [f"{lanes} lanes", f"ego in the {lane_name(ego_lane, lanes)} at {speed:.0f} m/s"]
        ahead = [state[5 + 6 * k : 11 + 6 * k] for k in range(self.neighbours) if state[5 + 6 * k] > 0 and state[6 + 6 * k] > 0]
        if ahead:
            _, dx, dy, _, vy, _ = min(ahead, key=lambda car: car[1])
            lane = ego_lane + int(round(dy / LANE_WIDTH_M))
            motion = "moving right" if vy > 0.5 else "moving left" if vy < -0.5 else "keeping its lane"
            parts.append(f"a car {dx:.0f} m ahead in the {lane_name(lane, lanes)} {motion}")
        else:
            parts.append("no car close ahead")
        if ego.crashed:
            parts.append("the ego has crashed")
        return "; ".join(parts)

    def branch(self) -> DrivingSource:
        """An independent copy of this source at its current step (highway-env deep-copies)."""
        return copy.deepcopy(self)


def _kinematics(vehicle) -> tuple[float, float, float, float, float]:
    vx, vy = vehicle.speed * np.cos(vehicle.heading), vehicle.speed * np.sin(vehicle.heading)
    return float(vehicle.position[0]), float(vehicle.position[1]), float(vx), float(vy), float(vehicle.heading)


def lane_name(lane: int, lanes: int) -> str:
    if lanes == 3 and 0 <= lane < 3:
        return ("left", "middle", "right")[lane] + " lane"
    if lanes == 2 and 0 <= lane < 2:
        return ("left", "right")[lane] + " lane"
    if 0 <= lane < lanes:
        return f"lane {lane + 1} of {lanes} from the left"
    return "lane beyond the road edge" if lane >= lanes else "lane left of the road"
