"""Long-horizon evaluation: does the dream still look and behave like the simulator after hundreds of steps?

Short-horizon PSNR against copy-last-frame is a weak bar: a PushT dream that freezes the block
scores well on a table where the block rarely moves. Here the dream is judged as a user sees it.
From each held-out real episode the model filters the first `context` frames, then replays the
episode's recorded actions open-loop (`WorldModel.imagine`, frames snapped to the palette as the
environments show them) to the episode's end. Dream frame k stands beside real frame context-1+k.
Frames are pooled in horizon buckets (steps h .. h+bucket-1 for each h in `horizons`, and "end":
each episode's last `end_steps` steps, the only long bucket driving's 30-step episodes have), and
per bucket:

- realism: a small CNN trained to tell real from dream frames, split by episode
  (`worldsim.model.critics.realism_accuracy`); held-out accuracy, 0.5 = indistinguishable. The
  real-vs-real control on the same real frames is the test's floor. For a model whose decoder
  draws the physical state alone, the same test on frames drawn from the simulator's true state
  ("drawn truth") is what a dream whose states were exact would score: how far the decoder's
  drawing alone gives a frame away.
- state read off the pixels: a probe trained on real frames of the episodes not replayed reads the
  physical state; its error on dream frames against the simulator's true state, beside the probe on
  copy-last frames (the real context frame held still) and on the real frames themselves (its floor).
  The model's own state head is scored too: a latent that moves the block while the frame shows it
  still is a decoder that does not draw what the latent says.
- motion: mean absolute frame-to-frame change, dream and real: a frozen dream moves less.
- persistence: per object the simulator shows (PushT's agent and block, highway-env's ego and
  traffic, CarRacing's car and the road under it; found by colour, `worldsim.sources.objects`), the
  share of dream frames that still show it where the real frame does.

Controllability (`worldsim.model.controllability`) runs the domain's scripted action programs from
fresh real starts in the simulator and the dream and compares the responses' signs and sizes.

Terminations are scored apart: from the latent filtered on the real frames up to each step, the
model imagines 1 and 3 steps ahead with the recorded actions; the termination head's probability
against the simulator's `terminated` gives AUPRC, and the crash signal (head, plus the domain's crash
rule) precision and recall.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from worldsim import domains
from worldsim.data import Dataset
from worldsim.data.dataset import field_columns
from worldsim.model.calibration import termination_scores
from worldsim.model.controllability import ControllabilityConfig, controllability, format_controllability_report
from worldsim.model.critics import ProbeRecipe, RealismRecipe, StateProbe, absolute_difference, realism_accuracy, realism_control
from worldsim.model.persistence import persistence
from worldsim.model.world_model import WorldModel


@dataclass
class LongEvalConfig:
    horizons: tuple[int, ...] = (1, 10, 50, 100, 200)
    bucket: int = 10  # steps pooled per horizon: h .. h + bucket - 1
    end_steps: int = 10  # the "end" bucket: each episode's last steps
    context: int = 4  # real frames filtered before the dream takes over
    episodes: int = 40  # held-out episodes replayed, at most
    probe_frames: int = 20000  # real frames the state probe learns from, at most
    batch_size: int = 16  # episodes imagined at once
    aheads: tuple[int, ...] = (1, 3)  # termination scoring: steps imagined before the scored one
    controllability_starts: int = 20  # fresh simulator starts for the action programs (0: skip)
    # The realism test is repeated over this many random splits of the episodes (seeds seed, seed+1,
    # ...): with tens of episodes one split's accuracy moves by +-0.15, the mean of three by less.
    realism_repeats: int = 3
    # The dream's α, as `WorldSimEnv(physics_blend=...)` steps it: 1 the learned dynamics alone,
    # lower values mix in the domain's physics prior (replays, terminations and action programs alike).
    physics_blend: float = 1.0
    val_fraction: float = 0.1
    seed: int = 0
    realism: RealismRecipe = field(default_factory=RealismRecipe)
    probe: ProbeRecipe = field(default_factory=ProbeRecipe)


@dataclass
class Replay:
    """Held-out episodes and their dreams, aligned: `dream[i][k]` stands beside `real[i][k]`, the
    real frame context-1+k+1 of episode i (k = 0 is the first imagined step)."""

    episodes: list[int]
    real: list[np.ndarray]  # per episode (K_i, H, W, 3) uint8
    dream: list[np.ndarray]  # per episode (K_i, H, W, 3) uint8
    last_context: list[np.ndarray]  # per episode (H, W, 3): the copy-last baseline's frame
    true_states: list[np.ndarray]  # per episode (K_i, S)
    head_states: list[np.ndarray]  # per episode (K_i, S): the model's own state head
    # per episode (K_i, H, W, 3) uint8: the true states drawn by a decoder that reads the state
    # alone, snapped as the dream's frames are (None for other decoders)
    drawn_truth: list[np.ndarray] | None = None


def evaluate_long(
    model: WorldModel, data: Dataset, split: str, config: LongEvalConfig, palette=None, probe_data: Dataset | None = None
) -> dict[str, Any]:
    """The long-horizon report for `model` on `split` of `data` (see the module docstring). The state
    probe learns from `probe_data` (say the model's training data: the more real frames, the better
    it reads them) or, without it, from the episodes of `data` that are not replayed."""
    held_out = [i for i in data.indices(split, config.val_fraction) if len(data.episode(i)) >= config.context]
    if not held_out:
        raise ValueError(f"{data.root}: no {split} episode has {config.context} steps of context")
    rng = np.random.default_rng(config.seed)
    chosen = sorted(rng.choice(held_out, size=min(config.episodes, len(held_out)), replace=False).tolist())
    columns = model_columns(model, data)
    replay = replay_episodes(model, data, chosen, config, palette, columns, draw_truth=True)
    probe = None
    if model.config.state_dim:
        if probe_data is not None and probe_data.domain != model.config.domain:
            raise ValueError(f"{probe_data.root} holds {probe_data.domain!r} data; the model is a {model.config.domain!r} model")
        others = list(range(len(probe_data))) if probe_data is not None else [i for i in range(len(data)) if i not in set(chosen)]
        probe = _fit_probe(model, probe_data or data, others, config)
    spec = domains.of_model(model.config.domain)
    objects = spec.load("objects") if spec.objects else ()
    # angles (unit "rad" in the data) are scored around the circle, whatever the model was trained with
    angles = data.angles[columns]
    buckets = {}
    for name, steps in _buckets(replay, config).items():
        if steps:
            buckets[name] = _score_bucket(replay, steps, probe, list(model.config.state_fields), objects, config, angles)
    report = {
        "episodes": len(chosen),
        "steps_imagined": int(sum(len(d) for d in replay.dream)),
        "config": {k: v for k, v in asdict(config).items() if k not in ("realism", "probe")},
        "recipes": {"realism": asdict(config.realism), "probe": asdict(config.probe)},
        "probe_data": str((probe_data or data).root),
        "buckets": buckets,
        "terminations": _terminations(model, data, chosen, config),
    }
    if config.controllability_starts and spec.programs:
        report["controllability"] = controllability(
            model,
            config.controllability_starts,
            ControllabilityConfig(context=config.context, seed=config.seed, physics_blend=config.physics_blend),
            probe=probe.predict if probe is not None else None,
            palette=palette,
        )
    return report


def model_columns(model: WorldModel, data: Dataset) -> list[int]:
    """Where each of the model's state fields sits in `data`'s states: a model trained on an older
    recording of its domain (fewer fields) is scored on newer data by the fields it knows."""
    return field_columns(data.source, model.config.state_fields, data.root, "the model's")


@torch.no_grad()
def replay_episodes(
    model: WorldModel,
    data: Dataset,
    indices: list[int],
    config: LongEvalConfig,
    palette=None,
    columns: list[int] | None = None,
    draw_truth: bool = False,
) -> Replay:
    """Each episode's dream: the first `context` real frames, then its recorded actions open-loop.
    `columns` pick the model's state fields out of the data's (`model_columns`; default all).
    `draw_truth`: also draw the true states, where the model's decoder reads the state alone."""
    c = config.context
    rule = domains.of_model(model.config.domain).resolve_crash_rule(None)
    draws_state = draw_truth and model.config.decoder_input == "state"
    replay = Replay([], [], [], [], [], [], [] if draws_state else None)
    generator = torch.Generator().manual_seed(config.seed)
    for lo in range(0, len(indices), config.batch_size):
        batch = [data.episode(i) for i in indices[lo : lo + config.batch_size]]
        steps = max(len(e) for e in batch) - (c - 1)
        frames = torch.from_numpy(np.stack([e.frames[:c] for e in batch]))
        actions = torch.from_numpy(np.stack([_padded(e.actions, c - 1 + steps) for e in batch]))
        latent = model.encode(frames, actions[:, : c - 1])
        rollout = model.imagine(
            latent,
            actions[:, c - 1 :],
            previous=model.frames_in(frames[:, -1]),
            generator=generator,
            palette=palette,
            crash_rule=rule,
            physics_blend=config.physics_blend,
        )
        pixels, states = rollout.pixels().cpu().numpy(), rollout.states.cpu().numpy()
        for j, (index, episode) in enumerate(zip(indices[lo : lo + config.batch_size], batch, strict=True)):
            k = len(episode) - (c - 1)  # imagined steps this episode has real frames for
            replay.episodes.append(index)
            replay.real.append(episode.frames[c : c + k])
            replay.dream.append(pixels[j, :k])
            replay.last_context.append(episode.frames[c - 1])
            truth = episode.states[c : c + k]
            truth = truth if columns is None else truth[:, columns]
            replay.true_states.append(truth)
            replay.head_states.append(states[j, :k])
            if draws_state:
                replay.drawn_truth.append(draw_states(model, truth, palette))
    return replay


