#!/usr/bin/env python3
"""Pools the V4 redundancy experiment of experiments/redundancy/run.sh over seeds (standard
library only) into a Markdown report on stdout and OUT/report_*.svg.

Every number per run comes from its analysis/analysis.json (`apical analyze --subset-size 16`):
over 200 random 16-unit subsets, the mean bias-corrected Fisher information I, the mean
shuffled I_shuffled, and the pooled redundancy. A run's I for a layer and step is the mean of
its two contexts (cardinal, oblique); its redundancy is pooled over subsets and contexts,
100·(1 − Σ I / Σ I_shuffled), and null when any context's estimate is (I_shuffled ≤ 0, or I
below 10 times its estimator SD: the analysis then reports the informations, not a ratio);
intervals are 95% t-intervals over the seeds (paired over seeds for differences)."""
import csv, importlib.util, json, math, os, statistics, sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bci_summary", os.path.join(HERE, "..", "bci", "summarise.py"))
_bci = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bci)
interval, svg_lines = _bci.interval, _bci.svg_lines


def fmt(iv, spec=".1f"):
    """mean [low, high] with format `spec` ('—' for no value; the mean alone for one seed)."""
    m, lo, hi = iv
    if not math.isfinite(m):
        return "—"
    if not math.isfinite(lo):
        return f"{m:{spec}}"
    return f"{m:{spec}} [{lo:{spec}}, {hi:{spec}}]"


def fmt_g(iv):
    return fmt(iv, ".3g")


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_sweep(out, sub):
    """[(condition, point, summary, analysis)] of a sweep directory OUT/sub."""
    rows = []
    points = os.path.join(out, sub, "points.csv")
    if not os.path.exists(points):
        return rows
    with open(points, newline="") as f:
        for row in csv.DictReader(f):
            d = os.path.join(out, sub, "runs", row["point"])
            s = read_json(os.path.join(d, "summary.json"))
            a = read_json(os.path.join(d, "analysis", "analysis.json"))
            if s and a:
                # "<rule>+seed<seed>" (run.sh's gfn conditions, one per seed): the rule.
                rows.append((row["condition"].split("+seed")[0], row["point"], s, a))
    return rows


def per_context_mean(entries, key):
    v = [e[key] for e in entries if e.get(key) is not None and math.isfinite(e[key])]
    return statistics.fmean(v) if v else None


def pooled_redundancy(entries):
    """100·(1 − Σ I / Σ I_shuffled) over the contexts' entries; None when any context has no
    ratio (the analysis's reason is in its redundancy_note)."""
    if not entries or any(e.get("redundancy_percent") is None for e in entries):
        return None
    info = sum(e["fisher"] for e in entries)
    shuffled = sum(e["fisher_shuffled"] for e in entries)
    return 100.0 * (1.0 - info / shuffled) if shuffled > 0 else None


def combine(entries, key):
    return pooled_redundancy(entries) if key == "redundancy_percent" else per_context_mean(entries, key)


def by_step(analysis, key="redundancy_percent"):
    """{(layer, step): over contexts, the pooled redundancy or the mean of `key`}."""
    groups = {}
    for e in analysis.get("redundancy_by_step", []):
        groups.setdefault((e["layer"], e["step"]), []).append(e)
    return {k: combine(v, key) for k, v in groups.items()}


def kanitscheider(analysis, key="redundancy_percent"):
    """by_step with the Kanitscheider et al. estimator (Σ pooled within each ±level pair)."""
    groups = {}
    for e in analysis.get("redundancy_by_step", []):
        if e.get("kanitscheider"):
            groups.setdefault((e["layer"], e["step"]), []).append(e["kanitscheider"])
    return {k: combine(v, key) for k, v in groups.items()}


def by_size(analysis, key="redundancy_percent"):
    """{(layer, units): over contexts, for the last recording}."""
    groups = {}
    for e in analysis.get("redundancy_by_size", []):
        groups.setdefault((e["layer"], e["units"]), []).append(e)
    return {k: combine(v, key) for k, v in groups.items()}


def internal(analysis, key="redundancy_percent"):
    """{layer: over contexts} of the internal (frozen-noise) estimate, the last recording."""
    groups = {}
    for e in analysis.get("internal_redundancy", []):
        groups.setdefault(e["layer"], []).append(e)
    return {k: combine(v, key) for k, v in groups.items()}


def within(analysis):
    groups = {}
    for e in analysis.get("within_trial", []):
        groups.setdefault((e["layer"], e["bin"]), []).append(e)
    return {k: pooled_redundancy(v) for k, v in groups.items()}


def relevance(analysis):
    groups = {}
    for e in analysis.get("redundancy_by_relevance", []):
        groups.setdefault((e["layer"], e["quartile"]), []).append(e)
    return {k: pooled_redundancy(v) for k, v in groups.items()}


