#!/usr/bin/env bash
# The training datasets of the shipped world models: >= 100k transitions per built-in domain.
# Resumable: rerun after an interruption and it completes what is missing.
# Usage: scripts/collect_datasets.sh [OUT_ROOT=data] [WORKERS=2]
set -euo pipefail
root=${1:-data}
workers=${2:-2}
unset SDL_VIDEODRIVER
# Episode counts give >= 100k transitions: driving episodes average ~21 steps (crashes end them),
# PushT episodes 300 steps, CarRacing episodes 500 steps.
worldsim collect --domain robotics --episodes 350 --max-steps 300 --workers "$workers" --seed 0 --out "$root/robotics"
# The robotics v2 model's data: three times the starting poses in shorter episodes.
worldsim collect --domain robotics --episodes 1000 --max-steps 120 --workers "$workers" --seed 7000 --out "$root/robotics-v2"
worldsim collect --domain games --episodes 210 --max-steps 500 --workers "$workers" --seed 0 --out "$root/games"
# The games candidate's data: the same episodes' mix with a fifth driven off the track ("wander").
worldsim collect --domain games --episodes 210 --max-steps 500 --workers "$workers" --seed 0 --out "$root/games-wander" \
  --styles '{"clean": 0.25, "noisy": 0.2, "sloppy": 0.15, "stop_go": 0.2, "wander": 0.2}'
# The scales the shipped games model standardises its carried fields by (derive_checkpoint.py
# --scale-carried; BENCHMARKS.md, "Games: the carried fields scaled for agents"): 8 episodes.
worldsim collect --domain games --episodes 8 --max-steps 500 --workers "$workers" --seed 5000 --out "$root/games-scale"
worldsim collect --domain driving --episodes 5000 --max-steps 30 --workers "$workers" --seed 0 --out "$root/driving"
