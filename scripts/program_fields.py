"""Where does a dream's answer to a scripted program go wrong? Its state fields along the program.

`worldsim eval --long` reports one response per controllability program (CarRacing's "steer left":
the heading's change). This plays the programs from the same real starts in the simulator and in
each model's dream (`worldsim.model.controllability`, the model's state head as the reading) and
prints, for the fields asked, the mean over starts at a few steps: a heading that does not move
while the yaw rate does is a dynamics that does not integrate its own state.

Usage: python scripts/program_fields.py CHECKPOINT [CHECKPOINT ...] [--programs "steer left" "steer right"]
           [--fields speed steering angular_velocity heading] [--starts 5] [--physics-blend 1] [--json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from worldsim import domains
from worldsim.model import controllability as control
from worldsim.model.checkpoint import load_model
from worldsim.sources import make_source

SHOWN = (0, 1, 2, 5, 10, 15, 20)  # steps printed (step 0 is the start)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--programs", nargs="+", default=["steer left", "steer right"])
    parser.add_argument("--fields", nargs="+", default=["speed", "steering", "angular_velocity", "heading"])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument(
        "--physics-blend", type=float, default=1.0, help="the dream's blend with the physics prior (0: the prior alone)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    models = [load_model(c)[0].eval() for c in args.checkpoints]
    domain = models[0].config.domain
    if any(m.config.domain != domain for m in models):
        raise SystemExit("the checkpoints model different domains")
    programs = control.select_programs(domains.of_model(domain).load("programs"), args.programs)
    source = make_source(domain, models[0].config.frame_size)
    try:
        starts, runs, _, _ = control.simulate_programs(source, programs, args.starts, control.ControllabilityConfig())
        names = [f.name for f in source.state_fields]
    finally:
        source.close()
    unknown = sorted(set(args.fields) - set(names))
    if unknown:
        raise SystemExit(f"unknown field(s) {unknown}; the domain's fields: {names}")

    frames = torch.from_numpy(np.stack([s.frames for s in starts]))
    past = torch.from_numpy(np.stack([s.actions for s in starts]))
    report: dict = {"starts": [s.seed for s in starts], "programs": {}}
    for program, run in zip(programs, runs, strict=True):
        entry = {"simulator": {f: run["states"][:, :, names.index(f)].mean(0).tolist() for f in args.fields}}
        for path, model in zip(args.checkpoints, models, strict=True):
            latent = model.encode(frames, past)
            actions = torch.from_numpy(np.stack([np.asarray(program.actions(s.state), dtype=np.float32) for s in starts]))
            rollout = model.imagine(latent, actions, generator=torch.Generator().manual_seed(0), physics_blend=args.physics_blend)
            states = torch.cat([model.physical_state(latent)[:, None], rollout.states], 1).numpy()
            fields = list(model.config.state_fields)
            entry[path] = {f: states[:, :, fields.index(f)].mean(0).tolist() for f in args.fields}
        report["programs"][program.name] = entry

    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, entry in report["programs"].items():
        print(f"{name} (mean of {len(starts)} starts; steps {', '.join(map(str, SHOWN))})")
        for field in args.fields:
            for who, curves in entry.items():
                curve = np.asarray(curves[field])
                shown = " ".join(f"{curve[k]:7.2f}" for k in SHOWN if k < len(curve))
                print(f"  {field:18s} {who[-28:]:>28s} {shown}")


if __name__ == "__main__":
    main()
