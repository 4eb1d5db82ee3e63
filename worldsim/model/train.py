"""`worldsim train`: fit a world model to a dataset, with resumable checkpoints.

Output directory:
  model.safetensors, config.json   the trained model (written at the end, and at every checkpoint)
  start_frames.npz                 real start contexts from training episodes, for environments
                                   (written with the first checkpoint, so a killed run serves too)
  checkpoint/                      model + optimizer + RNG state + step, swapped in atomically
  tb/                              TensorBoard scalars and real-vs-imagined filmstrips
  videos/step_NNNNNN.mp4           side-by-side real | imagined rollouts from the validation split
  .lock                            held by the training process for the whole run (its pid, host, start)

Deterministic on CPU given --seed (batches, noise and initial weights all come from it), and a
resumed run continues exactly where its last checkpoint left it, on any device. One process trains
in a directory at a time: a second one (say a --resume started while the first still runs) is
refused rather than left to overwrite the first one's checkpoints. Under torchrun several
processes train one model together (`worldsim.model.distributed`); rank 0 writes everything above.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from worldsim import domains
from worldsim.data import Dataset, DatasetUnion, WindowSampler, open_dataset
from worldsim.model import distributed
from worldsim.model.checkpoint import (
    load_model,
    load_optimizer_tensors,
    optimizer_tensors,
    save_model,
    write_json,
    write_tensors,
)
from worldsim.model.config import ModelConfig
from worldsim.model.device import resolve_device
from worldsim.model.objective import LossWeights, first_frames, sample_alpha, to_tensors, world_model_loss
from worldsim.model.run_lock import run_lock
from worldsim.model.start_bank import START_BANK, write_start_bank
from worldsim.model.world_model import WorldModel
from worldsim.video import write_video


@dataclass
class TrainConfig:
    data: str  # a dataset directory, or several of one domain separated by commas
    out: str
    steps: int = 6000
    batch_size: int = 16
    context: int = 4  # real frames filtered before imagining
    horizon: int = 8  # imagined steps scored against real frames (open loop)
    # Up to this many steps of the dream's own rollout (no gradients, drawn uniformly per batch)
    # before the scored horizon: see world_model_loss.
    burn_in: int = 0
    # Share of batches with no burn-in, the rest drawn uniformly as above. Drawn uniformly alone, a
    # step d <= horizon after a filtered latent (an env's first steps after `reset`) is scored in
    # only d in burn_in + 1 batches: the first in 1 of 25 at --burn-in 24, and PushT's block
    # jumped there (scripts/first_step_error.py).
    fresh_starts: float = 0.0
    # Share of each batch drawn as windows whose scored horizon holds an episode's termination
    # (WindowSampler.sample): the termination head's rare positives, balanced.
    event_share: float = 0.0
    lr: float = 6e-4
    # The decoder's own learning rate (0: `lr`). A fresh decoder on a fine-tuned model (a new kind
    # of decoder) learns to draw shapes several times faster at 2e-3 than at 6e-4 (PushT, given
    # the true state: block matched 73 % against 3 % after 2,000 steps), a rate too high for the
    # rest of a trained model.
    decoder_lr: float = 0.0
    grad_clip: float = 100.0
    seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 25
    video_every: int = 1000
    val_fraction: float = 0.1
    val_batches: int = 8  # validation batches scored at the end
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    device: str = "cpu"  # where the model trains ("cuda", "cuda:1", "mps"); noise and batches are drawn on the CPU
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig overrides (sizes)
    init: str = ""  # a checkpoint to start from (fine-tuning) instead of fresh weights
    # Parameter name prefixes that learn (say "state_delta", the learned dynamics); empty: all. The
    # rest is held as it is: a fine-tune of the dynamics alone keeps the encoder's reading and the
    # latents every other part (a prompt's scene generator) was trained on.
    train_only: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)  # LossWeights overrides
    # With several --data directories: the share of training windows drawn from each (any positive
    # scale; empty: in proportion to their windows). A small recording of a rare behaviour beside
    # a large main one is otherwise a few windows per batch.
    data_shares: list[float] = field(default_factory=list)


def _initial_model(config: TrainConfig, dataset: Dataset | DatasetUnion) -> WorldModel:
    """The model in `config.init`, checked against the dataset, for fine-tuning. It keeps its own
    state normalisation; a format-2 model gains a fresh frame reader."""
    from worldsim.model.checkpoint import CheckpointError, resolve_checkpoint

    model, _ = load_model(resolve_checkpoint(config.init))
    sizes = {k: v for k, v in model.config.to_json().items() if k not in _FROM_DATA + ("frame_reader",)}
    wanted = model_config_for(dataset, {**sizes, **config.model})
    for name in ("domain", "frame_size", "action_space", "state_fields"):
        if getattr(wanted, name) != getattr(model.config, name):
            raise CheckpointError(f"--init {config.init}: its {name} differs from the dataset {config.data}'s")
    if wanted != model.config:  # a size or part changed: carry over what still fits
        grown = WorldModel(wanted)
        ours = grown.state_dict()
        # the dynamics' first layer gains the age's inputs after its old ones, where it reads as before
        same_reads = wanted.dynamics_reads == model.config.dynamics_reads
        appended = {"state_delta.0.weight": wanted.dynamics_age - model.config.dynamics_age} if same_reads else {}
        theirs = {k: _carried(ours[k], v, appended.get(k, 0)) for k, v in model.state_dict().items() if k in ours}
        grown.load_state_dict({**ours, **{k: v for k, v in theirs.items() if v is not None}})
        model = grown
    model.train()
    return model


def _carried(fresh: torch.Tensor, old: torch.Tensor, appended: int = 0) -> torch.Tensor | None:
    """`old` where it fits `fresh`; a convolution that gained input channels (the encoder given pixel
    coordinates), or a linear layer given `appended` inputs after its old ones (the dynamics given the
    dream's age), keeps its old weights with the new inputs' at zero, so it computes what it did;
    None where nothing carries over."""
    if fresh.shape == old.shape:
        return old
    if appended > 0 and fresh.dim() == 2 and fresh.shape[0] == old.shape[0] and fresh.shape[1] == old.shape[1] + appended:
        grown = torch.zeros_like(fresh)
        grown[:, : old.shape[1]] = old
        return grown
    if fresh.dim() == 4 and fresh.shape[0] == old.shape[0] and fresh.shape[2:] == old.shape[2:] and fresh.shape[1] > old.shape[1]:
        grown = torch.zeros_like(fresh)
        grown[:, : old.shape[1]] = old
        return grown
    return None


# ModelConfig fields that come from the dataset (the rest are sizes and parts)
_FROM_DATA = ("domain", "frame_size", "action_space", "state_fields", "angle_fields", "env_id", "frame_skip")


def model_config_for(dataset: Dataset | DatasetUnion, overrides: dict[str, Any]) -> ModelConfig:
    """The config of a model of `dataset`, with `overrides`; `"decoder_view": "camera"` is the
    domain's own camera (`DomainSpec.camera`), stored in the config in full."""
    source = dataset.source
    if overrides.get("decoder_view") == "camera":
        overrides = {**overrides, "decoder_view": domains.of_model(source["domain"]).load("camera")}
    return ModelConfig(
        domain=source["domain"],
        frame_size=source["frame_shape"][0],
        action_space=source["action_space"],
        state_fields=[f["name"] for f in source["state_fields"]],
        angle_fields=[f["name"] for f, angle in zip(source["state_fields"], dataset.angles, strict=True) if angle],
        env_id=source["env_id"],
        frame_skip=source.get("frame_skip", 1),
        **overrides,
    )


def train(config: TrainConfig, progress: bool = True, resume: bool = False) -> dict[str, Any]:
    device = resolve_device(config.device)  # before any work: a typo fails at once
    known = set(LossWeights.__dataclass_fields__)
    if set(config.weights) - known:
        unknown = ", ".join(sorted(set(config.weights) - known))
        raise ValueError(f"unknown loss weights: {unknown} (known: {', '.join(sorted(known))})")
    if config.burn_in < 0:
        raise ValueError(f"--burn-in must be at least 0, got {config.burn_in}")
    if config.lr <= 0 or config.decoder_lr < 0:
        raise ValueError(f"--lr must be positive and --decoder-lr at least 0, got {config.lr} and {config.decoder_lr}")
    if not 0.0 <= config.fresh_starts <= 1.0:
        raise ValueError(f"--fresh-starts must lie in [0, 1], got {config.fresh_starts}")
    if not 0.0 <= config.event_share <= 1.0:
        raise ValueError(f"--event-share must lie in [0, 1], got {config.event_share}")
    ranks = distributed.from_environment()  # several under torchrun
    distributed.per_rank_batch(config.batch_size, ranks)  # the global batch must split evenly
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    device = distributed.start(ranks, device)
    finished = False
    try:
        if not ranks.main:  # rank 0 holds the lock and writes; the others only compute
            result = _train(config, False, resume, out, device, ranks)
        else:
            with run_lock(out):  # before anything reads or swaps the run's files
                result = _train(config, progress, resume, out, device, ranks)
        finished = True
        return result
    finally:
        distributed.stop(ranks, finished)


def draw_burn_in(rng: np.random.Generator, most: int, fresh_starts: float = 0.0) -> int:
    """This batch's burn-in: 0 with probability `fresh_starts`, else uniform in [0, most]. With
    fresh_starts 0 the draws are those of earlier releases (one `integers` call per batch), so a
    recorded recipe trains as it did."""
    if not most:
        return 0
    if fresh_starts and rng.random() < fresh_starts:
        return 0
    return int(rng.integers(0, most + 1))


def _train(
    config: TrainConfig, progress: bool, resume: bool, out: Path, device: torch.device, ranks: distributed.Ranks
) -> dict[str, Any]:
    ckpt = out / "checkpoint"
    if ranks.main:
        _recover_swap(out)
    if ckpt.exists() and not resume:
        raise ValueError(f"{out} already holds a training run; pass --resume to continue it, or use another --out")
    if resume and not ckpt.exists():
        raise ValueError(f"--resume: {out} holds no checkpoint to resume from")
    dataset = open_dataset(config.data)
    length = config.context + config.burn_in + config.horizon - 1
    train_set = WindowSampler(dataset, length, "train", config.val_fraction, progress=progress, shares=config.data_shares)
    val_set = WindowSampler(dataset, length, "val", config.val_fraction, progress=progress)

    torch.manual_seed(config.seed)
    weights = LossWeights(**config.weights)
    if resume:
        model, _ = load_model(ckpt)
        model.train()
        state = json.loads((ckpt / "training.json").read_text())
        before, now = dict(state["config"]), asdict(config)
        for free in ("steps", "device", "threads"):  # a resumed run may be extended, and move
            before.pop(free, None), now.pop(free)
        # A field the recorded config lacks (an older release's run) had its default then.
        defaults = {f.name: f.default if f.default_factory is MISSING else f.default_factory() for f in fields(TrainConfig)}
        changed = sorted(k for k in now if before.get(k, defaults.get(k)) != now[k])
        if changed:
            raise ValueError(f"--resume: {ckpt / 'training.json'} was trained with other {', '.join(changed)}")
    elif config.init:
        model = _initial_model(config, dataset)
        state = {"step": 0, "elapsed_s": 0.0}
    else:
        model = WorldModel(model_config_for(dataset, config.model))
        model.fit_state_normalisation(torch.from_numpy(train_set.states))
        state = {"step": 0, "elapsed_s": 0.0}
    model.to(device)
    _hold_all_but(model, config.train_only)
    optimizer = torch.optim.AdamW(_parameter_groups(model, config), lr=config.lr, weight_decay=1e-6)
    rng, generator = distributed.random_streams(config.seed, ranks, state["step"])
    if resume:
        # One process resumes bit-exactly, its random streams included; several ranks resume
        # with fresh rank-derived streams (the run may have had another number of ranks).
        _load_training_state(ckpt, optimizer, rng, generator, streams=not ranks.active)
    loss_function = distributed.loss_function(model, ranks)
    batch_size = distributed.per_rank_batch(config.batch_size, ranks)

    if ranks.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=state["step"] if resume else None)
    else:
        writer = _NoWriter()
    recipe = {"train": asdict(config), "dataset": dataset.summary(), "command": _command(config)}
    recipe["distributed"] = {"ranks": ranks.world, "global_batch": config.batch_size, "per_rank_batch": batch_size}
    step, elapsed = state["step"], state["elapsed_s"]
    # The bank depends only on the dataset, the split and the seed: written once, with the first
    # checkpoint, so a run killed after it serves environments. A resumed run keeps its own.
    banked = resume and (out / START_BANK).is_file()
    bar = tqdm(total=config.steps, initial=step, unit="step", desc=f"train {model.config.domain}", disable=not progress)
    running: dict[str, float] = {}
    started = time.perf_counter() - elapsed
    while step < config.steps:
        windows = train_set.sample(batch_size, rng, config.event_share, event_span=config.horizon)
        batch = to_tensors(windows, model.device)
        alpha = sample_alpha(batch_size, rng)
        burn_in = draw_burn_in(rng, config.burn_in, config.fresh_starts)
        if burn_in < config.burn_in:  # score `horizon` steps whatever the burn-in
            batch = first_frames(batch, config.context + burn_in + config.horizon)
        loss, parts = loss_function(batch, config.context, weights, generator, alpha, burn_in=burn_in)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parts["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip))
        if not math.isfinite(parts["grad_norm"]):
            # Stop before the step spreads it into every weight: a run that went on trained NaNs
            # for hours and saved them. The last checkpoint holds the weights before this step.
            bad = ", ".join(f"{k} {v:.4g}" for k, v in parts.items() if k != "grad_norm")
            raise FloatingPointError(f"step {step + 1}: the gradient is not finite (loss parts: {bad}); no weights were changed")
        optimizer.step()
        step += 1
        for k, v in parts.items():
            running[k] = running.get(k, 0.0) + v
        if step % config.log_every == 0 or step == config.steps:
            n = config.log_every if step % config.log_every == 0 else step % config.log_every
            running = distributed.mean_over_ranks(running, ranks)
            for k, v in running.items():
                writer.add_scalar(f"train/{k}", v / n, step)
            bar.set_postfix(loss=f"{running.get('recon_imag', 0) / n:.1f}", psnr=f"{running.get('psnr_imag', 0) / n:.1f}")
            running = {}
        if not ranks.main:
            continue
        if step % config.video_every == 0 or step == config.steps:
            _log_rollout(model, val_set, config, writer, out, step)
        if step % config.checkpoint_every == 0 or step == config.steps:
            elapsed = time.perf_counter() - started
            writer.add_scalar("train/steps_per_s", step / max(elapsed, 1e-9), step)
            if not banked:  # before the model it serves appears in `out`
                banked = _write_start_bank(dataset, config, out)
            _checkpoint(out, model, optimizer, rng, generator, config, step, elapsed, recipe)
        bar.update(1)
    bar.close()
    if not ranks.main:
        return {"out": str(out), "steps": step, "rank": ranks.rank}
    metrics = validation_metrics(model, val_set, config, weights)
    for k, v in metrics.items():
        writer.add_scalar(f"val/{k}", v, step)
    writer.close()
    elapsed = time.perf_counter() - started
    recipe["wall_clock_s"] = elapsed
    if not banked:  # a resumed run with no steps left to take
        _write_start_bank(dataset, config, out)
    save_model(model, out, recipe=recipe, metrics={"validation": metrics})
    return {"out": str(out), "steps": step, "wall_clock_s": elapsed, "validation": metrics}


@torch.no_grad()
def validation_metrics(model: WorldModel, val_set: WindowSampler, config: TrainConfig, weights: LossWeights) -> dict[str, float]:
    """Mean loss parts on fixed validation windows (α = 1, fixed noise seed)."""
    model.eval()
    rng, generator = np.random.default_rng(12345), torch.Generator().manual_seed(12345)
    totals: dict[str, float] = {}
    for _ in range(config.val_batches):
        batch = to_tensors(val_set.sample(config.batch_size, rng), model.device)
        _, parts = world_model_loss(
            model, batch, config.context, weights, generator, torch.ones(config.batch_size, device=model.device)
        )
        for k, v in parts.items():
            totals[k] = totals.get(k, 0.0) + v / config.val_batches
    model.train()
    return totals


def _hold_all_but(model: WorldModel, prefixes: list[str]) -> None:
    """Only parameters named with one of `prefixes` learn (none given: all do)."""
    if not prefixes:
        return
    names = [name for name, _ in model.named_parameters()]
    unmatched = [p for p in prefixes if not any(name.startswith(p) for name in names)]
    if unmatched:
        parts = sorted({name.split(".")[0] for name in names})
        raise ValueError(f"--train-only {', '.join(unmatched)}: no parameter is named so (the model's parts: {', '.join(parts)})")
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(tuple(prefixes)))


