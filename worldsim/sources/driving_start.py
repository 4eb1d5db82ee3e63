"""A driving state made into highway-env's own start, to ask the simulator what follows from it.

A prompt's generated start is judged by the world model that dreams it; whether the same scene
ends at once in the simulator is a second, independent verdict (a dream can put a car on the ego
where highway-env would not, and miss a crash it would have). `simulated_endings` resets
highway-fast-v0, empties its road, puts the ego and each present vehicle of the state where the
state has them (position, speed, heading, the nearest lane as the lane it follows), then leaves
the scene to itself: the ego holds IDLE (its set-point is the state's speed, snapped to the
ego's speed set as highway-env's own ego is), the others drive as highway-env's traffic does.

The state holds the ego's nearest vehicles only (4 in the shipped data), so the road beyond them
is empty: the verdict is for the first steps, where those vehicles are what the ego can reach.
"""

from __future__ import annotations

import numpy as np

from worldsim.sources.driving import ACTIONS

IDLE = ACTIONS.index("IDLE")


def place(core, state: np.ndarray, fields: list[str] | tuple[str, ...]) -> None:
    """Put the vehicles of one driving state (the driving source's layout) on `core`'s road, which
    `core.reset` has made: every other vehicle is removed."""
    from highway_env import utils

    index = {name: i for i, name in enumerate(fields)}
    road, ego = core.road, core.vehicle
    ego_x, ego_y = float(state[index["ego_x"]]), float(state[index["ego_y"]])
    _put(ego, road, ego_x, ego_y, state[index["ego_vx"]], state[index["ego_vy"]], state[index["ego_heading"]])
    if hasattr(ego, "speed_to_index"):  # highway-env's MDPVehicle: its set-point snapped to its speed set
        ego.speed_index = ego.speed_to_index(ego.speed)
        ego.target_speed = ego.index_to_speed(ego.speed_index)
    kind = utils.class_from_path(core.config["other_vehicles_type"])
    others = []
    k = 0
    while f"car{k}_present" in index:
        if state[index[f"car{k}_present"]] > 0.5:
            vehicle = kind(road, np.zeros(2), speed=0.0)
            x, y = ego_x + float(state[index[f"car{k}_dx"]]), ego_y + float(state[index[f"car{k}_dy"]])
            _put(vehicle, road, x, y, state[index[f"car{k}_vx"]], state[index[f"car{k}_vy"]], state[index[f"car{k}_heading"]])
            vehicle.target_speed = vehicle.speed
            vehicle.check_collisions = False  # as highway-fast-v0 makes its traffic
            others.append(vehicle)
        k += 1
    road.vehicles = [ego, *others]


def _put(vehicle, road, x: float, y: float, vx: float, vy: float, heading: float) -> None:
    vehicle.position = np.array([x, y], dtype=float)
    vehicle.heading = float(heading)
    vehicle.speed = float(np.hypot(vx, vy))
    vehicle.lane_index = road.network.get_closest_lane_index(vehicle.position, vehicle.heading)
    vehicle.lane = road.network.get_lane(vehicle.lane_index)
    if hasattr(vehicle, "target_lane_index"):
        vehicle.target_lane_index = vehicle.lane_index
    vehicle.crashed = False


def simulated_endings(states: np.ndarray, fields: list[str] | tuple[str, ...], steps: int, seed: int = 0) -> np.ndarray:
    """(N, S) driving states -> (N, steps) bool: each made highway-fast-v0's start (`place`) and left
    to itself; True from the step the simulator ends the episode (a crash) on."""
    import gymnasium as gym
    import highway_env  # noqa: F401  (registers the highway-env ids)

    env = gym.make("highway-fast-v0")
    ended = np.zeros((len(states), steps), dtype=bool)
    try:
        for i, state in enumerate(np.asarray(states, dtype=np.float32)):
            env.reset(seed=seed + i)
            place(env.unwrapped, state, fields)
            for t in range(steps):
                _, _, terminated, _, _ = env.step(IDLE)
                if terminated:
                    ended[i, t:] = True
                    break
    finally:
        env.close()
    return ended
