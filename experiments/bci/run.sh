#!/usr/bin/env bash
# The BCI credit-assignment experiment (Francioni et al. 2026) in one command:
#   experiments/bci/run.sh [SWEEP_DIR]        (default: sweeps/bci)
# Runs configs/sweeps/bci.toml (7 conditions × seeds 0–19; rerunning resumes), analyses every
# run with `apical analyze`, collects late_success with intervals, and summarises the seeds into
# SWEEP_DIR/report.md and report_*.svg (summarise.py, Python standard library only; every
# interval over seeds). The comparison of rules at their own tuned rates, over decoder
# dimensions, is experiments/bci/dims.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-sweeps/bci}
# APICAL=path/to/apical uses that binary instead of building one.
if [ -z "${APICAL:-}" ]; then
  cargo build -q -p apical-cli
  APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
fi
start=$(date +%s)
"$APICAL" sweep configs/sweeps/bci.toml --out "$OUT"
for run in "$OUT"/runs/*/; do
  "$APICAL" analyze "$run" 2> /dev/null
done
"$APICAL" collect "$OUT" --metric late_success --by condition
echo "ran in $(( $(date +%s) - start )) s (2 worker processes)" > "$OUT/elapsed.txt"
python3 experiments/bci/summarise.py "$OUT" > "$OUT/report.md"
cat "$OUT/report.md"
