#!/usr/bin/env bash
# A scene generator retrained beside a shipped text model, then scored on the dev and held-out
# prompt sets (BENCHMARKS.md, "A scene generator guided by what its scenes hold"). The shipped
# weights directory is copied to runs/generators/DOMAIN-NAME first; the shipped files are untouched.
# The scoring is scripts/eval_prompt_sets.sh's.
# Usage: scripts/guided_generators.sh DOMAIN NAME [train-text options, e.g. --guidance 1 --manifold 1]
# Data: data/driving, data/robotics-v2, data/games-wander and scripts/collect_eval_sets.sh's eval sets.
set -euo pipefail
domain=$1
name=$2
shift 2
case $domain in
  driving) data=data/driving ;;
  robotics) data=data/robotics-v2 ;;
  games) data=data/games-wander ;;
  *) echo "unknown domain $domain (driving, robotics or games)" >&2; exit 2 ;;
esac
run=runs/generators/$domain-$name
mkdir -p runs/generators
if [[ ! -f $run/text.json ]]; then
  rm -rf "$run.tmp"
  cp -r "worldsim/weights/$domain" "$run.tmp"
  worldsim train-text --checkpoint "$run.tmp" --data "$data" --out "$run.tmp" --generator-only --threads 1 --quiet --json "$@" \
    > "$run.tmp/generator_report.json"
  mv "$run.tmp" "$run"
fi
scripts/eval_prompt_sets.sh "$domain" "$run"
