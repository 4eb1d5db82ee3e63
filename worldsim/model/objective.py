"""The training objective: filter a real context, then imagine the rest of the window open-loop.

A window holds C + H frames and the C + H - 1 actions between them. All frames are filtered by the
posterior (reconstruction, KL, physical state from pixels); from the posterior latent of frame C-1
the model then imagines H steps with the recorded actions, each frame drawn on top of its own
previous output, and is scored against the real frames, states, rewards and terminations it did
not see. Training on that open-loop horizon is what keeps compounding error in view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from worldsim.data import Windows
from worldsim.model.world_model import WorldModel


@dataclass
class LossWeights:
    kl: float = 1.0
    free_nats: float = 1.0  # KL below this (per step) is not penalised
    kl_balance: float = 0.8  # share of the KL gradient that trains the prior (towards the posterior)
    state: float = 20.0
    reward: float = 20.0
    termination: float = 5.0
    termination_pos_weight: float = 10.0  # terminations are rare; up-weight them
    # Share of frames decoded without the previous frame. Off by default: environments always have
    # one, and mixing "edit the previous frame" with "draw from scratch" in one decoder let the
    # from-scratch frames' large errors wreck the copy path early in training (PushT, 250 steps:
    # 21.4 dB at k = 1 against 36.8 dB untrained).
    reference_dropout: float = 0.0
    # Extra weight on pixels where the world changed: where the target frame differs (by more than
    # `motion_threshold` in any channel) from the frame before it, or, for imagined frames, from the
    # last real frame the dream started from. A small moving object (PushT's agent disc, ~12 of 4096
    # pixels) otherwise costs so little that fading it away is the cheapest prediction.
    motion: float = 0.0
    motion_threshold: float = 0.05
    # Extra weight on pixels by how far they lie from the batch's mean frame (summed absolute
    # difference over the channels, 0 to 3): what is rare at a place (PushT's block, 1.4 % of the
    # pixels, and its agent disc) outweighs the table that every frame shares, moving or not. A
    # decoder drawing from the latent alone, scored evenly, settles on a blob where the block is:
    # given the true state, the field decoder draws 1 % of held-out blocks in the right shape after
    # 2,000 steps unweighted and 73 % with `foreground` 10 (scripts/render_probe.py, BENCHMARKS.md).
    foreground: float = 0.0
    # The frame reader learns the physical state from real frames (weight `reader`); `consistency`
    # then asks each imagined frame to show, as that frozen reader sees it, the state its latent holds.
    reader: float = 20.0
    consistency: float = 0.0
    # Gaussian noise (std, in [0, 1] pixel units) on the real frames the decoder draws on top of, so
    # that it learns to draw on imperfect frames like its own.
    conditioning_noise: float = 0.0
    # Weight of the imagined frames' pixel loss. Scored against the real frames, an open-loop frame
    # is best drawn as the average of the futures the model cannot tell apart: a blur, which the
    # next frame, drawn on top of it, blurs further. `repair` instead scores the posterior latent
    # (the true state) drawn on the dream's own previous frames: the decoder learns to draw a sharp
    # state on imperfect references, and the dynamics learn from the KL and state terms alone.
    imagined_pixels: float = 1.0
    repair: float = 0.0
    # Share of the posterior frames drawn with the simulator's true physical state in the latent's
    # state slot (the rest of the latent as filtered). The filter's state is poor early in training
    # and its pose estimates hedge, so a decoder left alone learns geometry from the deterministic
    # part and draws a blob where the block's orientation is unsure; drawn from the true state, it
    # learns to draw what the state slot says, and a dream's frames then show the dream's state.
    state_forcing: float = 0.0
    # Weight (times `state`) of the physical state after the dream's first step from a filtered
    # latent, scored in every batch. With a burn-in that step, every env's first after `reset`,
    # is scored only in the batches that draw none (1 in 25 at --burn-in 24), and a model trained
    # so jumped there: PushT's block 16.8 units off when encoded, 68.2 after one step
    # (scripts/first_step_error.py). The filtered latent is held fixed: the dynamics learn to step
    # from what the encoder gives; scored through it, the encoder bent its block angle to suit the
    # step (encoded angle error 0.99 -> 1.49 rad in 4,500 steps; BENCHMARKS.md).
    first_step: float = 0.0
    # Share of windows whose dream starts from the simulator's true state in the latent's state slot
    # (the rest of the latent as filtered). From a filtered state that misses part of the truth, the
    # dynamics learn to read the actions as evidence of the truth: CarRacing's drivers steer towards
    # the road, so a dream trained only from filtered starts moves the road towards the steering's
    # side, where steering turns the car and the road the other way (scripts/action_evidence.py).
    true_start: float = 0.0

    def __post_init__(self):
        for name in ("reference_dropout", "state_forcing", "true_start"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"loss weight {name} is a share in [0, 1], got {getattr(self, name)}")


def to_tensors(batch: Windows, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    tensors = {
        "frames": torch.from_numpy(batch.frames),
        "actions": torch.from_numpy(batch.actions),
        "rewards": torch.from_numpy(batch.rewards),
        "terminated": torch.from_numpy(batch.terminated).float(),
        "states": torch.from_numpy(batch.states),
        "mask": torch.from_numpy(batch.mask).float(),
    }
    return {k: v.to(device) for k, v in tensors.items()}


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def _changed(target: torch.Tensor, *bases: torch.Tensor, threshold: float) -> torch.Tensor:
    """(..., 1, H, W) float mask: pixels where `target` differs from any of `bases`."""
    changed = torch.zeros_like(target[..., :1, :, :], dtype=torch.bool)
    for base in bases:
        changed |= ((target - base).abs() > threshold).any(-3, keepdim=True)
    return changed.float()


def pixel_weight(
    weights: LossWeights, target: torch.Tensor, mean_frame: torch.Tensor | None, *before: torch.Tensor
) -> torch.Tensor | None:
    """(..., 1, H, W) weight of each pixel of `target` (None: all equal): `motion` where it changed
    from any of the frames `before`, `foreground` by its distance from the mean frame."""
    weight = None
    if weights.motion > 0:
        weight = 1 + weights.motion * _changed(target, *before, threshold=weights.motion_threshold)
    if weights.foreground > 0:
        rare = weights.foreground * (target - mean_frame).abs().sum(-3, keepdim=True)
        weight = 1 + rare if weight is None else weight + rare
    return weight


def pixel_error(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Squared error summed over each frame (..., 3, H, W) -> (...), pixels weighted by `weight`."""
    error = (pred - target) ** 2
    return (error if weight is None else error * weight).sum((-3, -2, -1))


