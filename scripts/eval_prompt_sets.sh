#!/usr/bin/env bash
# eval-prompts on a domain's dev and held-out prompt sets for one model directory, 16 scenes per
# prompt, the frame probe trained with the domain's probe episodes as well where they exist (--probe-data).
# Writes DIR/prompts_dev.json and DIR/prompts_heldout.json (kept: rerun skips what exists) and prints each.
# Usage: scripts/eval_prompt_sets.sh DOMAIN DIR [more eval-prompts options, e.g. --samples 8 --method reflect]
# PROMPTS_TAG=-x names the reports DIR/prompts_SPLIT-x.json instead (a second evaluation of one directory).
set -euo pipefail
domain=$1
run=$2
shift 2
case $domain in
  driving) data=data/eval/driving-long probe=data/eval/driving-probe ;;
  robotics) data=data/eval/robotics-long probe=data/eval/robotics-probe ;;
  games) data=data/eval/games-long-wander probe= ;;  # no other held-out CarRacing set: games-long shares its tracks
  *) echo "unknown domain $domain (driving, robotics or games)" >&2; exit 2 ;;
esac
for split in dev heldout; do
  out=$run/prompts_$split${PROMPTS_TAG:-}.json
  if [[ ! -f $out ]]; then
    OMP_NUM_THREADS=1 worldsim eval-prompts --checkpoint "$run" --prompts "scenarios/prompts/$domain-$split.yaml" \
      --data "$data" ${probe:+--probe-data "$probe"} --seeds 16 --json "$@" > "$out.tmp"
    mv "$out.tmp" "$out"
  fi
  python -c "import json, sys; from worldsim.cli_text import format_prompt_report; print(format_prompt_report(json.load(open(sys.argv[1]))))" "$out"
done
