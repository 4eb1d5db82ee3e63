"""The dream's step as one ONNX Runtime graph: the `engine="onnx"` of the envs.

Why: one env's step is a dozen small torch calls (the GRU cell, the MLPs, the decoder's
convolutions, the palette snap), and at these sizes the framework's per-call cost is as large as
the arithmetic. Exported once into one graph, ONNX Runtime runs the same step about twice as fast on
a CPU, for one env and for 64 (BENCHMARKS.md, "Inference paths"). Same weights, float32 throughout:
an exact path up to float rounding (outputs within `TOLERANCE` of eager torch).

In the graph: one step of the learned dynamics (physics blend α = 1), the reward and termination
heads and, for a dream that draws, the decoder and the palette snap. In torch: the noise (drawn from
each dream's own generator, so a seed gives the same dream on either engine), resets and encoding,
the crash rule and the ensemble's disagreement, and whole steps with the physics prior blended in
(α < 1, exact either way).

Graphs are exported on first use (seconds) and cached under `$WORLDSIM_CACHE` (default
`~/.cache/worldsim`)/onnx, keyed by a hash of the weights, the config, the graph's kind and the
versions of torch and onnxscript that built it: a retrained model never runs a stale graph.
`worldsim export --onnx` exports ahead of time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from worldsim.model.world_model import WorldModel

ENGINES = ("torch", "onnx")
# raise when what `StepGraph` computes changes: cached graphs then miss (2: snap as 8-bit colours; 3: the dream's age)
GRAPH_VERSION = 3
TOLERANCE = 1e-4  # the largest difference from eager torch the tests accept, in latent and [0, 1] pixel units
log = logging.getLogger(__name__)


class EngineUnavailable(RuntimeError):
    """The ONNX engine was asked for where it cannot run; the message says what to install or change."""


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


@dataclass(frozen=True)
class GraphKind:
    draw: bool  # the step decodes a frame
    snap: bool  # ... and snaps it to a palette (an input of the graph)

    @property
    def name(self) -> str:
        return "latent" if not self.draw else ("pixels" if self.snap else "pixels-unsnapped")


class StepGraph(nn.Module):
    """What the graph computes: `WorldModel.imagine` for one step at α = 1, given its noise."""

    def __init__(self, model: WorldModel, kind: GraphKind):
        super().__init__()
        self.model, self.kind = model, kind
        self.names = input_names(model, kind)

    def forward(self, *inputs):
        given = dict(zip(self.names, inputs, strict=True))
        latent, features, noise = given["latent"], given["features"], given["noise"]
        previous, palette = given.get("previous"), given.get("palette")
        model = self.model
        age = given["age"].long() if "age" in given else 0  # fed as float32, like every input
        after = model.imagine_step(latent, features, noise, 1.0, age=age)
        outputs = [after, model.step_reward(latent, after), model.termination_logit(after)]
        if self.kind.draw:
            frame = model.draw(after, previous)
            outputs.append(model.snap(frame, palette, chunk=None) if self.kind.snap else frame)  # no loop in a graph
        return tuple(outputs)


def input_names(model: WorldModel, kind: GraphKind) -> list[str]:
    names = ["latent", "features", "noise"]
    if model.config.dynamics_age:  # (B,) steps since the filter, read by the learned dynamics
        names.append("age")
    if kind.draw and model.config.draws_on_previous:  # a decoder drawing from the latent alone reads no frame
        names.append("previous")
    if kind.draw and kind.snap:
        names.append("palette")
    return names


OUTPUT_NAMES = ["next_latent", "reward", "termination_logit", "frame"]


def _requirements() -> tuple[object, str]:
    """onnxruntime (to run) and onnxscript's version (to export); a clear error where either is missing."""
    try:
        import onnxruntime
    except ImportError:
        raise EngineUnavailable(
            'engine="onnx" needs ONNX Runtime: pip install "worldsim[onnx]" (or use engine="torch")'
        ) from None
    try:
        import onnxscript
    except ImportError:
        raise EngineUnavailable(
            'engine="onnx" exports the model with torch.onnx, which needs onnxscript: pip install "worldsim[onnx]"'
        ) from None
    return onnxruntime, getattr(onnxscript, "__version__", "unknown")


def cache_dir() -> Path:
    root = os.environ.get("WORLDSIM_CACHE") or Path.home() / ".cache" / "worldsim"
    return Path(root) / "onnx"


