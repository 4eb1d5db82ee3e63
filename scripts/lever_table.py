"""One markdown row per long-horizon report: the issue's target metrics side by side.

Usage: python scripts/lever_table.py NAME=REPORT.json [NAME=REPORT.json ...]
(REPORT.json: `worldsim eval --long --json` output.)
"""

from __future__ import annotations

import json
import sys

import numpy as np


def row(name: str, report: dict) -> str:
    split = report["splits"]["held_out"]
    buckets = split["buckets"]

    def bucket(h):
        return buckets.get(str(h)) or buckets["end"]

    def probe(h, which):
        errors = bucket(h).get("state_error", {}).get(which)
        return float(np.mean(list(errors.values()))) if errors else float("nan")

    def found(h):
        objects = bucket(h).get("persistence", {})
        return " / ".join(f"{v['found_in_dream']:.0%}" for v in objects.values() if v["found_in_dream"] is not None)

    def matched(h):  # the shape check; reports written before it have none
        objects = bucket(h).get("persistence", {})
        shares = [v.get("matched_in_dream") for v in objects.values() if v["found_in_dream"] is not None]
        return " / ".join("-" if v is None else f"{v:.0%}" for v in shares)

    control = split.get("controllability", {}).get("sign_agreement_by_reading", {})
    crash = split.get("terminations", {}).get("1_ahead", {})
    cells = [
        name,
        f"{bucket(100).get('realism', float('nan')):.2f}",
        f"{probe(1, 'probe_on_dream'):.1f}",
        f"{probe(50, 'probe_on_dream'):.1f} / {probe(50, 'probe_on_copy_last'):.1f}",
        found(200),
        matched(50),
        f"{bucket(50)['motion']['dream']:.1f} / {bucket(50)['motion']['real']:.1f}",
        f"{control.get('dream', float('nan')):.2f} / {control.get('dream_probe', float('nan')):.2f}",
        "-" if crash.get("recall") is None else f"{crash['recall']:.2f} @ {crash['precision'] or 0:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| run | realism h=100 | probe err h=1 | probe err h=50 dream / copy-last | objects found h=200 "
    "| objects matched h=50 | motion h=50 dream / real | control sign head / probe | crash recall @ precision (1 ahead) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)

if __name__ == "__main__":
    print(HEADER)
    for arg in sys.argv[1:]:
        name, path = arg.split("=", 1)
        print(row(name, json.load(open(path))))
