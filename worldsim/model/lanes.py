"""The road's lanes held in the dream's state (`ModelConfig.lanes`).

highway-env drives every car along a lane's centre line and changes lanes within its 1 s step: in
held-out episodes no car in the camera's view lies more than 1 m off a lane centre. A state read
off 64-pixel frames or stepped by regression is not so kept: the shipped driving model put 38 % of
the cars it filtered, and about half of those it dreamt, more than 1 m off every centre (the
average of the lanes it could not tell apart; `scripts/cars_on_the_ego.py`), and a decoder that
draws the state draws them straddling the lane markings, a thing the simulator never shows. With
`lanes` set, every state the dynamics make has its lateral positions moved to the nearest lane
centre: the ego's own (an absolute field) and each present body's (a field relative to the ego),
the centres being `width` apart from 0, `count` of them. The move is straight-through: a gradient
passes as if nothing had moved, so a model can be adapted or trained with it on.

Optionally (`along`, `merge_gap`) a dreamt step also keeps the traffic from merging onto the ego.
highway-env's traffic changes lanes by MOBIL, which never moves a car into a lane where the ego
runs beside it (the braking it would impose is far past its limit), so a car beside the ego ends
up in the ego's lane only when the ego steers into it. A dream unsure which lane such a car is in
snaps it onto the ego: from real starts the dream's crash rule fired on 8 % of held-out steps at
precision 0.06, the simulator's car in the next lane in 298 of its 381 false alarms, and a prompt's
start with a car just behind in the next lane ended at its first dreamt step in 0.42 of scenes
where highway-env ended none (BENCHMARKS.md, "Driving: traffic that does not merge onto the ego").
So where the step keeps the ego in its lane, a present car the step would put in the ego's lane
within `merge_gap` metres along the road (its `along` field) stays in the lane it was in before
the step. A car already in the ego's lane before the step, or the ego changing lanes, is left to
the snap: those are the crashes highway-env has.

Optionally (`steering`, the discrete actions that may move the ego across lanes) a step under any
other action keeps the ego in the lane it was in: highway-env's ego changes lanes only when told
to (none of 17,007 recorded steps under IDLE, FASTER or SLOWER moved it to another lane), where a
dream could move it a lane at the first step from a prompt's start (0.44 of the starts of "the
nearest car closest behind"; BENCHMARKS.md, "Driving: the ego kept in its lane unless it steers").

A spec: {"absolute": "ego_y", "relative": ["car0_dy", ...], "present": ["car0_present", ...],
"width": 4.0, "count": 3[, "along": ["car0_dx", ...], "merge_gap": 5.5][, "steering": [0, 2]]}
(`worldsim.sources.driving.LANES`).
"""

from __future__ import annotations

from typing import Any

import torch

KEYS = {"absolute", "relative", "present", "width", "count"}
MERGING = {"along", "merge_gap"}  # optional, both or neither
STEERING = "steering"  # optional: the action ids that may move the ego across lanes


def check_lanes(spec: dict[str, Any], fields: list[str] | tuple[str, ...]) -> None:
    """A clear error naming what is wrong with a lanes spec ({} is none)."""
    if not spec:
        return
    optional = MERGING | {STEERING}
    if not isinstance(spec, dict) or not KEYS <= set(spec) <= KEYS | optional or 0 < len(MERGING & set(spec)) < 2:
        raise ValueError(
            f"lanes needs exactly the keys {sorted(KEYS)}, optionally both of {sorted(MERGING)} and {STEERING!r}; got {spec!r}"
        )
    steering = spec.get(STEERING, [])
    if not isinstance(steering, list) or not all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in steering):
        raise ValueError(f"lanes: steering is a list of action ids (whole numbers from 0), got {steering!r}")
    named = [spec["absolute"], *spec["relative"], *spec["present"], *spec.get("along", [])]
    unknown = [name for name in named if name not in fields]
    if unknown:
        raise ValueError(f"lanes: {unknown} are not state fields")
    if len(spec["relative"]) != len(spec["present"]):
        raise ValueError("lanes: one present field for each relative field")
    if "along" in spec and len(spec["along"]) != len(spec["relative"]):
        raise ValueError("lanes: one along field for each relative field")
    if "merge_gap" in spec and not (isinstance(spec["merge_gap"], (int, float)) and spec["merge_gap"] > 0):
        raise ValueError(f"lanes: merge_gap is a positive number of metres, got {spec['merge_gap']!r}")
    if not (isinstance(spec["width"], (int, float)) and spec["width"] > 0):
        raise ValueError(f"lanes: width is a positive number of metres, got {spec['width']!r}")
    if not (isinstance(spec["count"], int) and spec["count"] >= 1):
        raise ValueError(f"lanes: count is a whole number of lanes, at least 1, got {spec['count']!r}")


