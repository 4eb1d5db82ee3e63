"""`worldsim train`."""

from __future__ import annotations

import json

from worldsim.data import Dataset


def add_train(commands) -> None:
    p = commands.add_parser("train", help="train a world model on a dataset")
    p.add_argument("--domain", help="the dataset's domain (checked against it)")
    p.add_argument("--data", required=True, help="dataset directory from `worldsim collect`")
    p.add_argument("--out", required=True, help="run directory: checkpoints, TensorBoard logs, videos")
    p.add_argument("--steps", type=int, default=6000, help="optimizer steps in total (default 6000)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--context", type=int, default=4, help="real frames observed before imagining (default 4)")
    p.add_argument("--horizon", type=int, default=8, help="imagined steps per window, open loop (default 8)")
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints (default 250)")
    p.add_argument("--video-every", type=int, default=1000)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--model", default="{}", help='model size overrides as JSON, e.g. \'{"channels": 8}\'')
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_train)


def run_train(args):
    from worldsim.model.train import TrainConfig, train

    dataset = Dataset(args.data)
    if args.domain and args.domain != dataset.domain:
        raise ValueError(f"--domain {args.domain}: {args.data} holds {dataset.domain!r} data")
    try:
        overrides = json.loads(args.model)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--model is not valid JSON: {exc}") from None
    config = TrainConfig(
        data=args.data, out=args.out, steps=args.steps, batch_size=args.batch_size, context=args.context,
        horizon=args.horizon, lr=args.lr, seed=args.seed, checkpoint_every=args.checkpoint_every,
        video_every=args.video_every, threads=args.threads, model=overrides,
    )  # fmt: skip
    result = train(config, progress=not args.quiet, resume=args.resume)
    if args.json:
        return result
    metrics = result["validation"]
    return (
        f"trained {result['steps']} steps in {result['wall_clock_s'] / 60:.1f} min -> {result['out']}\n"
        + "\n".join(f"  val {k:<12} {v:.4f}" for k, v in metrics.items())
    )
