#!/usr/bin/env bash
# The shipped models' long-horizon evaluation drawn by their own decoder and by the distilled one
# (`worldsim distill`), the same command otherwise, each run on one thread; then one table row each
# (scripts/lever_table.py). BENCHMARKS.md, "A distilled decoder".
# Usage: scripts/eval_decoders.sh [robotics|driving|games ...]   (default all three; data from
# scripts/collect_eval_sets.sh, and for games data/games-wander from scripts/collect_datasets.sh)
set -euo pipefail
out=runs/decoders
mkdir -p "$out"
for domain in ${*:-robotics driving games}; do
  case $domain in
    robotics) args="--data data/eval/robotics-long --split all --episodes 20 --probe-data data/eval/robotics-probe" ;;
    driving) args="--data data/eval/driving-heldout --split all --episodes 40 --probe-data data/eval/driving-probe" ;;
    games) args="--data data/eval/games-long-wander --split all --episodes 10 --probe-data data/games-wander" ;;
    *) echo "unknown domain $domain" >&2; exit 2 ;;
  esac
  for decoder in exact distilled; do
    [[ -s "$out/$domain-$decoder.json" ]] && continue  # done before: a rerun completes what is missing
    # shellcheck disable=SC2086  # $args is a list of arguments
    OMP_NUM_THREADS=1 worldsim eval --checkpoint "$domain" --decoder "$decoder" --long $args \
      --controllability-starts 0 --json > "$out/$domain-$decoder.json.tmp" &
  done
  wait
  for decoder in exact distilled; do
    [[ -f "$out/$domain-$decoder.json.tmp" ]] && mv "$out/$domain-$decoder.json.tmp" "$out/$domain-$decoder.json"
  done
  python scripts/lever_table.py "$domain exact=$out/$domain-exact.json" "$domain distilled=$out/$domain-distilled.json"
done
