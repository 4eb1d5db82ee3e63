"""Inference paths for the dream's step, timed side by side in one process (BENCHMARKS.md, "Inference paths").

    python scripts/bench_inference_paths.py robotics [--paths eager,channels_last,compile,onnx,int8] [--json]

For one model (a domain's shipped weights or a run directory) it times one step of the dream as the
envs take it (learned dynamics, heads, and for pixels the decoder and the palette snap) on a batch
of 1 and of 64, with and without a frame, on each path:

- eager: `StepGraph` in torch, as `engine="torch"` runs it;
- channels_last: the same with the frames and convolution weights in channels-last memory;
- compile: `torch.compile` (inductor, C++ on the CPU), compiled before the clock starts;
- onnx: the exported graph in ONNX Runtime, as `engine="onnx"` runs it;
- int8: dynamic int8 quantization of the linear layers (`torch.ao.quantization.quantize_dynamic`),
  an approximate path: its largest difference from eager is reported beside its speed;
- distilled, onnx_distilled: eager and ONNX with the decoder distilled from the model's own
  (`worldsim distill`; an approximate path for frames only: the latent is the exact one's).

Paths are timed in turns (path A, B, C, then again), the median of `--rounds` rounds each, so that a
busy minute on a shared machine falls on all of them. Each row gives ms per call and the speed-up
over eager in the same process; `max_abs_diff` is the largest difference from eager's of the
latent, reward and termination logit, and `pixels_differing` the share of frame pixels of another
colour (the inputs are random frames, so many pixels sit near a boundary between palette colours:
an upper bound on what a dream sees).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch

from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.distill import with_decoder
from worldsim.model.onnx_engine import GraphKind, OnnxStep, StepGraph
from worldsim.model.palette import palette_from_frames
from worldsim.model.start_bank import load_start_bank

PATHS = ("eager", "channels_last", "compile", "onnx", "int8", "distilled", "onnx_distilled")


def inputs(model, batch: int, draw: bool, palette: torch.Tensor) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(batch)
    c = model.config
    feeds = {
        "latent": 0.3 * torch.randn(batch, c.latent_dim, generator=g),
        "features": 2 * torch.rand(batch, c.action_dim, generator=g) - 1,
        "noise": model.noise(batch, g),
    }
    if draw:
        feeds["previous"] = torch.rand(batch, 3, c.frame_size, c.frame_size, generator=g)
        feeds["palette"] = palette
    return feeds


def make_path(name: str, model, kind: GraphKind, checkpoint=None):
    """A callable taking the feeds dict, returning the step's outputs."""
    if name in ("distilled", "onnx_distilled"):
        model, name = with_decoder(model, checkpoint, "distilled"), name.removesuffix("distilled").rstrip("_") or "eager"
    graph = StepGraph(model, kind).eval()
    names = graph.names

    def ordered(feeds):
        return [feeds[n] for n in names]

    if name == "eager":
        return lambda feeds: graph(*ordered(feeds))
    if name == "channels_last":
        fast = StepGraph(model_copy(model).to(memory_format=torch.channels_last), kind).eval()
        return lambda feeds: fast(
            *[x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x for x in ordered(feeds)]
        )
    if name == "compile":
        compiled = torch.compile(StepGraph(model_copy(model), kind).eval(), dynamic=False)
        return lambda feeds: compiled(*ordered(feeds))
    if name == "onnx":
        step = OnnxStep(model, kind.draw, kind.snap)
        return lambda feeds: step(feeds["latent"], feeds["features"], feeds["noise"], feeds.get("previous"), feeds.get("palette"))
    if name == "int8":
        quantized = torch.ao.quantization.quantize_dynamic(model_copy(model), {torch.nn.Linear, torch.nn.GRUCell}, torch.qint8)
        q = StepGraph(quantized, kind).eval()
        return lambda feeds: q(*ordered(feeds))
    raise ValueError(f"unknown path {name!r} (known: {', '.join(PATHS)})")


def model_copy(model):
    import copy

    return copy.deepcopy(model).eval()


def time_call(fn, feeds, calls: int) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(calls):
            fn(feeds)
        return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a domain's name (its shipped weights) or a run directory")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)}")
    parser.add_argument("--batches", default="1,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5, help="per path per round (default 0.5)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    path = resolve_checkpoint(args.checkpoint)
    model, _ = load_model(path)
    model.eval()
    palette = palette_from_frames(load_start_bank(path)["frames"])
    rows = []
    for draw in (True, False):
        kind = GraphKind(draw, draw)
        paths = {name: make_path(name, model, kind, path) for name in args.paths.split(",")}
        for batch in (int(b) for b in args.batches.split(",")):
            feeds = inputs(model, batch, draw, palette)
            with torch.no_grad():
                reference = paths["eager"](feeds) if "eager" in paths else None
                outs = {name: fn(feeds) for name, fn in paths.items()}  # warm-up (compiles, allocates)
            per_call = {name: time_call(fn, feeds, 3) for name, fn in paths.items()}
            calls = {name: max(3, int(args.seconds / max(t, 1e-6))) for name, t in per_call.items()}
            times = {name: [] for name in paths}
            for _ in range(args.rounds):
                for name, fn in paths.items():
                    times[name].append(time_call(fn, feeds, calls[name]))
            eager = statistics.median(times["eager"]) if "eager" in times else None
            for name in paths:
                ms = statistics.median(times[name]) * 1e3
                diff, pixels = None, None
                if reference is not None:  # latent, reward, termination logit; then the frame
                    diff = max(float((a - b).abs().max()) for a, b in zip(outs[name][:3], reference[:3], strict=True))
                    if draw:  # a snapped pixel near a palette boundary flips whole colours: count them
                        pixels = float(((outs[name][3] - reference[3]).abs() > 0.5 / 255).any(1).float().mean())
                rows.append(
                    {
                        "observation": "pixels" if draw else "latent",
                        "batch": batch,
                        "path": name,
                        "ms_per_call": ms,
                        "steps_per_s": batch / ms * 1e3,
                        "speedup_over_eager": (eager * 1e3 / ms) if eager else None,
                        "max_abs_diff": diff,
                        "pixels_differing": pixels,
                    }
                )
    report = {"checkpoint": str(path), "domain": model.config.domain, "torch_threads": torch.get_num_threads(), "rows": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{model.config.domain} ({path}), torch threads {report['torch_threads']}")
    print(f"{'obs':<7} {'batch':>5} {'path':<14} {'ms/call':>8} {'steps/s':>9} {'x eager':>8} {'max diff':>9} {'pixels':>7}")
    for r in rows:
        diff = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.1e}"
        pixels = "-" if r["pixels_differing"] is None else f"{r['pixels_differing']:.2%}"
        print(
            f"{r['observation']:<7} {r['batch']:>5} {r['path']:<14} {r['ms_per_call']:>8.3f} {r['steps_per_s']:>9.0f} "
            f"{r['speedup_over_eager']:>7.2f}x {diff:>9} {pixels:>7}"
        )


if __name__ == "__main__":
    main()
