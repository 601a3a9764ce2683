#!/usr/bin/env python3
"""Summarises the BCI sweep of experiments/bci/run.sh over seeds (standard library only).

Every interval is over seeds (95% t): a seed is one network with its own ensembles, noise and
chance block; units are averaged within a seed first, never pooled across seeds. Per
condition: success by day, late success minus each seed's measured chance (a fresh untrained
closed-loop block, `chance_measured`), trials to criterion (median, censored runs counted at
the run's length + 1, the number censored), rate change and the residual's slope on the error
per ensemble (seed means; how many seeds have the sign) and by day, the Spearman ρ between a unit's
day-1 slope and its rate change (per seed), and decoding accuracies with their shuffle
controls."""
import csv, json, math, os, statistics, sys, tomllib

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.0, 120: 1.98}

def t975(dof):
    keys = sorted(k for k in T975 if k <= dof)
    return T975[keys[-1]] if keys else float("inf")

def interval(values):
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return (float("nan"),) * 3
    m = statistics.fmean(v)
    if len(v) < 2:
        return m, float("nan"), float("nan")
    h = t975(len(v) - 1) * statistics.stdev(v) / math.sqrt(len(v))
    return m, m - h, m + h

def fmt(iv, digits=2):
    m, lo, hi = iv
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"

CONDITION_ORDER = ["dendritic", "inhibition", "untrained", "permuted", "broadcast",
                   "broadcast_reward", "dendritic_3+5"]

def load(out):
    """{condition: [(summary, bci analysis)]} from the sweep's runs/<point>/ directories."""
    runs = {}
    root = os.path.join(out, "runs")
    with open(os.path.join(out, "points.csv"), newline="") as f:
        points = [(row["point"], row["condition"]) for row in csv.DictReader(f)]
    for point, cond in points:
        d = os.path.join(root, point)
        try:
            s = json.load(open(os.path.join(d, "summary.json")))
            a = json.load(open(os.path.join(d, "analysis", "analysis.json")))["bci"]
            with open(os.path.join(d, "trials.csv"), newline="") as f:
                s["_trials"] = [int(row["success"]) for row in csv.DictReader(f)]
            with open(os.path.join(d, "config.toml"), "rb") as f:
                task = tomllib.load(f)["task"]
            s["_planned"] = task["days"] * task["trials_per_day"]
        except (OSError, KeyError, ValueError):
            continue
        runs.setdefault(cond, []).append((s, a))
    order = {c: i for i, c in enumerate(CONDITION_ORDER)}
    return dict(sorted(runs.items(), key=lambda kv: order.get(kv[0], len(order))))

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#7f7f7f", "#17becf",
           "#bcbd22", "#8c564b", "#e377c2"]

