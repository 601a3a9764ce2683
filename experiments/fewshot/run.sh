#!/usr/bin/env bash
# The few-shot experiment (issue 12) in one command:
#   experiments/fewshot/run.sh [OUT]        (default: sweeps/fewshot)
# 1. Digits: backprop, feedback alignment, predictive coding (ff and gfn), the dendritic rule
#    (gfn), each from scratch and from generative pretraining (--pretrained auto), n = 1, 2, 5,
#    10, 20, 50 and all labelled examples per class, seeds 10–19 (seeds 0–3 were used while
#    choosing the protocol's settings and the pretraining's learning rate, 1e-3; its inference
#    rate is 0.5 for these sigmoid networks). The tuning grid is the same size for every rule:
#    the config's learning rate × {1/3, 1, 3}; early stopping on the validation split.
# 2. Orientation discrimination with few trials per choice: backprop (ff) and the dendritic rule
#    (gfn), n = 5, 20, 100, all, seeds 10–14, no pretraining.
# Rerunning continues where it stopped. Writes OUT/{digits,orientation}/fewshot*.csv and plots,
# OUT/elapsed.txt, and OUT/report.md (summarise.py, Python standard library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-sweeps/fewshot}
cargo build -q -p apical-cli
APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
mkdir -p "$OUT"
start=$(date +%s)
"$APICAL" fewshot \
  configs/fewshot_digits_backprop.toml \
  configs/fewshot_digits_feedback-alignment.toml \
  configs/fewshot_digits_predictive-coding.toml \
  configs/fewshot_digits_predictive-coding-gfn.toml \
  configs/fewshot_digits_dendritic.toml \
  --n 1,2,5,10,20,50,all --seeds 10,11,12,13,14,15,16,17,18,19 \
  --pretrained auto --pretrain-set training.learning_rate=0.001 --pretrain-set rule.inference_rate=0.5 \
  --out "$OUT/digits" 2> "$OUT/digits.log"
digits=$(( $(date +%s) - start ))
start=$(date +%s)
"$APICAL" fewshot \
  configs/fewshot_orientation_backprop.toml \
  configs/fewshot_orientation_dendritic.toml \
  --n 5,20,100,all --seeds 10,11,12,13,14 \
  --out "$OUT/orientation" 2> "$OUT/orientation.log"
orientation=$(( $(date +%s) - start ))
printf 'digits %s s\norientation %s s\n' "$digits" "$orientation" > "$OUT/elapsed.txt"
python3 experiments/fewshot/summarise.py "$OUT" > "$OUT/report.md"
cat "$OUT/report.md"
