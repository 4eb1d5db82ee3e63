"""Where a prompted attribute is lost between the generated state and the frame the judge reads.

For each attribute a prompt set asks for, four accuracies on the same probe (trained on real frames
of the episodes not held out, as `worldsim eval-prompts` trains it):
  real      the probe on held-out real frames against their true state (the judge's own ceiling)
  drawn     the model drawing those frames' true states (state decoders), read by the probe
  state     generated scenes: the attribute on the generated state
  frame     the same scenes' frames read by the probe; and "frame | state": the share of scenes
            whose state holds the attribute that the frame also shows

    python scripts/frame_gap.py robotics data/eval/robotics-long [--checkpoint DIR] [--seeds 16]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from worldsim import domains
from worldsim.data import Dataset
from worldsim.language.prompt_sets import load_prompt_set
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.critics import StateProbe
from worldsim.model.scene import draw_latents, generate_scenes
from worldsim.model.text import load_shared_space
from worldsim.prompt_eval import PromptEvalConfig


def accuracy(table, name, read, truth, fields):
    a, r, t = table[name], table.read(read, fields)[name], table.read(truth, fields)[name]
    if a.numeric:
        known = ~np.isnan(t)
        return float((np.abs(r[known] - t[known]) <= a.tolerance).mean())
    known = t >= 0
    return float((r[known] == t[known]).mean())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("domain")
    parser.add_argument("data")
    parser.add_argument("--checkpoint")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--held-out", type=float, default=0.2)
    args = parser.parse_args()
    torch.manual_seed(0)
    path = resolve_checkpoint(args.checkpoint or args.domain)
    model, _ = load_model(path, domain=args.domain)
    space, _ = load_shared_space(path, world_model=model)
    data = Dataset(args.data)
    table = domains.get(args.domain).load("attributes")
    fields = model.config.state_fields
    config = PromptEvalConfig()
    episodes = [data.episode(i) for i in range(len(data))]
    n_out = max(1, int(round(args.held_out * len(episodes))))
    fit, out = episodes[:-n_out], episodes[-n_out:]
    frames = np.concatenate([e.frames for e in fit])
    states = np.concatenate([e.states for e in fit]).astype(np.float32)
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(frames), size=min(config.probe_frames, len(frames)), replace=False))
    probe = StateProbe.fit(frames[keep], states[keep], config.probe, seed=0, device=model.device, angles=data.angles)
    held_frames = np.concatenate([e.frames for e in out])[::3]
    held_states = np.concatenate([e.states for e in out]).astype(np.float32)[::3]
    read_real = probe.predict(held_frames)
    drawn_read = None
    if model.config.decoder_input == "state":
        state = model.normalise_state(torch.from_numpy(held_states).to(model.device))
        rest = torch.zeros(len(state), model.config.latent_dim - state.shape[1], device=model.device)
        drawn_read = probe.predict(draw_latents(model, torch.cat([state, rest], -1)))
    prompts = load_prompt_set(f"scenarios/prompts/{args.domain}-{args.split}.yaml")
    per = {}
    for case in prompts.cases:
        if case.kind == "out_of_range":
            continue
        scenes = generate_scenes(model, space, case.text, [torch.Generator().manual_seed(s) for s in range(args.seeds)])
        on_state = table.check(case.attributes, scenes.states, fields)
        on_frame = table.check(case.attributes, probe.predict(scenes.frames), fields)
        for name in case.attributes:
            p = per.setdefault(name, {"state": [], "frame": []})
            p["state"] += on_state[name].tolist()
            p["frame"] += on_frame[name].tolist()
    rows = {}
    for name, p in per.items():
        s, f = np.array(p["state"]), np.array(p["frame"])
        rows[name] = {
            "real": accuracy(table, name, read_real, held_states, fields),
            "drawn": None if drawn_read is None else accuracy(table, name, drawn_read, held_states, fields),
            "state": float(s.mean()),
            "frame": float(f.mean()),
            "frame_given_state": float(f[s].mean()) if s.any() else None,
        }
    print(json.dumps(rows, indent=1))
    print(f"{'attribute':22s} {'real':>6s} {'drawn':>6s} {'state':>6s} {'frame':>6s} {'f|s':>6s}")
    for name, r in rows.items():
        cells = [r[k] for k in ("real", "drawn", "state", "frame", "frame_given_state")]
        print(f"{name:22s} " + " ".join("     -" if c is None else f"{c:6.2f}" for c in cells))


if __name__ == "__main__":
    main()
