#!/usr/bin/env python3
"""Summarises experiments/song2024 (Python standard library only).

  python3 experiments/song2024/summarise.py OUT > OUT/report.md

OUT holds four sweep directories: backprop/, predictive-coding/ (Song et al.'s 17 learning
rates x seeds x n per class, full labelled sets) and backprop_cv/, predictive-coding_cv/ (3-fold
cross-validation inside each labelled set on a reduced grid). Writes OUT/song2024.csv (one row
per rule x n x learning rate x seed: the minimum test error over epochs, the epoch of that
minimum, whether the run diverged), OUT/song2024_choices.csv (per rule x n x seed: the
cross-validated choice and its test error), OUT/lr_sweep_n<N>.svg, and prints the report.

Measures, fixed before the runs:
- Song et al.'s ("theirs"): per run the minimum test error over the 64 per-epoch evaluations;
  per rule and n the learning rate with the lowest mean over seeds (chosen on the test set, as
  they did: optimistic, for comparison with their figure only). "3 seeds" = seeds 0-2 (their
  number), "10 seeds" = 0-9 with a bootstrap interval over seeds.
- Honest ("ours"): per seed, the learning rate and epoch with the highest validation accuracy
  averaged over the 3 folds (ties: the smaller rate, the earlier epoch), then the test error of
  the full-labelled-set run at that rate after that epoch. The test split chooses nothing.
- A run that diverged counts with the evaluations it logged; one with none counts as chance
  (0.9) and is listed.
Intervals: 95% percentile bootstrap over seeds (10,000 resamples, fixed generator); paired
differences are per seed, PC minus BP (negative: PC lower).
"""
import csv
import math
import os
import random
import sys
from collections import defaultdict

RULES = ["backprop", "predictive-coding"]
SHORT = {"backprop": "BP", "predictive-coding": "PC"}
CHANCE = 0.9


