#!/usr/bin/env bash
# Peer speed comparison: apical vs PyTorch, JAX (backprop) and PCX (predictive coding), CPU.
#
#   benches/peers/run.sh [ROUNDS=5]
#
# Each round runs every case once per peer, apical first then the peers (ABAB...: one process
# per round and peer, so no peer keeps a warm cache the others lack), appending one JSON line per
# run to benches/peers/results/rounds-DATE.jsonl; then summarise.py writes
# benches/peers/results/summary-DATE.md (and .json). Environment:
#   THREADS   threads for the peers (default 2; apical chooses per net as `apical run` does,
#             unless APICAL_THREADS or MATMUL_NUM_THREADS is set)
#   DATE      stamp of the result files (default: today, UTC); an existing rounds file is
#             appended to, so a second run on the same day adds rounds to the same summary
#   SKIP_BUILD=1  do not run cargo (uses $APICAL as it is)
#   APICAL    apical's binary (default target/debug/examples/peer_round)
#   RESULTS   output folder (default benches/peers/results)
#   T_PC      PCX's inference steps (default 5; apical's peer_round runs T = 5, keep them equal)
#   QUICK=1   a tenth of the steps (smoke test, not for the record)
# Run it on an otherwise idle machine: PyTorch's OpenMP threads in particular slow down by
# 10-50x when another process holds a core (measured: 784-256-10 at 2 threads, 2 ms idle vs
# 160 ms per step beside one busy process). The header records the load average.
set -euo pipefail

ROUNDS="${1:-5}"
THREADS="${THREADS:-2}"
DATE="${DATE:-$(date -u +%F)}"

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PEERS=benches/peers
VENV="$PEERS/.venv"
PY="$VENV/bin/python"
APICAL="${APICAL:-target/debug/examples/peer_round}"
RESULTS="${RESULTS:-$PEERS/results}"
ROUNDS_FILE="$RESULTS/rounds-$DATE.jsonl"
SUMMARY_MD="$RESULTS/summary-$DATE.md"
SUMMARY_JSON="$RESULTS/summary-$DATE.json"

if [[ ! -x "$PY" ]]; then
    echo "== creating $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --upgrade pip >&2
    "$VENV/bin/pip" install -r "$PEERS/requirements.txt" >&2
fi

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "== building apical's peer_round" >&2
    cargo build --profile dev -p apical-benches --example peer_round >&2
fi
[[ -x "$APICAL" ]] || { echo "missing $APICAL" >&2; exit 1; }

mkdir -p "$RESULTS"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
if awk -v l="${LOAD_START%% *}" 'BEGIN { exit !(l + 0 > 0.5) }'; then
    echo "== warning: load average $LOAD_START; the timings want an idle machine" >&2
fi
[[ -e "$ROUNDS_FILE" ]] && echo "== appending to existing $ROUNDS_FILE" >&2

# rule net batch steps warmup peers...   (steps: ~1-2 s of timed work per run on a 2-core VM)
CASES=(
    "bp 784-256-10 64 300 20 pytorch jax"
    "bp 784-128-128-128-10 128 200 20 pytorch jax"
    "bp 784-1024-1024-10 256 30 5 pytorch jax"
    "pc 784-256-10 64 200 20 pcx"
    "pc 784-128-128-128-10 128 100 10 pcx"
)
T_PC="${T_PC:-5}"

run_peer() { # peer rule net batch steps warmup
    local peer=$1 rule=$2 net=$3 batch=$4 steps=$5 warmup=$6
    local common=(--rule "$rule" --net "$net" --batch "$batch" --steps "$steps" --warmup "$warmup")
    case "$peer" in
        apical)  "$APICAL" "${common[@]}" ;;
        pytorch) "$PY" "$PEERS/torch_steps.py" "${common[@]}" --threads "$THREADS" ;;
        jax)     "$PY" "$PEERS/jax_steps.py" "${common[@]}" --threads "$THREADS" ;;
        pcx)     "$PY" "$PEERS/jax_steps.py" "${common[@]}" --threads "$THREADS" --T "$T_PC" ;;
        *) echo "unknown peer $peer" >&2; return 1 ;;
    esac
}

for ((r = 1; r <= ROUNDS; r++)); do
    for c in "${CASES[@]}"; do
        read -r rule net batch steps warmup peers <<<"$c"
        if [[ "${QUICK:-0}" == 1 ]]; then steps=$(((steps + 9) / 10)); warmup=$(((warmup + 4) / 5)); fi
        for peer in apical $peers; do
            echo "== round $r/$ROUNDS: $rule $net batch $batch: $peer" >&2
            line=$(run_peer "$peer" "$rule" "$net" "$batch" "$steps" "$warmup" | tail -n 1)
            # one JSON object per line, or the round is lost
            "$PY" -c 'import json,sys; json.loads(sys.argv[1])' "$line" \
                || { echo "not a JSON line from $peer: $line" >&2; exit 1; }
            printf '%s\n' "$line" >>"$ROUNDS_FILE"
        done
    done
done

model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
{
    echo "# Peer speed comparison, $DATE"
    echo
    echo "- machine: $(uname -m), ${model:-unknown CPU}, $(nproc) cores (nproc)"
    echo "- threads: peers $THREADS (torch.set_num_threads / XLA, see jax_steps.py); apical: APICAL_THREADS=${APICAL_THREADS:-unset}, MATMUL_NUM_THREADS=${MATMUL_NUM_THREADS:-unset} (unset: apical chooses per net — one thread while the net's largest product is below 20 M multiply-adds, see apical_nn::auto_threads_for)"
    echo "- apical: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty)'), $(rustc -V 2>/dev/null || echo 'rustc ?'), cargo --profile dev"
    echo "- load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') at the end"
    if [[ "${QUICK:-0}" == 1 ]]; then echo "- QUICK=1: a tenth of the steps (smoke test)"; fi
    echo "- rounds: $ROUNDS per case, alternating apical and the peers; a round's value is the median of its per-step times"
    echo "- raw: $(basename "$ROUNDS_FILE")"
    echo
    "$PY" "$PEERS/summarise.py" "$ROUNDS_FILE" --json "$SUMMARY_JSON"
} >"$SUMMARY_MD"
cat "$SUMMARY_MD"
