"""`worldsim bench`: WorldSim environments against the real simulators, measured in one command.

Each domain's source is driven by its behaviour policy for `--steps` steps at the given frame size
(resetting when an episode ends); the first episode's start-up is excluded from the timing. Then
the domain's world model (shipped weights, or `--checkpoint`) is timed as a single env with pixel
observations and as a vector env of `--num-envs` with pixel and with latent observations, and each
rate is reported as a ratio to the simulator's. With `--dataset DIR`, it also measures how fast
`WindowSampler` serves training batches from DIR.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from worldsim import domains
from worldsim.behaviour import default_policy
from worldsim.data import WindowSampler
from worldsim.model.checkpoint import CheckpointError
from worldsim.model.device import resolve_device
from worldsim.model.onnx_engine import ENGINES
from worldsim.sources import make_source


def source_steps_per_second(domain: str, steps: int, frame_size: int = 64, seed: int = 0) -> dict:
    source = make_source(domain, frame_size)
    policy = default_policy(domain)
    rng = np.random.default_rng(seed)
    obs = source.reset(seed=seed)
    policy.reset(rng, source)
    resets, start = 0, time.perf_counter()
    for _ in range(steps):
        obs = source.step(policy.act(source, obs))
        if obs.terminated or obs.truncated:
            obs = source.reset(seed=int(rng.integers(2**31)))
            policy.reset(rng, source)
            resets += 1
    elapsed = time.perf_counter() - start
    source.close()
    return {
        "domain": domain,
        "env_id": source.env_id,
        "steps": steps,
        "resets": resets,
        "seconds": elapsed,
        "steps_per_s": steps / elapsed,
    }


def window_batches_per_second(root: str, batch: int = 32, length: int = 16, seconds: float = 3.0) -> dict:
    start = time.perf_counter()
    sampler = WindowSampler(root, length=length, split="train")
    load_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    sampler.sample(batch, rng)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sampler.sample(batch, rng)
        n += 1
    elapsed = time.perf_counter() - start
    return {
        "dataset": root,
        "transitions": sampler.transitions,
        "load_s": load_s,
        "batch": batch,
        "length": length,
        "batches_per_s": n / elapsed,
        "frames_per_s": n * batch * (length + 1) / elapsed,
    }


def add_bench(commands) -> None:
    p = commands.add_parser("bench", help="measure the real simulators' steps/s at the frame size")
    p.add_argument("--domains", nargs="*", default=list(domains.names()), choices=domains.names(), help="default: all")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--frame-size", type=int, default=64)
    p.add_argument("--checkpoint", help="time this world model instead of the shipped weights (one domain only)")
    p.add_argument("--num-envs", type=int, default=64, help="vector env size (default 64)")
    p.add_argument("--dream-steps", type=int, default=200, help="step() calls per WorldSim measurement (default 200)")
    p.add_argument("--no-dream", action="store_true", help="time the simulators only")
    p.add_argument(
        "--engines",
        nargs="+",
        default=["torch"],
        choices=ENGINES,
        help='engines to time the dreams on (default torch; "onnx" needs worldsim[onnx])',
    )
    p.add_argument(
        "--decoders",
        nargs="+",
        default=["exact"],
        choices=("exact", "distilled"),
        help='decoders to draw pixel dreams with (default exact; "distilled" is the approximate one of `worldsim distill`)',
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="device the dreams' latents and frames live on (default cpu; e.g. cuda, with --num-envs 1024)",
    )
    p.add_argument(
        "--threads",
        nargs="+",
        type=int,
        help="torch thread counts to time the dreams at, in turn (default: torch's own, usually one per core)",
    )
    p.add_argument("--dataset", help="also time WindowSampler batches (32 x 16 steps) from this dataset")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_bench)


def dream_rows(
    domain: str,
    checkpoint: str | None,
    simulator: dict,
    num_envs: int,
    steps: int,
    engines: tuple[str, ...] = ("torch",),
    decoders: tuple[str, ...] = ("exact",),
    device: str = "cpu",
    threads: tuple[int | None, ...] = (None,),
) -> list[dict]:
    """single env pixels, vector env pixels, vector env latent, on each engine, at each torch thread
    count (None: as it is) and, for pixels, with each decoder (alternating, so that a machine's slow
    minute falls on all): each with its ratio to `simulator`. A latent dream draws nothing, so it is
    timed with the exact decoder only."""
    from worldsim.envs.bench import dream_steps_per_second, ratio

    rows, before = [], torch.get_num_threads()
    try:
        for n, obs_type in ((1, "pixels"), (num_envs, "pixels"), (num_envs, "latent")):
            for decoder in decoders if obs_type == "pixels" else ("exact",):
                for engine in engines:
                    for count in threads:
                        torch.set_num_threads(count or before)
                        row = dream_steps_per_second(
                            domain, checkpoint, n, obs_type, steps, engine=engine, decoder=decoder, device=device
                        )
                        rows.append({**row, "ratio_to_simulator": ratio(row, simulator)})
    finally:
        torch.set_num_threads(before)
    return rows


def run_bench(args):
    if args.checkpoint and len(args.domains) != 1:
        raise ValueError("--checkpoint times one world model: give exactly one domain with --domains")
    if args.num_envs < 1:
        raise ValueError(f"--num-envs must be a positive integer, got {args.num_envs}")
    resolve_device(args.device)  # a device this machine lacks is refused before the simulators run
    if args.threads and min(args.threads) < 1:
        raise ValueError(f"--threads must be positive thread counts, got {args.threads}")
    rows = [source_steps_per_second(d, args.steps, args.frame_size) for d in args.domains]
    dreams, missing = [], {}
    for row in rows if not args.no_dream else []:
        try:
            dreams += dream_rows(
                row["domain"],
                args.checkpoint,
                row,
                args.num_envs,
                args.dream_steps,
                tuple(args.engines),
                tuple(args.decoders),
                args.device,
                tuple(args.threads or (None,)),
            )
        except CheckpointError as exc:  # no weights for this domain: say so, time the others
            missing[row["domain"]] = str(exc)
    windows = window_batches_per_second(args.dataset) if args.dataset else None
    if args.json:
        return {"frame_size": args.frame_size, "sources": rows, "worldsim": dreams, "no_weights": missing, "windows": windows}
    lines = [f"{'domain':<10} {'simulator':<20} {'steps/s':>8}  (incl. rendering at {args.frame_size}x{args.frame_size}, resets)"]
    lines += [f"{r['domain']:<10} {r['env_id']:<20} {r['steps_per_s']:>8.1f}" for r in rows]
    if dreams:
        lines.append(
            f"\n{'domain':<10} {'WorldSim env':<32} {'steps/s':>8} {'x simulator':>12}  "
            f"(torch threads: {sorted({d['torch_threads'] for d in dreams})}, device: {dreams[0]['device']})"
        )
        for d in dreams:
            kind = "single" if d["num_envs"] == 1 else f"vector x{d['num_envs']}"
            kind += f" {d['obs_type']}" + (f" ({d['engine']})" if len(args.engines) > 1 else "")
            kind += f" [{d['decoder']}]" if len(args.decoders) > 1 and d["obs_type"] == "pixels" else ""
            kind += f" {d['torch_threads']}t" if args.threads and len(args.threads) > 1 else ""
            lines.append(f"{d['domain']:<10} {kind:<32} {d['steps_per_s']:>8.0f} {d['ratio_to_simulator']:>11.1f}x")
    lines += [f"{domain}: no WorldSim timing ({why})" for domain, why in missing.items()]
    if windows:
        lines.append(
            f"windows from {windows['dataset']} ({windows['transitions']} transitions, loaded in "
            f"{windows['load_s']:.1f} s): {windows['batches_per_s']:.0f} batches/s "
            f"of {windows['batch']}x{windows['length']} steps"
        )
    return "\n".join(lines)
