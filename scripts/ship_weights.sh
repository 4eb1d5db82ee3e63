#!/usr/bin/env bash
# Evaluate the trained runs (scripts/train_shipped.sh) and package them as the shipped weights,
# worldsim/weights/<domain>/: model, config, start-frame bank, eval.json, long_eval.json and
# MODEL_CARD.md. Needs scripts/collect_eval_sets.sh data. Robotics ships runs/robotics-redrawn
# (scripts/train_shipped.sh robotics robotics-redrawn), driving runs/driving-road-painted
# (scripts/train_shipped.sh driving driving-lanes).
# Usage: scripts/ship_weights.sh [RUNS=runs] [robotics|driving|games ...]   (default: all three)
set -euo pipefail
runs=${1:-runs}
shift || true
domains=${*:-robotics driving games}
ship() {  # domain, run directory, long-horizon eval arguments ("" for none), open-loop eval arguments...
  local domain=$1 run=$2 long=$3
  shift 3
  worldsim eval --checkpoint "$run" "$@" --json > "$run/eval.json"
  local extra=()
  if [[ -n "$long" ]]; then
    # shellcheck disable=SC2086  # $long is a list of arguments
    worldsim eval --checkpoint "$run" --long $long --json > "$run/long_eval.json"
    extra+=(--long-eval "$run/long_eval.json")
  fi
  notes=scripts/model_notes/$domain.md
  [[ -f "$notes" ]] && extra+=(--notes "$notes")
  worldsim export --checkpoint "$run" --eval "$run/eval.json" --out "worldsim/weights/$domain" "${extra[@]}"
}
for domain in $domains; do
  case $domain in
    robotics)
      ship robotics "$runs/robotics-redrawn" \
        "--data data/eval/robotics-long --split all --episodes 20 --probe-data data/eval/robotics-probe" \
        --data data/robotics-v2 --ood data/eval/robotics-near-goal
      ;;
    driving)
      ship driving "$runs/driving-road-painted" \
        "--data data/eval/driving-heldout --split all --episodes 40 --probe-data data/eval/driving-probe" \
        --data data/eval/driving-long --split all --ood data/eval/driving-dense
      ;;
    games)
      ship games "$runs/games" \
        "--data data/eval/games-long-wander --split all --episodes 10 --probe-data data/games-wander" \
        --data data/games-wander
      ;;
  esac
done
