#!/usr/bin/env bash
# Train the three shipped world models from scratch (after scripts/collect_datasets.sh data 2).
# The shipped runs trained all three at once, one torch thread each, on a 2-core machine; run them
# one after another with --threads 2 on an idle machine instead and each takes about half as long.
set -euo pipefail
for domain in robotics driving games; do
  worldsim train --domain "$domain" --data "data/$domain" --out "runs/$domain" --steps 2000 --threads 1 --seed 0 --quiet &
done
wait
