#!/usr/bin/env bash
# What vectorized credit buys over a broadcast as the decoder's dimensions grow (issue 24):
# the "pattern" BCI with K = 1, 2, 4, 8 decoder dimensions and the centre-out BCI (K = 2, 8
# target directions), each rule at its own tuned learning rate; targets mapped from a cue (a
# map to learn), a probe trial without plasticity every 5th trial, trials to criterion read
# from the exponential learning curve fitted to the probes (summary.json's
# trials_to_criterion_fit; the moving window beside it), censored at the run's length.
#   experiments/bci/dims.sh [OUT]            (default: sweeps/bci-dims; rerunning continues)
#   FAST=1 experiments/bci/dims.sh OUT       (a smoke-sized run, ~30 s: 1 tuning seed, 2 seeds, K ≤ 2)
#   EXECUTOR=slurm PARTITION=cpu experiments/bci/dims.sh OUT   (every sweep a Slurm job array)
#   TARGETS=up PROBE_EVERY=0 EVAL_FROM=0 experiments/bci/dims.sh OUT
#       (the pattern task's targets — mapped (default), up or cued —, probe trials without
#        plasticity every P trials (default 5; 0: none), evaluation seeds from EVAL_FROM
#        (default 40); with TARGETS=up the evaluation runs are recorded and analysed: ρ)
#
# Fixed before the runs (see experiments/bci/README.md, "Dimensions"):
# 1. Tuning (seeds 100–102 only): each of dendritic (vectorized) and reward-broadcast (error
#    decrease, baseline-subtracted) per K (and centre-out) over a ×√2 learning-rate grid; the choice is the
#    rate with the smallest median trials-to-criterion over the tuning seeds (censored runs
#    count as trials_run + 1), then the smaller mean, then the smaller rate. A choice at the
#    grid's edge extends the grid by four ×√2 steps beyond it (up to 3 rounds).
# 2. Evaluation (seeds 40–59, EVAL_FROM): per K, dendritic and broadcast at their choices; permuted credit
#    (the control: the same rule with the learned top-down weights permuted across units every
#    step) at the dendritic choice; untrained (learning rate 0) — each seed's chance block is
#    in every run's summary (chance_measured).
# 3. With TARGETS=up, apical analyze on the dendritic and untrained runs
#    (slope_predicts_rate_change; the other targets change the error's sign per trial); then
#    dims.py: per K the median trials-to-criterion with the number censored, the paired
#    per-seed ratios broadcast/vectorized and permuted/vectorized (median, 90% bootstrap over
#    seeds), and the Spearman ρ per seed.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-sweeps/bci-dims}
# APICAL=path/to/apical uses that binary (the tests' own) instead of building one.
if [ -z "${APICAL:-}" ]; then
  cargo build -q -p apical-cli
  APICAL=$PWD/${CARGO_TARGET_DIR:-target}/debug/apical
fi
mkdir -p "$OUT/sweeps"
TARGETS=${TARGETS:-mapped}
PROBE_EVERY=${PROBE_EVERY:-5}
# Only the analysed runs keep their day recordings (tuning needs the outcomes alone).
ANALYSE=0; [ "$TARGETS" = up ] && ANALYSE=1
if [ "${FAST:-0}" = 1 ]; then
  DIMS=(1 2); TUNE_SEEDS=(100); EVAL_SEEDS=(0 1); ROUNDS=1; DAYS=1
  GRID=(2e-4 4e-4 8e-4 1.6e-3)
else
  EVAL_FROM=${EVAL_FROM:-40}
  DIMS=(1 2 4 8); TUNE_SEEDS=(100 101 102); EVAL_SEEDS=($(seq "$EVAL_FROM" $((EVAL_FROM + 19)))); ROUNDS=3; DAYS=5
  # ×√2 from 2.5e-5 to 2.56e-2 (21 rates), the pilot's range on seed 100.
  GRID=($(python3 -c "print(' '.join('%.4g' % (2.5e-5 * 2 ** (i / 2)) for i in range(21)))"))
fi
list() { local IFS=,; echo "[$*]"; }
executor=(--executor "${EXECUTOR:-local}")
if [ "${EXECUTOR:-local}" = slurm ]; then
  executor+=(--wait ${PARTITION:+--partition "$PARTITION"} --time "${SLURM_TIME:-00:20:00}")
