"""PushT state error of a model's latent when encoded from 4 real frames, after 1 and after 5
imagined steps: 40 windows of data/eval/robotics-long (episodes 0-9, starts 0, 40, 100, 200).
Shows whether the dream's first step jumps (BENCHMARKS.md, "A decoder that draws the state").
Usage: python scripts/first_step_error.py CHECKPOINT   (a run directory, or robotics: the shipped model)"""

import sys

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint

torch.set_num_threads(2)
model, _ = load_model(resolve_checkpoint(sys.argv[1]))  # a run directory or a built-in name
model.eval()
data = Dataset("data/eval/robotics-long")
E = {0: [], 1: [], 5: []}
for e in range(10):
    ep = data.episode(e)
    for t0 in (0, 40, 100, 200):
        fr = torch.from_numpy(ep.frames[t0 : t0 + 4])[None]
        ac = torch.from_numpy(ep.actions[t0 : t0 + 3]).float()[None]
        with torch.no_grad():
            lat = model.encode(fr, ac)
            r = model.imagine(
                lat, torch.from_numpy(ep.actions[t0 + 3 : t0 + 8]).float()[None], generator=torch.Generator().manual_seed(0)
            )
        E[0].append(np.abs(model.physical_state(lat)[0].numpy() - ep.states[t0 + 3]))
        E[1].append(np.abs(r.states[0, 0].numpy() - ep.states[t0 + 4]))
        E[5].append(np.abs(r.states[0, 4].numpy() - ep.states[t0 + 8]))
for k, v in E.items():
    m = np.mean(v, 0)
    print(
        sys.argv[1],
        "encoded" if k == 0 else f"k={k}",
        "agent",
        round(float(m[:2].mean()), 1),
        "block",
        round(float(m[4:6].mean()), 1),
        "angle",
        round(float(m[6]), 2),
    )
