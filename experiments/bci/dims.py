#!/usr/bin/env python3
"""The tuning choices and the report of experiments/bci/dims.sh (standard library only).

  dims.py extend OUT TUNE ROUND   the [[zip]] of (K, rate) pairs beyond each edge choice of the
                                  tuning sweeps OUT/tune/TUNE-r* (TUNE: dendritic, broadcast,
                                  centre-out-dendritic, centre-out-broadcast)
  dims.py choose OUT              choices.csv: rule,setting,learning_rate,median_ttc,at_edge
  dims.py report OUT              report.md

A setting is K (the pattern layout's decoder dimensions) or "centre-out" (K = 2, one cursor,
a target direction per trial).

A run's trials-to-criterion (ttc) is summary.json's `trials_to_criterion_fit` — the trial at
which the exponential learning curve fitted to the probe trials (started at the run's measured
chance) reaches the criterion level, no window floor (not resolved before the first probe) —
where the run has it (runs of the binary since 2026-12-06, session 14), else the moving-window
`trials_to_criterion` (the earlier runs in results/); the window criterion is reported beside
it as a secondary measure. A run that never reached the criterion (or stopped early) is
censored: it counts as the planned trials + 1, and medians and ratios are taken with that cap
(the number censored is reported beside them). Tuning ties go to the smaller mean steps per
trial over the first 100 trials (also reported), then to the smaller rate.
"""
import glob
import json
import math
import os
import random
import statistics
import sys
import tomllib
import zlib

STEP = math.sqrt(2.0)
EXTEND = 4  # ×√2 steps beyond an edge choice per round
BOOT = 4000


def runs(pattern):
    """(config, summary) of every finished run under the glob `pattern`."""
    out = []
    for d in sorted(glob.glob(os.path.join(pattern, "runs", "*"))):
        try:
            with open(os.path.join(d, "summary.json")) as f:
                summary = json.load(f)
            with open(os.path.join(d, "config.toml"), "rb") as f:
                config = tomllib.load(f)
        except (OSError, ValueError):
            continue
        out.append((d, config, summary))
    return out


def ttc(config, summary, measure="primary"):
    """(trials to criterion with the cap, censored?): the fitted curve's crossing where the
    summary has one (the primary measure), else the window criterion; measure="window" asks
    for the window criterion."""
    planned = config["task"]["days"] * config["task"]["trials_per_day"]
    fitted = "trials_to_criterion_fit" in summary and measure == "primary"
    t = summary.get("trials_to_criterion_fit" if fitted else "trials_to_criterion")
    if summary.get("status") == "completed" and t is not None:
        return t, False
    return planned + 1, True


def measure_name(summary):
    return "fit" if "trials_to_criterion_fit" in summary else "window"


EARLY = 100  # trials of the floor-free secondary measure


def early_steps(run_dir):
    """Mean steps per trial over the first EARLY trials (trials.csv): continuous, no window
    floor (a trial that hits at once takes 1 step, a miss max_steps)."""
    try:
        with open(os.path.join(run_dir, "trials.csv")) as f:
            rows = [line.split(",") for line in f.read().splitlines()[1:]]
    except OSError:
        return math.nan
    steps = [int(r[3]) for r in rows[:EARLY]]
    return statistics.mean(steps) if len(steps) == EARLY else math.nan


def setting(config):
    """K for the pattern layout, "centre-out" for the centre-out layout."""
    if config["task"].get("layout") == "centre-out":
        return "centre-out"
    return config["task"]["dims"]


def order(label):
    return (1, 0) if label == "centre-out" else (0, label)


def dims_of(label):
    return 2 if label == "centre-out" else label


def key(config):
    return setting(config), float(config["training"]["learning_rate"])


def tuning_table(out, tune):
    """{(setting, lr): [(ttc, early steps) over tuning seeds]} over every round of the tuning
    sweeps OUT/tune/TUNE-r*."""
    table = {}
    for d, config, summary in runs(os.path.join(out, "tune", f"{tune}-r*")):
        table.setdefault(key(config), []).append((ttc(config, summary)[0], early_steps(d)))
    return table


def choose(table):
    """Per K: (lr, median ttc, at_edge, grid) — the smallest median ttc over the tuning seeds,
    then (ties, e.g. at the window's floor) the smallest mean early steps per trial, then the
    smaller rate."""
    out = {}
    for k in sorted({k for k, _ in table}, key=order):
        cells = sorted((lr, v) for (kk, lr), v in table.items() if kk == k)

        def rank(cell):
            ttcs = [t for t, _ in cell[1]]
            early = [e for _, e in cell[1]]
            mean_early = statistics.mean(early) if all(map(math.isfinite, early)) else math.inf
            return (statistics.median(ttcs), mean_early, cell[0])

        best = min(cells, key=rank)
        rates = [lr for lr, _ in cells]
        at_edge = "low" if best[0] == rates[0] else "high" if best[0] == rates[-1] else ""
        out[k] = (best[0], rank(best)[0], at_edge, rates)
    return out