def read_points(sweep):
    path = os.path.join(sweep, "points.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def evaluations(run_dir, split):
    """{epoch: error} of one split from a run's metrics.csv."""
    path = os.path.join(run_dir, "metrics.csv")
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["split"] == split and row["accuracy"] not in ("", "nan"):
                out[int(round(float(row["epoch"])))] = 1.0 - float(row["accuracy"])
    return out


def status(run_dir):
    path = os.path.join(run_dir, "summary.json")
    if not os.path.exists(path):
        return "missing"
    import json

    with open(path) as f:
        return json.load(f).get("status", "?")


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def bootstrap(xs, reps=10000, seed=0):
    if len(xs) < 3:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    n = len(xs)
    means = sorted(sum(rng.choice(xs) for _ in range(n)) / n for _ in range(reps))
    return (means[int(0.025 * reps)], means[int(0.975 * reps) - 1])


def fmt(x, digits=3):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def interval(xs):
    lo, hi = bootstrap(xs)
    return f"{fmt(mean(xs))} [{fmt(lo)}, {fmt(hi)}]"


def lr_text(lr):
    return f"{lr:g}"


def main(out):
    # --- full-set runs: minimum test error over epochs -------------------------------------
    runs = {}  # (rule, n, lr, seed) -> dict
    for rule in RULES:
        sweep = os.path.join(out, rule)
        for p in read_points(sweep):
            key = (rule, int(p["task.train_per_class"]), float(p["training.learning_rate"]), int(p["training.seed"]))
            run_dir = os.path.join(sweep, "runs", p["point"])
            st = status(run_dir)
            if st not in ("completed", "diverged"):
                continue  # not run (or not finished) yet
            test = evaluations(run_dir, "test")
            if test:
                best_epoch = min(test, key=lambda e: (test[e], e))
                runs[key] = {"min": test[best_epoch], "epoch": best_epoch, "test": test, "status": st}
            else:
                runs[key] = {"min": CHANCE, "epoch": None, "test": {}, "status": st}
    with open(os.path.join(out, "song2024.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rule", "n_per_class", "learning_rate", "seed", "min_test_error", "epoch_of_min", "status"])
        for (rule, n, lr, seed), r in sorted(runs.items()):
            w.writerow([rule, n, lr_text(lr), seed, f"{r['min']:.4f}", r["epoch"] or "", r["status"]])
    ns = sorted({k[1] for k in runs})
    lrs = sorted({k[2] for k in runs})
    seeds = sorted({k[3] for k in runs})
    theirs = [s for s in seeds if s < 3]

    def grid_mean(rule, n, lr, use):
        xs = [runs[(rule, n, lr, s)]["min"] for s in use if (rule, n, lr, s) in runs]
        return mean(xs) if len(xs) == len(use) else float("nan")

    def best_lr(rule, n, use):
        cands = [(grid_mean(rule, n, lr, use), lr) for lr in lrs]
        cands = [c for c in cands if not math.isnan(c[0])]
        return min(cands)[1] if cands else None

    print("# Song et al. (2024)'s protocol on MNIST-10k\n")
    print(f"Runs found: {len(runs)} ({len(seeds)} seeds, n per class {', '.join(map(str, ns))}, {len(lrs)} learning rates).")
    failed = sorted(k for k, r in runs.items() if r["status"] != "completed")
    if failed:
        print(f"Runs that did not complete (diverged: their logged evaluations count; none logged: chance, {CHANCE}): {len(failed)}, "
              f"at learning rates {', '.join(lr_text(x) for x in sorted({k[2] for k in failed}))}.")
    print()
    print("## Their measure: minimum test error over the 64 epochs, learning rate chosen on the test set\n")
    k = len(seeds)
    print(f"| n per class | BP (3 seeds) | PC (3 seeds) | PC − BP (3) | BP ({k} seeds) [95% CI] | PC ({k} seeds) [95% CI] | PC − BP paired ({k}) [95% CI] | best lr BP / PC ({k}) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in ns:
        cells = []
        l3 = {r: best_lr(r, n, theirs) for r in RULES}
        m3 = {r: grid_mean(r, n, l3[r], theirs) if l3[r] else float("nan") for r in RULES}
        l10 = {r: best_lr(r, n, seeds) for r in RULES}
        per = {r: [runs[(r, n, l10[r], s)]["min"] for s in seeds if (r, n, l10[r], s) in runs] for r in RULES}
        paired = [runs[("predictive-coding", n, l10["predictive-coding"], s)]["min"] - runs[("backprop", n, l10["backprop"], s)]["min"]
                  for s in seeds if ("predictive-coding", n, l10["predictive-coding"], s) in runs and ("backprop", n, l10["backprop"], s) in runs]
        cells = [str(n), fmt(m3["backprop"]), fmt(m3["predictive-coding"]), fmt(m3["predictive-coding"] - m3["backprop"]),
                 interval(per["backprop"]), interval(per["predictive-coding"]), interval(paired),
                 f"{lr_text(l10['backprop']) if l10['backprop'] else '—'} / {lr_text(l10['predictive-coding']) if l10['predictive-coding'] else '—'}"]
        print("| " + " | ".join(cells) + " |")
    print()
    # --- the learning-rate sweep (the mechanism) --------------------------------------------
    for n in ns:
        print(f"### Learning-rate sweep at {n} per class (mean minimum test error over {len(seeds)} seeds)\n")
        print("| learning rate | BP | PC | BP − PC |")
        print("|---|---|---|---|")
        rows = []
        for lr in lrs:
            b, p = grid_mean("backprop", n, lr, seeds), grid_mean("predictive-coding", n, lr, seeds)
            rows.append((lr, b, p))
            print(f"| {lr_text(lr)} | {fmt(b)} | {fmt(p)} | {fmt(b - p)} |")
        pc_best = min((p for _, _, p in rows if not math.isnan(p)), default=float("nan"))
        hits = [lr for lr, b, p in rows if not math.isnan(b) and not math.isnan(p) and b - p >= 0.2 and p - pc_best <= 0.05]
        print()
        print(f"Learning rates where BP's error is ≥ 0.2 above PC's while PC is within 0.05 of its own best ({fmt(pc_best)}): "
              f"{', '.join(lr_text(x) for x in hits) if hits else 'none'}.\n")
        write_svg(os.path.join(out, f"lr_sweep_n{n}.svg"), n, rows)
    # --- honest: cross-validated choice -------------------------------------------------------
    cv = defaultdict(lambda: defaultdict(list))  # (rule, n, seed) -> (lr, epoch) -> [val error per fold]
    for rule in RULES:
        sweep = os.path.join(out, f"{rule}_cv")
        for p in read_points(sweep):
            key = (rule, int(p["task.train_per_class"]), int(p["training.seed"]))
            lr = float(p["training.learning_rate"])
            if status(os.path.join(sweep, "runs", p["point"])) not in ("completed", "diverged"):
                continue
            val = evaluations(os.path.join(sweep, "runs", p["point"]), "validation")
            for epoch, err in val.items():
                cv[key][(lr, epoch)].append(err)
    if not cv:
        print("## Honest measure\n\nNo cross-validation sweeps found.")
    else:
        honest(out, cv, runs, seeds)
    project(out)


def project(out):
    """The project's own protocol (apical fewshot) on the same data and layers."""
    summary = os.path.join(out, "fewshot", "fewshot_summary.csv")
    paired = os.path.join(out, "fewshot", "fewshot_paired.csv")
    if not os.path.exists(summary):
        return
    print("## The project's protocol (Adam, cross-entropy, lr × {⅓, 1, 3} chosen on a 20-per-class validation split, early stopping)\n")
    print("Test error at the validation-chosen step and grid point (mean over seeds [95% CI]; `apical fewshot`'s tables).\n")
    with open(summary) as f:
        rows = list(csv.DictReader(f))
    by_n = defaultdict(dict)
    for r in rows:
        by_n[r["n"]][r["rule"]] = r
    diffs = {}
    if os.path.exists(paired):
        with open(paired) as f:
            for r in csv.DictReader(f):
                diffs[(r["n"], r["a"], r["b"])] = r
    print("| n per class | BP | PC | PC − BP paired [95% CI], p | seeds |")
    print("|---|---|---|---|---|")
    for n in sorted(by_n, key=lambda x: (x == "all", int(x) if x.isdigit() else 0)):
        cell = {}
        for rule in RULES:
            r = by_n[n].get(rule)
            num = lambda v: f"{float(v):.3f}" if v not in ("", None) else "—"
            cell[rule] = f"{num(r['mean_test_error'])} [{num(r['ci_low'])}, {num(r['ci_high'])}]" if r else "—"
        d = next((v for (nn, a, b), v in diffs.items() if nn == n and "predictive-coding" in a and "backprop" in b), None)
        sign = 1.0
        if d is None:
            d = next((v for (nn, a, b), v in diffs.items() if nn == n and "backprop" in a and "predictive-coding" in b), None)
            sign = -1.0
        if d:
            lo, hi = float(d["ci_low"] or "nan") * sign, float(d["ci_high"] or "nan") * sign
            dtext = f"{sign * float(d['mean_difference']):.3f} [{fmt(min(lo, hi))}, {fmt(max(lo, hi))}], p = {float(d['p_sign_flip']):.3f}"
            seeds = d["seeds"]
        else:
            dtext, seeds = "—", "—"
        print(f"| {n} | {cell['backprop']} | {cell['predictive-coding']} | {dtext} | {seeds} |")
    print()


def honest(out, cv, runs, seeds):
    choices = {}
    with open(os.path.join(out, "song2024_choices.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rule", "n_per_class", "seed", "learning_rate", "epoch", "cv_error", "test_error"])
        for (rule, n, seed), grid in sorted(cv.items()):
            complete = {k: v for k, v in grid.items() if len(v) == 3}
            if not complete:
                continue
            (lr, epoch), errs = min(complete.items(), key=lambda kv: (mean(kv[1]), kv[0][0], kv[0][1]))
            full = runs.get((rule, n, lr, seed))
            test = full["test"].get(epoch) if full else None
            if test is None and full and full["test"]:
                test = full["test"][max(full["test"])]  # diverged before that epoch: its last evaluation
            choices[(rule, n, seed)] = (lr, epoch, mean(errs), test)
            w.writerow([rule, n, seed, lr_text(lr), epoch, f"{mean(errs):.4f}", "" if test is None else f"{test:.4f}"])
    print("## Honest measure: learning rate and epoch chosen by 3-fold cross-validation inside the labelled set\n")
    print("Test error of the full-labelled-set run at the chosen rate after the chosen epoch (mean over seeds [95% CI]).\n")
    print("| n per class | BP | PC | PC − BP paired [95% CI] | seeds | chosen lr BP (median) | chosen lr PC (median) | chosen epoch BP / PC (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sorted({k[1] for k in choices}):
        per = {r: {s: choices[(r, n, s)] for s in seeds if (r, n, s) in choices and choices[(r, n, s)][3] is not None} for r in RULES}
        both = sorted(set(per["backprop"]) & set(per["predictive-coding"]))
        paired = [per["predictive-coding"][s][3] - per["backprop"][s][3] for s in both]

        def med(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2] if xs else float("nan")

        print(f"| {n} | {interval([c[3] for c in per['backprop'].values()])} | {interval([c[3] for c in per['predictive-coding'].values()])} | "
              f"{interval(paired)} | {len(both)} | {lr_text(med([c[0] for c in per['backprop'].values()]))} | "
              f"{lr_text(med([c[0] for c in per['predictive-coding'].values()]))} | "
              f"{med([c[1] for c in per['backprop'].values()])} / {med([c[1] for c in per['predictive-coding'].values()])} |")
    print()


def write_svg(path, n, rows):
    """Mean minimum test error against the learning rate (log axis), BP and PC."""
    width, height, left, bottom, top, right = 520, 340, 60, 50, 30, 20
    pts = [(lr, b, p) for lr, b, p in rows]
    xs = [math.log10(lr) for lr, _, _ in pts]
    if not xs:
        return
    x0, x1 = min(xs), max(xs)

    def X(lr):
        return left + (math.log10(lr) - x0) / max(x1 - x0, 1e-9) * (width - left - right)

    def Y(err):
        return top + err * (height - top - bottom)  # 0 at the top, 1 at the bottom

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{n} per class: minimum test error over 64 epochs</text>']
    for e in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{Y(e):.1f}" y2="{Y(e):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{Y(e) + 4:.1f}" text-anchor="end">{e:.1f}</text>')
    for k in range(math.ceil(x0), math.floor(x1) + 1):
        parts.append(f'<text x="{X(10 ** k):.1f}" y="{height - bottom + 16}" text-anchor="middle">1e{k}</text>')
    parts.append(f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">learning rate (plain SGD, summed squared error)</text>')
    for idx, (name, colour) in enumerate([("BP", "#1f77b4"), ("PC", "#d62728")]):
        line = [(X(lr), Y(v)) for lr, *vals in pts for v in [vals[idx]] if not math.isnan(v)]
        if line:
            parts.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in line)))
            for x, y in line:
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
        parts.append(f'<text x="{left + 10 + 40 * idx}" y="{top + 14}" fill="{colour}" font-size="12">{name}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sweeps/song2024")
