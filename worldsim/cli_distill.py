"""`worldsim distill`: a narrower decoder learned from a model's own (worldsim/model/distill.py)."""

from __future__ import annotations


def add_distill(commands) -> None:
    from worldsim.model.distill import DistillConfig

    d = DistillConfig()
    p = commands.add_parser(
        "distill",
        help='learn a narrower decoder from a model\'s own (an approximate, faster path: decoder="distilled")',
    )
    p.add_argument("--checkpoint", required=True, help="a model directory or a built-in domain; the student is written beside it")
    p.add_argument("--data", required=True, help="a dataset of the model's domain: its training split's states are drawn")
    p.add_argument(
        "--channels", type=int, default=d.channels, help=f"the student's width (default {d.channels}; the models' own: 16)"
    )
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"states per step (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam's step size, decayed to a tenth (default {d.lr})")
    p.add_argument(
        "--jitter", type=float, default=d.jitter, help=f"largest noise on a state code, in field stds (default {d.jitter})"
    )
    p.add_argument(
        "--foreground", type=float, default=d.foreground, help=f"weight of pixels off the mean frame (default {d.foreground})"
    )
    p.add_argument("--edges", type=float, default=d.edges, help=f"weight of pixels unlike their neighbours (default {d.edges})")
    p.add_argument(
        "--dreams",
        action="store_true",
        help="also draw the states of the model's own dreams of the training episodes (open-loop, recorded actions)",
    )
    p.add_argument(
        "--init",
        choices=("pruned", "fresh"),
        default=d.init,
        help="start from the teacher's strongest channels (default) or from new weights",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_distill)


def run_distill(args):
    import torch

    from worldsim.model.distill import DistillConfig, distill_for

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = DistillConfig(
        channels=args.channels,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        jitter=args.jitter,
        foreground=args.foreground,
        edges=args.edges,
        dreams=args.dreams,
        init=args.init,
        seed=args.seed,
    )
    report = distill_for(args.checkpoint, args.data, config, progress=not args.quiet)
    if args.json:
        return report
    held = report["held_out"]
    return (
        f"distilled decoder: {report['parameters']['student']:,} parameters (teacher {report['parameters']['teacher']:,}), "
        f"{report['train_states']:,} training states; on {held['states']} held-out states "
        f"{held['psnr_db']:.1f} dB against the teacher, {100 * held.get('pixels_differing', 0):.2f} % of pixels "
        "snapped to another colour"
    )
