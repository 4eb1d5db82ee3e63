"""`worldsim counterfactual` and `worldsim counterfactual-suite`."""

from __future__ import annotations

from worldsim.fanout import add_backend_arguments


def add_counterfactual(commands) -> None:
    p = commands.add_parser("counterfactual", help="what if the ego had acted otherwise from step T (driving)")
    p.add_argument("scenario", help="driving scenario name (e.g. cut_in) or YAML file")
    p.add_argument("--at", type=int, required=True, help="the step at which the alternative actions start")
    p.add_argument(
        "--actions", required=True, help="comma-separated meta-actions: ids 0-4 or LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER"
    )
    p.add_argument("--checkpoint", default="driving", help="world model (default: the shipped driving weights)")
    p.add_argument("--physics-blend", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="the world model's noise seed")
    p.add_argument("--out", required=True, help="directory for counterfactual.mp4 and metrics.json")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_counterfactual_cli)

    s = commands.add_parser("counterfactual-suite", help="many counterfactuals over every driving scenario")
    s.add_argument("--checkpoint", default="driving")
    s.add_argument("--scenarios", nargs="*", help="scenario names or files (default: every driving scenario)")
    s.add_argument("--at", default="2,5", help="branch steps, comma-separated (default 2,5)")
    s.add_argument("--hold", type=int, default=5, help="steps each alternative action is held (default 5)")
    s.add_argument("--physics-blend", type=float, default=1.0)
    add_backend_arguments(s, "run the scenarios one after another")
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(run=run_suite_cli)


def run_counterfactual_cli(args):
    from worldsim.counterfactual import run_counterfactual
    from worldsim.counterfactual.report import write_outputs

    result = run_counterfactual(args.scenario, args.at, args.actions, args.checkpoint, args.physics_blend, args.seed)
    files = write_outputs(result, args.out)
    m = result.metrics
    if args.json:
        return {**files, **m}
    ttc = m["time_to_collision_s"]
    return (
        f"{result.scenario}: branch at step {result.at}, {len(result.actions)} alternative actions, "
        f"{m['steps_compared']} steps compared\n"
        f"  collision real {m['collision_real']} (t={ttc['real']} s), imagined {m['collision_imagined']} "
        f"(t={ttc['imagined']} s), agreement {m['collision_agreement']}\n"
        f"  mean position error: ego {_f(m['ego_position_error_m']['mean'])} m, others "
        f"{_f(m['others_position_error_m']['mean'])} m; frame PSNR {_f(m['frame_psnr']['mean'], 1)} dB\n"
        f"  -> {files['video']}, {files['metrics']}"
    )


def run_suite_cli(args):
    from worldsim.counterfactual.suite import format_suite, run_suite

    try:
        ats = tuple(int(a) for a in args.at.split(","))
    except ValueError:
        raise ValueError(f"--at takes comma-separated steps, got {args.at!r}") from None
    report = run_suite(
        args.checkpoint, ats, args.hold, args.physics_blend, not args.quiet, args.scenarios, args.backend, args.address
    )
    return report if args.json else format_suite(report)


def _f(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"
