"""Imagined crashes in driving dreams, read off the decoded physical state.

The termination head alone misses most crashes an agent drives into: trained on random-policy data,
where crashes mostly come from random lane changes, it almost never fires when an ego holding its
lane runs into slower traffic (recall 0.00 on those crashes, see BENCHMARKS.md "Transfer"), and a
dream-trained agent learns that holding the lane is free. The imagined state does see the gap
closing, so a driving dream also ends where another vehicle's centre sits within OVERLAP_M of the
ego's (cars are 5 m x 2 m). On recorded states of data/driving the rule finds the simulator's
crashes with precision 0.88 and recall 0.73 (`python -m worldsim.counterfactual.crash_rule data/driving`).

The state vector is the driving source's: 5 ego fields, then per neighbour (present, dx, dy, ...)
in metres relative to the ego (`worldsim.sources.driving.driving_state_fields`).
"""

from __future__ import annotations

import numpy as np
import torch

OVERLAP_M = (5.5, 2.5)  # |dx|, |dy| below which a neighbour sits on the ego
EGO_FIELDS, NEIGHBOUR_FIELDS = 5, 6
DOMAINS_WITH_RULE = ("driving",)


def state_overlap(state: np.ndarray) -> bool:
    """Does a vehicle in one driving state vector sit on the ego?"""
    return bool(states_overlap(torch.as_tensor(np.asarray(state, dtype=np.float32))[None])[0])


def states_overlap(states: torch.Tensor) -> torch.Tensor:
    """(N, D) driving states -> (N,) bool: a present neighbour within OVERLAP_M of the ego."""
    cars = states[:, EGO_FIELDS:].reshape(len(states), -1, NEIGHBOUR_FIELDS)
    close = (cars[..., 0] > 0.5) & (cars[..., 1].abs() < OVERLAP_M[0]) & (cars[..., 2].abs() < OVERLAP_M[1])
    return close.any(-1)


def resolve_crash_rule(domain: str, crash_rule: bool | None) -> bool:
    """None is the domain's default (on where a rule exists); True where none exists is an error."""
    if crash_rule is None:
        return domain in DOMAINS_WITH_RULE
    if crash_rule and domain not in DOMAINS_WITH_RULE:
        raise ValueError(f"crash_rule: no state-overlap crash rule for the {domain!r} domain (only {', '.join(DOMAINS_WITH_RULE)})")
    return bool(crash_rule)
