"""How well each crash signal finds real crashes, on recorded driving data.

    python -m worldsim.counterfactual.crash_rule data/driving [--stride 10] [--model driving] [--horizon 3]

Scores the state-overlap rule (`worldsim.model.crash`) on every recorded state after a step (every
`stride`-th episode) against the simulator's crash flag (`terminated`: highway-env ends an episode
at a crash). With --model it also scores what a dream reads: the termination head and the rule on the
state head, on latents filtered from the real frames and on latents imagined --horizon steps ahead
from them with the recorded actions, and the dream's signal (head or rule, imagined).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.crash import states_overlap

SIGNALS = (
    "rule on recorded states",
    "termination head, filtered",
    "rule on state head, filtered",
    "termination head, imagined",
    "rule on state head, imagined",
    "head or rule, imagined",
)


def score(root: str, stride: int = 10, model=None, horizon: int = 3, seed: int = 0) -> dict[str, dict[str, float]]:
    data = Dataset(root)
    if data.domain != "driving":
        raise ValueError(f"{root} holds {data.domain!r} data; the rule reads driving states")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    fired: dict[str, list[np.ndarray]] = {name: [] for name in SIGNALS}
    truth, truth_imagined = [], []
    generator = torch.Generator().manual_seed(seed)
    for episode in data.episodes(list(range(0, len(data), stride))):
        truth.append(episode.terminated.astype(bool))
        fired["rule on recorded states"].append(states_overlap(torch.from_numpy(episode.states[1:])).numpy())
        if model is None:
            continue
        with torch.no_grad():
            signals, imagined_truth = _model_signals(model, episode, horizon, generator)
        truth_imagined.append(imagined_truth)
        for name, values in signals.items():
            fired[name].append(values)
    report = {}
    for name, values in fired.items():
        if values:
            y = np.concatenate(truth_imagined if "imagined" in name else truth)
            report[name] = _precision_recall(np.concatenate(values), y)
    return report


def _model_signals(model, episode, horizon: int, generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    actions = torch.as_tensor(episode.actions, device=model.device)
    latents = model.filter_episode(torch.from_numpy(episode.frames), actions)
    filtered = model.crash_signals(latents[1:], rule=True)  # the latent after action t, filtered
    signals = {
        "termination head, filtered": filtered["termination_head"].cpu().numpy(),
        "rule on state head, filtered": filtered["state_overlap"].cpu().numpy(),
    }
    # Imagined: from the filtered latent before action s, imagine actions s .. s+horizon-1; score the
    # latent after the last one against the crash flag of that step.
    starts = np.arange(0, len(actions) - horizon + 1)
    windows = torch.stack([actions[starts + i] for i in range(horizon)], 1)
    rollout = model.imagine(latents[starts], windows, generator=generator)
    imagined = model.crash_signals(rollout.latents[:, -1], rule=True)
    head, rule = imagined["termination_head"].cpu().numpy(), imagined["state_overlap"].cpu().numpy()
    signals.update(
        {"termination head, imagined": head, "rule on state head, imagined": rule, "head or rule, imagined": head | rule}
    )
    return signals, episode.terminated[starts + horizon - 1].astype(bool)


def _precision_recall(fired: np.ndarray, crashed: np.ndarray) -> dict[str, float]:
    tp = int((fired & crashed).sum())
    return {
        "precision": tp / max(int(fired.sum()), 1),
        "recall": tp / max(int(crashed.sum()), 1),
        "fire_rate": float(fired.mean()),
        "crashes": int(crashed.sum()),
        "steps": len(crashed),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--stride", type=int, default=10, help="score every stride-th episode")
    parser.add_argument("--model", help="also score a driving model's signals (a run directory or 'driving' for the shipped one)")
    parser.add_argument("--horizon", type=int, default=3, help="imagined steps before the scored one")
    args = parser.parse_args(argv)
    model = None
    if args.model:
        from worldsim.model.checkpoint import load_model, resolve_checkpoint

        model, _ = load_model(resolve_checkpoint(args.model), domain="driving")
    report = score(args.data, args.stride, model, args.horizon)
    print(f"crash signals on {args.data} (every {args.stride}th episode; imagined = {args.horizon} steps ahead)")
    print(f"{'signal':<32} {'fires':>7} {'precision':>9} {'recall':>6}")
    for name, r in report.items():
        print(f"{name:<32} {r['fire_rate']:>7.1%} {r['precision']:>9.2f} {r['recall']:>6.2f}")
    return report


if __name__ == "__main__":
    main()
