"""PushT's block as a user sees it in a long-horizon report: per horizon, where the probe reads the
block (position, mean of x and y, in PushT units) and how it is turned (radians, around the circle)
off the dream's frames, the copied last frame and the real frames (the probe's floor), and the
share of frames where the block's pixels overlap the real block's by half or more.

Usage: python scripts/block_table.py NAME=REPORT.json [NAME=REPORT.json ...]
(REPORT.json: `worldsim eval --long --json` output on PushT data.)
"""

from __future__ import annotations

import json
import sys

HORIZONS = ("1", "10", "50", "100", "200")
HEADER = (
    "| run | h | block position err dream / copy-last / real | block angle err dream / copy-last / real "
    "| block matched dream / copy-last |\n|---|---:|---:|---:|---:|"
)


def rows(name: str, report: dict) -> list[str]:
    buckets = report["splits"]["held_out"]["buckets"]
    out = []
    for h in HORIZONS:
        if h not in buckets:
            continue
        errors = buckets[h]["state_error"]
        which = ("probe_on_dream", "probe_on_copy_last", "probe_on_real")
        position = " / ".join(f"{(errors[w]['block_x'] + errors[w]['block_y']) / 2:.1f}" for w in which)
        angle = " / ".join(f"{errors[w]['block_angle']:.2f}" for w in which)
        block = buckets[h]["persistence"]["block"]
        matched = f"{block['matched_in_dream']:.0%} / {block['matched_in_copy_last']:.0%}"
        out.append(f"| {name} | {h} | {position} | {angle} | {matched} |")
    return out


if __name__ == "__main__":
    print(HEADER)
    for arg in sys.argv[1:]:
        name, path = arg.split("=", 1)
        print("\n".join(rows(name, json.load(open(path)))))
