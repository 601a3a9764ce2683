#!/usr/bin/env bash
# The search behind the gfn's engagement contrast (issue 23), on tuning seeds 0–1 only: the
# dendritic-rule gfn of run.sh (from a pre-trained front end, 16,000 probe trials, recorded at
# steps 0 and 4,000) over engagement γ ∈ {1, 3} × private rate noise σ_r ∈ {0, 0.5}, each run
# re-recorded passively and analysed with --passive; prints the learning × engagement
# interaction (layer 0 and 1), I(active)/I(passive) and the passive redundancy per cell.
#   experiments/redundancy/tune_engagement.sh [OUT]     (default: sweeps/redundancy-tune-engagement)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-sweeps/redundancy-tune-engagement}
SUBSET=16
if [ -z "${APICAL:-}" ]; then
  cargo build -q -p apical-cli
  APICAL=${CARGO_TARGET_DIR:-target}/debug/apical
fi
start=$(date +%s)
mkdir -p "$OUT"
{
  echo "base = \"$PWD/configs/redundancy_frontend.toml\""
  echo "[grid]"
  echo "\"training.seed\" = [0, 1]"
} > "$OUT/frontend.toml"
"$APICAL" sweep "$OUT/frontend.toml" --out "$OUT/frontend"
OUT_ABS=$(cd "$OUT" && pwd)
{
  echo "base = \"$PWD/configs/redundancy_dendritic.toml\""
  echo "[set]"
  echo "\"logging.probe_examples\" = 16000"
  echo "\"logging.record_at\" = [0, 4000]"
  echo "[grid]"
  echo "\"model.engagement\" = [1.0, 3.0]"
  echo "\"model.rate_noise\" = [0.0, 0.5]"
  for seed in 0 1; do
    echo "[conditions.\"seed$seed\"]"
    echo "\"training.seed\" = $seed"
    echo "\"training.init_from\" = \"$OUT_ABS/frontend/runs/seed=$seed\""
    echo "\"training.init_layers\" = [0]"
  done
} > "$OUT/gfn.toml"
"$APICAL" sweep "$OUT/gfn.toml" --out "$OUT/gfn"
source experiments/redundancy/record_and_analyse.sh
echo "$(( $(date +%s) - start )) s in all (2 cores)" > "$OUT/elapsed.txt"
python3 - "$OUT" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
print("| run | layer | A before | P before | A after | P after | learning × engagement (bootstrap SD) | I active/passive |")
print("|---|---|---|---|---|---|---|---|")
f = lambda v: "—" if v is None else f"{v:.1f}"
for d in sorted(glob.glob(os.path.join(out, "gfn", "runs", "*"))):
    try:
        a = json.load(open(os.path.join(d, "analysis", "analysis.json")))
    except OSError:
        continue
    for c in a.get("engagement_contrasts", []):
        ratio = c["information_ratio_after"]
        print(f"| {os.path.basename(d)} | {c['layer']} | {f(c['active_before'])} | {f(c['passive_before'])} | "
              f"{f(c['active_after'])} | {f(c['passive_after'])} | {f(c['learning_x_engagement'])} "
              f"({f(c['learning_x_engagement_sd'])}) | {'—' if ratio is None else f'{ratio:.2f}'} |")
PY
