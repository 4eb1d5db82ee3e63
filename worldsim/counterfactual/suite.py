"""`worldsim counterfactual-suite`: many interventions over every driving scenario file.

For each driving scenario, each branch step in `ats` that its factual episode reaches, and each
meta-action held for `hold` steps, the simulator's and the model's counterfactuals are compared.
Reported: collision agreement rate, the collision rates themselves, and mean position and frame
errors over all runs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from tqdm import tqdm

from worldsim.counterfactual.branch import run_counterfactual
from worldsim.envs.world import check_physics_blend
from worldsim.fanout import check_backend, run_jobs
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.scenario import available_scenarios, load_scenario
from worldsim.sources.driving import ACTIONS


def run_suite(
    checkpoint: str = "driving",
    ats: tuple[int, ...] = (2, 5),
    hold: int = 5,
    physics_blend: float = 1.0,
    progress: bool = True,
    scenarios: list[str] | None = None,
    backend: str = "local",
    address: str | None = None,
) -> dict[str, Any]:
    """`scenarios`: names or paths (default: every driving scenario found). `backend` "ray" runs
    each scenario's counterfactuals as a Ray task (worldsim.fanout); the report is the same."""
    check_physics_blend(physics_blend)  # before loading anything
    check_backend(backend, address)
    path = str(resolve_checkpoint(checkpoint))
    load_model(path, domain="driving")  # a wrong checkpoint fails here, not in every task
    if scenarios is None:
        scenarios = sorted(n for n, p in available_scenarios().items() if load_scenario(p).domain == "driving")
    jobs = [(path, str(s), tuple(ats), hold, physics_blend) for s in scenarios]
    if backend == "local":
        results = [_scenario_runs(*job) for job in tqdm(jobs, desc="counterfactuals", unit="scenario", disable=not progress)]
    else:
        results = run_jobs(_scenario_runs, jobs, backend, address)
    runs = [run for scenario_runs, _ in results for run in scenario_runs]
    skipped = [skip for _, scenario_skipped in results for skip in scenario_skipped]
    return {
        "checkpoint": str(checkpoint),
        "physics_blend": physics_blend,
        "hold": hold,
        "runs": runs,
        "skipped": skipped,
        "summary": summarise(runs),
    }


def _scenario_runs(checkpoint: str, scenario: str, ats: tuple[int, ...], hold: int, physics_blend: float):
    """One scenario's counterfactuals (every branch step and action): its runs and its skips."""
    model = _model(checkpoint)
    runs, skipped = [], []
    for at in ats:
        for action in range(len(ACTIONS)):
            try:
                result = run_counterfactual(scenario, at, [action] * hold, physics_blend=physics_blend, model=model)
            except ValueError as exc:  # the factual episode ended before `at`
                skipped.append({"scenario": scenario, "at": at, "action": ACTIONS[action], "why": str(exc)})
                continue
            runs.append({"scenario": scenario, "at": at, "action": ACTIONS[action], **_row(result.metrics)})
    return runs, skipped


@lru_cache(maxsize=1)
def _model(checkpoint: str):
    """The model, loaded once per process (the driver's, or each Ray worker's)."""
    return load_model(checkpoint, domain="driving")[0]


def _row(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "steps_compared": m["steps_compared"],
        "collision_real": m["collision_real"],
        "collision_imagined": m["collision_imagined"],
        "collision_agreement": m["collision_agreement"],
        "ego_position_error_m": m["ego_position_error_m"]["mean"],
        "others_position_error_m": m["others_position_error_m"]["mean"],
        "frame_psnr": m["frame_psnr"]["mean"],
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key):
        values = [r[key] for r in runs if r[key] is not None]
        return float(np.mean(values)) if values else None

    return {
        "runs": len(runs),
        "collision_agreement": mean("collision_agreement"),
        "collision_rate_real": mean("collision_real"),
        "collision_rate_imagined": mean("collision_imagined"),
        "ego_position_error_m": mean("ego_position_error_m"),
        "others_position_error_m": mean("others_position_error_m"),
        "frame_psnr": mean("frame_psnr"),
    }


def format_suite(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"{'scenario':<15} {'at':>3} {'action':<11} {'crash real':>10} {'imagined':>9} {'ego m':>7} {'others m':>9} {'PSNR':>6}"
    ]
    for r in report["runs"]:
        lines.append(
            f"{r['scenario']:<15} {r['at']:>3} {r['action']:<11} {str(r['collision_real']):>10} "
            f"{str(r['collision_imagined']):>9} {_f(r['ego_position_error_m']):>7} "
            f"{_f(r['others_position_error_m']):>9} {_f(r['frame_psnr'], 1):>6}"
        )
    lines.append(
        f"\n{s['runs']} runs ({len(report['skipped'])} skipped: episode ended before the branch): collision agreement "
        f"{_pct(s['collision_agreement'])} (crash rate real {_pct(s['collision_rate_real'])}, imagined "
        f"{_pct(s['collision_rate_imagined'])}); mean ego error {_f(s['ego_position_error_m'])} m, others "
        f"{_f(s['others_position_error_m'])} m, frame PSNR {_f(s['frame_psnr'], 1)} dB"
    )
    return "\n".join(lines)


def _f(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"