def pooled(runs, fn, key):
    return interval([fn(a).get(key) for a in runs])


def paired(runs_a, runs_b, fn, key):
    """Interval of a − b over the seeds present in both (runs keyed by seed)."""
    diffs = []
    for seed, a in runs_a.items():
        b = runs_b.get(seed)
        if b is None:
            continue
        x, y = fn(a).get(key), fn(b).get(key)
        if x is not None and y is not None:
            diffs.append(x - y)
    return interval(diffs), len(diffs)


def main(out):
    conditions = {}  # condition → {seed: analysis}
    summaries = {}
    for sub in ["gfn", "ff", "sampling"]:
        for cond, point, s, a in load_sweep(out, sub):
            conditions.setdefault(cond, {})[s["seed"]] = a
            summaries.setdefault(cond, {})[s["seed"]] = s
            if sub == "gfn":
                p = read_json(os.path.join(out, "passive", point, "analysis", "analysis.json"))
                if p:
                    conditions.setdefault(cond + " (passive)", {})[s["seed"]] = p
    if not conditions:
        print(f"no analysed runs under {out}")
        return
    print("# Redundancy along learning — the V4 experiment in silico\n")
    elapsed = os.path.join(out, "elapsed.txt")
    if os.path.exists(elapsed):
        print(f"Wall time: {open(elapsed).read().strip()}.\n")
    seeds = sorted({seed for runs in conditions.values() for seed in runs})
    print("Values per run: over 200 random 16-unit subsets and the two contexts, the mean I and "
          "I_shuffled and the pooled redundancy 100·(1 − Σ I / Σ I_shuffled) — none (—) where I is "
          "below 10 times its estimator SD or I_shuffled ≤ 0 (the informations are then the result); "
          f"then mean and 95% t-interval over seeds {', '.join(map(str, seeds))}. Passive = `apical record --set model.engagement=0` "
          "at the same weights, the context cue kept (the cue alone reshapes the noise).\n")

    print("## Accuracy against the ideal observer\n")
    print("| condition | test accuracy | ideal observer | gap |\n|---|---|---|---|")
    for cond, runs in summaries.items():
        acc = interval([s.get("test_accuracy") for s in runs.values()])
        ideal = interval([s.get("ideal_accuracy") for s in runs.values()])
        gap = interval([s["ideal_accuracy"] - s["test_accuracy"] for s in runs.values()
                        if s.get("ideal_accuracy") is not None and s.get("test_accuracy") is not None])
        print(f"| {cond} | {fmt(acc, '.3f')} | {fmt(ideal, '.3f')} | {fmt(gap, '.3f')} |")

    layers_steps = {}
    for cond, runs in conditions.items():
        keys = set()
        for a in runs.values():
            keys |= set(by_step(a).keys())
        layers_steps[cond] = sorted(keys)

    for title, key, f in [("Redundancy % along learning", "redundancy_percent", fmt),
                          ("Information I along learning", "fisher", fmt_g),
                          ("Shuffled information I_shuffled along learning", "fisher_shuffled", fmt_g)]:
        print(f"\n## {title}\n")
        for cond, runs in conditions.items():
            steps = sorted({s for _, s in layers_steps[cond]})
            layers = sorted({l for l, _ in layers_steps[cond]})
            print(f"**{cond}** ({len(runs)} seeds)\n")
            print("| layer | " + " | ".join(f"step {s}" for s in steps) + " |")
            print("|---|" + "---|" * len(steps))
            for l in layers:
                cells = [f(pooled(runs.values(), lambda a: by_step(a, key), (l, s))) for s in steps]
                print(f"| {l} | " + " | ".join(cells) + " |")
            print()

    print("## Redundancy by the Kanitscheider et al. estimator (Σ within each ±level pair)\n")
    print("The same subsets; unlike the Liu et al. estimator above it does not assume that the "
          "covariance at ±L is the zero-signal one.\n")
    for cond, runs in conditions.items():
        steps = sorted({s for _, s in layers_steps[cond]})
        layers = sorted({l for l, _ in layers_steps[cond]})
        print(f"**{cond}**\n")
        print("| layer | " + " | ".join(f"step {s}" for s in steps) + " |")
        print("|---|" + "---|" * len(steps))
        for l in layers:
            cells = [fmt(pooled(runs.values(), kanitscheider, (l, s))) for s in steps]
            print(f"| {l} | " + " | ".join(cells) + " |")
        print()

    print("## I(N) and redundancy(N): subset size (last recording)\n")
    sizes = sorted({n for runs in conditions.values() for a in runs.values() for _, n in by_size(a)})
    print("| condition | layer | quantity | " + " | ".join(f"N = {n}" for n in sizes) + " |")
    print("|---|---|---|" + "---|" * len(sizes))
    for cond, runs in conditions.items():
        layers = sorted({l for a in runs.values() for l, _ in by_size(a)})
        for l in layers:
            for key, name, f in [("fisher", "I", fmt_g), ("fisher_shuffled", "I_shuffled", fmt_g),
                                 ("redundancy_percent", "redundancy %", fmt)]:
                cells = [f(pooled(runs.values(), lambda a: by_size(a, key), (l, n))) for n in sizes]
                print(f"| {cond} | {l} | {name} | " + " | ".join(cells) + " |")
    print()

    print("## Contrasts that can fail (issue 23, item 2; per seed by `apical analyze --passive`, then over seeds)\n")
    print("Passive = the same weights re-recorded with engagement 0 (the cue kept). Per seed, "
          "`apical analyze <run> --passive <passive>` (`engagement_contrasts`): learning × "
          "engagement = (active − passive at the last recording) − (active − passive at the "
          "first), redundancy points — **the primary endpoint** — with the seed's bootstrap SD "
          "over probe trials (200 replicates; the median over seeds is shown); within-trial "
          "difference-in-differences = the slope of redundancy over the steps of inference, "
          "active − passive (points per step); relevance × engagement = (top − bottom quartile) "
          "active − passive; I ratio = I(active)/I(passive) at the last recording (total "
          "information not reduced: ≥ 0.9). A seed enters a contrast only where every term has a "
          "ratio (I ≥ 10 SDs); n says how many did. Then mean and 95% t-interval over seeds.\n")
    print("| condition | layer | learning × engagement | seed bootstrap SD (median) | within-trial DiD (per step) | relevance × engagement | I active / passive |")
    print("|---|---|---|---|---|---|---|")
    for cond, runs in conditions.items():
        if cond.endswith("(passive)"):
            continue
        per_layer = {}
        for seed, a in runs.items():
            for c in a.get("engagement_contrasts", []):
                per_layer.setdefault(c["layer"], []).append(c)
        for l in sorted(per_layer):
            cs = per_layer[l]
            def values(key):
                return [c[key] for c in cs if c.get(key) is not None]
            sds = values("learning_x_engagement_sd")
            sd = f"{statistics.median(sds):.1f} (n = {len(sds)})" if sds else "—"
            cells = [f"{fmt(interval(v))} (n = {len(v)})" for v in
                     (values("learning_x_engagement"),)]
            cells.append(sd)
            cells += [f"{fmt(interval(v))} (n = {len(v)})" for v in
                      (values("within_trial_did"), values("relevance_x_engagement"))]
            v = values("information_ratio_after")
            cells.append(f"{fmt(interval(v), '.2f')} (n = {len(v)})")
            print(f"| {cond} | {l} | " + " | ".join(cells) + " |")
    print()

    print("## Internal (frozen-noise) redundancy (last recording)\n")
    print("f′ from the probe, Σ from the within-image covariance of 40 zero-signal images per "
          "context shown 50 times each: only the variability the network adds (units whose only "
          "shared variability is their input give ≈ 0). Active − passive paired over seeds.\n")
    print("| condition | layer | I internal | redundancy active | redundancy passive | active − passive |")
    print("|---|---|---|---|---|---|")
    for cond, runs in conditions.items():
        if cond.endswith("(passive)"):
            continue
        passive = conditions.get(cond + " (passive)", {})
        layers = sorted({l for a in runs.values() for l in internal(a)})
        for l in layers:
            d, n = paired(runs, passive, internal, l) if passive else ((float("nan"),) * 3, 0)
            print(f"| {cond} | {l} | {fmt_g(pooled(runs.values(), lambda a: internal(a, 'fisher'), l))} | "
                  f"{fmt(pooled(runs.values(), internal, l))} | "
                  f"{fmt(pooled(passive.values(), internal, l)) if passive else '—'} | "
                  f"{fmt(d) + f' (n = {n})' if passive else '—'} |")
    print()

    print("## Active − passive at the same weights (paired over seeds)\n")
    print("| condition | layer | step | active | passive | active − passive |\n|---|---|---|---|---|---|")
    for cond, runs in conditions.items():
        passive = conditions.get(cond + " (passive)")
        if passive is None:
            continue
        for l, s in layers_steps[cond]:
            if s not in (0, max(st for _, st in layers_steps[cond])):
                continue
            d, n = paired(runs, passive, by_step, (l, s))
            print(f"| {cond} | {l} | {s} | {fmt(pooled(runs.values(), by_step, (l, s)))} | "
                  f"{fmt(pooled(passive.values(), by_step, (l, s)))} | {fmt(d)} (n = {n}) |")

    print("\n## Within the trial (the last recording, per step of inference / frame)\n")
    print("| condition | layer | " + " | ".join(f"bin {b}" for b in range(5)) + " | last − first |")
    print("|---|---|" + "---|" * 6)
    for cond, runs in conditions.items():
        keys = set()
        for a in runs.values():
            keys |= set(within(a).keys())
        for l in sorted({l for l, _ in keys}):
            bins = sorted(b for ll, b in keys if ll == l)
            cells = [fmt(pooled(runs.values(), within, (l, b))) for b in bins]
            diffs = interval([within(a).get((l, bins[-1])) - within(a).get((l, bins[0]))
                              for a in runs.values()
                              if within(a).get((l, bins[-1])) is not None and within(a).get((l, bins[0])) is not None])
            print(f"| {cond} | {l} | " + " | ".join(cells) + f" | {fmt(diffs)} |")

    print("\n## Top vs bottom quartile of units by task relevance (last recording)\n")
    print("| condition | layer | top | bottom | top − bottom |\n|---|---|---|---|---|")
    for cond, runs in conditions.items():
        keys = set()
        for a in runs.values():
            keys |= set(relevance(a).keys())
        for l in sorted({l for l, _ in keys}):
            diffs = interval([relevance(a)[(l, "top")] - relevance(a)[(l, "bottom")] for a in runs.values()
                              if relevance(a).get((l, "top")) is not None and relevance(a).get((l, "bottom")) is not None])
            print(f"| {cond} | {l} | {fmt(pooled(runs.values(), relevance, (l, 'top')))} | "
                  f"{fmt(pooled(runs.values(), relevance, (l, 'bottom')))} | {fmt(diffs)} |")

    print("\n## Cross-context information (last recording)\n")
    print("f′ of one context read through the zero-signal covariance of the other, against the "
          "same-context information (both: mean over 16-unit subsets and over the contexts).\n")
    print("| condition | layer | same context I | cross-context I | cross − same |\n|---|---|---|---|---|")
    for cond, runs in conditions.items():
        def cross(a):
            groups = {}
            for e in a.get("cross_context", []):
                groups.setdefault(e["layer"], []).append(e)
            return {l: per_context_mean(v, "fisher") for l, v in groups.items()}
        def same(a):
            last = max((e["step"] for e in a.get("redundancy_by_step", [])), default=None)
            return {l: v for (l, s), v in by_step(a, "fisher").items() if s == last}
        layers = sorted({l for a in runs.values() for l in cross(a)})
        for l in layers:
            diffs = interval([cross(a)[l] - same(a)[l] for a in runs.values()
                              if cross(a).get(l) is not None and same(a).get(l) is not None])
            print(f"| {cond} | {l} | {fmt_g(pooled(runs.values(), same, l))} | "
                  f"{fmt_g(pooled(runs.values(), cross, l))} | {fmt_g(diffs)} |")

    # Plots: redundancy vs step (top hidden layer of each model), active and passive.
    series = []
    for cond, runs in conditions.items():
        if not layers_steps[cond]:
            continue
        top = max(l for l, _ in layers_steps[cond])
        steps = sorted({s for l, s in layers_steps[cond] if l == top})
        if len(steps) < 2:
            continue
        series.append((f"{cond} L{top}", [(s, *pooled(runs.values(), by_step, (top, s))) for s in steps]))
    if series:
        svg_lines(os.path.join(out, "report_redundancy_by_step.svg"),
                  "Redundancy along learning (top hidden layer; mean, 95% interval over seeds)",
                  "training step", "redundancy %", series, (-50, 100))
    series = []
    for cond, runs in conditions.items():
        keys = set()
        for a in runs.values():
            keys |= set(within(a).keys())
        if not keys:
            continue
        top = max(l for l, _ in keys)
        bins = sorted(b for l, b in keys if l == top)
        series.append((f"{cond} L{top}", [(b, *pooled(runs.values(), within, (top, b))) for b in bins]))
    if series:
        svg_lines(os.path.join(out, "report_within_trial.svg"),
                  "Redundancy within the trial (last recording; top hidden layer)",
                  "step of inference (frame)", "redundancy %", series, (-50, 100))
    for key, name in [("fisher", "I"), ("fisher_shuffled", "I_shuffled")]:
        series = []
        for cond, runs in conditions.items():
            if "passive" in cond or not layers_steps[cond]:
                continue
            top = max(l for l, _ in layers_steps[cond])
            steps = sorted({s for l, s in layers_steps[cond] if l == top})
            if len(steps) < 2:
                continue
            series.append((cond, [(s, *pooled(runs.values(), lambda a: by_step(a, key), (top, s))) for s in steps]))
        if series:
            hi = max(max(p[1] for p in pts if math.isfinite(p[1])) for _, pts in series)
            svg_lines(os.path.join(out, f"report_{key}.svg"),
                      f"{name} along learning (top hidden layer)", "training step", name, series,
                      (min(0.0, -0.1 * hi), 1.2 * hi if hi > 0 else 1.0))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sweeps/redundancy")
