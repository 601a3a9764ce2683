#!/usr/bin/env bash
# apical's own ratios: predictive coding (T = 5) and the gfn dendritic step against apical's
# feedforward backprop step, at the three peer sizes, in alternating rounds of separate
# `examples/peer_round` processes (each applies the threads `apical run` would choose).
#
#   benches/peers/own_ratios.sh [ROUNDS=3]     (~4 minutes; an idle machine, as for run.sh)
#
# Appends to benches/peers/results/own-ratios-DATE.jsonl (raw rounds; a second run on the same
# day adds rounds) and prints the table of every round in it. Environment: DATE, SKIP_BUILD=1,
# APICAL (the binary; default target/debug/examples/peer_round), as for run.sh.
set -euo pipefail
ROUNDS="${1:-3}"
DATE="${DATE:-$(date -u +%F)}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
APICAL="${APICAL:-${CARGO_TARGET_DIR:-target}/debug/examples/peer_round}"
[[ "${SKIP_BUILD:-0}" == 1 ]] || cargo build --profile dev -p apical-benches --example peer_round >&2
[[ -x "$APICAL" ]] || { echo "missing $APICAL" >&2; exit 1; }
OUT="benches/peers/results/own-ratios-$DATE.jsonl"
[[ -e "$OUT" ]] && echo "== appending to existing $OUT" >&2
for round in $(seq "$ROUNDS"); do
    for spec in "784-256-10 64 300" "784-128-128-128-10 128 200" "784-1024-1024-10 256 12"; do
        set -- $spec
        for rule in bp pc dendritic; do
            echo "== round $round/$ROUNDS: $rule $1 batch $2" >&2
            "$APICAL" --rule "$rule" --net "$1" --batch "$2" --steps "$3" --warmup 5 >> "$OUT"
        done
    done
done
python3 - "$OUT" <<'PY'
import collections, json, statistics, sys
times, threads = collections.defaultdict(list), {}
for line in open(sys.argv[1]):
    run = json.loads(line)
    times[(run["net"], run["rule"])].append(statistics.median(run["ms"]))
    threads[run["net"]] = run.get("matmul_threads", "?")
print("| net | matrix threads | rule | ms/step (median of rounds) | × backprop (median of per-round ratios) | range |")
print("|---|---|---|---|---|---|")
for net in dict.fromkeys(n for n, _ in times):
    bp = times[(net, "bp")]
    for rule in ("bp", "pc", "dendritic"):
        ratios = [a / b for a, b in zip(times[(net, rule)], bp)]
        print(f"| {net} | {threads[net]} | {rule} | {statistics.median(times[(net, rule)]):.3f} "
              f"| {statistics.median(ratios):.2f} | {min(ratios):.2f}–{max(ratios):.2f} |")
PY
