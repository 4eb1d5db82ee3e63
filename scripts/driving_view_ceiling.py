"""What a driving frame can show of the prompt attributes: per attribute of the driving table, how
often its value read from only the cars inside the camera's view (`worldsim.sources.driving.CAMERA`:
12 m behind the ego to 28 m ahead of it) agrees with its value on the whole state, on every step
of the held-out episodes that `eval-prompts` scores the probe on. Speeds are read exactly here; a
still frame shows none. The ceiling of any reader of one frame, the frame probe included. With
--probes, beside it the frame probe's own ceiling as `eval-prompts` measures it (held-out episodes
of DATA, the probe also learning from data/eval/driving-probe) for its recipe and two larger ones.
BENCHMARKS.md, "What the frame judge and the realism test can see".

Usage: python scripts/driving_view_ceiling.py [DATA] [--probes]   (default: data/eval/driving-long)
"""

from __future__ import annotations

import sys

import numpy as np

from worldsim import domains
from worldsim.data import Dataset
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.critics import ProbeRecipe
from worldsim.prompt_eval import PromptEvalConfig, _read_accuracy, real_side
from worldsim.sources.driving import CAMERA

PROBES = {
    "the probe's recipe": ProbeRecipe(),
    "3x the steps": ProbeRecipe(steps=6000),
    "2x the widths, 2x the steps": ProbeRecipe(channels=(32, 64, 128), hidden=512, steps=4000),
}


def main(root: str, probes: bool) -> None:
    data = Dataset(root)
    fields = [f["name"] for f in data.source["state_fields"]]
    states = np.concatenate([data.episode(i).states for i in range(len(data))]).astype(np.float32)
    behind, ahead = camera_span()
    seen = states.copy()
    slots = sorted({f.split("_")[0] for f in fields if f.endswith("_present")})
    for slot in slots:
        dx = seen[:, fields.index(f"{slot}_dx")]
        seen[(dx < -behind) | (dx > ahead), fields.index(f"{slot}_present")] = 0.0  # out of the view
    table = domains.get("driving").load("attributes")
    agree = _read_accuracy(table, seen, states, fields, [a.name for a in table.attributes])
    print(f"{len(states)} states of {root}; the view: {behind:.0f} m behind the ego to {ahead:.0f} m ahead")
    for name, share in agree.items():
        print(f"  {name:<16} {'-' if share is None else f'{share:.2f}'}")
    if probes:
        model = load_model(resolve_checkpoint("driving"))[0]
        names = list(agree)
        for label, recipe in PROBES.items():
            real = real_side(model, data, PromptEvalConfig(probe=recipe), Dataset("data/eval/driving-probe"))
            read = _read_accuracy(table, real.held_read, real.held_states, fields, names)
            cells = ", ".join(f"{n} {'-' if v is None else f'{v:.2f}'}" for n, v in read.items())
            print(f"the frame probe, {label}: {cells}")


def camera_span() -> tuple[float, float]:
    """Metres the camera shows behind and ahead of the ego along the road, from its geometry: a
    normalised frame coordinate u in [-1, 1] lies (u - origin) * scale metres from the ego."""
    scale, origin = CAMERA["scale"][0], CAMERA["origin"][0]
    return (1 + origin) * scale, (1 - origin) * scale


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--probes"]
    main(args[0] if args else "data/eval/driving-long", "--probes" in sys.argv[1:])
