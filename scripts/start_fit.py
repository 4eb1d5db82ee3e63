"""Does drawing the filtered state and comparing it with the real frame correct the dream's start?

    python scripts/start_fit.py [CHECKPOINT] [--data data/eval/robotics-long] [--steps 0 10 30] [--lr 0.05]

A model whose decoder draws the physical state alone (`decoder_input` "state") can be asked what
its filter's reading would look like. Here the state code of the latent filtered from 4 real
frames is moved by Adam to make the drawn frame match the last real frame (mean squared error of
the pixels), the rest of the latent kept; then the dream replays the recorded actions from it.
Windows: episodes 0-9 of DATA, starting at frames 0, 40, 100 and 200 where the episode is long
enough (those of scripts/first_step_error.py). Prints, per number of fitting steps, the agent's and
block's position error (simulator units) and the block's angle error (radians, around the circle)
at the start and 1, 5, 10 and 50 steps on, and the median time of one fit on this machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint

AT = (0, 1, 5, 10, 50)  # steps after the start at which errors are reported


def fit_start(model, latent: torch.Tensor, frame: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """`latent` with its state code moved `steps` Adam steps towards drawing `frame` ((B, 3, H, W))."""
    s, rest = latent[..., : model.config.state_code_dim], latent[..., model.config.state_code_dim :]
    code = s.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([code], lr=lr)
    for _ in range(steps):
        loss = ((model.draw_state(code) - frame) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return torch.cat([model.on_circle(code.detach()), rest], -1)


def errors(states: np.ndarray, truth: np.ndarray, fields: list[str]) -> np.ndarray:
    """(N, 3): agent position, block position (mean of |dx|, |dy|) and block angle error around the circle."""
    f = {name: i for i, name in enumerate(fields)}
    d = np.abs(states - truth)
    turn = states[:, f["block_angle"]] - truth[:, f["block_angle"]]
    return np.stack(
        [
            d[:, [f["agent_x"], f["agent_y"]]].mean(1),
            d[:, [f["block_x"], f["block_y"]]].mean(1),
            np.abs(np.arctan2(np.sin(turn), np.cos(turn))),
        ],
        1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default="robotics")
    parser.add_argument("--data", default="data/eval/robotics-long")
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 10, 30])
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = load_model(resolve_checkpoint(args.checkpoint))[0].eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if model.config.decoder_input != "state":
        raise SystemExit(f"{args.checkpoint}: its decoder does not draw the state alone; nothing to compare")
    data, fields = Dataset(args.data), model.config.state_fields
    windows = []
    for e in range(min(10, len(data))):
        episode = data.episode(e)
        for t0 in (0, 40, 100, 200):
            if t0 + 3 + max(AT) < len(episode.actions):
                windows.append((episode, t0))
    frames = torch.stack([torch.from_numpy(ep.frames[t0 : t0 + 4]) for ep, t0 in windows])
    before = torch.stack([torch.from_numpy(ep.actions[t0 : t0 + 3]).float() for ep, t0 in windows])
    after = torch.stack([torch.from_numpy(ep.actions[t0 + 3 : t0 + 3 + max(AT)]).float() for ep, t0 in windows])
    truth = {k: np.stack([ep.states[t0 + 3 + k] for ep, t0 in windows]) for k in AT}
    latent = model.encode(frames, before)
    last = model.frames_in(frames[:, -1])
    print(f"{len(windows)} windows of {args.data}; agent / block position error, block angle (rad)")
    print("fit steps  ms/fit  " + "  ".join(f"{'start' if k == 0 else f'k={k}':>18}" for k in AT))
    for steps in args.steps:
        times, starts = [], []
        for i in range(len(windows)):  # one scene at a time, as an env resets
            begin = time.perf_counter()
            starts.append(fit_start(model, latent[i : i + 1], last[i : i + 1], steps, args.lr))
            times.append(1000 * (time.perf_counter() - begin))
        start = torch.cat(starts)
        with torch.no_grad():
            dream = model.imagine(start, after, generator=torch.Generator().manual_seed(0))
        states = {0: model.physical_state(start).numpy()}
        states.update({k: dream.states[:, k - 1].numpy() for k in AT if k})
        cells = []
        for k in AT:
            err = errors(states[k], truth[k], fields).mean(0)
            cells.append(f"{err[0]:5.1f} / {err[1]:5.1f} / {err[2]:4.2f}")
        print(f"{steps:>9}  {np.median(times):6.1f}  " + "  ".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
