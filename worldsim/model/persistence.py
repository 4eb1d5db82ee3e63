"""Do the objects the simulator shows stay in the dream?

Each domain names its objects and how to find them in a frame (`DomainSpec.objects`, tables of
`worldsim.sources.objects.ColourObject`). Persistence is, per object, the share of dream frames that
show it where the real frame of the same step does.
"""

from __future__ import annotations

import numpy as np

from worldsim.sources.objects import ColourObject


def persistence(real: np.ndarray, dream: np.ndarray, objects: tuple[ColourObject, ...]) -> dict[str, dict]:
    """Per object: in how many real frames it is found, and the share of those whose dream frame
    shows it too (None where the real frames never show it)."""
    report = {}
    for obj in objects:
        in_real = obj.found(real)
        n = int(in_real.sum())
        report[obj.name] = {"real_frames": n, "found_in_dream": float(obj.found(dream[in_real]).mean()) if n else None}
    return report