def world_model_loss(
    model: WorldModel,
    batch: dict[str, torch.Tensor],
    context: int,
    weights: LossWeights,
    generator: torch.Generator,
    alpha: torch.Tensor,
    decode_fraction: float = 0.5,
    burn_in: int = 0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Scalar loss and its named parts. `alpha` (B,) is the physics blend used while imagining.

    With `burn_in` b > 0 the dream first runs b steps on its own, without gradients, from the last
    real context frame, each frame drawn on the model's own previous output; the scored horizon
    starts from there. The model so learns to carry on from the imperfect frames and latents of its
    own long rollouts, at a third of the cost of scoring those steps. The window must hold
    context + b + horizon frames; the horizon is what is left after the burn-in.
    """
    frames, actions, states = batch["frames"], batch["actions"], batch["states"]
    B, T = frames.shape[:2]  # T = C + b + H frames
    if not 0 <= burn_in < T - context:
        raise ValueError(f"burn_in {burn_in} leaves no scored step in windows of {T} frames after {context} of context")
    pixels = model.frames_in(frames)  # (B, T, 3, H, W)
    # valid[t]: frame t is real (not padding after the episode ended)
    valid = torch.cat([batch["mask"].new_ones(B, 1), batch["mask"]], 1)
    target_states = model.normalise_state(states)
    references = pixels
    if weights.conditioning_noise > 0:
        noise = torch.randn(pixels.shape, generator=generator, device=generator.device).to(model.device)
        references = (pixels + weights.conditioning_noise * noise).clamp(0, 1)

    # ---- filtering (posterior) over every frame ----
    maps = model.encoder.feature_maps(pixels.flatten(0, 1))
    embed = model.encoder.out(maps[-1].flatten(1)).view(B, T, -1)
    posts, distributions = model.unroll_posterior(embed, actions, generator)  # posts: (B, T, L)
    kls = []
    kl_of, detach = model.stochastic.kl, model.stochastic.detach
    for prior, post in distributions[1:]:
        balanced = weights.kl_balance * kl_of(detach(post), prior) + (1 - weights.kl_balance) * kl_of(post, detach(prior))
        kls.append(balanced.clamp(min=weights.free_nats))

    # Decoding is the costly part: score a random subset of the posterior frames (as many, on
    # average, as without a burn-in), each drawn with the real frame before it as reference
    # (teacher forcing); frame 0 has none.
    fraction = decode_fraction * (T - burn_in) / T if burn_in else decode_fraction
    chosen = torch.rand(T, generator=generator, device=generator.device) < fraction
    chosen[0] = True
    idx = chosen.nonzero().squeeze(1).to(model.device)
    n = len(idx)
    keep = (torch.rand(B, n, generator=generator, device=generator.device) >= weights.reference_dropout).float().to(model.device)
    keep[:, idx == 0] = 0.0
    before = (idx - 1).clamp(min=0)
    if weights.conditioning_noise > 0:
        reference_maps = model.encoder.feature_maps(references[:, before].flatten(0, 1))[:3]
    else:
        reference_maps = [m.view(B, T, *m.shape[1:])[:, before].flatten(0, 1) for m in maps[:3]]
    drawn = posts[:, idx]
    if weights.state_forcing > 0 and model.config.state_dim:
        S = model.config.state_code_dim
        forced = torch.rand(B, n, 1, generator=generator, device=generator.device) < weights.state_forcing
        state = torch.where(forced.to(model.device), target_states[:, idx], drawn[..., :S])
        drawn = torch.cat([state, drawn[..., S:]], -1)
    recon = model.draw(drawn.flatten(0, 1), references[:, before].flatten(0, 1), keep.flatten(), reference_maps)
    recon = recon.view(B, n, *pixels.shape[2:])
    target = pixels[:, idx]
    # (3, H, W): what the batch's frames share; only the foreground weight reads it
    mean_frame = pixels.mean((0, 1)) if weights.foreground > 0 else None
    weight = pixel_weight(weights, target, mean_frame, pixels[:, before])
    recon_post = _masked_mean(pixel_error(recon, target, weight), valid[:, idx])
    kl = _masked_mean(torch.stack(kls, 1), batch["mask"])

    parts = {"recon_post": recon_post, "kl": kl}
    loss = recon_post + weights.kl * kl
    S = model.config.state_code_dim  # the state's width in the latent
    if S:
        state_post = _masked_mean(model.state_error(posts[..., :S], target_states), valid)
        parts["state_post"] = state_post
        loss = loss + weights.state * state_post
    if S and model.frame_reader is not None:
        read = model.frame_reader(embed)  # (B, T, S): the state code of each real frame, read alone
        reader = _masked_mean(model.state_error(read, target_states), valid)
        parts["reader"] = reader
        loss = loss + weights.reader * reader

    if S and model.config.ensemble:
        # Each head learns the filtered transitions t-1 -> t on its own bootstrap half of the batch
        # rows, the latent held fixed (inputs detached): the heads shape nothing else.
        features = model.action_features(actions)
        predicted = model.ensemble_states(posts[:, :-1].flatten(0, 1), posts[:, 1:].flatten(0, 1), features.flatten(0, 1))
        errors = model.state_error(predicted, target_states[:, 1:].flatten(0, 1)).view(-1, B, T - 1)
        rows = (torch.rand(len(errors), B, 1, generator=generator, device=generator.device) < 0.5).float().to(model.device)
        ensemble = sum(_masked_mean(e, batch["mask"] * r) for e, r in zip(errors, rows, strict=True)) / len(errors)
        parts["ensemble"] = ensemble
        loss = loss + weights.state * ensemble

    if S and burn_in and weights.first_step > 0:
        filtered, action = posts[:, context - 1].detach(), actions[:, context - 1 : context]
        step = model.imagine(filtered, action, generator=generator, physics_blend=alpha.to(model.device))
        after = target_states[:, context : context + 1]
        first_step = _masked_mean(model.state_error(step.latents[..., :S], after), valid[:, context : context + 1])
        parts["first_step"] = first_step
        loss = loss + weights.state * weights.first_step * first_step

    # ---- the dream's own burn-in, then imagination, from the last context frame ----
    # Each imagined frame is drawn with the one before it as reference: the last real frame, then
    # the model's own output, exactly as in a rollout of the environment.
    start, previous = posts[:, context - 1], references[:, context - 1]
    if S and weights.true_start > 0:
        truth = torch.rand(B, 1, generator=generator, device=generator.device).to(model.device) < weights.true_start
        start = torch.cat([torch.where(truth, target_states[:, context - 1], start[..., :S]), start[..., S:]], -1)
    first_maps = None if weights.conditioning_noise > 0 else [m.view(B, T, *m.shape[1:])[:, context - 1] for m in maps[:3]]
    if burn_in:
        # A decoder that draws from the latent alone needs no burned-in frames: only latents carry on.
        drawn = model.config.draws_on_previous
        with torch.no_grad():
            warm = model.imagine(
                start,
                actions[:, context - 1 : context - 1 + burn_in],
                previous=previous if drawn else None,
                generator=generator,
                physics_blend=alpha.to(model.device),
            )
        start, first_maps = warm.latents[:, -1], None
        previous = warm.frames[:, -1] if drawn else previous
    first = context + burn_in  # the first scored frame
    keep = (torch.rand(B, generator=generator, device=generator.device) >= weights.reference_dropout).float().to(model.device)
    rollout = model.imagine(
        start,
        actions[:, first - 1 :],
        previous=previous,
        generator=generator,
        physics_blend=alpha.to(model.device),
        keep=keep,
        reference=first_maps,
        age=burn_in,  # the dream's steps since the filter, for dynamics that read it
    )
    imagined, frames_imag = rollout.latents, rollout.frames  # predictions of frames first .. T-1
    future = valid[:, first:]
    real_future = pixels[:, first:]
    weight = pixel_weight(weights, real_future, mean_frame, pixels[:, first - 1 : -1], pixels[:, context - 1 : context])
    recon_imag = _masked_mean(pixel_error(frames_imag, real_future, weight), future)
    parts["recon_imag"] = recon_imag
    loss = loss + weights.imagined_pixels * recon_imag
    if weights.repair > 0:
        # The true state (the posterior latent) drawn on the dream's own previous frames: sharp
        # targets for drawing on imperfect references, with nothing uncertain left to hedge.
        own = torch.cat([previous[:, None], frames_imag[:, :-1].detach()], 1)
        repaired = model.draw(posts[:, first:].flatten(0, 1), own.flatten(0, 1)).view(real_future.shape)
        repair = _masked_mean(pixel_error(repaired, real_future, weight), future)
        parts["repair"] = repair
        loss = loss + weights.repair * repair
    if S:
        state_imag = _masked_mean(model.state_error(imagined[..., :S], target_states[:, first:]), future)
        parts["state_imag"] = state_imag
        loss = loss + weights.state * state_imag
    if S and model.frame_reader is not None and weights.consistency > 0:
        # The judge is frozen here (detached parameters): this term trains the decoder to draw
        # what the latent holds, not the reader to see it in whatever the decoder drew.
        judge = {k: v.detach() for k, v in model.named_parameters() if k.startswith(("encoder.", "frame_reader."))}
        shown = model.read_frames(frames_imag.flatten(0, 1), judge).view(*imagined.shape[:2], S)
        consistency = _masked_mean(model.state_error(shown, imagined[..., :S].detach()), future)
        parts["consistency"] = consistency
        loss = loss + weights.consistency * consistency

    # ---- reward and termination heads: the reward of action t arrives with latent t+1 ----
    step_mask = batch["mask"]
    latents_after = torch.cat([posts[:, 1:first], imagined], 1)  # (B, T-1, L)
    reward_mse = _masked_mean((model.reward(latents_after) - batch["rewards"]) ** 2, step_mask)
    pos_weight = torch.tensor(weights.termination_pos_weight, device=model.device)
    bce = F.binary_cross_entropy_with_logits(
        model.termination_logit(latents_after), batch["terminated"], pos_weight=pos_weight, reduction="none"
    )
    termination = _masked_mean(bce, step_mask)
    # The heads also learn from every filtered latent, so they read states the encoder produces.
    reward_post = _masked_mean((model.reward(posts[:, 1:]) - batch["rewards"]) ** 2, step_mask)
    loss = loss + weights.reward * (reward_mse + reward_post) + weights.termination * termination
    parts.update(reward=reward_mse, termination=termination)

    with torch.no_grad():
        mse = _masked_mean(((frames_imag - real_future) ** 2).mean((2, 3, 4)), future)
        parts["psnr_imag"] = 10 * torch.log10(1.0 / mse.clamp(min=1e-10))
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def first_frames(batch: dict[str, torch.Tensor], frames: int) -> dict[str, torch.Tensor]:
    """The windows cut to their first `frames` frames (and the steps between those)."""
    per_frame = ("frames", "states")  # the rest (actions, rewards, terminated, mask) are per step
    return {k: v[:, :frames] if k in per_frame else v[:, : frames - 1] for k, v in batch.items()}


def sample_alpha(batch: int, rng: np.random.Generator, pure_share: float = 0.5) -> torch.Tensor:
    """Physics blends for a batch: α = 1 for `pure_share` of windows, else uniform in [0, 1], so
    the decoder and heads learn to read states that the explicit prior wrote."""
    alpha = np.where(rng.random(batch) < pure_share, 1.0, rng.random(batch))
    return torch.from_numpy(alpha.astype(np.float32))
