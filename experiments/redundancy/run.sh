#!/usr/bin/env bash
# The V4 redundancy experiment (Liu, Pletenev, Haefner & Snyder 2026) in one command:
#   experiments/redundancy/run.sh [OUT]        (default: sweeps/redundancy)
# 1. Trains a front end per seed (configs/sweeps/redundancy_frontend.toml: the gfn by backprop,
#    1,000 steps), then the gfn from it (its first layer: training.init_from, init_layers = [0])
#    by the dendritic rule, predictive coding and backprop (the reference) — OUT/gfn.toml, one
#    condition "<rule>+seed<seed>" per rule and seed, PROBE probe trials (default 16,000) — and the
#    ff baseline, seeds 10–17, recording the probe along learning (activity/step-N/), and runs
#    the sampling model at δ = 0, 0.015, 0.03, 0.06 (configs/sweeps/redundancy*.toml;
#    rerunning resumes);
# 2. re-records every gfn run passively at the same weights (engagement 0, the context cue kept:
#    OUT/passive/<run>/);
# 3. analyses every run with the same unit-subset size (16 units, 200 subsets);
# 4. pools the seeds into OUT/report.md and OUT/report_*.svg (summarise.py, Python standard
#    library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-sweeps/redundancy}
SUBSET=16
# APICAL=path/to/apical uses that binary instead of building one.
if [ -z "${APICAL:-}" ]; then
  cargo build -q -p apical-cli
  APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
fi
start=$(date +%s)
PROBE=${PROBE:-16000}
SEEDS=(10 11 12 13 14 15 16 17)
# RULES (default: all three), RATE_NOISE (model.rate_noise of the gfn runs, default 0) and
# BASELINES=0 (skip the ff baseline and the sampler) run a variant, e.g.
#   RULES=dendritic RATE_NOISE=0.5 PROBE=32000 BASELINES=0 experiments/redundancy/run.sh OUT
RULES=(${RULES:-dendritic predictive-coding gfn-backprop})
"$APICAL" sweep configs/sweeps/redundancy_frontend.toml --out "$OUT/frontend"
OUT_ABS=$(cd "$OUT" && pwd)
{
  echo "# Written by experiments/redundancy/run.sh: the gfn from each seed's front end."
  echo "base = \"$PWD/configs/redundancy_dendritic.toml\""
  echo "[set]"
  echo "\"logging.probe_examples\" = $PROBE"
  echo "\"model.rate_noise\" = ${RATE_NOISE:-0.0}"
  for rule in "${RULES[@]}"; do
    kind=$rule; [ "$rule" = gfn-backprop ] && kind=backprop
    for seed in "${SEEDS[@]}"; do
      echo "[conditions.\"$rule+seed$seed\"]"
      echo "\"rule.kind\" = \"$kind\""
      echo "\"training.seed\" = $seed"
      echo "\"training.init_from\" = \"$OUT_ABS/frontend/runs/seed=$seed\""
      echo "\"training.init_layers\" = [0]"
    done
  done
} > "$OUT/gfn.toml.tmp" && mv "$OUT/gfn.toml.tmp" "$OUT/gfn.toml"
"$APICAL" sweep "$OUT/gfn.toml" --out "$OUT/gfn"
if [ "${BASELINES:-1}" != 0 ]; then
  "$APICAL" sweep configs/sweeps/redundancy_ff.toml --out "$OUT/ff"
  "$APICAL" sweep configs/sweeps/redundancy_sampling.toml --out "$OUT/sampling"
fi
trained=$(date +%s)
source experiments/redundancy/record_and_analyse.sh
end=$(date +%s)
echo "trained in $(( trained - start )) s, recorded passively and analysed in $(( end - trained )) s, $(( end - start )) s in all (2 cores)" > "$OUT/elapsed.txt"
python3 experiments/redundancy/summarise.py "$OUT" > "$OUT/report.md"
cat "$OUT/report.md"
