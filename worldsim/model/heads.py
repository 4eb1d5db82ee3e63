"""Refit a trained world model's reward and termination heads, leaving everything else untouched.

An agent trained in a dream drives it to states the behaviour data never showed, and there the
heads can pay for nothing (a CarRacing car standing still is paid as if it were racing). The fix
that keeps the model's observations as they are is to refit the heads alone on data that covers
those states: encoder, dynamics and decoder stay bit-identical, so latents filtered from real
frames, agents trained on them and the dream's frames do not change; only the reward and crash
signal of the dream does.

The heads are scored as in training (`worldsim.model.objective`): on latents filtered from the
real frames and on latents imagined `horizon` steps ahead from the last of `context` of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from worldsim.data.windows import WindowSampler
from worldsim.model.objective import LossWeights, to_tensors
from worldsim.model.world_model import WorldModel


@dataclass
class HeadFit:
    steps: int = 600
    batch_size: int = 32
    context: int = 4
    horizon: int = 8
    lr: float = 3e-4
    seed: int = 0


def head_parameters(model: WorldModel) -> list[torch.nn.Parameter]:
    return [*model.reward_head.parameters(), *model.termination_head.parameters()]


@torch.no_grad()
def _latents(model: WorldModel, batch: dict[str, torch.Tensor], context: int, generator: torch.Generator) -> torch.Tensor:
    """(B, T-1, L): the latent after each action, filtered for the first context-1 actions and
    imagined (prior, α = 1 as in the default environment) from there on."""
    frames, actions = batch["frames"], batch["actions"]
    B, T = frames.shape[:2]
    embed = model.encoder(model.frames_in(frames.flatten(0, 1))).view(B, T, -1)
    filtered = model.unroll_posterior(embed[:, :context], actions[:, : context - 1])[0]
    imagined = model.imagine(filtered[:, -1], actions[:, context - 1 :], generator=generator).latents
    return torch.cat([filtered[:, 1:], imagined], 1)


def head_loss(model: WorldModel, batch: dict[str, torch.Tensor], latents: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    mask = batch["mask"]
    reward = ((model.reward(latents) - batch["rewards"]) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)
    bce = F.binary_cross_entropy_with_logits(
        model.termination_logit(latents),
        batch["terminated"],
        pos_weight=torch.tensor(weights.termination_pos_weight, device=model.device),
        reduction="none",
    )
    termination = (bce * mask).sum() / mask.sum().clamp(min=1.0)
    return weights.reward * reward + weights.termination * termination


def fit_heads(
    model: WorldModel, sources: list[tuple[WindowSampler, float]], fit: HeadFit, progress: bool = True
) -> dict[str, float]:
    """Refit the heads on batches drawn from `sources` (sampler, share of each batch). Returns the
    mean head loss of the first and the last tenth of the steps."""
    if abs(sum(share for _, share in sources) - 1.0) > 1e-6:
        raise ValueError(f"the shares of the sources must add up to 1, got {[share for _, share in sources]}")
    for sampler, _ in sources:
        if sampler.length != fit.context + fit.horizon - 1:
            raise ValueError(
                f"windows of length {sampler.length}; context {fit.context} + horizon {fit.horizon} "
                f"needs {fit.context + fit.horizon - 1}"
            )
    rng, generator = np.random.default_rng(fit.seed), torch.Generator().manual_seed(fit.seed)
    weights = LossWeights()
    model.requires_grad_(False)
    params = head_parameters(model)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=fit.lr, weight_decay=1e-6)
    counts = [int(round(share * fit.batch_size)) for _, share in sources[:-1]]
    counts.append(fit.batch_size - sum(counts))
    losses = []
    for _ in tqdm(range(fit.steps), desc="fitting heads", unit="step", disable=not progress):
        parts = [
            to_tensors(sampler.sample(int(n), rng), model.device)
            for (sampler, _), n in zip(sources, counts, strict=True)
            if n > 0
        ]
        batch = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        latents = _latents(model, batch, fit.context, generator)
        loss = head_loss(model, batch, latents, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.requires_grad_(True)
    tenth = max(fit.steps // 10, 1)
    return {"loss_first": float(np.mean(losses[:tenth])), "loss_last": float(np.mean(losses[-tenth:]))}
