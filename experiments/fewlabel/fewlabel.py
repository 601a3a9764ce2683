#!/usr/bin/env python3
"""The few-label experiment's choices and report (Python standard library only).

  python3 experiments/fewlabel/fewlabel.py choose OUT "[1, 3, 10, 30, 100]"
  python3 experiments/fewlabel/fewlabel.py edges OUT [ARCH] > OUT/edges-ARCH-rK.csv
  python3 experiments/fewlabel/fewlabel.py report OUT > OUT/report.md

choose: reads the tuning sweeps (OUT/tune/<arm>-<arch>-<pretraining>/, conditions finetune and
probe; 3-fold cross-validation inside each labelled set, tuning seeds only) and writes
OUT/choices.csv — per arm × architecture × pretraining × evaluation × n, the learning rate and
the number of steps with the lowest validation error averaged over tuning seeds and folds
(ties: the smaller rate, then the earlier step; a fold that diverged before a step counts as
chance there, 0.9). An n below the tuned ones takes the smallest tuned n's choice (n = 1 ← 3).

edges: the cells whose choice is on the edge of what was tried (the largest or smallest rate, the
last step of its runs) and the tuning runs that extend them (see edges()); run.sh repeats
tune → edges until none is left or its round limit.

report: reads the evaluation sweeps (OUT/eval/<arm>-<arch>-<pretraining>-<evaluation>/: the
evaluation seeds at the chosen settings, test error at the end) and the controls
(OUT/controls/controls.csv), writes OUT/fewlabel.csv and OUT/fewlabel_<arch>.svg, and prints
the tables: mean test error [95% percentile bootstrap over seeds, 10,000 resamples], paired
differences per seed (pretrained − scratch, pc − autoencoder, the best arm − PCA + 1-NN), and
the target check at n = 10.
"""
import csv
import json
import math
import os
import random
import sys
from collections import defaultdict

ARMS = ["backprop", "predictive-coding", "dendritic"]
PRE = ["none", "pc", "autoencoder"]
EVALS = ["finetune", "probe"]
CHANCE = 0.9


def split_name(name, parts):
    """'predictive-coding-wide-pc' → ['predictive-coding', 'wide', 'pc'] (the arm may hold '-')."""
    pieces = name.rsplit("-", parts - 1)
    return pieces


