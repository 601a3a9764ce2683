# Sourced by run.sh and tune.sh: re-records every gfn run of OUT passively at the same weights
# (engagement 0, no context cue: OUT/passive/<run>/), then analyses every run with the same
# unit-subset size. Needs OUT, APICAL and SUBSET set.
mkdir -p "$OUT/passive"
for run in "$OUT"/gfn/runs/*/; do
  [ -d "$run" ] || continue
  name=$(basename "$run")
  if [ ! -f "$OUT/passive/$name/record.json" ]; then
    rm -rf "$OUT/passive/$name"
    "$APICAL" record "$run" --set model.engagement=0 --set task.context_cue=false \
      --out "$OUT/passive/$name" > /dev/null
  fi
done
for run in "$OUT"/gfn/runs/*/ "$OUT"/ff/runs/*/ "$OUT"/sampling/runs/*/ "$OUT"/passive/*/; do
  [ -d "$run" ] || continue
  "$APICAL" analyze "$run" --subset-size "$SUBSET" 2> /dev/null
done
