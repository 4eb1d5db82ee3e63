#!/usr/bin/env bash
# The transfer experiment behind BENCHMARKS.md "Transfer", with the shipped world models.
# Budgets fit a 2-core machine: the real-simulator baselines train at ~17 steps/s (highway-env),
# ~30 (CarRacing) and ~150 (PushT), so 3 seeds take about 45, 75 and 15 minutes. Driving and games
# ran side by side, one torch thread each. Every command resumes after the agents that finished.
set -euo pipefail
python agents/transfer.py --domain driving --steps 10000 --seeds 0,1,2 --eval-episodes 10 --threads 1 --out runs/transfer/driving-10k
python agents/transfer.py --domain driving --steps 10000 --seeds 0,1,2 --eval-episodes 10 --threads 1 --agents dream \
  --no-crash-rule --out runs/transfer/driving-10k-no-crash-rule
python agents/transfer.py --domain games --steps 20000 --seeds 0,1,2 --eval-episodes 10 --threads 1 --out runs/transfer/games-20k
python agents/transfer.py --domain robotics --steps 20000 --seeds 0,1,2 --eval-episodes 10 --threads 1 --out runs/transfer/robotics-20k
# Why the dream-trained agents fall short (seed 0 of each domain).
for spec in driving:driving-10k games:games-20k robotics:robotics-20k; do
  domain=${spec%%:*} run=runs/transfer/${spec#*:}
  python agents/diagnose.py --domain "$domain" --agent "dream=$run/dream-seed0/final.zip" \
    --agent "real=$run/real-seed0/final.zip" --episodes 10 --threads 1 --out "runs/diagnose/$domain.json"
done
