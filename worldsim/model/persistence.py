"""Do the objects the simulator shows stay in the dream?

Each domain names its objects and how to find them in a frame (`DomainSpec.objects`, tables of
`worldsim.sources.objects.ColourObject`). Persistence is, per object, the share of dream frames that
show it where the real frame of the same step does.

Colour alone is fooled by blobs: a smear of the block's grey anywhere counts as "found". So each
object also gets its shape and place checked: the overlap (intersection over union) of its pixels in
the dream frame and in the real frame of the same step, and the share of frames where that overlap
reaches `MATCH_IOU`; the copied last context frame gets the same score, as the bar a dream of a
moving object has to clear.
"""

from __future__ import annotations

import numpy as np

from worldsim.sources.objects import ColourObject

MATCH_IOU = 0.5  # an object "matches" where its pixels in the two frames overlap this much


def persistence(
    real: np.ndarray, dream: np.ndarray, objects: tuple[ColourObject, ...], copy_last: np.ndarray | None = None
) -> dict[str, dict]:
    """Per object: in how many real frames it is found; over those, the share whose dream frame
    shows it too, the mean overlap of its pixels with the real frame's, and the share of frames
    where that overlap reaches MATCH_IOU, for the dream and (given) the copied last context frame.
    The shares are None where the real frames never show the object."""
    report = {}
    for obj in objects:
        in_real = obj.found(real)
        n = int(in_real.sum())
        entry: dict = {"real_frames": n, "found_in_dream": float(obj.found(dream[in_real]).mean()) if n else None}
        candidates = {"dream": dream} if copy_last is None else {"dream": dream, "copy_last": copy_last}
        for name, frames in candidates.items():
            iou = obj.overlap(real[in_real], frames[in_real]) if n else np.zeros(0)
            entry[f"overlap_{name}"] = float(iou.mean()) if n else None
            entry[f"matched_in_{name}"] = float((iou >= MATCH_IOU).mean()) if n else None
        report[obj.name] = entry
    return report