@torch.no_grad()
def draw_states(model: WorldModel, states: np.ndarray, palette=None, chunk: int = 256) -> np.ndarray:
    """(K, H, W, 3) uint8: physical `states` (K, S) drawn by the model's state decoder, snapped to
    `palette` (if given) as `imagine` snaps the dream's frames."""
    codes = model.normalise_state(torch.from_numpy(np.asarray(states, dtype=np.float32)).to(model.device))
    if not len(codes):  # an episode with no imagined step
        size = model.config.frame_size
        return np.zeros((0, size, size, 3), np.uint8)
    frames = []
    for lo in range(0, len(codes), chunk):
        frame = model.draw_state(codes[lo : lo + chunk])
        frames.append(model.snap(frame, palette.to(frame.device)) if palette is not None else frame)
    return model.to_uint8(torch.cat(frames)).cpu().numpy()


def _padded(actions: np.ndarray, length: int) -> np.ndarray:
    """`actions` repeated at the end to `length` steps: a shorter episode in a batch imagines on,
    and the steps past its end are never scored."""
    if len(actions) >= length:
        return actions[:length]
    return np.concatenate([actions, np.repeat(actions[-1:], length - len(actions), 0)])


def _buckets(replay: Replay, config: LongEvalConfig) -> dict[str, list[tuple[int, int]]]:
    """Bucket name -> (episode position, imagined step k) pairs. Step k (0-based) is horizon k+1."""
    buckets: dict[str, list[tuple[int, int]]] = {}
    for h in config.horizons:
        buckets[str(h)] = [(i, k) for i, d in enumerate(replay.dream) for k in range(h - 1, h - 1 + config.bucket) if k < len(d)]
    buckets["end"] = [(i, k) for i, d in enumerate(replay.dream) for k in range(max(len(d) - config.end_steps, 0), len(d))]
    return buckets


