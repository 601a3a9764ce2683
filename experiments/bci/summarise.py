#!/usr/bin/env python3
"""Pools the BCI runs of experiments/bci/run.sh over seeds (standard library only).

Per condition: success by day (mean and 95% t-interval over seeds), late success, trials to
reach the dendritic rule's day-3 success, rate change and vectorization per ensemble (units
pooled over seeds, 95% t-interval; and how many seeds have the sign of P+ > 0 / P- < 0), and
decoding accuracies with their shuffle controls (mean over seeds)."""
import json, math, os, statistics, sys

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

def load(out):
    runs = {}
    for cond in sorted(os.listdir(out)):
        cdir = os.path.join(out, cond)
        if not os.path.isdir(cdir):
            continue
        for seed in sorted(os.listdir(cdir)):
            d = os.path.join(cdir, seed)
            try:
                s = json.load(open(os.path.join(d, "summary.json")))
                a = json.load(open(os.path.join(d, "analysis", "analysis.json")))["bci"]
            except (OSError, KeyError, ValueError):
                continue
            runs.setdefault(cond, []).append((s, a))
    return runs

def main(out):
    runs = load(out)
    print("# BCI experiment — results\n")
    if os.path.exists(os.path.join(out, "elapsed.txt")):
        print(open(os.path.join(out, "elapsed.txt")).read().strip() + "\n")
    print("Means over seeds with 95% t-intervals; `chance` is the calibrated level.\n")
    print("| condition | seeds | chance | day 1 | day 3 | late success (days 9–10) | late − chance, min over seeds |")
    print("|---|---|---|---|---|---|---|")
    for cond, rs in runs.items():
        days = [s["success_by_day"] for s, _ in rs]
        late = [s["late_success"] for s, _ in rs]
        chance = rs[0][0]["chance"]
        print(f"| {cond} | {len(rs)} | {chance} | {fmt(interval([d[0] for d in days]))} | "
              f"{fmt(interval([d[2] for d in days]))} | {fmt(interval(late))} | {min(late) - chance:+.2f} |")
    if "dendritic" in runs:
        target = statistics.fmean(s["success_by_day"][2] for s, _ in runs["dendritic"])
        tpd = 100
        print(f"\nTrials to reach the dendritic rule's mean day-3 success ({target:.2f}), first day whose success reaches it × trials per day:\n")
        print("| condition | per seed | mean |")
        print("|---|---|---|")
        for cond, rs in runs.items():
            per = []
            for s, _ in rs:
                hit = [i for i, v in enumerate(s["success_by_day"]) if v >= target]
                per.append((hit[0] + 1) * tpd if hit else None)
            reached = [p for p in per if p is not None]
            mean = f"{statistics.fmean(reached):.0f}" if len(reached) == len(per) else "not reached in every seed"
            print(f"| {cond} | {per} | {mean} |")
    for key, title in [("rate_change", "Rate change, late days − day 1"),
                       ("vectorization", "Vectorization: z-residual on error-decrease − error-increase steps")]:
        print(f"\n## {title} (units pooled over seeds)\n")
        print("| condition | P+ | P− | P0 | seeds with P+ > 0 | seeds with P− < 0 |")
        print("|---|---|---|---|---|---|")
        for cond, rs in runs.items():
            pooled = {g: [u for _, a in rs for u in a[key][g]["units"]] for g in ("p_plus", "p_minus", "p0")}
            plus = sum(1 for _, a in rs if a[key]["p_plus"]["mean"] > 0)
            minus = sum(1 for _, a in rs if a[key]["p_minus"]["mean"] < 0)
            print(f"| {cond} | {fmt(interval(pooled['p_plus']), 3)} | {fmt(interval(pooled['p_minus']), 3)} | "
                  f"{fmt(interval(pooled['p0']), 3)} | {plus}/{len(rs)} | {minus}/{len(rs)} |")
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

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/experiments/bci")
