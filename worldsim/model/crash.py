"""Imagined crashes in driving dreams, read off the decoded physical state.

The termination head alone misses most crashes in a dream: 3 imagined steps ahead it finds 6 % of
them, and it never fires when an ego holding its lane runs into slower traffic (the crash a
dream-trained agent drives into; BENCHMARKS.md "Transfer"), so such an agent learns that holding
the lane is free. A driving dream therefore also ends where the imagined state puts another
vehicle's centre within OVERLAP_M of the ego's (cars are 5 m x 2 m).

The rule is exact enough on true states (precision 0.88, recall 0.73) but the state head places
neighbours loosely: on imagined states it fires on 21 % of random-policy steps with precision 0.06,
and head-or-rule finds 48 % of crashes. The dream becomes pessimistic about being close to other
cars, which is the error to prefer when the agent is to drive the real simulator. Measured by
`python -m worldsim.counterfactual.crash_rule data/driving --model driving`; `crash_rule=False`
turns it off. `WorldModel.crash_signal` is where the head and the rule meet; every dream, rollout
and evaluation reads its crashes there.

The state vector is the driving source's: 5 ego fields, then per neighbour (present, dx, dy, ...)
in metres relative to the ego (`worldsim.sources.driving.driving_state_fields`).
"""

from __future__ import annotations

import numpy as np
import torch

OVERLAP_M = (5.5, 2.5)  # |dx|, |dy| below which a neighbour sits on the ego
EGO_FIELDS, NEIGHBOUR_FIELDS = 5, 6


def state_overlap(state: np.ndarray) -> bool:
    """Does a vehicle in one driving state vector sit on the ego?"""
    return bool(states_overlap(torch.as_tensor(np.asarray(state, dtype=np.float32))[None])[0])


def states_overlap(states: torch.Tensor) -> torch.Tensor:
    """(N, D) driving states -> (N,) bool: a present neighbour within OVERLAP_M of the ego."""
    return cars_overlapping(states).any(-1)


def _cars(states: torch.Tensor) -> torch.Tensor:
    """(N, D) driving states -> (N, neighbours, NEIGHBOUR_FIELDS): each neighbour's present, dx, dy, ..."""
    return states[:, EGO_FIELDS:].unflatten(-1, (-1, NEIGHBOUR_FIELDS))


def _check_layout(fields: list[str] | tuple[str, ...]) -> None:
    if list(fields[EGO_FIELDS : EGO_FIELDS + 3]) != ["car0_present", "car0_dx", "car0_dy"]:
        raise ValueError(f"not the driving source's state layout: {list(fields)[:8]}...")


def cars_overlapping(states: torch.Tensor) -> torch.Tensor:
    """(N, D) driving states -> (N, neighbours) bool: which present neighbours sit within OVERLAP_M of the ego."""
    cars = _cars(states)
    return (cars[..., 0] > 0.5) & (cars[..., 1].abs() < OVERLAP_M[0]) & (cars[..., 2].abs() < OVERLAP_M[1])


def cars_on_the_ego(states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) driving states -> (N,) bool: a present vehicle sits on the ego (`states_overlap`),
    a crash before the first step; no highway-env episode starts so (`infeasible_start`)."""
    _check_layout(fields)
    return states_overlap(torch.as_tensor(np.asarray(states, dtype=np.float32))).numpy()


# How far past OVERLAP_M a generated car is still charged (`overlap_penalty`): a generated start is
# put on the lanes after it is made (`scene.as_simulated`), which moves a car up to half a lane (2 m)
# across and so may bring one just outside the box onto the ego.
PENALTY_M = (6.0, 4.0)


def overlap_penalty(states: torch.Tensor, fields: list[str] | tuple[str, ...]) -> torch.Tensor:
    """(N, S) driving states -> (N,) how far present vehicles sit into the ego's box, differentiably:
    per car its presence times the product of how deep it lies within PENALTY_M along and across
    (0 outside, 1 on the ego), summed. What the scene generator is trained away from
    (`worldsim train-text --feasibility`); `cars_on_the_ego` is its verdict. The domain's
    `infeasibility`."""
    _check_layout(fields)
    cars = _cars(states)
    along = torch.relu(1 - cars[..., 1].abs() / PENALTY_M[0])
    across = torch.relu(1 - cars[..., 2].abs() / PENALTY_M[1])
    return (cars[..., 0].clamp(0, 1) * along * across).sum(-1)


# Two other vehicles in one lane closer than this along the road: no highway-env state has them (the
# closest pair in 400 episodes of `data/driving`, every step, lies 21 m apart: IDM keeps its traffic
# spaced), but a conditional VAE averaging where cars could be stacks them, often on top of each other
# (BENCHMARKS.md, "Prompted driving starts the dream ends at once").
QUEUE_M = 20.0  # along the road
LANE_HALF_M = 2.0  # "one lane": |dy| below this (highway-env's lanes are 4 m apart)


def cars_stacked(states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) driving states -> (N,) bool: two present vehicles share a lane closer than QUEUE_M along it."""
    _check_layout(fields)
    cars = _cars(torch.as_tensor(np.asarray(states, dtype=np.float32)))
    i, j = torch.triu_indices(cars.shape[1], cars.shape[1], 1)  # each pair of slots once
    present = cars[..., 0] > 0.5
    along, across = (cars[:, i, 1] - cars[:, j, 1]).abs(), (cars[:, i, 2] - cars[:, j, 2]).abs()
    return (present[:, i] & present[:, j] & (along < QUEUE_M) & (across < LANE_HALF_M)).any(-1).numpy()


def infeasible_start(states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) driving states -> (N,) bool: no highway-env scene starts here: a vehicle on the ego
    (`cars_on_the_ego`) or two stacked in one lane (`cars_stacked`). The domain's `infeasible`."""
    return cars_on_the_ego(states, fields) | cars_stacked(states, fields)


class LatentOverlap:
    """`states_overlap` read straight off latents: the bounds are moved into the model's normalised
    state units once, so a dream step compares the state slice against two vectors instead of
    decoding the state first (the rule then costs the 64-dream latent step a few per cent, not a quarter)."""

    def __init__(self, model):
        n = model.config.state_dim
        # Built on the CPU from the model's normalisation, then moved to the model's device.
        lo, hi = torch.full((n,), -torch.inf, device="cpu"), torch.full((n,), torch.inf, device="cpu")
        first = torch.arange(EGO_FIELDS, n, NEIGHBOUR_FIELDS, device="cpu")  # each neighbour's (present, dx, dy, ...)
        lo[first] = 0.5
        lo[first + 1], hi[first + 1] = -OVERLAP_M[0], OVERLAP_M[0]
        lo[first + 2], hi[first + 2] = -OVERLAP_M[1], OVERLAP_M[1]
        mean, std = model.state_mean.detach().cpu(), model.state_std.detach().cpu()  # std > 0: the order is kept
        device = model.state_mean.device
        self.lo, self.hi = ((lo - mean) / std)[EGO_FIELDS:].to(device), ((hi - mean) / std)[EGO_FIELDS:].to(device)
        self.stop = n

    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        s = latent[:, EGO_FIELDS : self.stop]
        return ((s > self.lo) & (s < self.hi)).unflatten(-1, (-1, NEIGHBOUR_FIELDS)).all(-1).any(-1)