def _score_bucket(
    replay: Replay,
    steps: list[tuple[int, int]],
    probe: StateProbe | None,
    fields: list[str],
    objects: tuple,
    config: LongEvalConfig,
    angles: np.ndarray | None = None,
) -> dict:
    real = np.stack([replay.real[i][k] for i, k in steps])
    dream = np.stack([replay.dream[i][k] for i, k in steps])
    groups = np.array([replay.episodes[i] for i, _ in steps])
    out: dict[str, Any] = {"frames": len(steps), "episodes": len(set(groups.tolist()))}
    if out["episodes"] >= 4:  # two groups a side at the least, for a split by episode
        seeds = range(config.seed, config.seed + config.realism_repeats)
        tests = [realism_accuracy(real, dream, groups, groups, config.realism, seed=s)["accuracy"] for s in seeds]
        controls = [realism_control(real, groups, config.realism, seed=s)["accuracy"] for s in seeds]
        out["realism"], out["realism_std"] = float(np.mean(tests)), float(np.std(tests))
        out["realism_control"], out["realism_control_std"] = float(np.mean(controls)), float(np.std(controls))
        if replay.drawn_truth is not None:
            drawn = np.stack([replay.drawn_truth[i][k] for i, k in steps])
            exact = [realism_accuracy(real, drawn, groups, groups, config.realism, seed=s)["accuracy"] for s in seeds]
            out["realism_drawn_truth"], out["realism_drawn_truth_std"] = float(np.mean(exact)), float(np.std(exact))
    out["motion"] = {"dream": _motion(replay.dream, steps), "real": _motion(replay.real, steps)}
    if objects:
        copy_last = np.stack([replay.last_context[i] for i, _ in steps])
        out["persistence"] = persistence(real, dream, objects, copy_last)
    if probe is not None:
        truth = np.stack([replay.true_states[i][k] for i, k in steps])
        copy_last = np.stack([replay.last_context[i] for i, _ in steps])
        head = np.stack([replay.head_states[i][k] for i, k in steps])
        out["state_error"] = {
            "probe_on_dream": _per_field(probe.error(dream, truth, angles), fields),
            "probe_on_copy_last": _per_field(probe.error(copy_last, truth, angles), fields),
            "probe_on_real": _per_field(probe.error(real, truth, angles), fields),
            "state_head": _per_field(absolute_difference(head, truth, angles).mean(0), fields),
        }
    return out


