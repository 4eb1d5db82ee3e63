"""What a driving frame can show of the prompt attributes: per attribute of the driving table, how
often its value read from only the cars inside the camera's view (`worldsim.sources.driving.CAMERA`:
12 m behind the ego to 28 m ahead of it) agrees with its value on the whole state, on every step
of the held-out episodes that `eval-prompts` scores the probe on. Speeds are read exactly here; a
still frame shows none. The ceiling of any reader of one frame, the frame probe included.
BENCHMARKS.md, "What the frame judge and the realism test can see".

Usage: python scripts/driving_view_ceiling.py [DATA]   (default: data/eval/driving-long)
"""

from __future__ import annotations

import sys

import numpy as np

from worldsim import domains
from worldsim.data import Dataset
from worldsim.prompt_eval import _read_accuracy
from worldsim.sources.driving import CAMERA


def main(root: str) -> None:
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


def camera_span() -> tuple[float, float]:
    """Metres the camera shows behind and ahead of the ego along the road, from its geometry: a
    normalised frame coordinate u in [-1, 1] lies (u - origin) * scale metres from the ego."""
    scale, origin = CAMERA["scale"][0], CAMERA["origin"][0]
    return (1 + origin) * scale, (1 - origin) * scale


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/eval/driving-long")
