"""highway-env scenes in words: the ego's lane and speed, how dense the traffic is, the car ahead
in the ego's lane (gap and whether it is slower), and cars beside and behind.

The road of highway-fast-v0 has 3 lanes, 4 m apart, lane 0 (y = 0) the leftmost; the state holds
the ego's kinematics and the 4 nearest vehicles relative to it (`present`, dx, dy, vx, ...).
"""

from __future__ import annotations

import numpy as np

from worldsim.language.attributes import Attribute, AttributeTable, NumberCheck

LANES = 3
LANE_WIDTH = 4.0
NEIGHBOURS = 4
EGO = ("ego", "we", "our car", "my car", "you")
CAR = ("car", "vehicle", "leader", "lead car")
TRAFFIC = ("traffic", "road", "highway")


def _lane(y):
    return np.clip(np.round(np.asarray(y) / LANE_WIDTH), 0, LANES - 1).astype(int)


def _cars(c):
    """(N, 4) arrays: present, dx, dy, vx of the nearest vehicles."""
    get = lambda name: np.stack([c[f"car{k}_{name}"] for k in range(NEIGHBOURS)], 1)  # noqa: E731
    return get("present") > 0.5, get("dx"), get("dy"), get("vx")


def _ahead_in_lane(c):
    """(N,) index of the nearest car ahead in the ego's lane, -1 where there is none."""
    present, dx, dy, _ = _cars(c)
    ahead = present & (dx > 0) & (np.abs(dy) < LANE_WIDTH / 2)
    gap = np.where(ahead, dx, np.inf)
    return np.where(ahead.any(1), gap.argmin(1), -1)


def _gap(c):
    k = _ahead_in_lane(c)
    _, dx, _, _ = _cars(c)
    return np.where(k >= 0, dx[np.arange(len(k)), np.maximum(k, 0)], np.nan)


def _ahead_speed(c):
    k = _ahead_in_lane(c)
    _, _, _, vx = _cars(c)
    relative = vx[np.arange(len(k)), np.maximum(k, 0)] - c["ego_vx"]
    return np.where(k < 0, -1, np.select([relative < -2, relative > 2], [0, 2], 1))


def _density(c):
    present, dx, _, _ = _cars(c)
    near = (present & (np.abs(dx) < 50)).sum(1)
    return np.select([near <= 1, near <= 3], [0, 1], 2)


def _beside(side):
    def read(c):
        present, dx, dy, _ = _cars(c)
        there = present & (np.abs(dx) < 25) & (np.abs(dy - side * LANE_WIDTH) < LANE_WIDTH / 2)
        return np.where(there.any(1), 0, 1)

    return read


def _nearest(c):
    present, dx, _, _ = _cars(c)
    distance = np.where(present, np.abs(dx), np.inf)
    k = distance.argmin(1)
    return np.where(present.any(1), np.where(dx[np.arange(len(k)), k] >= 0, 0, 1), -1)


