#!/usr/bin/env bash
# Trains every rule's digits and orientation config over several seeds and prints a Markdown
# table of test accuracy and mean hidden-layer angle to backprop (from each run's summary.json).
#   experiments/rules/run.sh [seeds...]        (default: 0 1 2; runs go to runs/rules/)
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=("${@:-0 1 2}")
read -r -a seeds <<<"${seeds[*]}"
cargo build --quiet --bin apical
bin=target/debug/apical
out=runs/rules
mkdir -p "$out"
field() { # field NAME FILE → the number after "NAME": in a pretty-printed summary.json
  grep -o "\"$1\": [-0-9.e]*" "$2" | head -1 | awk '{print $2}'
}
first_angle() { # mean angle of layer 0 (the first hidden layer), or "—"
  tr -d '\n ' <"$1" | grep -o '"mean_angle_to_backprop_deg":\[[-0-9.e]*' | sed 's/.*\[//' || true
}
echo "| config | variant | seed | test accuracy | test loss | hidden-layer-0 angle to backprop (°) |"
echo "|---|---|---|---|---|---|"
while read -r config variant sets; do
  for seed in "${seeds[@]}"; do
    dir="$out/${config}-${variant}-seed${seed}"
    rm -rf "$dir"
    args=(run "configs/${config}.toml" --set "training.seed=${seed}" --out "$dir")
    for s in $sets; do args+=(--set "$s"); done
    "$bin" "${args[@]}" >/dev/null 2>&1
    acc=$(field test_accuracy "$dir/summary.json")
    loss=$(field test_loss "$dir/summary.json")
    angle=$(first_angle "$dir/summary.json")
    [ -n "$angle" ] && angle=$(printf '%.0f°' "$angle")
    printf '| %s | %s | %s | %.1f%% | %.3f | %s |\n' "$config" "$variant" "$seed" \
      "$(awk "BEGIN{print 100*$acc}")" "$loss" "${angle:-—}"
  done
done <<'RUNS'
digits_backprop default
digits_feedback-alignment default
digits_kolen-pollack default
digits_reward-broadcast default
digits_reward-broadcast exploratory-hebb rule.variant=exploratory-hebb
digits_gfn-backprop default
digits_dendritic default
digits_dendritic inhibition=1 model.apical_inhibition=1
digits_dendritic passive(γ=0) model.engagement=0
digits_dendritic active(γ=1) model.engagement=1
digits_dendritic active(γ=1),through-inference model.engagement=1 rule.through_inference=true
digits_predictive-coding default
digits_predictive-coding inhibition=1 model.apical_inhibition=1
orientation_backprop default
orientation_feedback-alignment default
orientation_kolen-pollack default
orientation_reward-broadcast default
orientation_reward-broadcast exploratory-hebb rule.variant=exploratory-hebb
orientation_gfn-backprop default
orientation_dendritic default
orientation_predictive-coding default
RUNS
