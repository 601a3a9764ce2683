#!/usr/bin/env bash
# The BCI credit-assignment experiment (Francioni et al. 2026) in one command:
#   experiments/bci/run.sh [OUT_DIR]        (default: runs/experiments/bci)
# Five conditions × seeds 0–4 (learning rates were chosen on seed 100, never on these), each
# run analysed with `apical analyze`; then summarise.py pools the seeds into report.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/experiments/bci}
SEEDS=${SEEDS:-"0 1 2 3 4"}
cargo build -q -p apical-cli
APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
start=$(date +%s)
run() { # condition config settings…
  local cond=$1 cfg=$2; shift 2
  for seed in $SEEDS; do
    local dir=$OUT/$cond/seed-$seed
    if [ ! -f "$dir/summary.json" ]; then
      rm -rf "$dir"
      "$APICAL" run "configs/$cfg.toml" --out "$dir" --set training.seed="$seed" "$@" > /dev/null
    fi
    "$APICAL" analyze "$dir" 2> /dev/null
  done
}
run dendritic bci_dendritic
run dendritic_inhibition bci_dendritic --set model.apical_inhibition=1
run dendritic_anaesthesia bci_dendritic --set model.engagement=0
run reward-broadcast bci_reward-broadcast
run reward-broadcast_lr1e-3 bci_reward-broadcast --set training.learning_rate=1e-3
run untrained bci_dendritic --set training.learning_rate=1e-12
# The bar's other ensemble size.
run dendritic_3+5 bci_dendritic --set task.p_plus=3 --set task.p_minus=5
echo "ran in $(( $(date +%s) - start )) s" > "$OUT/elapsed.txt"
python3 experiments/bci/summarise.py "$OUT" > "$OUT/report.md"
cat "$OUT/report.md"