def points(sweep):
    path = os.path.join(sweep, "points.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def summary(run):
    path = os.path.join(run, "summary.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def validation(run):
    out = {}
    path = os.path.join(run, "metrics.csv")
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["split"] == "validation" and row["accuracy"] not in ("", "nan"):
                out[int(row["step"])] = 1.0 - float(row["accuracy"])
    return out


def overrides(p):
    """A point's overrides as a dict of strings ("training.steps=400 ..." → {"training.steps": "400"})."""
    out = {}
    for part in p.get("overrides", "").split(" "):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def tuning_sweeps(out):
    """Every tuning sweep: (directory, arm, arch, pretraining, evaluation or None). The first round
    is OUT/tune/<arm>-<arch>-<pretraining>/ (conditions finetune and probe); the extensions are
    OUT/tune-ext/r<k>/<arm>-<arch>-<pretraining>-<evaluation>/."""
    found = []
    tune = os.path.join(out, "tune")
    for name in sorted(os.listdir(tune)) if os.path.isdir(tune) else []:
        found.append((os.path.join(tune, name), *split_name(name, 3), None))
    ext = os.path.join(out, "tune-ext")
    for rnd in sorted(os.listdir(ext)) if os.path.isdir(ext) else []:
        for name in sorted(os.listdir(os.path.join(ext, rnd))):
            found.append((os.path.join(ext, rnd, name), *split_name(name, 4)))
    return found


def read_tuning(out):
    """The cross-validation grids: key (arm, arch, pretraining, evaluation, n) →
    {(lr, step): {(seed, fold): validation error}}, the (seed, fold) cells run per key, and per
    key the rates tried with the longest run length at each."""
    grids = defaultdict(lambda: defaultdict(dict))
    folds_seen = defaultdict(set)
    lengths = defaultdict(dict)  # key → lr → longest configured run length
    for sweep, arm, arch, pre, kind in tuning_sweeps(out):
        for p in points(sweep):
            run = os.path.join(sweep, "runs", p["point"])
            s = summary(run)
            if s is None or s.get("status") not in ("completed", "diverged"):
                continue
            key = (arm, arch, pre, kind or p["condition"], int(p["task.train_per_class"]))
            lr = float(p["training.learning_rate"])
            steps = int(overrides(p)["training.steps"])
            lengths[key][lr] = max(lengths[key].get(lr, 0), steps)
            cell = (int(p["training.seed"]), int(p["task.cv_fold"]))
            folds_seen[key].add(cell)
            for step, err in validation(run).items():
                grids[key][(lr, step)][cell] = err
    return grids, folds_seen, lengths


def best_of(grid, cells):
    """The (mean validation error, lr, step) with the lowest mean over cells (ties: the smaller
    rate, then the earlier step; a cell without the step diverged before it: chance)."""
    best = None
    for (lr, step), errs in sorted(grid.items()):
        m = sum(errs.get(c, CHANCE) for c in cells) / len(cells)
        if best is None or m < best[0] - 1e-12:
            best = (m, lr, step)
    return best


# The extension's limits: rates within [MIN_RATE, MAX_RATE], runs no longer than MAX_STEPS.
MIN_RATE, MAX_RATE, MAX_STEPS = 1e-6, 1.0, 3200


def edges(out, arch=None):
    """The tuning cells whose choice lies on the edge of what was tried, and the runs that extend
    them (CSV on stdout: arm, arch, pretraining, evaluation, n, learning rate, steps): a rate ×3
    above the largest tried when the largest was chosen, ⅓ below the smallest when the smallest
    was, and twice the run length at the chosen rate when its last step was chosen. Within the
    limits (MIN_RATE, MAX_RATE, MAX_STEPS); a cell at a limit is reported on stderr and left."""
    grids, folds_seen, lengths = read_tuning(out)
    w = csv.writer(sys.stdout, lineterminator="\n")
    limits = []  # cells on an edge the limits keep from extending
    for key, grid in sorted(grids.items()):
        if arch is not None and key[1] != arch:
            continue
        _, lr, step = best_of(grid, folds_seen[key])
        tried = lengths[key]
        longest = max(tried.values())
        runs = []
        if lr == max(tried):
            runs.append((lr * 3, longest))
        # Ties go to the smaller rate: the smallest is an edge only when strictly better than
        # every other rate (a flat landscape, e.g. a probe at chance everywhere, is not one).
        others = {k: v for k, v in grid.items() if k[0] != lr}
        if lr == min(tried) and (not others or best_of(grid, folds_seen[key])[0] < best_of(others, folds_seen[key])[0] - 1e-12):
            runs.append((lr / 3, longest))
        if step == tried[lr]:
            runs.append((lr, 2 * tried[lr]))
        for new_lr, steps in runs:
            if not (MIN_RATE <= new_lr <= MAX_RATE and steps <= MAX_STEPS):
                print(f"{key}: at the search's limit (rate {new_lr:g}, {steps} steps); left", file=sys.stderr)
                limits.append(list(key) + [repr(new_lr), steps])
                continue
            w.writerow(list(key) + [repr(new_lr), steps])
    if arch is not None:
        # Kept beside the rounds: the report lists these as edges the search could not pass.
        with open(os.path.join(out, f"limits-{arch}.csv"), "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(limits)


def choose(out, eval_n):
    eval_n = [int(x) for x in eval_n.strip("[]").split(",") if x.strip()]
    grids, folds_seen, _ = read_tuning(out)
    rows = []
    for key, grid in sorted(grids.items()):
        best = best_of(grid, folds_seen[key])
        rows.append(key + (best[1], best[2], best[0], "cv"))
    tuned = defaultdict(dict)
    for r in rows:
        tuned[r[:4]][r[4]] = r
    out_rows = []
    for cond, by_n in sorted(tuned.items()):
        smallest = min(by_n)
        for n in eval_n:
            if n in by_n:
                out_rows.append(by_n[n])
            else:
                src = by_n[smallest] if n < smallest else by_n[max(k for k in by_n if k < n)]
                out_rows.append(cond + (n, src[5], src[6], float("nan"), f"n={src[4]}"))
    with open(os.path.join(out, "choices.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "arch", "pretraining", "evaluation", "n", "learning_rate", "steps", "cv_error", "chosen_by"])
        for r in out_rows:
            w.writerow([r[0], r[1], r[2], r[3], r[4], repr(r[5]), r[6], "" if math.isnan(r[7]) else f"{r[7]:.4f}", r[8]])
    print(f"{len(out_rows)} choices → {os.path.join(out, 'choices.csv')}", file=sys.stderr)


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def bootstrap(xs, reps=10000, seed=0):
    if len(xs) < 3:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    n = len(xs)
    ms = sorted(sum(rng.choice(xs) for _ in range(n)) / n for _ in range(reps))
    return (ms[int(0.025 * reps)], ms[int(0.975 * reps) - 1])


def fmt(x):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def interval(xs):
    lo, hi = bootstrap(xs)
    return f"{fmt(mean(xs))} [{fmt(lo)}, {fmt(hi)}]"


def report(out):
    errors = {}  # (arm, arch, pre, eval, n, seed) → test error
    ev = os.path.join(out, "eval")
    for name in sorted(os.listdir(ev)) if os.path.isdir(ev) else []:
        arm, arch, pre, kind = split_name(name, 4)
        for p in points(os.path.join(ev, name)):
            s = summary(os.path.join(ev, name, "runs", p["point"]))
            if s is None or s.get("status") not in ("completed", "diverged"):
                continue
            acc = s.get("test_accuracy")
            err = CHANCE if acc is None or s["status"] == "diverged" else 1.0 - acc
            errors[(arm, arch, pre, kind, int(p["task.train_per_class"]), int(p["training.seed"]))] = err
    controls = {}
    path = os.path.join(out, "controls", "controls.csv")
    if os.path.exists(path):
        with open(path) as f:
            for r in csv.DictReader(f):
                controls[(r["control"], int(r["n"]), int(r["seed"]))] = float(r["test_error"])
    with open(os.path.join(out, "fewlabel.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "arch", "pretraining", "evaluation", "n", "seed", "test_error"])
        for k, e in sorted(errors.items()):
            w.writerow(list(k) + [f"{e:.4f}"])
        for (c, n, s), e in sorted(controls.items()):
            w.writerow([c, "", "", "", n, s, f"{e:.4f}"])
    ns = sorted({k[4] for k in errors} | {k[1] for k in controls})
    archs = sorted({k[1] for k in errors})
    seeds = sorted({k[5] for k in errors})
    print("# Few labels: does generative feedback help? (MNIST-10k)\n")
    print(f"Evaluation seeds: {len(seeds)}; runs found: {len(errors)}; choices: `choices.csv` (cross-validated on the tuning seeds).\n")

    def series(arm, arch, pre, kind, n):
        return {k[5]: e for k, e in errors.items() if k[:5] == (arm, arch, pre, kind, n)}

    for arch in archs:
        print(f"## {arch} ({'784-256-256-10' if arch == 'wide' else '784-32-32-10'}): test error, mean [95% CI] over seeds\n")
        print("| arm | pretraining | evaluation | " + " | ".join(f"n = {n}" for n in ns) + " |")
        print("|---|---|---|" + "---|" * len(ns))
        for arm in ARMS:
            for pre in PRE:
                for kind in EVALS:
                    cells = [interval(list(series(arm, arch, pre, kind, n).values())) for n in ns]
                    if all(c.startswith("—") for c in cells):
                        continue
                    print(f"| {arm} | {pre} | {kind} | " + " | ".join(cells) + " |")
        for c in ["pixel-1nn", "pca-1nn", "pca-ridge-probe"]:
            cells = [interval([e for (cc, nn, s), e in controls.items() if cc == c and nn == n]) for n in ns]
            print(f"| control: {c} | — | — | " + " | ".join(cells) + " |")
        print()
        print(f"### Paired differences ({arch}; per seed, negative = the first lower)\n")
        print("| arm | evaluation | contrast | " + " | ".join(f"n = {n}" for n in ns) + " |")
        print("|---|---|---|" + "---|" * len(ns))
        for arm in ARMS:
            for kind in EVALS:
                for a, b in [("pc", "none"), ("autoencoder", "none"), ("pc", "autoencoder")]:
                    cells = []
                    for n in ns:
                        x, y = series(arm, arch, a, kind, n), series(arm, arch, b, kind, n)
                        cells.append(interval([x[s] - y[s] for s in sorted(set(x) & set(y))]))
                    if all(c.startswith("—") for c in cells):
                        continue
                    print(f"| {arm} | {kind} | {a} − {b} | " + " | ".join(cells) + " |")
        print()
    # The target, fixed before the runs: at n = 10, generative (pc) pretraining lowers some
    # arm's error by ≥ 3 points against the same arm from scratch (paired 95% CI excluding 0),
    # and that arm beats PCA + 1-NN (paired, CI excluding 0).
    print("## Target at n = 10 (fixed before the runs)\n")
    met = []
    for arch in archs:
        for arm in ARMS:
            for kind in EVALS:
                x, y = series(arm, arch, "pc", kind, 10), series(arm, arch, "none", kind, 10)
                d = [x[s] - y[s] for s in sorted(set(x) & set(y))]
                if len(d) < 3:
                    continue
                lo, hi = bootstrap(d)
                pca = {s: controls.get(("pca-1nn", 10, s)) for s in x}
                v = [x[s] - pca[s] for s in x if pca[s] is not None]
                vlo, vhi = bootstrap(v) if len(v) >= 3 else (float("nan"), float("nan"))
                ok = mean(d) <= -0.03 and hi < 0 and vhi < 0
                met.append(ok)
                print(f"- {arch}, {arm}, {kind}: pretrained − scratch {interval(d)}; pretrained − PCA + 1-NN {interval(v)} → {'met' if ok else 'not met'}")
    print(f"\nTarget {'met by at least one arm' if any(met) else 'not met by any arm'} ({sum(met)} of {len(met)} arm × architecture × evaluation cells).\n")
    print("## The search (tuning seeds, 3-fold cross-validation)\n")
    for arch in archs:
        rounds = sorted(f for f in os.listdir(out) if f.startswith(f"edges-{arch}-r")
                        and os.path.getsize(os.path.join(out, f)) > 0)
        extended = sum(1 for f in rounds for _ in open(os.path.join(out, f)))
        left_path = os.path.join(out, f"edges-{arch}-left.csv")
        left = list(csv.reader(open(left_path))) if os.path.exists(left_path) else []
        limits_path = os.path.join(out, f"limits-{arch}.csv")
        limits = list(csv.reader(open(limits_path))) if os.path.exists(limits_path) else []
        print(f"- {arch}: {len(rounds)} extension round(s), {extended} extending cell runs in all; "
              f"{len(left)} cell(s) still on an edge after the last round"
              + ("" if not left else ": " + "; ".join(" ".join(r[:5]) + f" → next {r[5]} × {r[6]} steps" for r in left))
              + (f"; {len(limits)} on an edge at the search's limits (rate ≤ {MAX_RATE:g}, ≤ {MAX_STEPS} steps): "
                 + "; ".join(" ".join(r[:5]) for r in limits) if limits else ""))
    print()
    for arch in archs:
        write_svg(os.path.join(out, f"fewlabel_{arch}.svg"), arch, ns, errors, controls)


def write_svg(path, arch, ns, errors, controls):
    width, height, left, bottom, top, right = 640, 380, 60, 50, 30, 170
    if not ns:
        return
    lx = [math.log10(n) for n in ns]
    x0, x1 = min(lx), max(lx)

    def X(n):
        return left + (math.log10(n) - x0) / max(x1 - x0, 1e-9) * (width - left - right)

    def Y(e):
        return top + e * (height - top - bottom)

    colours = {"backprop": "#1f77b4", "predictive-coding": "#d62728", "dendritic": "#2ca02c"}
    dash = {"none": "", "pc": "6,3", "autoencoder": "2,3"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{(width - right) / 2}" y="16" text-anchor="middle" font-size="13">{arch}: test error after fine-tuning vs labels per class</text>']
    for e in [0.0, 0.2, 0.4, 0.6, 0.8]:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{Y(e):.1f}" y2="{Y(e):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{Y(e) + 4:.1f}" text-anchor="end">{e:.1f}</text>')
    for n in ns:
        parts.append(f'<text x="{X(n):.1f}" y="{height - bottom + 16}" text-anchor="middle">{n}</text>')
    legend = 0
    for arm in ARMS:
        for pre in PRE:
            line = []
            for n in ns:
                xs = [e for k, e in errors.items() if k[:5] == (arm, arch, pre, "finetune", n)]
                if xs:
                    line.append((X(n), Y(mean(xs))))
            if not line:
                continue
            parts.append('<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>'
                         % (colours[arm], dash[pre], " ".join(f"{x:.1f},{y:.1f}" for x, y in line)))
            parts.append(f'<text x="{width - right + 10}" y="{top + 14 * legend + 10}" fill="{colours[arm]}">{arm}, {pre}</text>')
            legend += 1
    for c, colour in [("pca-1nn", "#7f7f7f"), ("pixel-1nn", "#bcbd22")]:
        line = []
        for n in ns:
            xs = [e for (cc, nn, s), e in controls.items() if cc == c and nn == n]
            if xs:
                line.append((X(n), Y(mean(xs))))
        if line:
            parts.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in line)))
            parts.append(f'<text x="{width - right + 10}" y="{top + 14 * legend + 10}" fill="{colour}">{c}</text>')
            legend += 1
    parts.append(f'<text x="{(width - right) / 2}" y="{height - 10}" text-anchor="middle">labelled examples per class (log)</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("choose", "edges", "report"):
        sys.exit(__doc__)
    if sys.argv[1] == "edges":
        edges(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1] == "choose":
        choose(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "[1, 3, 10, 30, 100]")
    else:
        report(sys.argv[2])
