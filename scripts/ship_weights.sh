#!/usr/bin/env bash
# Evaluate the trained runs (scripts/train_shipped.sh) and package them as the shipped weights,
# worldsim/weights/<domain>/: model, config, start-frame bank, eval.json and MODEL_CARD.md.
# Needs scripts/collect_eval_sets.sh data. Usage: scripts/ship_weights.sh [RUNS=runs]
set -euo pipefail
runs=${1:-runs}
ship() {  # domain, eval arguments...
  local domain=$1; shift
  worldsim eval --checkpoint "$runs/$domain" "$@" --json > "$runs/$domain/eval.json"
  notes=scripts/model_notes/$domain.md
  worldsim export --checkpoint "$runs/$domain" --eval "$runs/$domain/eval.json" --out "worldsim/weights/$domain" \
    $( [ -f "$notes" ] && echo --notes "$notes" )
}
ship robotics --data data/robotics --ood data/eval/robotics-near-goal
ship driving --data data/eval/driving-long --split all --ood data/eval/driving-dense
ship games --data data/games