def cmd_extend(out, tune, round_):
    choices = choose(tuning_table(out, tune))
    dims, rates = [], []
    for k, (lr, _, edge, _) in choices.items():
        if not edge:
            continue
        factor = STEP if edge == "high" else 1 / STEP
        for i in range(1, EXTEND + 1):
            dims.append(dims_of(k))
            rates.append(lr * factor ** i)
    if dims:
        print("[[zip]]")
        print('"task.dims" = [%s]' % ", ".join(map(str, dims)))
        print('"training.learning_rate" = [%s]' % ", ".join("%.4g" % r for r in rates))


def cmd_choose(out):
    print("rule,setting,learning_rate,median_ttc,at_edge")
    for rule in ("dendritic", "broadcast"):
        for tune in (rule, f"centre-out-{rule}"):
            for k, (lr, med, edge, _) in choose(tuning_table(out, tune)).items():
                print(f"{rule},{k},{lr:.4g},{float(med):.1f},{edge}")


def cell_rng(*label):
    """A bootstrap generator of its own for each interval (the same draws whatever other
    cells the report holds)."""
    return random.Random(zlib.crc32(repr(label).encode()))


def bootstrap_median(values, rng, level=0.90):
    if not values:
        return (math.nan, math.nan)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(BOOT))
    lo = meds[int((1 - level) / 2 * BOOT)]
    hi = meds[int((1 + level) / 2 * BOOT) - 1]
    return lo, hi


def bootstrap_mean(values, rng, level=0.95):
    if not values:
        return (math.nan, math.nan)
    means = sorted(statistics.mean(rng.choices(values, k=len(values))) for _ in range(BOOT))
    return means[int((1 - level) / 2 * BOOT)], means[int((1 + level) / 2 * BOOT) - 1]


def paired_ratio(evals, k, cond, measure):
    """`seeds | median [90%]` of cond / dendritic in `measure`, paired per seed (seeds where
    both are finite); None without such seeds."""
    v, other = evals.get(("dendritic", k), {}), evals.get((cond, k), {})
    seeds = [s for s in sorted(set(v) & set(other))
             if math.isfinite(v[s][measure]) and math.isfinite(other[s][measure])]
    ratios = [other[s][measure] / v[s][measure] for s in seeds]
    if not ratios:
        return None
    label = "ratio" if measure == "ttc" else measure
    lo, hi = bootstrap_median(ratios, cell_rng(label, k, cond))
    return f"{len(ratios)} | {statistics.median(ratios):.2f} [{lo:.2f}, {hi:.2f}]"


