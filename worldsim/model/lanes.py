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

A spec: {"absolute": "ego_y", "relative": ["car0_dy", ...], "present": ["car0_present", ...],
"width": 4.0, "count": 3} (`worldsim.sources.driving.LANES`).
"""

from __future__ import annotations

from typing import Any

import torch

KEYS = {"absolute", "relative", "present", "width", "count"}


def check_lanes(spec: dict[str, Any], fields: list[str] | tuple[str, ...]) -> None:
    """A clear error naming what is wrong with a lanes spec ({} is none)."""
    if not spec:
        return
    if not isinstance(spec, dict) or set(spec) != KEYS:
        raise ValueError(f"lanes needs exactly the keys {sorted(KEYS)}, got {spec!r}")
    named = [spec["absolute"], *spec["relative"], *spec["present"]]
    unknown = [name for name in named if name not in fields]
    if unknown:
        raise ValueError(f"lanes: {unknown} are not state fields")
    if len(spec["relative"]) != len(spec["present"]):
        raise ValueError("lanes: one present field for each relative field")
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

    def centre(self, y: torch.Tensor) -> torch.Tensor:
        return (torch.round(y / self.width) * self.width).clamp(0.0, self.last)

    def forward(self, code: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """A state code (..., D), `scale` and `shift` its units (`WorldModel.code_units`)."""
        units = code * scale + shift
        own = units[..., self.absolute]
        own_lane = self.centre(own)
        others = own.unsqueeze(-1) + units[..., self.relative]  # the bodies' lateral places on the road
        present = units[..., self.present] > 0.5
        moved = torch.where(present, self.centre(others) - own_lane.unsqueeze(-1), units[..., self.relative])
        snapped = units.clone()
        snapped[..., self.absolute] = own_lane
        snapped[..., self.relative] = moved
        # straight through: forward the snapped code, backward as if nothing moved
        return code + ((snapped - shift) / scale - code).detach()
