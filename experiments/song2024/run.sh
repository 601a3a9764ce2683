#!/usr/bin/env bash
# Song et al. (2024)'s few-shot protocol on MNIST-10k (issue 22, item 3) in one command:
#   experiments/song2024/run.sh [OUT]                 (default: sweeps/song2024)
#   FAST=1 experiments/song2024/run.sh OUT            (a cut version: 2 learning rates, 2 seeds,
#                                                      n = 6 and 60; about a minute)
#   EXECUTOR=slurm PARTITION=cpu experiments/song2024/run.sh OUT   (each sweep as a Slurm job
#                                                      array, waited for; then the report here)
#   DATA=~/.cache/apical/mnist experiments/song2024/run.sh OUT      (the full data set a user
#                                                      fetched, `apical data fetch mnist` or
#                                                      fashion-mnist: their measure only, n = 60,
#                                                      300, 600, 3000, 5400 per class, seeds 0-2,
#                                                      the 10,000 test images; hours: 64 epochs of
#                                                      54,000 images is 57,600 steps a run)
# 1. Their measure: backprop and predictive coding (T = 64, x-rate 1 halved on a rise), their
#    17 learning rates x seeds 0-9 x n = 6, 60, 300, 600 per class, 64 epochs each
#    (configs/sweeps/song2024_mnist_{backprop,predictive-coding}.toml).
# 2. The honest choice: 3-fold cross-validation inside each labelled set, 5 learning rates
#    around their optimum (configs/sweeps/song2024_mnist_{backprop,predictive-coding}_cv.toml).
# 3. The project's own protocol on the same data and layers (apical fewshot: Adam,
#    cross-entropy, learning rate × {1/3, 1, 3} chosen on a 20-per-class validation split,
#    early stopping): configs/fewshot_mnist_{backprop,predictive-coding}.toml, same n, seeds 0-9.
# Rerunning continues where it stopped. Writes OUT/<sweep>/, OUT/elapsed.txt, OUT/song2024.csv,
# OUT/song2024_choices.csv, OUT/lr_sweep_n<N>.svg and OUT/report.md (summarise.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-sweeps/song2024}
# APICAL=path/to/apical uses that binary (the tests' own) instead of building one.
if [ -z "${APICAL:-}" ]; then
  cargo build -q -p apical-cli
  APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
fi
if [ "${FAST:-0}" = 1 ] && [ -n "${DATA:-}" ]; then
  echo "error: FAST=1 and DATA= are two different runs; give one" >&2
  exit 2
fi
mkdir -p "$OUT"
sweeps=(predictive-coding backprop predictive-coding_cv backprop_cv)
if [ "${FAST:-0}" = 1 ]; then
  # The same configs on a cut grid: written next to the results, bases absolute.
  mkdir -p "$OUT/fast-sweeps"
  for s in "${sweeps[@]}"; do
    rule=${s%_cv}
    {
      echo "base = \"$PWD/configs/song2024_mnist_$rule.toml\""
      printf '[grid]\n"training.learning_rate" = [0.005, 0.0075]\n'
      [ "$s" != "$rule" ] && printf '"task.cv_folds" = [3]\n"task.cv_fold" = [0, 1, 2]\n'
      printf '"training.seed" = [0, 1]\n[[zip]]\n"task.train_per_class" = [6, 60]\n'
      if [ "$s" != "$rule" ]; then
        printf '"training.eval_every" = [1, 7]\n'
      else
        printf '"training.eval_every" = [1, 10]\n'
      fi
    } > "$OUT/fast-sweeps/song2024_mnist_$s.toml"
  done
  dir="$OUT/fast-sweeps"
elif [ -n "${DATA:-}" ]; then
  # The configs with the fetched IDX files as the task, and the larger n it allows (5,400 is
  # below MNIST's smallest class, 5,421; Song et al. used all 6,000 of Fashion-MNIST's).
  DATA=$(cd "$DATA" && pwd)
  mkdir -p "$OUT/data-sweeps"
  sweeps=(predictive-coding backprop)
  for rule in "${sweeps[@]}"; do
    python3 - "configs/song2024_mnist_$rule.toml" "$OUT/data-sweeps/song2024_idx_$rule.toml" "$DATA" <<'PY'
import re, sys
src, dst, data = sys.argv[1:]
text = open(src).read()
task = '[task]\nkind = "idx"\npath = "%s"\ntrain_per_class = 60\nsubset_seed = "training"\n\n' % data
text = re.sub(r"\[task\]\n.*?\n\n", task, text, count=1, flags=re.S)
open(dst, "w").write(text)
PY
    {
      echo "base = \"$OUT/data-sweeps/song2024_idx_$rule.toml\""
      printf '[grid]\n"training.learning_rate" = [0.00001, 0.000025, 0.00005, 0.000075, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1]\n'
      printf '"training.seed" = [0, 1, 2]\n[[zip]]\n"task.train_per_class" = [60, 300, 600, 3000, 5400]\n"training.eval_every" = [10, 50, 100, 500, 900]\n'
    } > "$OUT/data-sweeps/song2024_mnist_$rule.toml"
  done
  dir="$OUT/data-sweeps"
else
  dir=configs/sweeps
fi
executor=(--executor "${EXECUTOR:-local}")
if [ "${EXECUTOR:-local}" = slurm ]; then
  executor+=(--wait ${PARTITION:+--partition "$PARTITION"} --time "${SLURM_TIME:-00:20:00}")
fi
echo "# run started $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$OUT/elapsed.txt"
for s in "${sweeps[@]}"; do
  start=$(date +%s)
  "$APICAL" sweep "$dir/song2024_mnist_$s.toml" --out "$OUT/$s" "${executor[@]}" 2> "$OUT/$s.log" \
    || { tail -n 5 "$OUT/$s.log" >&2; exit 1; }
  echo "$s $(( $(date +%s) - start )) s" >> "$OUT/elapsed.txt"
done
if [ -z "${DATA:-}" ]; then
  start=$(date +%s)
  if [ "${FAST:-0}" = 1 ]; then fewshot_n=6,60; fewshot_seeds=2; else fewshot_n=6,60,300,600; fewshot_seeds=10; fi
  "$APICAL" fewshot configs/fewshot_mnist_backprop.toml configs/fewshot_mnist_predictive-coding.toml \
    --n "$fewshot_n" --seeds "$fewshot_seeds" --out "$OUT/fewshot" 2> "$OUT/fewshot.log" \
    || { tail -n 5 "$OUT/fewshot.log" >&2; exit 1; }
  echo "fewshot $(( $(date +%s) - start )) s" >> "$OUT/elapsed.txt"
fi
python3 experiments/song2024/summarise.py "$OUT" > "$OUT/report.md"
cat "$OUT/report.md"
