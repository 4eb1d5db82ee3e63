"""Scripted driving scenarios on top of highway-env: placing the ego and named vehicles, then firing
timed events (a cut-in, a hard brake, a speed change) at exact steps.

Scripted vehicles are highway-env `IDMVehicle`s: IDM keeps them from rear-ending what is ahead of
them, but their own lane changes are switched off (unless `free: true`) so that the only lane
changes they make are the scripted ones. That is what makes each event reproducible.
"""

from __future__ import annotations

from typing import Any

from highway_env.vehicle.behavior import IDMVehicle

# Random traffic in the same lane within these distances (metres behind, ahead) of a placed vehicle
# is removed: a scenario never starts inside a collision, and a scripted vehicle is not slowed by
# random traffic before its event fires.
EGO_CLEARANCE_M = (12.0, 25.0)
SCRIPTED_CLEARANCE_M = (12.0, 120.0)


class DrivingScript:
    def __init__(self, spec: dict[str, Any]):
        self.spec = spec
        self.vehicles: dict[str, IDMVehicle] = {}

    def place(self, env) -> None:
        """Position the ego and add the scenario's vehicles after `env.reset`."""
        road, ego = env.road, env.vehicle
        self.vehicles = {}
        ego_spec = self.spec.get("ego", {})
        if ego_spec:
            lane_index = (*ego.lane_index[:2], ego_spec.get("lane", ego.lane_index[2]))
            lane = _lane(road, lane_index, "ego.lane")
            longitudinal = ego_spec.get("position", lane.local_coordinates(ego.position)[0])
            ego.position = lane.position(longitudinal, 0.0)
            ego.heading = lane.heading_at(longitudinal)
            ego.lane_index = ego.target_lane_index = lane_index
            ego.lane = lane
            if "speed" in ego_spec:
                ego.speed = float(ego_spec["speed"])
                if hasattr(ego, "speed_to_index"):  # MDPVehicle: snap its speed set-point too
                    ego.speed_index = ego.speed_to_index(ego.speed)
                    ego.target_speed = ego.index_to_speed(ego.speed_index)
                else:
                    ego.target_speed = ego.speed

        ego_s = ego.lane.local_coordinates(ego.position)[0]
        for i, v in enumerate(self.spec.get("vehicles", [])):
            if isinstance(v["lane"], int):
                lane_index = (*ego.lane_index[:2], v["lane"])
                lane = _lane(road, lane_index, f"vehicles[{i}].lane")
                longitudinal = ego_s + v.get("offset", 0.0)
            else:
                lane_index = (str(v["lane"][0]), str(v["lane"][1]), int(v["lane"][2]))
                lane = _lane(road, lane_index, f"vehicles[{i}].lane")
                longitudinal = v.get("position", 0.0)
            vehicle = IDMVehicle(
                road,
                lane.position(longitudinal, 0.0),
                heading=lane.heading_at(longitudinal),
                speed=float(v["speed"]),
                target_lane_index=lane_index,
                target_speed=float(v.get("target_speed", v["speed"])),
                enable_lane_change=bool(v.get("free", False)),
            )
            vehicle.check_collisions = False  # as highway-fast does for all non-ego traffic
            self.vehicles[v["id"]] = vehicle

        zones = [(ego, EGO_CLEARANCE_M)] + [(v, SCRIPTED_CLEARANCE_M) for v in self.vehicles.values()]
        road.vehicles = [other for other in road.vehicles if other is ego or not any(_in_zone(other, *z) for z in zones)] + list(
            self.vehicles.values()
        )

    def fire(self, env, step: int) -> list[str]:
        """Apply the events scheduled for `step` (before the simulator advances); returns what fired."""
        fired = []
        for event in self.spec.get("events", []):
            if event["at_step"] != step:
                continue
            targets = (
                [v for v in env.road.vehicles if v is not env.vehicle]
                if event["vehicle"] == "all"
                else [self.vehicles[event["vehicle"]]]
            )
            for vehicle in targets:
                _apply(event, vehicle, env.vehicle, env.road)
            fired.append(f"{event['vehicle']}:{event['action']}")
        return fired


def _apply(event: dict[str, Any], vehicle, ego, road) -> None:
    action = event["action"]
    if action == "change_lane":
        target = ego.lane_index[2] if event["target_lane"] == "ego" else int(event["target_lane"])
        lane_index = (*vehicle.lane_index[:2], target)
        _lane(road, lane_index, "events.target_lane")
        vehicle.target_lane_index = lane_index
    elif action == "brake":
        # IDM towards a zero (or low) set-point saturates at IDMVehicle.ACC_MAX: a hard brake.
        vehicle.target_speed = float(event.get("target_speed", 0.0))
    elif action == "set_speed":
        vehicle.target_speed = float(event["target_speed"])


def _lane(road, lane_index, field: str):
    try:
        return road.network.get_lane(lane_index)
    except (KeyError, IndexError):
        raise ValueError(f"scenario field {field}: lane {lane_index} does not exist on this road") from None


def _in_zone(vehicle, placed, zone: tuple[float, float]) -> bool:
    if vehicle is placed or vehicle.lane_index != placed.lane_index:
        return False
    ahead = float(vehicle.position[0] - placed.position[0])  # every scenario road runs along +x
    return -zone[0] < ahead < zone[1]
