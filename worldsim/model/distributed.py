"""Data-parallel training: one model trained by the processes `torchrun` starts.

    torchrun --nproc-per-node 2 -m worldsim train --data data/robotics --out runs/robotics ...

Each process (rank) holds a full copy of the model and draws its own windows with a rank-derived
seed; PyTorch's DistributedDataParallel averages the gradients over the ranks in every backward
pass (gloo on CPUs, NCCL on GPUs, one GPU per rank), so the copies stay identical. Rank 0 alone
writes checkpoints, TensorBoard, videos and the progress bar, and takes the run directory's lock.

Scaling rule: `--batch-size` is the global batch and is split evenly over the ranks; `--lr` applies
to that global batch. A run on N ranks therefore takes the same optimisation steps as one process
with the same flags, N times faster at best. To use more ranks for a bigger batch, raise
`--batch-size` and, if the loss allows, `--lr` with it (the linear scaling rule).
"""

from __future__ import annotations

import gc
import inspect
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from worldsim.model.objective import world_model_loss
from worldsim.model.world_model import WorldModel


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local: int = 0  # the rank's index on its machine: its GPU

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def from_environment() -> Ranks:
    """The ranks torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK); one rank without."""
    try:
        return Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as exc:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers ({exc})") from None


def start(ranks: Ranks, device: torch.device) -> torch.device:
    """Join the process group (nothing for one rank); returns this rank's device."""
    if not ranks.active:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", ranks.local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(ranks: Ranks, finished: bool = True) -> None:
    """Leave the process group. A rank that finished waits for the others first: rank 0 still
    validates and writes after the last step, and a rank that tore its group down and exited while
    a peer's gloo pairs were still open could abort at interpreter shutdown ("terminate called
    without an active exception"). A rank that failed leaves at once (its peers are stuck anyway)."""
    if not (ranks.active and dist.is_initialized()):
        return
    if finished:
        dist.barrier()
    dist.destroy_process_group()
    gc.collect()  # drop the gradient-averaging module's pending work while the interpreter lives


def per_rank_batch(batch_size: int, ranks: Ranks) -> int:
    if batch_size % ranks.world:
        raise ValueError(f"--batch-size {batch_size} (the global batch) does not split evenly over {ranks.world} ranks")
    return batch_size // ranks.world


def random_streams(seed: int, ranks: Ranks, step: int = 0) -> tuple[np.random.Generator, torch.Generator]:
    """This rank's window sampler and noise generator. One process (and rank 0 of a fresh run)
    draws exactly what a single-process run draws; the other ranks, and every rank of a run resumed
    on several ranks (say on another number of them), draw from (seed, rank, step)."""
    if not ranks.active or (ranks.main and step == 0):
        return np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    stream = np.random.default_rng([seed, ranks.rank, step])
    return stream, torch.Generator().manual_seed(int(stream.integers(2**62)))


class _Loss(nn.Module):
    """The objective as a module's forward: what DistributedDataParallel wraps, so that every
    backward pass through it averages the gradients over the ranks."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.model = model

    def forward(self, *args, **kwargs):
        return world_model_loss(self.model, *args, **kwargs)


def loss_function(model: WorldModel, ranks: Ranks) -> nn.Module:
    """`world_model_loss(model, ...)` as a callable; with several ranks, gradient-averaging."""
    loss = _Loss(model)
    if not ranks.active:
        return loss
    device_ids = [model.device] if model.device.type == "cuda" else None
    # The buffers (state normalisation, action bounds) never change while training: no broadcast
    # before every forward (the option's name changed in torch 2.13).
    ddp = nn.parallel.DistributedDataParallel
    quiet = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters else "broadcast_buffers"
    return ddp(loss, device_ids=device_ids, **{quiet: False})


def mean_over_ranks(values: dict[str, float], ranks: Ranks) -> dict[str, float]:
    """Logged loss parts averaged over the ranks (every rank must call this at the same step)."""
    if not ranks.active or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(tensor)
    return {k: float(v) / ranks.world for k, v in zip(keys, tensor, strict=True)}