def _motion(frames: list[np.ndarray], steps: list[tuple[int, int]]) -> float:
    """Mean absolute change from the step before, over the bucket's steps (grey levels, 0-255)."""
    changes = [np.abs(frames[i][k].astype(np.int16) - frames[i][k - 1].astype(np.int16)).mean() for i, k in steps if k > 0]
    return float(np.mean(changes)) if changes else 0.0


def _per_field(errors: np.ndarray, fields: list[str]) -> dict[str, float]:
    return {name: float(e) for name, e in zip(fields, errors, strict=True)}


def _fit_probe(model: WorldModel, data: Dataset, others: list[int], config: LongEvalConfig) -> StateProbe:
    """The probe learns from real frames of episodes that are not replayed, so the frames it judges
    are new to it."""
    if not others:
        raise ValueError(f"{data.root}: every episode is replayed, none is left to train the state probe; lower --episodes")
    columns = model_columns(model, data)
    frames, states = [], []
    for episode in data.episodes(others):
        frames.append(episode.frames)
        states.append(episode.states[:, columns])
    frames, states = np.concatenate(frames), np.concatenate(states).astype(np.float32)
    rng = np.random.default_rng(config.seed)
    keep = rng.choice(len(frames), size=min(config.probe_frames, len(frames)), replace=False)
    return StateProbe.fit(
        frames[keep], states[keep], config.probe, seed=config.seed, device=model.device, angles=data.angles[columns]
    )