fi
sweep() { # sweep FILE OUT
  "$APICAL" sweep "$1" --out "$2" "${executor[@]}" 2>> "$OUT/sweeps.log" \
    || { tail -n 5 "$OUT/sweeps.log" >&2; exit 1; }
}
start=$(date +%s)
stamp() { echo "$1 $(( $(date +%s) - start )) s" >> "$OUT/elapsed.txt"; }
# A tuning or evaluation family: its base config and [set] lines. TUNE names the family:
# dendritic, broadcast, permuted, untrained (the pattern layout over DIMS), or the same with a
# centre-out- prefix (K = 2, one cursor, a target direction per trial).
base() {
  case $1 in
    centre-out-*) echo "base = \"$PWD/configs/bci_centre-out_dendritic.toml\"" ;;
    broadcast) echo "base = \"$PWD/configs/bci_pattern_reward-broadcast.toml\"" ;;
    *) echo "base = \"$PWD/configs/bci_pattern_dendritic.toml\"" ;;
  esac
  echo "[set]"
  echo "\"task.days\" = $DAYS"
  if [ "$PROBE_EVERY" != 0 ]; then echo "\"task.probe_every\" = $PROBE_EVERY"; fi
  case $1 in
    centre-out-*) ;;
    *) if [ "$TARGETS" != up ]; then echo "\"task.targets\" = \"$TARGETS\""; fi ;;
  esac
  # $2: record (1) or not (0) the days' activity.
  [ "${2:-0}" = 1 ] || echo '"logging.record_days" = false'
  echo '"logging.plots" = false'
  echo '"logging.tensorboard" = false'
  case $1 in
    centre-out-broadcast) echo '"rule.kind" = "reward-broadcast"' ;;
    *permuted) echo '"rule.credit" = "permuted"' ;;
  esac
}

# 1. Tuning, with edge extensions.
for tune in dendritic broadcast centre-out-dendritic centre-out-broadcast; do
  for round in $(seq 0 "$ROUNDS"); do
    f="$OUT/sweeps/tune_$tune-r$round.toml"
    if [ "$round" = 0 ]; then
      {
        base "$tune"
        echo "[grid]"
        case $tune in centre-out-*) ;; *) echo "\"task.dims\" = $(list "${DIMS[@]}")" ;; esac
        echo "\"training.learning_rate\" = $(list "${GRID[@]}")"
        echo "\"training.seed\" = $(list "${TUNE_SEEDS[@]}")"
      } > "$f"
    elif [ ! -f "$f" ]; then
      # The rates beyond each edge choice, as a [[zip]] of (K, rate).
      python3 experiments/bci/dims.py extend "$OUT" "$tune" "$round" > "$f.rates"
      [ -s "$f.rates" ] || { rm -f "$f.rates"; break; }
      {
        base "$tune"
        echo "[grid]"
        echo "\"training.seed\" = $(list "${TUNE_SEEDS[@]}")"
        cat "$f.rates"
      } > "$f.tmp" && mv "$f.tmp" "$f"
    fi
    sweep "$f" "$OUT/tune/$tune-r$round"
  done
done
python3 experiments/bci/dims.py choose "$OUT" > "$OUT/choices.csv.tmp" && mv "$OUT/choices.csv.tmp" "$OUT/choices.csv"
stamp tuning

# 2. Evaluation at the choices.
choice() { awk -F, -v r="$1" -v k="$2" '$1 == r && $2 == k { print $3 }' "$OUT/choices.csv"; }
rate() { # rate CONDITION SETTING
  case $1 in
    broadcast) choice broadcast "$2" ;;
    untrained) echo 0.0 ;;
    *) choice dendritic "$2" ;;
  esac
}
for cond in dendritic broadcast permuted untrained; do
  f="$OUT/sweeps/eval_$cond.toml"
  lrs=()
  for k in "${DIMS[@]}"; do lrs+=("$(rate $cond "$k")"); done
  record=0
  case $cond in dendritic | untrained) record=$ANALYSE ;; esac
  {
    base "$cond" "$record"
    echo "[grid]"
    echo "\"training.seed\" = $(list "${EVAL_SEEDS[@]}")"
    echo "[[zip]]"
    echo "\"task.dims\" = $(list "${DIMS[@]}")"
    echo "\"training.learning_rate\" = $(list "${lrs[@]}")"
  } > "$f"
  sweep "$f" "$OUT/eval/$cond"
  f="$OUT/sweeps/eval_centre-out-$cond.toml"
  {
    base "centre-out-$cond" "$record"
    echo "\"training.learning_rate\" = $(rate $cond centre-out)"
    echo "[grid]"
    echo "\"training.seed\" = $(list "${EVAL_SEEDS[@]}")"
  } > "$f"
  sweep "$f" "$OUT/eval/centre-out-$cond"
done
stamp evaluation

# 3. Analyses (TARGETS=up) and the report.
if [ "$ANALYSE" = 1 ]; then
  for cond in dendritic untrained; do
    for run in "$OUT"/eval/$cond/runs/*/; do
      [ -f "$run/analysis/analysis.json" ] || "$APICAL" analyze "$run" > /dev/null 2>> "$OUT/sweeps.log"
    done
  done
  stamp analyses
fi
python3 experiments/bci/dims.py report "$OUT" > "$OUT/report.md.tmp" && mv "$OUT/report.md.tmp" "$OUT/report.md"
cat "$OUT/report.md"