def svg_lines(path, title, xlabel, ylabel, series, ylim):
    """series: [(name, [(x, mean, lo, hi)])] → a line plot with interval bands."""
    w, h, l, r, t, b = 720, 420, 60, 170, 40, 50
    xs = [x for _, pts in series for x, *_ in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = ylim
    X = lambda x: l + (x - x0) / ((x1 - x0) or 1) * (w - l - r)
    Y = lambda y: h - b - (min(max(y, y0), y1) - y0) / (y1 - y0) * (h - t - b)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w/2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{l}" y1="{h-b}" x2="{w-r}" y2="{h-b}" stroke="black"/>',
           f'<line x1="{l}" y1="{t}" x2="{l}" y2="{h-b}" stroke="black"/>',
           f'<text x="{(l+w-r)/2}" y="{h-12}" text-anchor="middle">{xlabel}</text>',
           f'<text x="15" y="{(t+h-b)/2}" text-anchor="middle" transform="rotate(-90 15 {(t+h-b)/2})">{ylabel}</text>']
    for k in range(6):
        y = y0 + (y1 - y0) * k / 5
        out.append(f'<text x="{l-6}" y="{Y(y)+4}" text-anchor="end">{y:.2g}</text>')
        out.append(f'<line x1="{l}" y1="{Y(y)}" x2="{w-r}" y2="{Y(y)}" stroke="#eee"/>')
    for x in sorted(set(xs)):
        out.append(f'<text x="{X(x)}" y="{h-b+16}" text-anchor="middle">{x:g}</text>')
    for i, (name, pts) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        band = [(x, lo, hi) for x, _, lo, hi in pts if math.isfinite(lo) and math.isfinite(hi)]
        if band:
            poly = [f"{X(x)},{Y(hi)}" for x, _, hi in band] + [f"{X(x)},{Y(lo)}" for x, lo, _ in reversed(band)]
            out.append(f'<polygon points="{" ".join(poly)}" fill="{c}" fill-opacity="0.15" stroke="none"/>')
        out.append(f'<polyline points="{" ".join(f"{X(x)},{Y(m)}" for x, m, *_ in pts)}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, m, *_ in pts:
            out.append(f'<circle cx="{X(x)}" cy="{Y(m)}" r="3" fill="{c}"/>')
        out.append(f'<text x="{w-r+10}" y="{t+16*i+10}" fill="{c}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")

def plots(out, runs):
    series = []
    for cond, rs in runs.items():
        days = len(rs[0][0]["success_by_day"])
        series.append((cond, [(d + 1, *interval([s["success_by_day"][d] for s, _ in rs])) for d in range(days)]))
    svg_lines(os.path.join(out, "report_success_by_day.svg"), "BCI learning curves (mean, 95% interval over seeds)",
              "day", "fraction of successful trials", series, (0, 1))
    for key, title in [("vectorization", "Residual slope on the error by ensemble (seed means)"),
                       ("rate_change", "Rate change, late days − day 1, by ensemble (seed means)")]:
        series = []
        for cond, rs in runs.items():
            pts = []
            for x, g in [(-1, "p_minus"), (0, "p0"), (1, "p_plus")]:
                pts.append((x, *interval([a[key][g]["mean"] for _, a in rs])))
            series.append((cond, pts))
        finite = [p[1] for _, pts in series for p in pts if math.isfinite(p[1])]
        lo, hi = (min(finite), max(finite)) if finite else (-1, 1)
        pad = 0.1 * (hi - lo or 1)
        svg_lines(os.path.join(out, f"report_{key}.svg"), title, "ensemble (−1 = P−, 0 = P0, +1 = P+)",
                  "slope (z per degree of error)" if key == "vectorization" else "Δ rate", series, (lo - pad, hi + pad))

def ttc(s):
    """(trials to criterion, censored?): a run that never reached it — or stopped early
    (diverged) — counts as the planned trials + 1."""
    t = s.get("trials_to_criterion")
    if t is not None and s.get("status") == "completed":
        return t, False
    return s["_planned"] + 1, True

def main(out):
    runs = load(out)
    plots(out, runs)
    print("# BCI experiment — results\n")
    if os.path.exists(os.path.join(out, "elapsed.txt")):
        print(open(os.path.join(out, "elapsed.txt")).read().strip() + "\n")
    print("Means over seeds with 95% t-intervals (units are averaged within a seed first). `chance` is each "
          "seed's measured chance: the hit rate of a fresh untrained closed-loop block (its own noise) at the "
          "calibrated θ. Plots: report_success_by_day.svg, report_vectorization.svg, report_rate_change.svg.\n")
    n_days = len(next(iter(runs.values()))[0][0]["success_by_day"])
    mid = min(2, n_days - 1)
    late_days = f"days {max(1, n_days - 1)}–{n_days}" if n_days > 1 else "day 1"
    print(f"| condition | seeds | chance measured | day 1 | day {mid + 1} | late success ({late_days}) | late − chance | trials to criterion: median (censored) |")
    print("|---|---|---|---|---|---|---|---|")
    for cond, rs in runs.items():
        days = [s["success_by_day"] for s, _ in rs]
        late = [s["late_success"] for s, _ in rs]
        chance = [s.get("chance_measured") for s, _ in rs]
        gain = [l - c for l, c in zip(late, chance) if c is not None]
        t = [ttc(s) for s, _ in rs]
        print(f"| {cond} | {len(rs)} | {fmt(interval(chance))} | {fmt(interval([d[0] for d in days]))} | "
              f"{fmt(interval([d[mid] for d in days]))} | {fmt(interval(late))} | {fmt(interval(gain))} | "
              f"{statistics.median(v for v, _ in t):.0f} ({sum(c for _, c in t)}/{len(t)}) |")
    for key, title in [("rate_change", "Rate change, late days − day 1"),
                       ("vectorization", "Vectorization: slope of the z-residual on the error (z per degree of error)")]:
        print(f"\n## {title} (seed means)\n")
        print("| condition | P+ | P− | P0 | seeds with P+ > 0 | seeds with P− < 0 |")
        print("|---|---|---|---|---|---|")
        for cond, rs in runs.items():
            per_seed = {g: [a[key][g]["mean"] for _, a in rs] for g in ("p_plus", "p_minus", "p0")}
            plus = sum(1 for v in per_seed["p_plus"] if v > 0)
            minus = sum(1 for v in per_seed["p_minus"] if v < 0)
            print(f"| {cond} | {fmt(interval(per_seed['p_plus']), 3)} | {fmt(interval(per_seed['p_minus']), 3)} | "
                  f"{fmt(interval(per_seed['p0']), 3)} | {plus}/{len(rs)} | {minus}/{len(rs)} |")
    print("\n## Vectorization by day: the residual's slope on the error, P+ − P− (seed means)\n")
    days_n = max(len(a.get("vectorization_by_day", [])) for rs in runs.values() for _, a in rs)
    print("| condition | " + " | ".join(f"day {d + 1}" for d in range(days_n)) + " |")
    print("|---|" + "---|" * days_n)
    for cond, rs in runs.items():
        cells = []
        for d in range(days_n):
            diff = [a["vectorization_by_day"][d][0] - a["vectorization_by_day"][d][1]
                    for _, a in rs if len(a.get("vectorization_by_day", [])) > d]
            diff = [v for v in diff if v is not None and math.isfinite(v)]
            cells.append(f"{statistics.fmean(diff):.4f}" if diff else "n/a")
        print(f"| {cond} | " + " | ".join(cells) + " |")
    print("\n## Does a unit's day-1 residual slope predict its change in rate? (Spearman ρ over units, per seed)\n")
    print("| condition | seeds | mean ρ | seeds with ρ > 0 |")
    print("|---|---|---|---|")
    for cond, rs in runs.items():
        rho = [a.get("slope_predicts_rate_change") for _, a in rs]
        rho = [r for r in rho if r is not None]
        if rho:
            print(f"| {cond} | {len(rho)} | {fmt(interval(rho))} | {sum(r > 0 for r in rho)}/{len(rho)} |")
    print("\n## Decoding from residual vectors (mean over seeds; shuffled-label control)\n")
    print("| condition | reward at outcome | shuffled | outcome before outcome | shuffled | notes |")
    print("|---|---|---|---|---|---|")
    for cond, rs in runs.items():
        def col(name, field):
            vals = [a[name][field] for _, a in rs if a.get(name)]
            return fmt(interval(vals)) if vals else "n/a"
        notes = sorted({n for _, a in rs for n in a["notes"]})
        print(f"| {cond} | {col('decode_reward', 'accuracy')} | {col('decode_reward', 'shuffled')} | "
              f"{col('decode_outcome_before', 'accuracy')} | {col('decode_outcome_before', 'shuffled')} | {'; '.join(notes)[:120]} |")
    nested(out, runs)

def nested(out, runs):
    """What the residuals add to the rates (nested decoders, the same trials and folds)."""
    print("\n## What the residuals add to the somatic rates (nested decoders; accuracy, mean over seeds)\n")
    print("| condition | reward: rates | rates + residuals | gain | outcome before: rates | rates + residuals | gain |")
    print("|---|---|---|---|---|---|---|")
    for cond, rs in runs.items():
        added = [a.get("residual_added") for _, a in rs]
        added = [x for x in added if x]
        if not added:
            print(f"| {cond} | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        def col(field):
            return [x[field] for x in added if x.get(field) is not None]
        gain_r = [x["reward_rates_residuals"] - x["reward_rates"] for x in added]
        gain_o = [x["outcome_rates_residuals"] - x["outcome_rates"] for x in added
                  if x.get("outcome_rates") is not None]
        print(f"| {cond} | {fmt(interval(col('reward_rates')))} | {fmt(interval(col('reward_rates_residuals')))} | "
              f"{fmt(interval(gain_r))} | {fmt(interval(col('outcome_rates')))} | "
              f"{fmt(interval(col('outcome_rates_residuals')))} | {fmt(interval(gain_o))} |")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sweeps/bci")
