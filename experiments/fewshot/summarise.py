#!/usr/bin/env python3
"""Markdown report of experiments/fewshot/run.sh (Python standard library only).

Reads OUT/{digits,orientation}/fewshot_summary.csv, fewshot_paired.csv and fewshot_auc.csv
(written by `apical fewshot`) and prints: the test error per n and condition with 95%
t-intervals; the paired effect of generative pretraining per rule; every rule against backprop
(both from scratch, and both pretrained); the areas under the error-vs-log(n) curves; the
orientation table. Statements name only differences whose 95% interval excludes 0.
"""

import csv
import sys
from pathlib import Path


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fmt(x, digits=3):
    return "" if x in ("", None) else f"{float(x):.{digits}f}"


def cell(r, key="mean_test_error"):
    return f"{fmt(r[key])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"


def label(r):
    name = r["config"].replace("fewshot_digits_", "").replace("fewshot_orientation_", "")
    return name + (" +pre" if r["pretrained"] == "true" else "")


def error_table(summary, title):
    ns = list(dict.fromkeys(r["n"] for r in summary))
    conds = list(dict.fromkeys(label(r) for r in summary))
    by = {(r["n"], label(r)): r for r in summary}
    out = [f"### {title}", "", "| condition | " + " | ".join(f"n = {n}" for n in ns) + " |"]
    out.append("|---|" + "---|" * len(ns))
    for c in conds:
        out.append(f"| {c} | " + " | ".join(cell(by[(n, c)]) if (n, c) in by else "" for n in ns) + " |")
    seeds = sorted({r["seeds"] for r in summary})
    out += ["", f"Mean test error at the best-validation step [95% t-interval over seeds; seeds per cell: {', '.join(seeds)}].", ""]
    return out


def short(name):
    return name.replace("fewshot_digits_", "").replace("fewshot_orientation_", "").replace("+pretrained", " +pre")


def paired_lines(paired, keep, title, note):
    out = [f"### {title}", "", "| n | a | b | a − b | 95% interval | sign-flip p |", "|---|---|---|---|---|---|"]
    found = []
    for p in paired:
        if not keep(p["a"], p["b"]):
            continue
        d, lo, hi = float(p["mean_difference"]), float(p["ci_low"]), float(p["ci_high"])
        out.append(f"| {p['n']} | {short(p['a'])} | {short(p['b'])} | {d:+.3f} | [{lo:+.3f}, {hi:+.3f}] | {float(p['p_sign_flip']):.3f} |")
        if lo > 0 or hi < 0:
            found.append((p["n"], short(p["a"]), short(p["b"]), d))
    out += ["", note, ""]
    return out, found


def main(out_dir):
    out = Path(out_dir)
    lines = ["# Few-shot learning: results", ""]
    elapsed = out / "elapsed.txt"
    if elapsed.exists():
        lines += ["Wall time on this machine: " + ", ".join(l.strip() for l in elapsed.read_text().splitlines()) + ".", ""]
    digits = out / "digits"
    if (digits / "fewshot_summary.csv").exists():
        summary = rows(digits / "fewshot_summary.csv")
        paired = rows(digits / "fewshot_paired.csv")
        lines += ["## Digits (UCI 8×8; 64-32-32-10 sigmoid networks)", ""]
        lines += error_table(summary, "Test error")
        pre, pre_found = paired_lines(
            paired,
            lambda a, b: b == a + "+pretrained",
            "Generative pretraining (scratch − pretrained; > 0: pretraining lowers the error)",
            "Paired over seeds (the same labelled subset per seed).",
        )
        lines += pre
        bp = "fewshot_digits_backprop"
        vs, vs_found = paired_lines(
            paired,
            lambda a, b: a == bp and "+pretrained" not in b,
            "Each rule against backprop, from scratch (backprop − rule; > 0: the rule's error is lower)",
            "Paired over seeds.",
        )
        lines += vs
        vsp, vsp_found = paired_lines(
            paired,
            lambda a, b: a == bp + "+pretrained" and b.endswith("+pretrained"),
            "Each rule against backprop, both pretrained (backprop − rule)",
            "Paired over seeds.",
        )
        lines += vsp
        auc = rows(digits / "fewshot_auc.csv")
        lines += ["### Area under test error vs ln n (numeric n; divided by the ln n range)", "", "| condition | AUC [95% interval] |", "|---|---|"]
        for r in auc:
            lines.append(f"| {label(r)} | {fmt(r['auc'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] |")
        lines += ["", "### Differences whose 95% interval excludes 0", ""]
        for n, a, b, d in pre_found:
            verb = "lowers" if d > 0 else "raises"
            where = "over n (AUC)" if n == "auc" else f"n = {n}"
            lines.append(f"- {where}: generative pretraining {verb} the error of {a} by {abs(d):.3f}.")
        for n, a, b, d in vs_found + vsp_found:
            who, other = (b, a) if d > 0 else (a, b)
            where = "over n (AUC)" if n == "auc" else f"n = {n}"
            lines.append(f"- {where}: {who} has a lower error than {other} ({abs(d):.3f}).")
        if not (pre_found or vs_found or vsp_found):
            lines.append("- none")
        lines.append("")
    orient = out / "orientation"
    if (orient / "fewshot_summary.csv").exists():
        summary = rows(orient / "fewshot_summary.csv")
        lines += ["## Orientation discrimination (n trials per choice)", ""]
        lines += error_table(summary, "Test error (ideal observer over these signal levels: about 0.29)")
        vs, found = paired_lines(
            rows(orient / "fewshot_paired.csv"),
            lambda a, b: True,
            "Backprop (ff) − dendritic (gfn)",
            "Paired over seeds.",
        )
        lines += vs
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sweeps/fewshot")