def _parameter_groups(model: WorldModel, config: TrainConfig) -> list[dict[str, Any]]:
    """The parameters that learn, the decoder apart when it has its own learning rate; the
    optimiser's groups stay in this order, so a resumed run's optimiser state fits them."""
    learning = [p for p in model.parameters() if p.requires_grad]
    if not config.decoder_lr:
        return [{"params": learning}]
    drawing = {p for p in model.decoder.parameters() if p.requires_grad}
    rest = [p for p in learning if p not in drawing]
    groups = [{"params": rest}, {"params": [p for p in learning if p in drawing], "lr": config.decoder_lr}]
    return [g for g in groups if g["params"]]  # a decoder held by --train-only has no group


def _command(config: TrainConfig) -> str:
    command = (
        f"worldsim train --data {config.data} --out {config.out} --steps {config.steps} --seed {config.seed} "
        f"--batch-size {config.batch_size} --context {config.context} --horizon {config.horizon}"
    )
    if config.lr != TrainConfig.lr:
        command += f" --lr {config.lr}"
    if config.decoder_lr:
        command += f" --decoder-lr {config.decoder_lr}"
    if config.burn_in:
        command += f" --burn-in {config.burn_in}"
    if config.fresh_starts:
        command += f" --fresh-starts {config.fresh_starts}"
    if config.data_shares:
        command += f" --data-shares {','.join(f'{s:g}' for s in config.data_shares)}"
    if config.train_only:
        command += f" --train-only {','.join(config.train_only)}"
    if config.event_share:
        command += f" --event-share {config.event_share}"
    if config.model:
        command += f" --model '{json.dumps(config.model)}'"
    if config.weights:
        command += f" --loss '{json.dumps(config.weights)}'"
    if config.init:
        command += f" --init {config.init}"
    return command


