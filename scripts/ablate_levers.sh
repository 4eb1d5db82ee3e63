#!/usr/bin/env bash
# World model v2's levers, one at a time, on PushT: each variant fine-tunes the same starting model
# (default: the shipped robotics model) for the same number of steps, then takes the long-horizon
# evaluation. Resumable: a finished variant is skipped, a killed one resumes from its checkpoint.
# Usage: scripts/ablate_levers.sh [STEPS=400] [INIT=robotics] [OUT=runs/ablate]
# Then: python scripts/lever_table.py a=runs/ablate/a_baseline/long.json b=... (one row per variant)
set -euo pipefail
steps=${1:-400}
init=${2:-robotics}
root=${3:-runs/ablate}
declare -A variants=(
  [a_baseline]='{}|0'
  [b_motion]='{"motion": 10}|0'
  [c_consistency]='{"motion": 10, "consistency": 10}|0'
  [d_burn_in]='{"motion": 10, "consistency": 10, "conditioning_noise": 0.02}|24'
  [e_repair]='{"motion": 10, "consistency": 10, "conditioning_noise": 0.02, "imagined_pixels": 0, "repair": 1}|24'
)
for name in $(printf '%s\n' "${!variants[@]}" | sort); do
  IFS='|' read -r loss burn_in <<<"${variants[$name]}"
  out="$root/$name"
  if [[ ! -f "$out/long.json" ]]; then
    resume=()
    [[ -d "$out/checkpoint" ]] && resume=(--resume)
    worldsim train --domain robotics --data data/robotics --out "$out" --steps "$steps" --threads 1 --seed 0 \
      --init "$init" --loss "$loss" --burn-in "$burn_in" --video-every 100000 --quiet "${resume[@]}"
    worldsim eval --checkpoint "$out" --data data/eval/robotics-long --split all --long --episodes 12 \
      --probe-data data/eval/robotics-probe --controllability-starts 10 --json > "$out/long.json.tmp"
    mv "$out/long.json.tmp" "$out/long.json"
  fi
done
