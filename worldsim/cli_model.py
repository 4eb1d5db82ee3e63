"""`worldsim train`."""

from __future__ import annotations

import json

from worldsim.data import Dataset, open_dataset


def add_train(commands) -> None:
    p = commands.add_parser("train", help="train a world model on a dataset")
    p.add_argument("--domain", help="the dataset's domain (checked against it)")
    p.add_argument(
        "--data",
        required=True,
        help="dataset directory from `worldsim collect`, or several of one domain separated by commas "
        "(e.g. data/driving,data/driving-held), trained on as one",
    )
    p.add_argument(
        "--data-shares",
        default="",
        help="with several --data directories, the share of training windows drawn from each, comma-separated "
        "(e.g. 3,1; default: in proportion to their windows)",
    )
    p.add_argument("--out", required=True, help="run directory: checkpoints, TensorBoard logs, videos")
    p.add_argument("--steps", type=int, default=6000, help="optimizer steps in total (default 6000)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--context", type=int, default=4, help="real frames observed before imagining (default 4)")
    p.add_argument("--horizon", type=int, default=8, help="imagined steps per window, open loop (default 8)")
    p.add_argument(
        "--burn-in",
        type=int,
        default=0,
        help="up to this many steps of the dream's own rollout, without gradients, before the scored "
        "horizon (default 0): trains the model on its own long rollouts",
    )
    p.add_argument(
        "--fresh-starts",
        type=float,
        default=0.0,
        help="share of batches with no burn-in, so the dream's first steps after a filtered latent are "
        "scored often (default 0: the burn-in drawn uniformly)",
    )
    p.add_argument(
        "--event-share",
        type=float,
        default=0.0,
        help="share of each batch drawn as windows holding an episode's termination (default 0: windows as they come)",
    )
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument(
        "--decoder-lr",
        type=float,
        default=0.0,
        help="the decoder's own learning rate (default 0: --lr); a fresh decoder on a fine-tuned model learns faster at 2e-3",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints (default 250)")
    p.add_argument("--video-every", type=int, default=1000)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help='torch device to train on, e.g. "cuda" (default cpu)')
    p.add_argument("--model", default="{}", help="model size overrides as JSON, e.g. '{\"channels\": 8}'")
    p.add_argument(
        "--loss",
        default="{}",
        help='loss weight overrides as JSON, e.g. \'{"motion": 10, "consistency": 1}\' '
        "(the fields of worldsim.model.objective.LossWeights)",
    )
    p.add_argument("--init", default="", help="start from this checkpoint (or built-in domain) instead of fresh weights")
    p.add_argument(
        "--train-only",
        default="",
        help="comma-separated parameter name prefixes that learn, the rest held (e.g. state_delta, the learned "
        "dynamics; default: all)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_train)


def run_train(args):
    from worldsim.model.train import TrainConfig, train

    dataset = open_dataset(args.data)
    if args.domain and args.domain != dataset.domain:
        raise ValueError(f"--domain {args.domain}: {args.data} holds {dataset.domain!r} data")
    overrides, weights = json_flag("--model", args.model), json_flag("--loss", args.loss)
    config = TrainConfig(
        data=args.data,
        out=args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        context=args.context,
        horizon=args.horizon,
        lr=args.lr,
        decoder_lr=args.decoder_lr,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        video_every=args.video_every,
        threads=args.threads,
        device=args.device,
        model=overrides,
        weights=weights,
        burn_in=args.burn_in,
        event_share=args.event_share,
        fresh_starts=args.fresh_starts,
        init=args.init,
        train_only=[p.strip() for p in args.train_only.split(",") if p.strip()],
        data_shares=_shares(args.data_shares),
    )
    result = train(config, progress=not args.quiet, resume=args.resume)
    if "rank" in result:  # a torchrun rank other than 0: rank 0 reports
        return None
    if args.json:
        return result
    metrics = result["validation"]
    return f"trained {result['steps']} steps in {result['wall_clock_s'] / 60:.1f} min -> {result['out']}\n" + "\n".join(
        f"  val {k:<12} {v:.4f}" for k, v in metrics.items()
    )


def _shares(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")] if text.strip() else []
    except ValueError:
        raise ValueError(f"--data-shares {text!r}: expected comma-separated numbers, e.g. 3,1") from None


def json_flag(flag: str, text: str) -> dict:
    """The JSON object an option's `text` holds, or a clear error naming the option `flag`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}")
    return value


def add_eval(commands) -> None:
    p = commands.add_parser("eval", help="score a world model's open-loop predictions on held-out episodes")
    p.add_argument("--checkpoint", required=True, help="checkpoint directory, or a built-in domain name")
    p.add_argument("--data", required=True, help="dataset whose held-out split is scored")
    p.add_argument(
        "--split",
        default="val",
        choices=["val", "all"],
        help="which episodes of --data to score: the training run's held-out split (default), or all "
        "of them for a dataset collected apart from the training data",
    )
    p.add_argument("--ood", help="an out-of-distribution dataset, scored whole")
    p.add_argument("--ks", default="1,5,15,50", help="prediction horizons (default 1,5,15,50)")
    p.add_argument("--alphas", default="0,0.5,1", help="physics blends to sweep (default 0,0.5,1)")
    p.add_argument("--context", type=int, default=4)
    p.add_argument("--windows", type=int, default=128, help="windows per split (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--no-snap",
        action="store_true",
        help="score raw decoder output, not frames snapped to the palette as the environments show them",
    )
    p.add_argument(
        "--long",
        action="store_true",
        help="long-horizon evaluation instead: whole held-out episodes replayed open-loop, judged by realism, "
        "a state probe, motion and terminations (worldsim/model/long_horizon.py)",
    )
    p.add_argument("--horizons", default="1,10,50,100,200", help="--long: horizon buckets (default 1,10,50,100,200)")
    p.add_argument("--episodes", type=int, default=40, help="--long: held-out episodes replayed, at most (default 40)")
    p.add_argument(
        "--probe-data",
        help="--long: a dataset whose frames train the state probe (default: the episodes of --data not replayed)",
    )
    p.add_argument(
        "--controllability-starts",
        type=int,
        default=20,
        help="--long: fresh simulator starts for the scripted action programs (default 20; 0 skips them)",
    )
    p.add_argument(
        "--physics-blend",
        type=float,
        default=1.0,
        help="--long: the dream's physics blend α (default 1: the learned dynamics alone; lower mixes in the physics prior)",
    )
    p.add_argument(
        "--decoder",
        choices=("exact", "distilled"),
        default="exact",
        help="draw with the model's own decoder (default) or the narrower one distilled from it (`worldsim distill`)",
    )
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(run=run_eval)


def run_eval(args):
    import torch

    from worldsim.model.checkpoint import load_model, resolve_checkpoint
    from worldsim.model.distill import with_decoder
    from worldsim.model.evaluate import EvalConfig, evaluate

    path = resolve_checkpoint(args.checkpoint)
    model, meta = load_model(path)
    model = with_decoder(model, path, args.decoder)
    palette = None
    if not args.no_snap:
        from worldsim.model.palette import palette_from_frames
        from worldsim.model.start_bank import load_start_bank

        palette = palette_from_frames(load_start_bank(path)["frames"])
    val_fraction = meta.get("recipe", {}).get("train", {}).get("val_fraction", 0.1)
    if args.long:
        return _run_long_eval(args, path, model, palette, val_fraction)
    try:
        config = EvalConfig(
            ks=tuple(int(k) for k in args.ks.split(",")),
            alphas=tuple(float(a) for a in args.alphas.split(",")),
            context=args.context,
            windows=args.windows,
            seed=args.seed,
            palette=palette,
            val_fraction=val_fraction,
        )
    except ValueError:
        raise ValueError(f"--ks and --alphas are comma-separated numbers, got {args.ks!r} and {args.alphas!r}") from None
    if any(not 0.0 <= a <= 1.0 for a in config.alphas):
        raise ValueError(f"--alphas must lie in [0, 1], got {args.alphas}")
    torch.manual_seed(args.seed)
    report = {
        "checkpoint": str(path),
        "decoder": args.decoder,
        "domain": model.config.domain,
        "context": config.context,
        "ks": list(config.ks),
        "snapped_to_palette": palette is not None,
    }
    datasets = [("held_out", Dataset(args.data), args.split)] + ([("ood", Dataset(args.ood), "all")] if args.ood else [])
    report["splits"] = {}
    for name, data, split in datasets:
        if data.domain != model.config.domain:
            raise ValueError(f"{data.root} holds {data.domain!r} data; the checkpoint is a {model.config.domain!r} model")
        report["splits"][name] = {"data": str(data.root), "episodes": split, **evaluate(model, data, split, config)}
    return report if args.json else format_report(report)


def _run_long_eval(args, path, model, palette, val_fraction: float):
    from worldsim.model.long_horizon import LongEvalConfig, evaluate_long, format_long_report

    try:
        horizons = tuple(int(h) for h in args.horizons.split(","))
    except ValueError:
        raise ValueError(f"--horizons is comma-separated whole numbers, got {args.horizons!r}") from None
    if any(h < 1 for h in horizons) or args.episodes < 1:
        raise ValueError(f"--horizons and --episodes must be at least 1, got {args.horizons!r} and {args.episodes}")
    if args.controllability_starts < 0:
        raise ValueError(f"--controllability-starts must be at least 0, got {args.controllability_starts}")
    if not 0.0 <= args.physics_blend <= 1.0:
        raise ValueError(f"--physics-blend must lie in [0, 1], got {args.physics_blend}")
    config = LongEvalConfig(
        horizons=horizons,
        episodes=args.episodes,
        context=args.context,
        seed=args.seed,
        val_fraction=val_fraction,
        controllability_starts=args.controllability_starts,
        physics_blend=args.physics_blend,
    )
    report = {
        "checkpoint": str(path),
        "decoder": args.decoder,
        "domain": model.config.domain,
        "long": True,
        "snapped_to_palette": palette is not None,
        "probe_data": args.probe_data,
        "controllability_starts": args.controllability_starts,
        "splits": {},
    }
    datasets = [("held_out", Dataset(args.data), args.split)] + ([("ood", Dataset(args.ood), "all")] if args.ood else [])
    for name, data, split in datasets:
        if data.domain != model.config.domain:
            raise ValueError(f"{data.root} holds {data.domain!r} data; the checkpoint is a {model.config.domain!r} model")
        report["splits"][name] = {
            "data": str(data.root),
            "episodes_split": split,
            **evaluate_long(model, data, split, config, palette, Dataset(args.probe_data) if args.probe_data else None),
        }
    if args.json:
        return report
    return "\n\n".join(f"[{name}] {split['data']}\n{format_long_report(split)}" for name, split in report["splits"].items())


def format_report(report: dict) -> str:
    lines = [f"{report['domain']} model {report['checkpoint']} (context {report['context']} frames)"]
    for name, split in report["splits"].items():
        lines.append(f"\n[{name}] {split['data']}: {split['windows']} windows")
        header = f"{'k':>4} {'n':>5} {'copy PSNR':>10} {'pooled':>7} {'copy SSIM':>10}"
        alphas = list(split["model"])
        for a in alphas:
            header += f" {'PSNR a=' + a:>11} {'pooled':>7} {'SSIM a=' + a:>11} {'state a=' + a:>11}"
        lines.append(header)
        for k, base in split["copy_last"]["k"].items():
            row = f"{k:>4} {base['n']:>5} {_num(base['psnr']):>10} {_num(base['psnr_pooled']):>7} {_num(base['ssim'], 3):>10}"
            for a in alphas:
                m = split["model"][a]["k"][k]
                state = sum(m["state_error"].values()) / len(m["state_error"]) if m["state_error"] else None
                row += f" {_num(m['psnr']):>11} {_num(m['psnr_pooled']):>7} {_num(m['ssim'], 3):>11} {_num(state, 3):>11}"
            lines.append(row)
        for a in alphas:
            m = split["model"][a]
            t = m.get("termination", {})
            lines.append(
                f"  a={a}: reward MAE {_num(m.get('reward_mae'), 4)}, termination precision "
                f"{_num(t.get('precision'), 2)} recall {_num(t.get('recall'), 2)} ({t.get('positives', 0)} real)"
            )
    lines.append(
        "\n(PSNR: mean over frames, 100 dB where a frame is exact; pooled: PSNR of the mean squared error"
        "\n over all frames; state: mean absolute error over state fields, in their units; --json has each)"
    )
    return "\n".join(lines)


def _num(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def add_calibrate(commands) -> None:
    p = commands.add_parser(
        "calibrate", help="set where a model's termination head fires, for a wanted recall on held-out episodes"
    )
    p.add_argument("--checkpoint", required=True, help="the trained run (or exported) directory; its config.json is updated")
    p.add_argument("--data", required=True, help="dataset whose episodes are scored")
    p.add_argument("--split", default="val", choices=["val", "all"], help="held-out split of --data (default) or all of it")
    p.add_argument("--recall", type=float, default=0.8, help="share of real terminations to find (default 0.8)")
    p.add_argument("--ahead", type=int, default=1, help="steps imagined before the scored one (default 1)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run_calibrate)


def run_calibrate(args):
    from worldsim.model.calibration import calibrate
    from worldsim.model.checkpoint import read_config

    if args.ahead < 1:
        raise ValueError(f"--ahead must be at least 1, got {args.ahead}")
    val_fraction = read_config(args.checkpoint).get("recipe", {}).get("train", {}).get("val_fraction", 0.1)
    result = calibrate(args.checkpoint, Dataset(args.data), args.split, args.recall, args.ahead, val_fraction)
    if args.json:
        return result
    before = result["before"]
    return (
        f"termination threshold {before['threshold']:.3f} -> {result['threshold']:.3f} (logit), "
        f"{result['ahead']} step(s) ahead on {result['episodes']} episodes ({result['positives']} terminations): "
        f"recall {before['recall']:.2f} -> {result['recall']:.2f}, precision {_num(before['precision'])} -> "
        f"{result['precision']:.2f}; written to {args.checkpoint}/config.json"
    )


def add_export(commands) -> None:
    p = commands.add_parser(
        "export", help="package a trained run as shippable weights with a model card, or (--onnx) export its step graphs"
    )
    p.add_argument("--checkpoint", required=True, help="the trained run directory (with --onnx also a domain's name)")
    p.add_argument("--eval", help="its `worldsim eval --json` report, for the model card")
    p.add_argument("--out", help="target directory, e.g. worldsim/weights/driving")
    p.add_argument("--long-eval", default="", help="its `worldsim eval --long --json` report, for the model card")
    p.add_argument("--notes", default="", help="a markdown file whose text ends the model card")
    p.add_argument(
        "--onnx",
        action="store_true",
        help='instead, export the step graphs of engine="onnx" to the cache ($WORLDSIM_CACHE, default ~/.cache/worldsim)',
    )
    p.set_defaults(run=run_export)


def run_export(args):
    from pathlib import Path

    if args.onnx:
        return _export_onnx(args.checkpoint)
    missing = [flag for flag, value in (("--eval", args.eval), ("--out", args.out)) if not value]
    if missing:
        raise ValueError(f"worldsim export needs {' and '.join(missing)} (or --onnx to export the step graphs)")
    from worldsim.model.card import export

    notes = Path(args.notes).read_text() if args.notes else ""
    out = export(args.checkpoint, args.eval, args.out, notes, long_eval=args.long_eval or None)
    return f"exported {args.checkpoint} -> {out} (model card: {out / 'MODEL_CARD.md'})"


def _export_onnx(checkpoint: str) -> str:
    from worldsim.model.checkpoint import load_model, resolve_checkpoint
    from worldsim.model.onnx_engine import OnnxStep

    model, _ = load_model(resolve_checkpoint(checkpoint))
    paths = [OnnxStep(model, draw, snap_colours=False).path for draw in (False, True)]  # the envs snap in torch
    return "\n".join(f"step graph ready: {path}" for path in paths)
