"""PushT scenes in words: where the T block and the agent are, how the block is turned, how far it
is from the goal, and where the agent is relative to it.

PushT's workspace is 512 units square with y pointing down the frame, and the goal T sits at
(256, 256). Block angle 0 draws the T upright (bar on top); positive angles turn it clockwise in
the frame.
"""

from __future__ import annotations

import numpy as np

from worldsim.language.attributes import Attribute, AttributeTable, NumberCheck, grid_region, region_phrases

SIZE = 512.0
GOAL = (256.0, 256.0)
BLOCK = ("block", "t", "tee")
AGENT = ("agent", "pusher", "disc", "dot", "circle", "end effector", "effector")


def _orientation(c):
    degrees = np.degrees(np.angle(np.exp(1j * c["block_angle"])))  # wrapped: a probe may read past 180
    bins = np.select([np.abs(degrees) <= 45, np.abs(degrees) >= 135, degrees > 0], [0, 1, 2], 3)
    return bins


def _goal(c):
    distance = np.hypot(c["block_x"] - GOAL[0], c["block_y"] - GOAL[1])
    return np.select([distance < 60, distance < 160], [0, 1], 2)


def _agent_block_distance(c):
    return np.hypot(c["agent_x"] - c["block_x"], c["agent_y"] - c["block_y"])


def _side(c):
    dx, dy = c["agent_x"] - c["block_x"], c["agent_y"] - c["block_y"]
    horizontal = np.abs(dx) >= np.abs(dy)
    return np.where(horizontal, np.where(dx < 0, 0, 1), np.where(dy < 0, 2, 3))


ATTRIBUTES = AttributeTable(
    domain="robotics",
    attributes=(
        Attribute(
            "block_region",
            BLOCK,
            lambda c: grid_region(c["block_x"], c["block_y"], SIZE),
            phrases=region_phrases(),
            subject_phrases=("the T block", "the block", "the grey T", "the T"),
        ),
        Attribute(
            "block_orientation",
            BLOCK,
            _orientation,
            phrases={
                "upright": ("upright", "standing upright", "the right way up", "bar on top"),
                "upside down": ("upside down", "upside-down", "flipped", "bar at the bottom"),
                "turned right": ("turned right", "rotated clockwise", "turned clockwise", "lying on its right"),
                "turned left": ("turned left", "rotated counterclockwise", "turned anticlockwise", "lying on its left"),
            },
            subject_phrases=("the T block", "the block", "the T"),
        ),
        Attribute(
            "block_goal",
            BLOCK,
            _goal,
            phrases={
                "on the goal": ("on the goal", "at the goal", "over the target", "covering the goal"),
                "near the goal": ("near the goal", "close to the goal", "next to the target", "beside the goal"),
                "far from the goal": ("far from the goal", "away from the goal", "far from the target", "distant from the goal"),
            },
            subject_phrases=("the T block", "the block"),
        ),
        Attribute(
            "agent_region",
            AGENT,
            lambda c: grid_region(c["agent_x"], c["agent_y"], SIZE),
            phrases=region_phrases(),
            subject_phrases=("the agent", "the pusher", "the blue disc", "the agent disc"),
        ),
        Attribute(
            "agent_contact",
            AGENT,
            lambda c: np.where(_agent_block_distance(c) < 90, 0, 1),
            phrases={
                "at the block": ("touching the block", "at the block", "next to the block", "against the block"),
                "away from the block": (
                    "away from the block",
                    "far from the block",
                    "not touching the block",
                    "clear of the block",
                ),
            },
            relational=True,
            subject_phrases=("the agent", "the pusher", "the blue disc"),
        ),
        Attribute(
            "agent_side",
            AGENT,
            _side,
            phrases={
                "left of the block": ("left of the block", "to the left of the block", "on the block's left"),
                "right of the block": ("right of the block", "to the right of the block", "on the block's right"),
                "above the block": ("above the block", "over the block", "higher than the block"),
                "below the block": ("below the block", "under the block", "lower than the block"),
            },
            relational=True,
            subject_phrases=("the agent", "the pusher", "the blue disc"),
        ),
    ),
    numbers=(
        NumberCheck(r"(-?\d+(?:\.\d+)?)\s*(?:deg|degrees|°)", -180, 360, "block angle in degrees"),
        NumberCheck(r"(-?\d+(?:\.\d+)?)\s*(?:units|px|pixels)", 0, SIZE, "position on the 512-unit table"),
    ),
    unsupported={"speed": "the agent's speed is not a prompt attribute", "goal's": "the goal never moves"},
)
