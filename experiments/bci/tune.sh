#!/usr/bin/env bash
# The learning-rate search behind experiments/bci, on the tuning seed 100 (never an evaluation
# seed): success per day for each rule over one grid. Prints a Markdown table.
#   experiments/bci/tune.sh [OUT_DIR]        (default: runs/bci-tune)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/bci-tune}
cargo build -q -p apical-cli
APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
echo "| rule | learning rate | success by day (seed 100) |"
echo "|---|---|---|"
for rule in dendritic broadcast broadcast_reward; do
  case $rule in
    dendritic) args=(configs/bci_dendritic.toml) ;;
    broadcast) args=(configs/bci_reward-broadcast.toml) ;;
    broadcast_reward) args=(configs/bci_reward-broadcast.toml --set rule.signal=reward) ;;
  esac
  for lr in 3e-4 1e-3 3e-3 1e-2 3e-2 0.1 0.3 1; do
    dir=$OUT/$rule-lr$lr
    [ -f "$dir/summary.json" ] || { rm -rf "$dir"; "$APICAL" run "${args[@]}" --set training.seed=100 --set training.learning_rate=$lr --out "$dir" > /dev/null 2>&1; }
    echo "| $rule | $lr | $(tail -n +2 "$dir/metrics.csv" | cut -d, -f2 | tr '\n' ' ')|"
  done
done
