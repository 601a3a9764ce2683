#!/usr/bin/env bash
# The V4 redundancy experiment (Liu, Pletenev, Haefner & Snyder 2026) in one command:
#   experiments/redundancy/run.sh [OUT]        (default: sweeps/redundancy)
# 1. Trains the gfn by the dendritic rule, predictive coding and backprop (the reference), and
#    the ff baseline, seeds 10–17, recording the probe along learning (activity/step-N/), and
#    runs the sampling model at δ = 0, 0.015, 0.03, 0.06 (configs/sweeps/redundancy*.toml; rerunning
#    resumes);
# 2. re-records every gfn run passively at the same weights (engagement 0, the context cue kept:
#    OUT/passive/<run>/);
# 3. analyses every run with the same unit-subset size (16 units, 200 subsets);
# 4. pools the seeds into OUT/report.md and OUT/report_*.svg (summarise.py, Python standard
#    library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-sweeps/redundancy}
SUBSET=16
cargo build -q -p apical-cli
APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
start=$(date +%s)
"$APICAL" sweep configs/sweeps/redundancy.toml --out "$OUT/gfn"
"$APICAL" sweep configs/sweeps/redundancy_ff.toml --out "$OUT/ff"
"$APICAL" sweep configs/sweeps/redundancy_sampling.toml --out "$OUT/sampling"
trained=$(date +%s)
source experiments/redundancy/record_and_analyse.sh
end=$(date +%s)
echo "trained in $(( trained - start )) s, recorded passively and analysed in $(( end - trained )) s, $(( end - start )) s in all (2 cores)" > "$OUT/elapsed.txt"
python3 experiments/redundancy/summarise.py "$OUT" > "$OUT/report.md"
cat "$OUT/report.md"