@torch.no_grad()
def _log_rollout(model: WorldModel, val_set: WindowSampler, config: TrainConfig, writer, out: Path, step: int):
    """A validation window, real above imagined, as a TensorBoard filmstrip and an mp4."""
    model.eval()
    windows = val_set.window(np.array([0]), np.array([0]))
    frames = torch.from_numpy(windows.frames)
    actions = torch.from_numpy(windows.actions)
    c = config.context
    latent = model.encode(frames[:, :c], actions[:, : c - 1])
    rollout = model.imagine(
        latent, actions[:, c - 1 :], previous=model.frames_in(frames[:, c - 1]), generator=torch.Generator().manual_seed(0)
    )
    imagined = rollout.pixels()[0].cpu()
    model.train()
    real = frames[0, config.context :]
    pairs = torch.cat([real, imagined], dim=1)  # (H, 2S, S, 3): real on top
    writer.add_image("rollout/real_vs_imagined", torch.cat(list(pairs), dim=1).numpy(), step, dataformats="HWC")
    side = torch.cat([real, imagined], dim=2).numpy()  # real | imagined
    write_video(out / "videos" / f"step_{step:06d}.mp4", side, fps=4)


def _write_start_bank(dataset: Dataset | DatasetUnion, config: TrainConfig, out: Path) -> bool:
    write_start_bank(dataset, dataset.indices("train", config.val_fraction), config.context, out, seed=config.seed)
    return True


