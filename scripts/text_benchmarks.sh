#!/usr/bin/env bash
# The shared text + scene space beside each shipped (first-release) model: retrieval, describe and
# understand, and generation scored on the generated state (BENCHMARKS.md, "Prompt-conditioned
# scenes"). Scoring generated frames needs a model that draws from its latent alone
# (scripts/prompt_benchmarks.sh); the text side and the state need not.
# Usage: scripts/text_benchmarks.sh [OUT_ROOT=runs/text]
set -euo pipefail
root=${1:-runs/text}
unset SDL_VIDEODRIVER
worldsim collect --domain driving --episodes 400 --max-steps 30 --workers 2 --seed 5000 --out data/text/driving --quiet
worldsim collect --domain games --episodes 30 --max-steps 300 --workers 2 --seed 5000 --out data/text/games --quiet
for spec in driving:1 games:3; do
  domain=${spec%%:*}
  every=${spec##*:}
  mkdir -p "$root/$domain"
  worldsim train-text --checkpoint "$domain" --data "data/text/$domain" --out "$root/$domain" --every "$every" --threads 2 \
    --quiet --json > "$root/$domain/.report.json.tmp"
  mv "$root/$domain/.report.json.tmp" "$root/$domain/report.json"
done
