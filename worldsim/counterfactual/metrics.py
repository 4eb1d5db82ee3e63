"""How far the imagined counterfactual is from the simulator's, step by step.

Positions come from the state vectors. The ego-centred camera cannot see the ego's absolute place
on the road (the model's estimate of `ego_x` is off by tens of metres from the first frame), so the
ego is scored on its displacement since the branch step, and the other vehicles on their positions
relative to the ego, (dx, dy) — the geometry that decides a collision. The model's state slots are
"nearest first" like the simulator's, but nearness can reorder them, so each real vehicle is matched
to the nearest imagined one (a step where the model sees no vehicle at all counts the real ones as
unmatched). Errors are Euclidean, in metres, averaged over steps like a log-divergence metric
(Waymax's ADE over the horizon).

Positions and frames are compared over the steps both tracks have. A collision is compared where
both outcomes are known: a track that ended at its crash has told its outcome for the whole
horizon, but one that ended without a crash (the real episode's time limit, say `--at 29` of a
30-step episode) says nothing about later steps, so a crash the other track has after that point
counts toward neither agreement nor disagreement. A dream that crashes at 2 s where the simulator
crashes at 4 s agrees on the collision; `time_to_collision_s` holds the difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from worldsim.model.metrics import psnr

CARS_FROM = 5  # state layout: 5 ego fields, then 6 per vehicle (present, dx, dy, vx, vy, heading)


def positions(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ego (2,) in road metres, others (k, 2) relative to the ego) from one driving state vector."""
    cars = state[CARS_FROM:].reshape(-1, 6)
    return state[:2], cars[cars[:, 0] > 0.5, 1:3]


def compare(real, imagined, seconds_per_step: float) -> dict[str, Any]:
    n = min(len(real.frames), len(imagined.frames))
    ego_err, others_err, frame_psnr, unmatched = [], [], [], 0
    start_r, start_i = positions(real.states[0])[0], positions(imagined.states[0])[0]
    for t in range(1, n):  # step 0 is the shared start
        ego_r, cars_r = positions(real.states[t])
        ego_i, cars_i = positions(imagined.states[t])
        ego_err.append(float(np.linalg.norm((ego_r - start_r) - (ego_i - start_i))))
        if len(cars_r) and len(cars_i):
            dists = np.linalg.norm(cars_r[:, None] - cars_i[None], axis=-1)
            others_err.append(float(dists.min(axis=1).mean()))
        unmatched += len(cars_r) if not len(cars_i) else 0
        frame_psnr.append(_psnr(real.frames[t], imagined.frames[t]))
    crash_real, crash_imag = _first(real.crashed), _first(imagined.crashed)
    # Steps over which both tracks' outcomes are known: all of them for a track that crashed.
    known = min(len(t.crashed) if crash is None else np.inf for t, crash in ((real, crash_real), (imagined, crash_imag)))
    crash_real = crash_real if crash_real is not None and crash_real < known else None
    crash_imag = crash_imag if crash_imag is not None and crash_imag < known else None
    return {
        "steps_compared": n - 1,
        "collision_steps_compared": int(known) if np.isfinite(known) else max(len(real.crashed), len(imagined.crashed)),
        "collision_real": crash_real is not None,
        "collision_imagined": crash_imag is not None,
        "collision_imagined_by": imagined.crash_signals[crash_imag] if crash_imag is not None else None,
        "collision_agreement": (crash_real is None) == (crash_imag is None),
        "time_to_collision_s": {
            "real": _seconds(crash_real, seconds_per_step),
            "imagined": _seconds(crash_imag, seconds_per_step),
        },
        "ego_position_error_m": {"per_step": ego_err, "mean": _mean(ego_err)},
        "others_position_error_m": {"per_step": others_err, "mean": _mean(others_err), "unmatched_vehicles": unmatched},
        "frame_psnr": {"per_step": frame_psnr, "mean": _mean(frame_psnr)},
    }


def _first(flags: list[bool]) -> int | None:
    return next((t for t, f in enumerate(flags) if f), None)


def _seconds(step: int | None, seconds_per_step: float) -> float | None:
    return None if step is None else (step + 1) * seconds_per_step  # the crash happens during step `step`


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    import torch

    to = lambda x: torch.tensor(x, device="cpu").permute(2, 0, 1)[None].float() / 255  # noqa: E731
    return float(psnr(to(a), to(b))[0])