def graph_key(model: WorldModel, kind: GraphKind, exporter: str) -> str:
    """A hash of everything the graph depends on: weights and buffers, config, kind, tool versions,
    and the physics prior's code where the dynamics correct it."""
    from worldsim.model.checkpoint import weights_fingerprint

    digest = hashlib.sha256()
    digest.update(json.dumps(model.config.to_json(), sort_keys=True).encode())
    digest.update(f"{kind.name}|graph {GRAPH_VERSION}|torch {torch.__version__}|onnxscript {exporter}".encode())
    digest.update(weights_fingerprint(model).encode())
    if model.config.dynamics != "delta":  # the prior is code, not weights: a new release may change it
        digest.update(inspect.getsource(inspect.getmodule(type(model.physics))).encode())
    return digest.hexdigest()[:24]


def _examples(model: WorldModel, kind: GraphKind, batch: int = 2) -> tuple[torch.Tensor, ...]:
    c = model.config
    examples = {
        "latent": torch.zeros(batch, c.latent_dim),
        "features": torch.zeros(batch, c.action_dim),
        "noise": model.noise(batch, torch.Generator().manual_seed(0)).cpu(),
        "age": torch.arange(batch, dtype=torch.float32),
        "previous": torch.full((batch, 3, c.frame_size, c.frame_size), 0.5),
        "palette": torch.rand(4, 3, generator=torch.Generator().manual_seed(0)),
    }
    return tuple(examples[name] for name in input_names(model, kind))


def export_graph(model: WorldModel, kind: GraphKind, path: str | Path) -> Path:
    """Export the step of `model` (on the CPU, in eval mode) to an ONNX file `path`, one file with
    its weights inside, written under a temporary name and renamed."""
    _requirements()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = input_names(model, kind)
    batch = torch.export.Dim("batch", min=1)
    dynamic = [{0: batch} if name != "palette" else {0: torch.export.Dim("colours", min=1)} for name in names]
    outputs = OUTPUT_NAMES[: 4 if kind.draw else 3]
    tmp = path.with_name(path.name + ".tmp")
    with warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            StepGraph(model, kind).eval(),
            _examples(model, kind),
            str(tmp),
            dynamo=True,
            external_data=False,
            input_names=names,
            output_names=outputs,
            dynamic_shapes=(tuple(dynamic),),  # the one *inputs argument
            verbose=False,
        )
    os.replace(tmp, path)
    return path


@contextmanager
def _quiet_exporter():
    """The exporter logs every operator registry it skips (torchvision's, absent here) at WARNING."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class OnnxStep:
    """One step of a batch of dreams through ONNX Runtime; tensors in, tensors out (on the CPU)."""

    def __init__(self, model: WorldModel, draw: bool, snap_colours: bool, threads: int | None = None):
        self._args = (model, draw, snap_colours, threads)
        if model.device.type != "cpu":
            raise EngineUnavailable(f'engine="onnx" runs on the CPU; this model is on {model.device} (use engine="torch")')
        onnxruntime, exporter = _requirements()
        self.model, self.kind = model, GraphKind(draw, draw and snap_colours)
        was_training = model.training
        model.eval()
        try:
            self.path = cache_dir() / f"{model.config.domain}-{self.kind.name}-{graph_key(model, self.kind, exporter)}.onnx"
            if not self.path.exists():
                log.info("exporting the %s step graph to %s (once per model)", self.kind.name, self.path)
                export_graph(model, self.kind, self.path)
        finally:
            model.train(was_training)
        options = onnxruntime.SessionOptions()
        # The env's thread budget is torch's: one pool in use at a time, as many threads as torch would take.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Idle ONNX Runtime threads spin, waiting for the next run, by default; between two steps
        # torch (noise, heads, resets) then competes with them for the cores (a 64-env driving step
        # ran at a third of torch's speed with spinning on).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.names = input_names(model, self.kind)

    def __getstate__(self):
        """A session does not pickle (vectorisers ship envs that way): the copy opens its own,
        from the cache, exporting again where the cache is gone."""
        return self._args

    def __setstate__(self, args):
        self.__init__(*args)

    def __call__(
        self,
        latent: torch.Tensor,
        features: torch.Tensor,
        noise: torch.Tensor,
        previous: torch.Tensor,
        palette,
        age: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """(latent, reward, termination logit[, frame]) after one step, as torch tensors; `age`, (B,)
        steps since the filter, for a model whose dynamics read it."""
        if "age" in self.names and age is None:
            raise ValueError("this model's dynamics read the dream's age (dynamics_age): pass `age`")
        given = {"latent": latent, "features": features, "noise": noise, "previous": previous, "palette": palette, "age": age}
        feeds = {name: np.ascontiguousarray(given[name].detach().numpy(), dtype=np.float32) for name in self.names}
        return tuple(torch.from_numpy(out) for out in self.session.run(None, feeds))
