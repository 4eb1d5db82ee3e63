"""How well can a crash one step ahead be told at all? A classifier on the simulator's own state.

    python scripts/crash_ceiling.py data/driving --test data/eval/driving-probe [--model driving] [--steps 3000]

The world model's crash signal reads an imagined latent; its best case is a reader of the true
state before the step and the action taken. This trains a small MLP on exactly that (highway-env's
29 state fields, standardised, and the discrete action one-hot) to predict the simulator's crash
flag after the step, with positives weighted up by their rarity, on the training split of DATA.
The threshold is set on DATA's validation episodes for recall 0.8; reported on the validation
episodes and on --test (the long-horizon evaluation's held-out episodes): AUPRC, and precision and
recall at that threshold and at the threshold that gives recall 0.8 on the test set itself.
What this cannot reach bounds what any crash signal of the dream can. With --model the same reader
reads the model's state instead of the simulator's, on --test: filtered from the real frames up to
the step (one step ahead), and imagined two steps on from there with the recorded actions (three
ahead), beside the model's termination head one step ahead at its threshold (as `worldsim eval
--long` scores it).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch import nn

from worldsim.data import Dataset
from worldsim.data.dataset import is_validation
from worldsim.model.calibration import threshold_for_recall
from worldsim.model.long_horizon import auprc

AHEAD = 3  # the longer horizon scored with --model, as `worldsim eval --long` does


def transitions(data: Dataset, indices: list[int], actions: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, fields + actions) inputs (state before the step, action one-hot) and (N,) crash flags."""
    inputs, crashed = [], []
    for index in indices:
        with np.load(data.episode_paths[index]) as z:  # states and flags only: the frames stay on disk
            states, taken, ended = z["states"], z["actions"].astype(int), z["terminated"].astype(bool)
        inputs.append(np.concatenate([states[:-1], np.eye(actions)[taken]], 1))
        crashed.append(ended)
    return np.concatenate(inputs).astype(np.float32), np.concatenate(crashed)


@torch.no_grad()
def model_scores(model, data: Dataset, read, actions: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per signal, (scores, crash flags) on every episode of `data`, the model's state read by `read`."""
    found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"filtered state": [], f"imagined, {AHEAD} ahead": [], "head": []}
    for episode in data.episodes(list(data.episode_paths), progress=True):
        taken = torch.as_tensor(episode.actions)
        onehot, ended = np.eye(actions)[episode.actions.astype(int)], episode.terminated.astype(bool)
        latents = model.filter_episode(torch.from_numpy(episode.frames), taken)
        before = model.physical_state(latents[:-1]).cpu().numpy()
        found["filtered state"].append((read(np.concatenate([before, onehot], 1)), ended))
        step = model.imagine(latents[:-1], taken[:, None], generator=torch.Generator().manual_seed(0))
        found["head"].append((model.termination_logit(step.latents[:, -1]).cpu().numpy(), ended))
        starts = np.arange(0, len(taken) - AHEAD + 1)
        if len(starts):
            windows = torch.stack([taken[starts + k] for k in range(AHEAD - 1)], 1)
            dreamt = model.imagine(latents[starts], windows, generator=torch.Generator().manual_seed(0))
            last = starts + AHEAD - 1
            state = model.physical_state(dreamt.latents[:, -1]).cpu().numpy()
            found[f"imagined, {AHEAD} ahead"].append((read(np.concatenate([state, onehot[last]], 1)), ended[last]))
    return {name: (np.concatenate([s for s, _ in pairs]), np.concatenate([y for _, y in pairs])) for name, pairs in found.items()}


def report(scores: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    fired = scores > threshold
    own = threshold_for_recall(scores, truth, 0.8)
    return {
        "steps": len(truth),
        "crashes": int(truth.sum()),
        "auprc": round(auprc(scores, truth), 3),
        "at_validation_threshold": {
            "precision": round(float((fired & truth).sum() / max(fired.sum(), 1)), 3),
            "recall": round(float((fired & truth).sum() / truth.sum()), 3),
        },
        "at_own_recall_0.8": {"precision": round(own["precision"], 3), "recall": round(own["recall"], 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--test", default=None, help="another driving dataset to score on (held-out episodes)")
    parser.add_argument("--model", default=None, help="a driving checkpoint whose filtered and imagined states the reader reads")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    data = Dataset(args.data)
    if data.domain != "driving":
        raise SystemExit(f"{args.data} holds {data.domain!r} data; crashes are highway-env's")
    actions = int(data.source["action_space"]["n"])
    train_ids = [i for i in data.episode_paths if not is_validation(i, 0.1)]
    val_ids = [i for i in data.episode_paths if is_validation(i, 0.1)]
    x, y = transitions(data, train_ids, actions)
    mean, std = x.mean(0), x.std(0) + 1e-6
    net = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ELU(), nn.Linear(128, 128), nn.ELU(), nn.Linear(128, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((1 - y.mean()) / y.mean()))
    X, Y = torch.from_numpy((x - mean) / std), torch.from_numpy(y.astype(np.float32))
    rng = np.random.default_rng(args.seed)
    for _ in range(args.steps):
        rows = rng.integers(0, len(X), 512)
        loss = loss_fn(net(X[rows])[:, 0], Y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def scores(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(((inputs - mean) / std).astype(np.float32)))[:, 0].numpy()

    xv, yv = transitions(data, val_ids, actions)
    threshold = threshold_for_recall(scores(xv), yv, 0.8)["threshold"]
    out = {"train": {"steps": len(y), "crashes": int(y.sum())}, "validation": report(scores(xv), yv, threshold)}
    if args.model and not args.test:
        parser.error("--model reads the model's states on the --test episodes: give --test")
    if args.test:
        test = Dataset(args.test)
        xt, yt = transitions(test, list(test.episode_paths), actions)
        out["test"] = report(scores(xt), yt, threshold)
        if args.model:
            from worldsim.model.checkpoint import load_model, resolve_checkpoint

            model = load_model(resolve_checkpoint(args.model))[0].eval()
            for name, (s, truth) in model_scores(model, test, scores, actions).items():
                own = model.config.termination_threshold if name == "head" else threshold
                out["test"][f"model: {name}"] = report(s, truth, own)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
