#!/usr/bin/env bash
# The learning-rate search behind experiments/bci, on the tuning seed 100 (never an evaluation
# seed): success per day for each rule over one grid, and for larger ensembles. Prints
# Markdown tables.
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
echo
echo "| rule | ensembles (units) | learning rate | success by day (seed 100) |"
echo "|---|---|---|---|"
for rule in dendritic broadcast; do
  case $rule in
    dendritic) cfg=configs/bci_dendritic.toml ;;
    broadcast) cfg=configs/bci_reward-broadcast.toml ;;
  esac
  for size in "16 64" "32 128"; do
    set -- $size
    for lr in 3e-4 1e-3 3e-3; do
      dir=$OUT/$rule-ens$1-lr$lr
      [ -f "$dir/summary.json" ] || { rm -rf "$dir"; "$APICAL" run $cfg --set training.seed=100 --set training.learning_rate=$lr --set task.p_plus=$1 --set task.p_minus=$1 --set model.units=$2 --out "$dir" > /dev/null 2>&1; }
      echo "| $rule | $1 + $1 ($2) | $lr | $(tail -n +2 "$dir/metrics.csv" | cut -d, -f2 | tr '\n' ' ')|"
    done
  done
done
