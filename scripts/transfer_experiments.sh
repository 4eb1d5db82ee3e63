#!/usr/bin/env bash
# The transfer experiment behind BENCHMARKS.md "Transfer". The blocks before the last were run with
# the first release's world models (the weights in git history before the v2 models shipped), the
# last block with the world models v2.
# Budgets fit a 2-core machine: the real-simulator baselines train at ~14 steps/s (highway-env),
# ~22 (CarRacing) and ~150 (PushT) with another job on the other core, so 3 seeds take about 40,
# 50 and 10 minutes. The runs were made two at a time, one torch thread each. Every command
# resumes after the agents that finished.
set -euo pipefail
T="--eval-episodes 10 --threads 1 --quiet"
python agents/transfer.py --domain driving --steps 10000 --seeds 0,1,2 $T --out runs/transfer/driving-10k
python agents/transfer.py --domain driving --steps 10000 --seeds 0,1,2 $T --agents dream --no-crash-rule \
  --out runs/transfer/driving-10k-no-crash-rule
python agents/transfer.py --domain driving --steps 10000 --seeds 0,1,2 $T --agents dream --correct-rounds 2 \
  --out runs/transfer/driving-10k-corrected
python agents/transfer.py --domain games --steps 20000 --seeds 0,1,2 $T --out runs/transfer/games-20k
python agents/transfer.py --domain games --steps 20000 --seeds 0,1,2 $T --agents dream --correct-rounds 1 \
  --correct-episodes 4 --out runs/transfer/games-20k-corrected
python agents/transfer.py --domain robotics --steps 20000 --seeds 0,1,2 $T --out runs/transfer/robotics-20k

# Why the dream-trained agents fall short (seed 0 of each).
D="--episodes 10 --threads 1"
python agents/diagnose.py --domain driving --no-crash-rule $D --out runs/diagnose/driving-no-crash-rule.json \
  --agent dream=runs/transfer/driving-10k-no-crash-rule/dream-seed0/final.zip --agent real=runs/transfer/driving-10k/real-seed0/final.zip
python agents/diagnose.py --domain driving $D --out runs/diagnose/driving.json \
  --agent dream=runs/transfer/driving-10k/dream-seed0/final.zip --agent real=runs/transfer/driving-10k/real-seed0/final.zip
python agents/diagnose.py --domain driving $D --out runs/diagnose/driving-corrected.json \
  --checkpoint runs/transfer/driving-10k-corrected/heads-seed0-r2 --agent corrected=runs/transfer/driving-10k-corrected/dream-seed0-r2/final.zip
python agents/diagnose.py --domain games --episodes 4 --threads 1 --out runs/diagnose/games.json \
  --agent dream=runs/transfer/games-20k/dream-seed0/final.zip --agent real=runs/transfer/games-20k/real-seed0/final.zip
python agents/diagnose.py --domain games --episodes 4 --threads 1 --out runs/diagnose/games-corrected.json \
  --checkpoint runs/transfer/games-20k-corrected/heads-seed0-r1 --agent corrected=runs/transfer/games-20k-corrected/dream-seed0-r1/final.zip
python agents/diagnose.py --domain robotics $D --out runs/diagnose/robotics.json \
  --agent dream=runs/transfer/robotics-20k/dream-seed0/final.zip --agent real=runs/transfer/robotics-20k/real-seed0/final.zip

# The same with the world models v2 (BENCHMARKS.md, "With the world models v2"): no head correction;
# the real-simulator baselines are retrained, since they see the real frames through the model.
python agents/transfer.py --domain driving --steps 10000 --seeds 0,1,2 $T --out runs/transfer-v2/driving-10k
python agents/transfer.py --domain driving --steps 10000 --seeds 0,1,2 $T --agents dream --no-crash-rule \
  --out runs/transfer-v2/driving-10k-no-crash-rule
python agents/transfer.py --domain games --steps 20000 --seeds 0,1,2 $T --agents dream,random --out runs/transfer-v2/games-20k
python agents/transfer.py --domain games --steps 20000 --seeds 0 $T --agents real --out runs/transfer-v2/games-20k
python agents/transfer.py --domain robotics --steps 20000 --seeds 0,1,2 $T --out runs/transfer-v2/robotics-20k
# Games candidates (BENCHMARKS.md, "Games: a track no wheel bends"):
# games-speed's weights (scripts/train_shipped.sh games-speed) dreaming with the track laid by the
# prior, then also paid what the prior reads off each step; dream agents at 20k and 200k steps.
[[ -d runs/games-speed-track ]] || python scripts/derive_checkpoint.py runs/games-speed runs/games-speed-track '{"prior_noise": true}'
[[ -d runs/games-speed-laid ]] ||
  python scripts/derive_checkpoint.py runs/games-speed runs/games-speed-laid '{"prior_noise": true, "prior_reward": true}'
for run in games-speed games-speed-track games-speed-laid; do
  for n in 20000 200000; do
    python agents/transfer.py --domain games --checkpoint runs/$run --steps $n --seeds 0,1,2 $T --agents dream \
      --out runs/transfer-cand/$run-$((n / 1000))k
  done
done
# The games model shipped before (scripts/train_shipped.sh games-v2).
python agents/transfer.py --domain games --checkpoint runs/games-v2 --steps 200000 --seeds 0,1,2 $T --agents dream \
  --out runs/transfer-cand/shipped-200k
# games-track (scripts/train_shipped.sh games-track), trained with the track laid; then also paid what the prior reads.
[[ -d runs/games-track-laid ]] || python scripts/derive_checkpoint.py runs/games-track runs/games-track-laid '{"prior_reward": true}'
for run in games-track games-track-laid; do
  python agents/transfer.py --domain games --checkpoint runs/$run --steps 200000 --seeds 0,1,2 $T --agents dream \
    --out runs/transfer-cand/$run-200k
done
python agents/transfer.py --domain games --checkpoint runs/games-speed-laid --steps 20000 --seeds 0,1,2 $T --agents real \
  --out runs/transfer-cand/games-speed-laid-20k
