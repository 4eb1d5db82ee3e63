"""Where the PushT dream's first-step jump comes from: the state error at each of the first 8 steps.

    python scripts/first_steps_curve.py [CHECKPOINT] [--prior-steps 0 1 2 4]

The same 40 windows as scripts/first_step_error.py (data/eval/robotics-long, episodes 0-9, starts
0, 40, 100, 200): each encoded from 4 real frames, then stepped 8 times with the recorded actions,
no noise (each random part at its mean). The first P steps are taken by the physics prior alone
(physics_blend 0), the rest by the learned dynamics (physics_blend 1). Prints, per step, the mean
absolute error of the agent's and the block's position (simulator units) for each P, and of the
last context frame's state held still (copy-last); then the signed mean error of the first learned
step (for the first P given): an offset, where noise would average out; and, for a model holding
angles as (cos, sin), the filter's pairs' length and step 1 taken from them put on the unit circle.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint

STEPS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", default="robotics", help="a run directory or robotics (shipped)")
    parser.add_argument("--prior-steps", nargs="+", type=int, default=[0, 1, 2, 4])
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, _ = load_model(resolve_checkpoint(args.checkpoint))
    model.eval()
    data = Dataset("data/eval/robotics-long")
    errors = {p: [] for p in args.prior_steps}
    still, circled, norms = [], [], []
    S, sines = model.config.state_dim, model.config.state_code_dim > model.config.state_dim
    with torch.no_grad():
        for e in range(10):
            episode = data.episode(e)
            for t0 in (0, 40, 100, 200):
                frames = torch.from_numpy(episode.frames[t0 : t0 + 4])[None]
                start = model.encode(frames, torch.from_numpy(episode.actions[t0 : t0 + 3]).float()[None])
                actions = torch.from_numpy(episode.actions[t0 + 3 : t0 + 3 + STEPS]).float()[None]
                truth = episode.states[t0 + 4 : t0 + 4 + STEPS]
                for p in args.prior_steps:
                    latent, states = start, []
                    for k in range(STEPS):
                        latent = model.imagine_step(latent, model.action_features(actions[:, k]), None, 0.0 if k < p else 1.0)
                        states.append(model.physical_state(latent)[0].numpy())
                    errors[p].append(np.array(states) - truth)
                still.append(np.abs(episode.states[t0 + 3] - truth))
                if sines:  # the filter's (cos, sin) pairs, and the first step from them put on the circle
                    code = start[:, : model.config.state_code_dim]
                    norms.append(float(torch.sqrt(code[0, model.angle_index] ** 2 + code[0, S:] ** 2).mean()))
                    on_circle = torch.cat([model.on_circle(code), start[:, code.shape[1] :]], -1)
                    after = model.imagine_step(on_circle, model.action_features(actions[:, 0]), None, 1.0)
                    circled.append(model.physical_state(after)[0].numpy() - truth[0])
    fields = model.config.state_fields
    agent = [fields.index("agent_x"), fields.index("agent_y")]
    block = [fields.index("block_x"), fields.index("block_y")]

    def cell(e: np.ndarray, k: int) -> str:
        e = np.abs(e)
        return f"{e[:, k, agent].mean():5.1f} / {e[:, k, block].mean():5.1f}"

    print("agent / block position error; P: steps taken by the physics prior before the learned dynamics")
    print("step  " + "  ".join(f"{'P=' + str(p):>13}" for p in args.prior_steps) + f"  {'copy-last':>13}")
    for k in range(STEPS):
        row = "  ".join(f"{cell(np.array(errors[p]), k):>13}" for p in args.prior_steps)
        print(f"k={k + 1:<3} {row}  {cell(np.array(still), k):>13}")
    first = np.array(errors[args.prior_steps[0]])[:, args.prior_steps[0]]  # the first learned step
    signed = ", ".join(f"{fields[i]} {first[:, i].mean():+.1f}" for i in agent + block)
    print(f"signed mean error of the first learned step (P={args.prior_steps[0]}): {signed}")
    if norms:
        e = np.abs(np.array(circled))
        print(
            f"the filter's (cos, sin) pairs: length {np.mean(norms):.2f} on average ({min(norms):.2f}-{max(norms):.2f}); "
            f"step 1 from them put on the unit circle: agent / block {e[:, agent].mean():.1f} / {e[:, block].mean():.1f}"
        )


if __name__ == "__main__":
    main()
