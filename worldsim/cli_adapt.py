"""`worldsim adapt`: test-time training measured on whole episodes (worldsim/model/adapt_eval.py)."""

from __future__ import annotations


def add_adapt(commands) -> None:
    p = commands.add_parser(
        "adapt",
        help="what test-time training at reset buys: state error over the next steps of whole episodes, "
        "against gradient steps and milliseconds, with the fitted curve",
    )
    p.add_argument("--domain", help="a built-in domain (its shipped weights)")
    p.add_argument("--checkpoint", help="a model directory")
    p.add_argument("--data", required=True, help="episodes to replay, e.g. data/eval/robotics-near-goal")
    p.add_argument("--context", type=int, default=8, help="real frames given at reset (default 8)")
    p.add_argument("--horizon", type=int, default=50, help="steps scored after the context (default 50)")
    p.add_argument("--steps", default="0,5,10,20", help="gradient steps to compare, 0 = none (default 0,5,10,20)")
    p.add_argument("--weights", choices=("bias", "last_layer"), default="bias", help="what adapts (default bias)")
    p.add_argument(
        "--target",
        choices=("filter", "frames"),
        default="filter",
        help="what the replayed context is fitted to: the filter's reading of the real frames, or the frames "
        "themselves, drawn from the dream's state (models whose decoder reads the state; default filter)",
    )
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's step size (default 0.001)")
    p.add_argument("--holdout", type=int, default=2, help="context frames that judge the fit (default 2)")
    p.add_argument("--no-trust", action="store_true", help="weigh all state fields alike in the loss")
    p.add_argument("--episodes", type=int, help="at most this many episodes (default all long enough)")
    p.add_argument("--marginal", type=float, default=0.005, help="K*: where one more step adds less gain than this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_adapt)


def run_adapt(args):
    import numpy as np
    import torch

    from worldsim.data import Dataset
    from worldsim.model.adapt import AdaptConfig, bank_trust
    from worldsim.model.adapt_eval import AdaptEvalConfig, evaluate_adaptation, format_adapt_report
    from worldsim.model.checkpoint import load_model, resolve_checkpoint
    from worldsim.model.start_bank import load_start_bank

    try:
        steps = tuple(sorted({int(s) for s in args.steps.split(",")}))
    except ValueError:
        raise ValueError(f"--steps must be whole numbers separated by commas, got {args.steps!r}") from None
    if not args.domain and not args.checkpoint:
        raise ValueError("give --domain or --checkpoint")
    adapt = AdaptConfig(weights=args.weights, lr=args.lr, holdout=args.holdout, target=args.target)
    config = AdaptEvalConfig(args.context, args.horizon, steps, adapt, args.episodes, args.seed)
    path = resolve_checkpoint(args.checkpoint or args.domain)
    model, _ = load_model(path, domain=args.domain)
    trust = None
    if not args.no_trust:  # as the envs weigh it: the filter's accuracy on the model's start bank
        trust = bank_trust(model, {k: torch.from_numpy(v) for k, v in load_start_bank(path).items()})
    report = evaluate_adaptation(model, Dataset(args.data), config, trust, progress=not args.json)
    report["checkpoint"] = str(path)
    adapted = [s for s in steps if s > 0]
    if len(adapted) >= 3:
        from worldsim.search.scaling import scaling_fit

        gains = np.array([report["steps"][str(s)]["gain_per_episode"] for s in adapted]).T  # (episodes, steps)
        report["fit"] = scaling_fit(adapted, gains, args.marginal, seed=args.seed)
        report["fit"]["ms"] = [report["steps"][str(s)]["ms_per_reset"]["median"] for s in adapted]
    if args.json:
        return report
    print(format_adapt_report(report))
    if "fit" in report:
        fit = report["fit"]
        print(
            f"fit Q(K) = Q∞ − A·K^−γ over steps {adapted}: Q∞ {fit['q_inf']:+.3f} {fit['interval_90']['q_inf']}, "
            f"γ {fit['gamma']:.2f}, K* {fit['k_star']:.1f} at {fit['marginal']} gain per step"
        )
    return None
