"""Scale-out measured on this machine: DDP on 2 ranks against 1 process at the same global batch,
and Ray collection against the local backend with 2 workers.

Usage: python scripts/bench_scaleout.py [--data data/robotics] [--steps 200] [--episodes 20] [--out runs/scaleout]
Prints a JSON report (and writes it to OUT/scaleout.json). Needs the `ray` extra and 2 idle cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def train(out: Path, data: str, steps: int, ranks: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    flags = ["--data", data, "--out", str(out), "--steps", str(steps), "--batch-size", "16"]
    flags += ["--checkpoint-every", str(steps), "--video-every", str(10 * steps), "--quiet", "--json"]
    if ranks == 1:
        command = [sys.executable, "-m", "worldsim", "train", *flags, "--threads", "2"]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={ranks}", "-m", "worldsim", "train"]
        command += [*flags, "--threads", "1"]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": str(2 // ranks)})
    wall = time.perf_counter() - start
    return {"ranks": ranks, "wall_clock_s": wall, "steps_per_s": steps / wall, "loss": curve(out / "tb")}


def curve(tb: Path) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tb))
    events.Reload()
    return {e.step: e.value for e in events.Scalars("train/recon_imag")}


def collect(out: Path, episodes: int, backend: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "worldsim", "collect", "--domain", "robotics", "--episodes", str(episodes)]
    command += ["--max-steps", "300", "--workers", "2", "--seed", "0", "--out", str(out), "--quiet", "--backend", backend]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    digest = hashlib.sha256()
    for path in sorted((out / "episodes").glob("*.npz")):
        digest.update(path.read_bytes())
    return {"backend": backend, "wall_clock_s": wall, "transitions_per_s": episodes * 300 / wall, "sha256": digest.hexdigest()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/robotics")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--out", default="runs/scaleout")
    args = p.parse_args()
    out = Path(args.out)
    one, two = train(out / "ddp1", args.data, args.steps, 1), train(out / "ddp2", args.data, args.steps, 2)
    steps = sorted(set(one["loss"]) & set(two["loss"]))
    a, b = np.array([one["loss"][s] for s in steps]), np.array([two["loss"][s] for s in steps])
    local, ray = collect(out / "local", args.episodes, "local"), collect(out / "ray", args.episodes, "ray")
    report = {
        "ddp": {
            "one_process": {k: v for k, v in one.items() if k != "loss"},
            "two_ranks": {k: v for k, v in two.items() if k != "loss"},
            "throughput_ratio": two["steps_per_s"] / one["steps_per_s"],
            "loss_curves": {"steps": steps, "one_process": a.tolist(), "two_ranks": b.tolist()},
            "mean_abs_loss_gap": float(np.abs(a - b).mean()),
            "loss_step_to_step_noise": float(np.abs(np.diff(a)).mean()),
        },
        "collection": {
            "local": local,
            "ray": ray,
            "throughput_ratio": ray["transitions_per_s"] / local["transitions_per_s"],
            "identical": local["sha256"] == ray["sha256"],
        },
    }
    (out / "scaleout.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
