# Sourced by run.sh and tune.sh: re-records every gfn run of OUT passively at the same weights
# (engagement 0, the context cue kept — removing the cue reshapes the noise by itself:
# OUT/passive/<run>/), then analyses every run with the same unit-subset size. Needs OUT,
# APICAL and SUBSET set.
mkdir -p "$OUT/passive"
for run in "$OUT"/gfn/runs/*/; do
  [ -d "$run" ] || continue
  name=$(basename "$run")
  if [ ! -f "$OUT/passive/$name/record.json" ]; then
    rm -rf "$OUT/passive/$name"
    "$APICAL" record "$run" --set model.engagement=0 --out "$OUT/passive/$name" > /dev/null
  fi
done
for run in "$OUT"/gfn/runs/*/ "$OUT"/ff/runs/*/ "$OUT"/sampling/runs/*/ "$OUT"/passive/*/; do
  [ -d "$run" ] || continue
  "$APICAL" analyze "$run" --subset-size "$SUBSET" 2> /dev/null
done
