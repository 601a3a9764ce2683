#!/usr/bin/env bash
# Throughput of `apical sweep` with 1 and 2 worker processes: the 24-point sweep of
# configs/quickstart.toml in configs/sweeps/quickstart_lr.toml (3 learning rates × 2 batch sizes
# × 4 seeds, 1,800 steps each), alternating rounds. Prints each round's wall time and the
# ratio of medians.
#   benches/sweep_throughput.sh [rounds]      (default 3; builds the binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
cargo build -q -p apical-cli
bin=target/debug/apical
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
declare -a t1 t2
for r in $(seq 1 "$rounds"); do
  for jobs in 1 2; do
    start=$(date +%s.%N)
    "$bin" sweep configs/sweeps/quickstart_lr.toml --out "$tmp/r$r-j$jobs" --jobs "$jobs" >/dev/null 2>&1
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    echo "round $r, --jobs $jobs: $secs s"
    if [ "$jobs" = 1 ]; then t1+=("$secs"); else t2+=("$secs"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m1=$(median "${t1[@]}"); m2=$(median "${t2[@]}")
echo "median --jobs 1: $m1 s; --jobs 2: $m2 s; throughput ratio $(echo "scale=2; $m1 / $m2" | bc)"
