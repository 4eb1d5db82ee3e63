"""`worldsim play`."""

from __future__ import annotations

from worldsim import domains


def add_play(commands) -> None:
    p = commands.add_parser("play", help="play a world model (or the real simulator, or both) in a window")
    p.add_argument("--domain", choices=domains.names(), help="shipped weights of this domain")
    p.add_argument("--checkpoint", help="a trained run instead of the shipped weights")
    p.add_argument("--mode", default="dream", choices=["dream", "real", "both"], help="TAB switches while playing")
    p.add_argument("--physics-blend", type=float, default=1.0, help="starting α ([ and ] change it)")
    p.add_argument("--step-hz", type=float, help="world steps per second (default: the domain's viewing rate)")
    p.add_argument("--fps", type=int, default=60, help="display frames per second at most (0: unlimited)")
    p.add_argument("--scale", type=int, default=8, help="window pixels per frame pixel (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-frames", type=int, help="stop after this many display frames")
    p.add_argument("--record", help="record from the start into this .mp4 or .gif")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_play)


def run_play(args):
    from worldsim.play import PlayConfig, PlaySession

    if not args.domain and not args.checkpoint:
        raise ValueError("give --domain (shipped weights) or --checkpoint")
    config = PlayConfig(
        domain=args.domain,
        checkpoint=args.checkpoint,
        mode=args.mode,
        physics_blend=args.physics_blend,
        step_hz=args.step_hz,
        fps=args.fps,
        scale=args.scale,
        seed=args.seed,
        max_frames=args.max_frames,
        record=args.record,
    )
    result = PlaySession(config).run()
    if args.json:
        return result
    videos = f", recorded {', '.join(result['videos'])}" if result["videos"] else ""
    return f"{result['domain']}: {result['frames']} frames at {result['fps']:.0f} FPS, {result['steps']} steps{videos}"
