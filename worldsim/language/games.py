"""CarRacing scenes in words: how fast the car goes, whether it is on the track, and which way it
turns. The camera turns with the car, so its world heading never shows in a frame and is not an
attribute; nor are bends ahead: the state records no track geometry (a prompt asking for one is told).
Speeds are CarRacing's own units (a straight under full gas reaches about 95).
"""

from __future__ import annotations

import numpy as np

from worldsim.language.attributes import Attribute, AttributeTable

CAR = ("car", "racer", "we", "you")

ATTRIBUTES = AttributeTable(
    domain="games",
    attributes=(
        Attribute(
            "pace",
            CAR,
            lambda c: np.select([c["speed"] < 2, c["speed"] < 40], [0, 1], 2),
            phrases={
                "standing": ("standing still", "stopped", "at a standstill", "not moving"),
                "slow": ("slow", "going slowly", "rolling slowly", "at low speed"),
                "fast": ("fast", "at speed", "going fast", "at high speed"),
            },
            subject_phrases=("the car", "the racing car", "the red car"),
        ),
        Attribute(
            "track",
            CAR,
            lambda c: np.select([c["wheels_off_track"] < 0.5, c["wheels_off_track"] < 3.5], [0, 1], 2),
            phrases={
                "on the track": ("on the track", "on the road", "on the tarmac", "on course"),
                "partly on the grass": ("partly on the grass", "wheels on the grass", "half off the road", "cutting the edge"),
                "off the track": ("off the track", "on the grass", "off the road", "in the grass"),
            },
            subject_phrases=("the car", "the red car"),
        ),
        Attribute(
            "turning",
            CAR,
            lambda c: np.select([c["angular_velocity"] > 0.3, c["angular_velocity"] < -0.3], [0, 2], 1),
            phrases={
                "turning left": ("turning left", "steering left", "swinging left", "in a left turn"),
                "going straight": ("going straight", "driving straight", "straight ahead", "not turning"),
                "turning right": ("turning right", "steering right", "swinging right", "in a right turn"),
            },
            subject_phrases=("the car", "the racing car"),
        ),
    ),
    unsupported={
        "bend": "the CarRacing state records no track geometry ahead",
        "curve": "the CarRacing state records no track geometry ahead",
        "corner": "the CarRacing state records no track geometry ahead",
        "lap": "lap progress does not show in a frame",
    },
)