ATTRIBUTES = AttributeTable(
    domain="driving",
    attributes=(
        Attribute(
            "ego_lane",
            EGO,
            lambda c: _lane(c["ego_y"]),
            phrases={
                "left": ("in the left lane", "in the leftmost lane", "in lane 1", "on the left"),
                "middle": ("in the middle lane", "in the centre lane", "in the center lane", "in lane 2"),
                "right": ("in the right lane", "in the rightmost lane", "in lane 3", "on the right"),
            },
            subject_phrases=("the ego", "the ego car", "our car"),
        ),
        Attribute(
            "ego_speed",
            EGO,
            lambda c: np.hypot(c["ego_vx"], c["ego_vy"]),
            templates=("at {} m/s", "going {} m/s", "driving at {} m/s", "at {} metres per second", "doing {} m/s"),
            unit="m/s",
            low=15,
            high=35,
            tolerance=2.5,
            subject_phrases=("the ego", "the ego car", "our car"),
        ),
        Attribute(
            "ego_pace",
            EGO,
            lambda c: np.select([np.hypot(c["ego_vx"], c["ego_vy"]) < 22, np.hypot(c["ego_vx"], c["ego_vy"]) < 28], [0, 1], 2),
            phrases={
                "slow": ("slow", "driving slowly", "crawling", "going slowly"),
                "cruising": ("cruising", "at a steady speed", "at moderate speed", "at normal speed"),
                "fast": ("fast", "driving fast", "speeding", "at high speed"),
            },
            subject_phrases=("the ego", "the ego car"),
        ),
        Attribute(
            "traffic",
            TRAFFIC,
            _density,
            phrases={
                "light": ("light", "sparse", "empty", "quiet"),
                "moderate": ("moderate", "medium", "some", "normal"),
                "dense": ("dense", "heavy", "busy", "packed"),
            },
            subject_phrases=("traffic", "the traffic", "the road"),
        ),
        Attribute(
            "car_ahead",
            CAR,
            lambda c: np.where(_ahead_in_lane(c) >= 0, 0, 1),
            phrases={
                "a car ahead": ("ahead in our lane", "ahead in the same lane", "in front", "ahead"),
                "no car ahead": ("no car ahead", "nothing ahead", "free lane ahead", "empty lane ahead"),
            },
            relational=True,
            subject_phrases=("a car", "a vehicle"),
        ),
        Attribute(
            "car_ahead_gap",
            CAR,
            _gap,
            templates=("{} m ahead", "{} metres ahead", "{} m in front", "{} meters ahead"),
            unit="m",
            low=0,
            high=120,
            tolerance=5,
            relational=True,
            subject_phrases=("a car", "a vehicle", "the lead car"),
        ),
        Attribute(
            "car_ahead_speed",
            CAR,
            _ahead_speed,
            phrases={
                "slower": ("braking", "slower", "slowing down", "slower than the ego"),
                "same speed": ("at the same speed", "matching our speed", "keeping pace", "as fast as the ego"),
                "faster": ("faster", "pulling away", "faster than the ego", "speeding away"),
            },
            relational=True,
            subject_phrases=("the lead car", "the leading car", "the car in our lane"),
        ),
        Attribute(
            "car_on_left",
            CAR,
            _beside(-1),
            phrases={
                "a car on the left": ("beside us on the left", "alongside on the left", "in the lane to the left"),
                "left lane clear": ("left lane clear", "nobody on the left", "none on the left"),
            },
            relational=True,
            subject_phrases=("a car",),
        ),
        Attribute(
            "nearest_car",
            CAR,
            _nearest,
            phrases={
                "ahead": ("nearest ahead", "closest ahead", "closer ahead than behind"),
                "behind": ("nearest behind", "closest behind", "closer behind than ahead"),
            },
            relational=True,
            subject_phrases=("the nearest car", "the closest car"),
        ),
    ),
    numbers=(
        NumberCheck(r"(-?\d+(?:\.\d+)?)\s*(?:m/s|metres per second|meters per second)", 0, 40, "speed in m/s"),
        NumberCheck(r"(-?\d+(?:\.\d+)?)\s*(?:km/h|kph|mph)", 0, 144, "speed (the model speaks m/s)"),
        NumberCheck(r"\blane (-?\d+)\b", 1, LANES, f"lane number (the road has {LANES} lanes)"),
        NumberCheck(r"\bof (\d+) lanes\b|\b(\d+) lanes\b|\b(\d+)-lane\b", LANES, LANES, "lane count"),
        NumberCheck(r"(-?\d+(?:\.\d+)?)\s*(?:m|metres|meters)\b(?! ?/)", 0, 120, "distance in metres"),
    ),
    unsupported={
        "merge": "merging lanes are not in this road",
        "exit": "this road has no exits",
        "truck": "all vehicles are cars",
    },
)