@torch.no_grad()
def _terminations(model: WorldModel, data: Dataset, indices: list[int], config: LongEvalConfig) -> dict[str, Any]:
    rule = domains.of_model(model.config.domain).resolve_crash_rule(None)
    generator = torch.Generator().manual_seed(config.seed)
    report = {"crash_rule": rule}
    for ahead in config.aheads:
        scores = termination_scores(model, data, indices, ahead, generator, crash_rule=rule, physics_blend=config.physics_blend)
        if not len(scores.truth):
            continue
        y, f = scores.truth, scores.fired
        tp = int((f & y).sum())
        report[f"{ahead}_ahead"] = {
            "positives": int(y.sum()),
            "steps": len(y),
            "auprc": auprc(scores.logits, y),  # a ranking: logits rank as probabilities do
            "precision": tp / int(f.sum()) if f.any() else None,
            "recall": tp / int(y.sum()) if y.any() else None,
        }
    return report


def auprc(score: np.ndarray, truth: np.ndarray) -> float | None:
    """Average precision: the area under the precision-recall curve, stepwise (no interpolation)."""
    if not truth.any():
        return None
    order = np.argsort(-score, kind="stable")
    hits = truth[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def format_long_report(report: dict[str, Any]) -> str:
    lines = [f"long-horizon evaluation: {report['episodes']} held-out episodes, {report['steps_imagined']} imagined steps"]
    drawn = any("realism_drawn_truth" in b for b in report["buckets"].values())
    header = [("horizon", 8), ("frames", 7), ("realism", 8), ("control", 8)] + ([("drawn", 6)] if drawn else [])
    header += [("motion d/r", 11), ("probe err d / copy / real", 26)]
    lines.append(" ".join(f"{name:>{width}}" for name, width in header) + f" {'head err':>9}  objects found in the dream")
    for name, b in report["buckets"].items():
        realism = "-" if "realism" not in b else f"{b['realism']:.2f}"
        control = "-" if "realism_control" not in b else f"{b['realism_control']:.2f}"
        if drawn:  # the drawn-truth column sits beside the control
            control += " " + (f"{'-':>6}" if "realism_drawn_truth" not in b else f"{b['realism_drawn_truth']:>6.2f}")
        motion = f"{b['motion']['dream']:.1f}/{b['motion']['real']:.1f}"
        probe = head = "-"
        if "state_error" in b:
            e = {k: float(np.mean(list(v.values()))) for k, v in b["state_error"].items()}
            probe = f"{e['probe_on_dream']:.2f} / {e['probe_on_copy_last']:.2f} / {e['probe_on_real']:.2f}"
            head = f"{e['state_head']:.2f}"
        found = " ".join(
            f"{k} {v['found_in_dream']:.0%} (matched {v['matched_in_dream']:.0%}, copy {v['matched_in_copy_last']:.0%})"
            for k, v in b.get("persistence", {}).items()
            if v["found_in_dream"] is not None
        )
        width = 15 if drawn else 8
        lines.append(f"{name:>8} {b['frames']:>7} {realism:>8} {control:>{width}} {motion:>11} {probe:>26} {head:>9}  {found}")
    for name, t in report["terminations"].items():
        if isinstance(t, dict):
            fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(
                f"terminations {name.replace('_', ' ')}: AUPRC {fmt(t['auprc'])}, precision {fmt(t['precision'])}, "
                f"recall {fmt(t['recall'])} ({t['positives']} of {t['steps']} steps)"
            )
    if "controllability" in report:
        lines.append(format_controllability_report(report["controllability"]))
    lines.append(
        "(realism: held-out accuracy of a real-vs-dream classifier, 0.5 = indistinguishable; control: real vs real;"
        + ("\n drawn: real vs the true states drawn by the model's decoder, what an exact dream would score;" if drawn else "")
        + "\n motion: mean |frame change|; state errors: mean absolute error over fields, in their units)"
    )
    return "\n".join(lines)
