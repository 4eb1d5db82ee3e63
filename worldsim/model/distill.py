"""A narrower decoder distilled from a model's own: the approximate `decoder="distilled"` of the envs.

Drawing a frame is most of a pixel step (BENCHMARKS.md, "Inference paths"), and the field decoder's
cost grows with the square of its width. A model whose decoder reads the physical state
(`decoder_input="state"`) draws a frame as a function of that state alone, so a student of the same
architecture at a fraction of the width can learn the function from the teacher directly: states
from a dataset's training split (what the dream's states look like), each nudged by a little noise
in the state code (the dream's states wander off the recorded ones), the teacher's frame as the
target, pixels weighted by their distance from the mean frame so that small objects (PushT's agent,
a car) are not averaged away. No frames are read and no simulator runs. The student starts as the
teacher cut to its strongest channels (`pruned_student`); `edges` also weighs pixels unlike their
neighbours, and `dreams` adds the states of the model's own open-loop dreams (both measured in
BENCHMARKS.md, neither in the shipped student's recipe).

The student is approximate, never silent: an env uses it only when asked (`decoder="distilled"`),
its file records the teacher's weights fingerprint (a retrained model refuses a stale student), and
its report holds its own fidelity on held-out states (PSNR against the teacher, share of pixels
snapped to another palette colour). The long-horizon evaluation (`worldsim eval --long --decoder
distilled`) is the judge of whether it ships (BENCHMARKS.md, "A distilled decoder").

Files beside the model: `decoder-distilled.safetensors` and `decoder-distilled.json`. A run writes
`decoder-distilled.partial.safetensors` every `save_every` steps and resumes from it when rerun.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from tqdm import tqdm

from worldsim.model.checkpoint import (
    load_optimizer_tensors,
    optimizer_tensors,
    weights_fingerprint,
    write_json,
    write_tensors,
)
from worldsim.model.palette import palette_from_frames, snap
from worldsim.model.world_model import WorldModel, build_decoder

DECODERS = ("exact", "distilled")
INITS = ("pruned", "fresh")
PRUNE_STATES = 1024  # states whose frames rank the teacher's channels
DREAM_CONTEXT = 4  # real frames a dream of `DistillConfig.dreams` starts from (the long evaluation's)
FORMAT, FORMAT_VERSION = "worldsim-distilled-decoder", 1
META, WEIGHTS, PARTIAL = "decoder-distilled.json", "decoder-distilled.safetensors", "decoder-distilled.partial.safetensors"


@dataclass
class DistillConfig:
    channels: int = 8  # the student's width (the field decoder's cells are 4 x channels wide)
    init: str = "pruned"  # "pruned": the teacher's strongest channels (pruned_student); "fresh": new weights
    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-3  # Adam, decayed to a tenth over the run (cosine)
    jitter: float = 0.1  # each state code is nudged by N(0, s^2), s drawn from U(0, jitter), in units of a field's std
    foreground: float = 10.0  # pixel weight 1 + foreground x |teacher - mean frame| (summed over colours)
    # + edges x |teacher - its 3x3 local mean|: a thing drawn in the same place in every frame
    # (CarRacing's car) is no foreground; what it bought is in BENCHMARKS.md
    edges: float = 0.0
    # Also draw the states of the model's own dreams (each training episode replayed open-loop with
    # its recorded actions from its first `DREAM_CONTEXT` frames), which leave the recorded ones far
    # into a dream; on CarRacing at 8 channels it fit them poorly and drew worse (BENCHMARKS.md)
    dreams: bool = False
    val_states: int = 512  # held-out states (from the dataset's validation split) the report is measured on
    seed: int = 0
    save_every: int = 250

    def __post_init__(self) -> None:
        for name in ("channels", "steps", "batch_size", "val_states", "save_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"distill {name} must be a positive whole number, got {value!r}")
        if self.init not in INITS:
            raise ValueError(f"distill init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not self.lr > 0 or not self.jitter >= 0 or not self.foreground >= 0 or not self.edges >= 0:
            raise ValueError(
                f"distill lr must be > 0 and jitter, foreground, edges >= 0; "
                f"got {self.lr}, {self.jitter}, {self.foreground}, {self.edges}"
            )


def check_can_distill(model: WorldModel) -> None:
    c = model.config
    if c.decoder != "field" or c.decoder_input != "state":
        raise ValueError(
            f"a distilled decoder learns to draw from the physical state alone; this {c.domain!r} model's decoder is "
            f"{c.decoder!r} reading its {c.decoder_input} (needs decoder 'field' with decoder_input 'state')"
        )


def student_for(model: WorldModel, channels: int) -> torch.nn.Module:
    """A fresh decoder of the model's kind, `channels` wide; a static image layer (CarRacing's car
    and bar) is copied from the teacher, being the same size at any width."""
    check_can_distill(model)
    student = build_decoder(model.config, channels).to(model.device)
    if model.config.decoder_static:
        with torch.no_grad():
            student.static_colour.copy_(model.decoder.static_colour)
            student.static_opacity.copy_(model.decoder.static_opacity)
    return student


@torch.no_grad()
def pruned_student(model: WorldModel, channels: int, codes: torch.Tensor) -> torch.nn.Module:
    """The teacher cut down to `channels`: in every layer the channels that carry the most (mean
    |activation| over `codes`' frames) are kept, with the weights between them and the FiLM rows
    that scale and shift them. A fresh student of half the width drew PushT's T as a blob after
    4,000 steps; one cut from the teacher starts from its shapes (BENCHMARKS.md, "A distilled
    decoder")."""
    if channels > model.config.channels:
        raise ValueError(f"a pruned student is at most the teacher's width ({model.config.channels} channels), got {channels}")
    teacher, student = model.decoder, student_for(model, channels)
    width, up = 4 * channels, 2 * channels
    outs = teacher.grid_layers(*model.decoder_inputs(codes))
    kept = [x.abs().mean((0, 2, 3)).topk(width).indices.sort().values for x in outs]
    lifted = teacher.up[1](teacher.up[0](outs[-1]))
    kept_up = lifted.abs().mean((0, 2, 3)).topk(up).indices.sort().values
    layers = [*teacher.cells, teacher.mix]
    inputs = None  # the first cell layer reads every place feature
    for i, (mine, theirs) in enumerate(zip([*student.cells, student.mix], layers, strict=True)):
        weight = theirs.weight[kept[i]]
        mine.weight.copy_(weight if inputs is None else weight[:, inputs])
        mine.bias.copy_(theirs.bias[kept[i]])
        inputs = kept[i]
    chunk = teacher.film.out_features // (2 * len(layers))  # the teacher's width
    rows = torch.cat([j * chunk + kept[j // 2] for j in range(2 * len(layers))])
    student.film.weight.copy_(teacher.film.weight[rows])
    student.film.bias.copy_(teacher.film.bias[rows])
    student.up[0].weight.copy_(teacher.up[0].weight[inputs][:, kept_up])  # (in, out, k, k)
    student.up[0].bias.copy_(teacher.up[0].bias[kept_up])
    student.up[2].weight.copy_(teacher.up[2].weight[kept_up])
    student.up[2].bias.copy_(teacher.up[2].bias)
    return student


@torch.no_grad()
def state_codes(
    model: WorldModel, dataset, indices: list[int], dreams: bool = False, seed: int = 0, progress: bool = False
) -> tuple[torch.Tensor, int]:
    """Every recorded state of episodes `indices` as the model's state codes, and how many there are.
    With `dreams`, the states of the model's own dreams of the same episodes follow them (each read
    once): each replayed open-loop with its recorded actions from its first `DREAM_CONTEXT` frames."""
    recorded, dreamt, generator = [], [], torch.Generator().manual_seed(seed)
    for episode in tqdm(dataset.episodes(indices), total=len(indices), desc="read states", disable=not progress):
        width = episode.states.shape[-1]
        if width != model.config.state_dim:
            raise ValueError(f"{dataset.root} holds states of {width} fields; the model's state has {model.config.state_dim}")
        recorded.append(episode.states)
        if dreams and len(episode.actions) > DREAM_CONTEXT:
            frames = torch.from_numpy(episode.frames[None, :DREAM_CONTEXT])
            actions = torch.from_numpy(np.asarray(episode.actions)[None])
            latent = model.encode(frames, actions[:, : DREAM_CONTEXT - 1])
            rollout = model.imagine(latent, actions[:, DREAM_CONTEXT - 1 :], generator=generator)
            dreamt.append(model.split(rollout.latents[0])[0])
    if not recorded:
        raise ValueError(f"{dataset.root}: no episodes to read states from")
    if dreams and not dreamt:
        raise ValueError(f"{dataset.root}: no episode longer than {DREAM_CONTEXT} steps to dream")
    codes = model.normalise_state(torch.from_numpy(np.concatenate(recorded)).float().to(model.device))
    return torch.cat([codes, *dreamt]), len(codes)


@torch.no_grad()
def fidelity(model: WorldModel, student: torch.nn.Module, codes: torch.Tensor, palette: torch.Tensor | None) -> dict[str, float]:
    """The student against the teacher on `codes`: PSNR of the raw frames, and the share of pixels
    that the palette snap (what an env shows) turns into another colour."""
    teacher, drawn = [], []
    for lo in range(0, len(codes), 64):
        teacher.append(model.draw_state(codes[lo : lo + 64]))
        drawn.append(model.draw_state(codes[lo : lo + 64], student))
    teacher, drawn = torch.cat(teacher), torch.cat(drawn)
    mse = float(((teacher - drawn) ** 2).mean())
    report = {"psnr_db": float(10 * np.log10(1 / max(mse, 1e-12))), "states": len(codes)}
    if palette is not None:
        differ = (snap(teacher, palette) != snap(drawn, palette)).any(1)
        report["pixels_differing"] = float(differ.float().mean())
    return report


def distill(
    model: WorldModel,
    train_codes: torch.Tensor,
    config: DistillConfig,
    progress: bool = True,
    resume_from: Path | None = None,
) -> tuple[torch.nn.Module, list[float]]:
    """Train a `config.channels`-wide student to draw what `model`'s decoder draws from `train_codes`
    (jittered). With `resume_from` (a directory), its partial file is read if present and written
    every `config.save_every` steps. Returns the student (eval mode) and the loss of every step."""
    model.eval()
    generator = torch.Generator().manual_seed(config.seed)
    if config.init == "pruned":
        ranked = train_codes[torch.randperm(len(train_codes), generator=generator)[:PRUNE_STATES].to(train_codes.device)]
        student = pruned_student(model, config.channels, ranked).train()
    else:
        student = student_for(model, config.channels).train()
    optimizer = torch.optim.Adam(student.parameters(), lr=config.lr)
    start, losses = 0, []
    partial = resume_from / PARTIAL if resume_from is not None else None
    if partial is not None and partial.is_file():
        start, losses = _load_partial(partial, student, optimizer, generator, config)
    for step in tqdm(
        range(start, config.steps), initial=start, total=config.steps, desc="distil decoder", unit="step", disable=not progress
    ):
        pick = torch.randint(len(train_codes), (config.batch_size,), generator=generator)
        scale = config.jitter * torch.rand(config.batch_size, 1, generator=generator)
        codes = train_codes[pick]
        codes = codes + scale.to(codes.device) * torch.randn(codes.shape, generator=generator).to(codes.device)
        codes = model.on_circle(codes)  # a nudged (cos, sin) pair is put back on the circle, as the dream's are
        with torch.no_grad():
            target = model.draw_state(codes)
            weight = pixel_weights(target, config.foreground, config.edges)
        loss = (weight * (model.draw_state(codes, student) - target) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in optimizer.param_groups:  # cosine from lr to a tenth of it: a function of the step, so a resumed run agrees
            group["lr"] = config.lr * (0.55 + 0.45 * math.cos(math.pi * step / config.steps))
        optimizer.step()
        losses.append(loss.item())
        if partial is not None and ((step + 1) % config.save_every == 0) and step + 1 < config.steps:
            _save_partial(partial, student, optimizer, generator, config, step + 1, losses)
    return student.eval(), losses


def pixel_weights(target: torch.Tensor, foreground: float, edges: float) -> torch.Tensor:
    """(B, 1, H, W) weights of the student's squared error on a batch of teacher frames (B, 3, H, W):
    1, plus `foreground` x a pixel's distance from the batch's mean frame (what moves between
    frames), plus `edges` x its distance from its 3x3 neighbourhood's mean (outlines, also of a
    thing drawn in the same place in every frame, which the foreground term cannot see)."""
    weight = 1 + foreground * (target - target.mean(0)).abs().sum(1, keepdim=True)
    if edges:
        local = torch.nn.functional.avg_pool2d(target, 3, 1, 1, count_include_pad=False)
        weight = weight + edges * (target - local).abs().sum(1, keepdim=True)
    return weight


def _save_partial(path: Path, student, optimizer, generator, config: DistillConfig, step: int, losses: list[float]) -> None:
    tensors = {f"student.{k}": v for k, v in student.state_dict().items()} | optimizer_tensors(optimizer)
    tensors["generator"] = generator.get_state()
    tensors["losses"] = torch.tensor(losses)
    write_tensors(path, tensors, metadata={"step": str(step), "config": json.dumps(asdict(config))})


def _load_partial(path: Path, student, optimizer, generator, config: DistillConfig) -> tuple[int, list[float]]:
    """Resume a killed run; a partial file of other settings is an error, not silently mixed in."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    # a setting added since the file was written has the default that reproduces the old behaviour
    if {**asdict(DistillConfig()), **json.loads(meta["config"])} != asdict(config):
        raise ValueError(f"{path}: a stopped distillation with other settings; delete it to start afresh, or rerun with them")
    tensors = load_file(str(path))
    student.load_state_dict({k[len("student.") :]: v for k, v in tensors.items() if k.startswith("student.")})
    load_optimizer_tensors(optimizer, tensors, optimizer.state_dict()["param_groups"])
    generator.set_state(tensors["generator"])
    return int(meta["step"]), tensors["losses"].tolist()


def save_distilled(directory: Path, model: WorldModel, student: torch.nn.Module, report: dict[str, Any]) -> None:
    """The student's weights and its JSON beside the model, each written to a temporary name and renamed."""
    write_tensors(directory / WEIGHTS, student.state_dict(), metadata={"format": FORMAT})
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "channels": report["config"]["channels"],
        "teacher": weights_fingerprint(model),
        "report": report,
    }
    write_json(directory / META, meta)
    (directory / PARTIAL).unlink(missing_ok=True)


def with_decoder(model: WorldModel, directory: str | Path, decoder: str) -> WorldModel:
    """`model` itself for decoder "exact"; for "distilled", a copy whose decoder is the student
    beside the model in `directory` (checked to have been distilled from these very weights)."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    if decoder == "exact":
        return model
    directory = Path(directory)
    meta_path, weights_path = directory / META, directory / WEIGHTS
    if not meta_path.is_file() or not weights_path.is_file():
        raise ValueError(
            f'decoder="distilled": {directory} holds no distilled decoder ({META}, {WEIGHTS}); '
            f"make one with `worldsim distill --checkpoint {directory} --data DATA`"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{meta_path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{meta_path}: not a {FORMAT} file of version {FORMAT_VERSION}")
    if meta.get("teacher") != weights_fingerprint(model):
        raise ValueError(f"{meta_path}: distilled from other weights than the model in {directory}; distil it again")
    student = student_for(model, int(meta["channels"]))
    try:
        student.load_state_dict(load_file(str(weights_path)))
    except (RuntimeError, OSError, SafetensorError) as error:
        raise ValueError(f"{weights_path}: does not match {meta_path} ({error})") from None
    fast = copy.copy(model)  # a shallow copy: the teacher's other modules are shared, read-only at inference
    fast._modules = dict(model._modules)
    fast.decoder = student.eval()
    return fast


def distill_for(checkpoint: str, data: str, config: DistillConfig, progress: bool = True) -> dict[str, Any]:
    """`worldsim distill`: the student for the model in `checkpoint`, from the states of `data`,
    written beside the model with its report."""
    from worldsim.data import Dataset
    from worldsim.model.checkpoint import load_model, resolve_checkpoint
    from worldsim.model.start_bank import load_start_bank

    path = resolve_checkpoint(checkpoint)
    model, meta = load_model(path)
    check_can_distill(model)
    dataset = Dataset(data)
    if dataset.domain != model.config.domain:
        raise ValueError(f"{dataset.root} holds {dataset.domain!r} data; the model is a {model.config.domain!r} model")
    torch.manual_seed(config.seed)
    val_fraction = meta.get("recipe", {}).get("train", {}).get("val_fraction", 0.1)
    train = dataset.indices("train", val_fraction)
    train_codes, recorded = state_codes(model, dataset, train, config.dreams, config.seed, progress)
    val_codes, _ = state_codes(model, dataset, dataset.indices("val", val_fraction) or dataset.indices("all")[-1:])
    val_codes = val_codes[
        torch.randperm(len(val_codes), generator=torch.Generator().manual_seed(config.seed))[: config.val_states]
    ]
    student, losses = distill(model, train_codes, config, progress, resume_from=path)
    palette = palette_from_frames(load_start_bank(path)["frames"])
    n = max(1, len(losses) // 10)
    report = {
        "config": asdict(config),
        "data": str(data),
        "train_states": len(train_codes),
        "recorded_states": recorded,
        "loss": {"first": float(np.mean(losses[:n])), "last": float(np.mean(losses[-n:]))},
        "held_out": fidelity(model, student, val_codes, palette),
        "parameters": {"teacher": _count(model.decoder), "student": _count(student)},
    }
    save_distilled(path, model, student, report)
    return report


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
