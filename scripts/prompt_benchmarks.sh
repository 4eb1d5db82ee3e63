#!/usr/bin/env bash
# Prompt-conditioned scenes, measured (BENCHMARKS.md, "Prompt-conditioned scenes"): the shared text +
# scene space trained beside a world model, its retrieval report, then the dev and held-out prompt
# sets scored on generated scenes. The model must draw from its latent alone.
# Usage: scripts/prompt_benchmarks.sh CHECKPOINT [DOMAIN=robotics] [DATA=data/DOMAIN] [EVAL_DATA=data/eval/DOMAIN-long]
set -euo pipefail
checkpoint=$1
domain=${2:-robotics}
data=${3:-data/$domain}
eval_data=${4:-data/eval/$domain-long}
worldsim train-text --checkpoint "$checkpoint" --data "$data" --out "$checkpoint" --threads 2 --quiet --json \
  > "$checkpoint/.text_report.json.tmp"
mv "$checkpoint/.text_report.json.tmp" "$checkpoint/text_report.json"
for split in dev heldout; do
  worldsim eval-prompts --checkpoint "$checkpoint" --prompts "scenarios/prompts/$domain-$split.yaml" --data "$eval_data" --json \
    > "$checkpoint/.prompts_$split.json.tmp"
  mv "$checkpoint/.prompts_$split.json.tmp" "$checkpoint/prompts_$split.json"
  python -c "import json, sys; from worldsim.cli_text import format_prompt_report; print(format_prompt_report(json.load(open(sys.argv[1]))))" \
    "$checkpoint/prompts_$split.json"
done