class Lanes(torch.nn.Module):
    """Moves a state code's lateral positions to the nearest lane centre (see the module's text).
    `columns`: each named field's column in the state code."""

    def __init__(self, spec: dict[str, Any], columns: dict[str, int]):
        super().__init__()
        self.absolute = columns[spec["absolute"]]
        self.register_buffer("relative", torch.tensor([columns[f] for f in spec["relative"]]), persistent=False)
        self.register_buffer("present", torch.tensor([columns[f] for f in spec["present"]]), persistent=False)
        self.width, self.last = float(spec["width"]), float(spec["width"] * (spec["count"] - 1))
        self.merge_gap = float(spec["merge_gap"]) if "merge_gap" in spec else None
        self.steers = STEERING in spec
        self.register_buffer("steering", torch.tensor(spec.get(STEERING, []), dtype=torch.long), persistent=False)
        along = [columns[f] for f in spec.get("along", [])]
        self.register_buffer("along", torch.tensor(along, dtype=torch.long), persistent=False)

    def centre(self, y: torch.Tensor) -> torch.Tensor:
        return (torch.round(y / self.width) * self.width).clamp(0.0, self.last)

    def forward(
        self,
        code: torch.Tensor,
        scale: torch.Tensor,
        shift: torch.Tensor,
        before: torch.Tensor | None = None,
        action: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """A state code (..., D), `scale` and `shift` its units (`WorldModel.code_units`); `before`,
        the state code the dynamics stepped from, keeps the traffic from merging onto the ego where
        the spec has a `merge_gap`, and with `action` (..., A), the step's one-hot action, the ego in
        its lane under an action the spec's `steering` does not name. Each slot is taken for the
        same body before and after: the dynamics step each slot's code by a change, though a model
        scored in the best-matching order (`matched_slots`) may hand a car to another slot, which
        the merge rule then does not follow."""
        units = code * scale + shift
        prior = None if before is None else before * scale + shift
        own = units[..., self.absolute]
        own_lane = self.centre(own)
        if self.steers and prior is not None and action is not None:
            steered = action[..., self.steering].sum(-1) > 0.5
            own_lane = torch.where(steered, own_lane, self.centre(prior[..., self.absolute]))
        others = own.unsqueeze(-1) + units[..., self.relative]  # the bodies' lateral places on the road
        present = units[..., self.present] > 0.5
        lane = self.centre(others)
        if self.merge_gap is not None and prior is not None:
            lane = self._unmerged(lane, own_lane, units[..., self.along], prior)
        moved = torch.where(present, lane - own_lane.unsqueeze(-1), units[..., self.relative])
        snapped = units.clone()
        snapped[..., self.absolute] = own_lane
        snapped[..., self.relative] = moved
        # straight through: forward the snapped code, backward as if nothing moved
        return code + ((snapped - shift) / scale - code).detach()

    def _unmerged(self, lane: torch.Tensor, own_lane: torch.Tensor, along: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
        """Each body's lane (..., K) after a step, with a car the step moved onto the ego (into its
        lane, within `merge_gap` along the road, the ego keeping its lane) kept in its lane before."""
        own_before = self.centre(before[..., self.absolute])
        lane_before = self.centre(before[..., self.absolute].unsqueeze(-1) + before[..., self.relative])
        ego_lane = own_lane.unsqueeze(-1)
        merged = (
            (lane == ego_lane)
            & (lane_before != ego_lane)
            & (own_before == own_lane).unsqueeze(-1)
            & (along.abs() < self.merge_gap)
        )
        return torch.where(merged, lane_before, lane)
