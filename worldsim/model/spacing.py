"""Generated driving scenes spaced along their lanes as highway-env spaces its traffic.

IDM keeps highway-env's vehicles apart: in the 108,080 states of `data/driving` two vehicles share
a lane closer than `crash.QUEUE_M` (20 m) in 0.1 %, and at no episode's first step
(`scripts/generated_starts.py`). A prompt's generated scene stacks them in most draws (a conditional VAE
averages where cars could be), which the simulator ends within a few steps and the decoder draws as
one car. `spaced_in_lanes` moves them apart by as little as it can, as the lane snap moves a car
onto a lane centre (`scene.as_simulated`); of real states it moves 0.2 % (cars changing lanes,
counted in the lane they round to).
"""

from __future__ import annotations

import numpy as np

from worldsim.model.crash import LANE_HALF_M, QUEUE_M, _check_layout

SPACING_M = QUEUE_M + 0.5  # the spacing made: clear of the `cars_stacked` verdict, rounding included
# The ego lane's nearest car on each side is what a prompt's gap and lead-car speed read: the
# spacing moves the cars beyond it, not it (the weight of its place against the others').
ANCHOR_WEIGHT = 1000.0


def spaced_in_lanes(states: np.ndarray, fields: list[str] | tuple[str, ...], gap: float = SPACING_M) -> np.ndarray:
    """(N, S) driving states with every two present vehicles in one lane at least `gap` apart
    along it, each moved as little as it can be (least squares, their order along the lane kept, the
    ego lane's nearest car ahead and behind weighted to stay put). States without such a pair come
    back unchanged. The driving domain's `state_derived`."""
    _check_layout(fields)
    states = np.array(states, dtype=np.float32, copy=True)
    fields = list(fields)
    slots = sorted({f.split("_")[0] for f in fields if f.startswith("car") and f.endswith("_present")}, key=lambda s: int(s[3:]))
    present = np.stack([states[:, fields.index(f"{s}_present")] > 0.5 for s in slots], 1)
    dx_columns = [fields.index(f"{s}_dx") for s in slots]
    lanes = np.round(np.stack([states[:, fields.index(f"{s}_dy")] for s in slots], 1) / (2 * LANE_HALF_M)).astype(int)
    for row in range(len(states)):
        for lane in np.unique(lanes[row][present[row]]):
            cars = np.flatnonzero(present[row] & (lanes[row] == lane))
            if len(cars) < 2:
                continue
            along = states[row, [dx_columns[k] for k in cars]].astype(np.float64)
            order = np.argsort(along, kind="stable")
            weights = np.ones(len(cars))
            if lane == 0:  # the ego's own lane
                ahead, behind = np.flatnonzero(along[order] >= 0), np.flatnonzero(along[order] < 0)
                weights[ahead[:1]] = weights[behind[-1:]] = ANCHOR_WEIGHT
            placed = spread_apart(along[order], weights, gap)
            for k, x in zip(cars[order], placed, strict=True):
                states[row, dx_columns[k]] = x
    return states


def spread_apart(positions: np.ndarray, weights: np.ndarray, gap: float) -> np.ndarray:
    """Sorted `positions` (K,) moved to the nearest (weighted least squares) places at least `gap`
    apart, in the same order. With z_i = y_i - i * gap the constraint is z non-decreasing, so the
    answer is the weighted isotonic fit of positions_i - i * gap (pool adjacent violators)."""
    offsets = np.arange(len(positions)) * gap
    target = np.asarray(positions, dtype=np.float64) - offsets
    blocks: list[list[float]] = []  # [weighted mean, weight, count]
    for value, weight in zip(target, weights, strict=True):
        blocks.append([value, float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    fitted = np.concatenate([np.full(n, v) for v, _, n in blocks])
    return fitted + offsets
