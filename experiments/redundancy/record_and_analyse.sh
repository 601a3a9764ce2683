# Sourced by run.sh, tune.sh and tune_engagement.sh: re-records every gfn run of OUT passively at the same weights
# (engagement 0, the context cue kept — removing the cue reshapes the noise by itself:
# OUT/passive/<run>/), then analyses every run with the same unit-subset size (each gfn run
# with --passive: the engagement contrasts). Two processes at a time (JOBS); a run whose
# analysis/analysis.json exists (for a gfn run: with its engagement contrasts) is not analysed
# again (delete it to redo), so a stopped run continues. Errors go to OUT/analyse.log. Needs
# OUT, APICAL and SUBSET set.
JOBS=${JOBS:-2}
mkdir -p "$OUT/passive"
export APICAL SUBSET OUT
record_one() {
  name=$(basename "$1")
  if [ ! -f "$OUT/passive/$name/record.json" ]; then
    rm -rf "$OUT/passive/$name"
    "$APICAL" record "$1" --set model.engagement=0 --out "$OUT/passive/$name" > /dev/null \
      || { echo "apical record $1 failed" >&2; return 1; }
  fi
}
analyse_one() { # analyse_one RUN [PASSIVE]
  local done="$1/analysis/analysis.json"
  if [ -f "$done" ] && { [ -z "${2:-}" ] || grep -q '"engagement_contrasts"' "$done"; }; then
    return 0
  fi
  "$APICAL" analyze "$1" --subset-size "$SUBSET" ${2:+--passive "$2"} 2>> "$OUT/analyse.log" > /dev/null \
    || { echo "apical analyze $1 failed: see $OUT/analyse.log" >&2; return 1; }
}
export -f record_one analyse_one
dirs() { for d in "$@"; do [ -d "$d" ] && echo "$d"; done; return 0; }
dirs "$OUT"/gfn/runs/*/ | xargs -r -P "$JOBS" -I{} bash -c 'record_one "$1"' _ {}
# The passive recordings first; then every gfn run against its passive re-recording (the
# engagement contrasts: learning × engagement with a bootstrap over probe trials), and the
# other models alone.
dirs "$OUT"/passive/*/ "$OUT"/ff/runs/*/ "$OUT"/sampling/runs/*/ \
  | xargs -r -P "$JOBS" -I{} bash -c 'analyse_one "$1"' _ {}
dirs "$OUT"/gfn/runs/*/ \
  | xargs -r -P "$JOBS" -I{} bash -c 'analyse_one "$1" "$OUT/passive/$(basename "$1")"' _ {}
