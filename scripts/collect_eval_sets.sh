#!/usr/bin/env bash
# Evaluation sets collected apart from the training data (other seeds):
#   driving-long        in distribution, but 80 s episodes, so that k = 50 step predictions exist
#   driving-dense       out of distribution: dense_traffic, where all traffic slows to 8 m/s at step 5
#   robotics-near-goal  out of distribution: block_near_goal starts
#   robotics-long, driving-heldout, games-long, games-long-wander (a fifth of its episodes off the track)
#                       whole held-out episodes for `worldsim eval --long` (the episodes not replayed
#                       train its state probe)
#   robotics-probe      more PushT episodes for that probe (`--probe-data`): it reads positions far
#                       better from 80 episodes than from 10
#   driving-probe       the same for highway-env (200 episodes)
# Usage: scripts/collect_eval_sets.sh [OUT_ROOT=data]
set -euo pipefail
root=${1:-data}
unset SDL_VIDEODRIVER
worldsim collect --domain driving --env-config '{"duration": 80}' --episodes 40 --max-steps 80 --seed 1000 --out "$root/eval/driving-long" --quiet
worldsim collect --scenario dense_traffic --episodes 40 --seed 1000 --out "$root/eval/driving-dense" --quiet
worldsim collect --scenario block_near_goal --episodes 30 --seed 1000 --out "$root/eval/robotics-near-goal" --quiet
worldsim collect --domain robotics --episodes 30 --max-steps 300 --seed 2000 --out "$root/eval/robotics-long" --quiet
worldsim collect --domain driving --episodes 60 --max-steps 30 --seed 2000 --out "$root/eval/driving-heldout" --quiet
worldsim collect --domain games --episodes 16 --max-steps 500 --seed 2000 --out "$root/eval/games-long" --quiet
worldsim collect --domain games --episodes 16 --max-steps 500 --seed 2000 --out "$root/eval/games-long-wander" --quiet \
  --styles '{"clean": 0.25, "noisy": 0.2, "sloppy": 0.15, "stop_go": 0.2, "wander": 0.2}'
worldsim collect --domain robotics --episodes 80 --max-steps 300 --seed 3000 --out "$root/eval/robotics-probe" --quiet
worldsim collect --domain driving --episodes 200 --max-steps 30 --seed 3000 --out "$root/eval/driving-probe" --quiet