def cmd_report(out):
    evals = {}
    for cond in ("dendritic", "broadcast", "permuted", "untrained"):
        for d, config, summary in runs(os.path.join(out, "eval", f"*{cond}")):
            k = setting(config)
            seed = config["training"]["seed"]
            t, censored = ttc(config, summary)
            rho = None
            analysis = os.path.join(d, "analysis", "analysis.json")
            if os.path.exists(analysis):
                with open(analysis) as f:
                    rho = json.load(f).get("bci", {}).get("slope_predicts_rate_change")
            window, window_censored = ttc(config, summary, "window")
            first_probe = config["task"].get("probe_every", 0) or 1
            evals.setdefault((cond, k), {})[seed] = {
                "ttc": t,
                "censored": censored,
                "window": window,
                "window_censored": window_censored,
                "at_first": (not censored) and t <= first_probe,
                "measure": measure_name(summary),
                "asymptote": summary.get("fitted_asymptote"),
                "chance": summary.get("chance_measured"),
                "lr": config["training"]["learning_rate"],
                "rho": rho,
                "late": summary.get("late_success"),
                "early": early_steps(d),
            }
    dims = sorted({k for _, k in evals}, key=order)
    print("# BCI: vectorized vs broadcast credit as the decoder's dimensions grow\n")
    any_config = next(iter(runs(os.path.join(out, "eval", "*"))), (None, {"task": {}}, None))[1]
    probe = any_config["task"].get("probe_every", 0)
    targets = any_config["task"].get("targets", "up")
    if probe:
        print(f"Targets: {targets}. Probe trials without plasticity every {probe} trials; the criterion "
              f"is taken over the probes, reported in trials.\n")
    else:
        print(f"Targets: {targets}. No probe trials.\n")
    fitted = any(v["measure"] == "fit" for cell in evals.values() for v in cell.values())
    if fitted:
        print("Trials to criterion (primary): the trial at which the exponential learning curve "
              "p(t) = a − (a − c)·exp(−t/τ), fitted by maximum likelihood to the "
              + ("probe trials" if probe else "trials") + " with c the run's measured chance, "
              "reaches the criterion level (0.7) — no window floor; not resolved before the first "
              f"{'probe' if probe else 'trial'} (trial {probe or 1}: 'at first' counts the runs there); "
              "censored (planned trials + 1) when the fitted asymptote a stays below the level. "
              "Secondary: the moving window (≥ 14 of the last 20). ")
    else:
        print("Trials to criterion (first trial with ≥ 14 of the last 20 successful). ")
    print("Censored runs count as the planned trials + 1. Medians with a 90% bootstrap interval over seeds; "
          "ratios paired per seed (the same ensembles, initial weights, calibration and noise streams). "
          "The centre-out rows have no slope or ρ: the tuft receives u·(B − bin), whose sign varies "
          "with the trial's direction, and the analysis regresses on the unsigned summed error.\n")
    with open(os.path.join(out, "choices.csv")) as f:
        print("## Tuning choices (seeds 100–102)\n")
        print("| rule | K (or layout) | learning rate | median ttc | at edge |")
        print("|---|---|---|---|---|")
        for line in f.read().splitlines()[1:]:
            print("| " + " | ".join(line.split(",")) + " |")
    print("\n## Trials to criterion (evaluation seeds)\n")
    print("| K (or layout) | condition | rate | seeds | median ttc [90%] | censored | at first | "
          "fitted asymptote | window ttc, median (censored) | late success | chance measured |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for k in dims:
        for cond in ("dendritic", "broadcast", "permuted", "untrained"):
            cell = evals.get((cond, k), {})
            if not cell:
                continue
            t = [v["ttc"] for v in cell.values()]
            lo, hi = bootstrap_median(t, cell_rng("ttc", k, cond))
            cens = sum(v["censored"] for v in cell.values())
            late = statistics.mean(v["late"] for v in cell.values() if v["late"] is not None)
            chance = [v["chance"] for v in cell.values() if v["chance"] is not None]
            lr = next(iter(cell.values()))["lr"]
            at_first = sum(v["at_first"] for v in cell.values()) if fitted else "—"
            asym = [v["asymptote"] for v in cell.values() if v["asymptote"] is not None]
            asym = f"{statistics.median(asym):.2f}" if asym else "—"
            window = statistics.median(v["window"] for v in cell.values())
            wcens = sum(v["window_censored"] for v in cell.values())
            print(f"| {k} | {cond} | {lr:.3g} | {len(t)} | {statistics.median(t):.0f} "
                  f"[{lo:.0f}, {hi:.0f}] | {cens} | {at_first} | {asym} | {window:.0f} ({wcens}) | "
                  f"{late:.2f} | {statistics.mean(chance):.3f} |")
    print("\n## Paired ratios (per seed, then the median over seeds)\n")
    print("| K | ratio | seeds | median [90%] | target |")
    print("|---|---|---|---|---|")
    targets = {1: "1.0 ± 0.2", 2: "≥ 1.5", 4: "≥ 2.5", "centre-out": "≥ 1.5 (K = 2)"}
    for k in dims:
        for cond, target in (("broadcast", targets.get(k, "—")), ("permuted", "≥ 2 (K ≥ 2)")):
            row = paired_ratio(evals, k, cond, "ttc")
            if row:
                print(f"| {k} | {cond} / vectorized | {row} | {target} |")

    def ratio_table(title, measure):
        print(f"\n## {title} (paired ratios)\n")
        print("| K | ratio | seeds | median [90%] |")
        print("|---|---|---|---|")
        for k in dims:
            for cond in ("broadcast", "permuted"):
                row = paired_ratio(evals, k, cond, measure)
                if row:
                    print(f"| {k} | {cond} / vectorized | {row} |")

    if fitted:
        ratio_table("Secondary: the moving-window criterion", "window")
    ratio_table(f"Floor-free: mean steps per trial over the first {EARLY} trials", "early")
    print("\n## Day-1 residual slope predicts the late rate change (Spearman ρ over units, per seed)\n")
    if not any(v["rho"] is not None for cell in evals.values() for v in cell.values()):
        print("Not computed for these targets: with cued, mapped or centre-out targets the tuft's "
              "error changes sign with each trial's directions, and the analysis regresses on the "
              "unsigned error (the runs keep no day recordings; `TARGETS=up` computes it).")
        dims = []
    else:
        print("| K | condition | seeds | mean ρ [95% bootstrap over seeds] | target |")
        print("|---|---|---|---|---|")
    for k in dims:
        for cond, target in (("dendritic", "≥ 0.5, excluding 0"), ("untrained", "|ρ| < 0.1")):
            rhos = [v["rho"] for v in evals.get((cond, k), {}).values() if v["rho"] is not None]
            if not rhos:
                continue
            lo, hi = bootstrap_mean(rhos, cell_rng("rho", k, cond))
            print(f"| {k} | {cond} | {len(rhos)} | {statistics.mean(rhos):.2f} [{lo:.2f}, {hi:.2f}] | {target} |")
    elapsed = os.path.join(out, "elapsed.txt")
    if os.path.exists(elapsed):
        with open(elapsed) as f:
            print("\nElapsed (cumulative s since the script started): " + "; ".join(f.read().split("\n")).strip("; "))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("extend", "choose", "report"):
        sys.exit(__doc__)
    if argv[1] == "extend":
        if len(argv) != 5:
            sys.exit("usage: dims.py extend OUT TUNE ROUND")
        cmd_extend(argv[2], argv[3], int(argv[4]))
    elif argv[1] == "choose":
        cmd_choose(argv[2])
    else:
        cmd_report(argv[2])


if __name__ == "__main__":
    main(sys.argv)
