#!/usr/bin/env python3
"""Summarises peer rounds: one JSONL line per round and peer (apical's too), markdown out.

Each line: {"peer": ..., "rule": ..., "net": ..., "batch": ..., "ms": [per-step ms, ...], ...}.
A round's value is the median of its per-step ms. For each (rule, net, batch) and peer the
table gives the median over rounds and the range (min-max) of the round medians, and the ratio
apical/peer: the k-th apical round is paired with the k-th round of that peer (same rule, net,
batch, in file order), the table gives the median of the per-round ratios and their range.
A ratio > 1 means apical is slower than the peer.

    python summarise.py results/rounds-DATE.jsonl [--json summary.json]
"""

import argparse
import json
import statistics
import sys
from collections import OrderedDict


def read_rounds(path):
    rounds = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{path}:{n}: skipped, not JSON ({e})", file=sys.stderr)
                continue
            missing = [k for k in ("peer", "rule", "net", "batch", "ms") if k not in rec]
            if missing or not rec["ms"]:
                print(f"{path}:{n}: skipped, missing {missing or ['ms values']}", file=sys.stderr)
                continue
            rounds.append(rec)
    return rounds


def summarise(rounds):
    """{(rule, net, batch): {peer: [round medians in file order]}}, and each peer's versions."""
    cases = OrderedDict()
    versions = OrderedDict()
    extras = {}
    for rec in rounds:
        key = (rec["rule"], rec["net"], int(rec["batch"]))
        cases.setdefault(key, OrderedDict()).setdefault(rec["peer"], []).append(
            statistics.median(rec["ms"])
        )
        if "versions" in rec:
            versions.setdefault(rec["peer"], rec["versions"])
        if "T" in rec and rec["rule"] in ("pc", "gfn-pc"):
            extras.setdefault(key, {}).setdefault(rec["peer"], {})["T"] = rec["T"]
    out = []
    for (rule, net, batch), peers in cases.items():
        apical = peers.get("apical")
        rows = []
        for peer, meds in peers.items():
            row = {
                "peer": peer,
                "rounds": len(meds),
                "median_ms": statistics.median(meds),
                "min_ms": min(meds),
                "max_ms": max(meds),
                "round_medians_ms": meds,
            }
            t = extras.get((rule, net, batch), {}).get(peer, {}).get("T")
            if t is not None:
                row["T"] = t
            if apical is not None and peer != "apical":
                ratios = [a / b for a, b in zip(apical, meds) if b > 0]
                if ratios:
                    row["apical_over_peer"] = {
                        "pairs": len(ratios),
                        "median": statistics.median(ratios),
                        "min": min(ratios),
                        "max": max(ratios),
                    }
            rows.append(row)
        # apical first, then the peers in the order they first appear
        rows.sort(key=lambda r: r["peer"] != "apical")
        out.append({"rule": rule, "net": net, "batch": batch, "peers": rows})
    return out, versions


def fmt(x):
    if x >= 100:
        return f"{x:.1f}"
    if x >= 10:
        return f"{x:.2f}"
    return f"{x:.3f}"


def markdown(summary, versions):
    lines = [
        "| rule | net | batch | peer | rounds | ms/step (median of rounds) | range | apical / peer (median) | range |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in summary:
        for row in case["peers"]:
            peer = row["peer"] + (f" (T={row['T']})" if "T" in row else "")
            r = row.get("apical_over_peer")
            ratio = f"**{r['median']:.2f}×**" if r else ("—" if row["peer"] == "apical" else "n/a")
            ratio_range = f"{r['min']:.2f}–{r['max']:.2f}" if r else ""
            lines.append(
                f"| {case['rule']} | {case['net']} | {case['batch']} | {peer} | {row['rounds']} "
                f"| {fmt(row['median_ms'])} | {fmt(row['min_ms'])}–{fmt(row['max_ms'])} "
                f"| {ratio} | {ratio_range} |"
            )
    lines.append("")
    lines.append("apical / peer > 1: apical takes longer per step than the peer.")
    if versions:
        lines.append("")
        lines.append("Versions:")
        lines.append("")
        for peer, v in versions.items():
            text = ", ".join(f"{k} {val}" for k, val in v.items())
            lines.append(f"- {peer}: {text}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rounds", help="JSONL file, one line per round and peer")
    p.add_argument("--json", metavar="OUT", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    summary, versions = summarise(read_rounds(args.rounds))
    sys.stdout.write(markdown(summary, versions))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cases": summary, "versions": versions}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