def _checkpoint(out, model, optimizer, rng, generator, config, step, elapsed, recipe) -> None:
    """Write the full training state to a fresh directory, then swap it in (crash-safe)."""
    tmp, old, ckpt = out / ".checkpoint.tmp", out / ".checkpoint.old", out / "checkpoint"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp, recipe=recipe, metrics={"step": step})
    tensors = optimizer_tensors(optimizer)
    tensors["generator"] = generator.get_state()
    write_tensors(tmp / "training_state.safetensors", tensors)
    write_json(
        tmp / "training.json",
        {
            "step": step,
            "elapsed_s": elapsed,
            "config": asdict(config),
            "optimizer_groups": optimizer.state_dict()["param_groups"],
            "numpy_rng": rng.bit_generator.state,
        },
    )
    if ckpt.exists():
        ckpt.rename(old)
    tmp.rename(ckpt)
    shutil.rmtree(old, ignore_errors=True)
    save_model(model, out, recipe=recipe, metrics={"step": step})


def _recover_swap(out: Path) -> None:
    """A run killed between the two renames of `_checkpoint` left only `.checkpoint.old`."""
    if not (out / "checkpoint").exists() and (out / ".checkpoint.old").exists():
        (out / ".checkpoint.old").rename(out / "checkpoint")


class _NoWriter:
    """TensorBoard's writer on the ranks that write nothing."""

    def add_scalar(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def _load_training_state(ckpt: Path, optimizer, rng, generator, streams: bool = True) -> None:
    from safetensors.torch import load_file

    info = json.loads((ckpt / "training.json").read_text())
    tensors = load_file(str(ckpt / "training_state.safetensors"))
    load_optimizer_tensors(optimizer, tensors, info["optimizer_groups"])
    if streams:
        generator.set_state(tensors["generator"])
        rng.bit_generator.state = info["numpy_rng"]
