#!/usr/bin/env python3
"""Table and targets of a bench/run.sh run (stdlib only).

    python3 bench/report.py OURS.tsv [--peers PEERS.tsv] --out RESULT.tsv --targets-out TARGETS.tsv

OURS.tsv: the bookstore's rows, peers-baseline.tsv columns, no header. PEERS.tsv: run-peers.sh's
output (with its header). Prints on stdout the combined table (our rows W1..W5, then the peers'
rows), a blank line, and the targets of the issue with their verdicts; writes both to the files.
Exit status: 0, or 3 when a target is missed (bench/run.sh decides what to do with it).
"""

import argparse
import sys

COLUMNS = ["workload", "system", "request", "req_per_s", "p50_ms", "p99_ms", "non2xx", "errors",
           "timeouts", "peak_rss_mib", "notes"]
OURS = "bookstore"


def read_rows(path, header):
    rows = []
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    if header and lines and lines[0].startswith("workload\t"):
        lines = lines[1:]
    for line in lines:
        cells = line.split("\t")
        cells += [""] * (len(COLUMNS) - len(cells))
        rows.append(dict(zip(COLUMNS, cells)))
    return rows


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("--peers")
    ap.add_argument("--peers-note", default="", help="appended to the notes of every peer row")
    ap.add_argument("--out", required=True)
    ap.add_argument("--targets-out", required=True)
    a = ap.parse_args()

    ours = sorted(read_rows(a.ours, False), key=lambda r: r["workload"])
    peers = read_rows(a.peers, True) if a.peers else []
    if a.peers_note:
        for r in peers:
            r["notes"] = f"{r['notes']}; {a.peers_note}" if r["notes"] else a.peers_note

    def our(wl):
        return next((r for r in ours if r["workload"] == wl), None)

    def peer(wl, system, notes_has=""):
        return next((r for r in peers if r["workload"] == wl and r["system"] == system and notes_has in r["notes"]), None)

    targets = []  # (target, ours, anchor, ratio, goal, verdict)

    def ratio_target(wl, label, anchor_row, goal):
        o = our(wl)
        ov = num(o["req_per_s"]) if o else None
        av = num(anchor_row["req_per_s"]) if anchor_row else None
        name = f"{wl} req/s >= {goal:g}x {label}" if goal >= 1 else f"{wl} req/s >= {goal * 100:g}% of {label}"
        if ov is None:
            targets.append((name, "-", av if av is not None else "-", "-", f"{goal:g}", "NOT RUN"))
        elif av is None or av == 0:
            targets.append((name, f"{ov:.1f}", "-", "-", f"{goal:g}", "NO ANCHOR" if not peers else "ANCHOR MISSING"))
        else:
            r = ov / av
            targets.append((name, f"{ov:.1f}", f"{av:.1f}", f"{r:.2f}", f"{goal:g}", "PASS" if r >= goal else "MISS"))

    ratio_target("W1", "fastapi+redis", peer("W1", "fastapi+redis"), 20)
    ratio_target("W1", "ceiling-axum", peer("W1", "ceiling-axum"), 0.5)
    ratio_target("W2", "fastapi", peer("W2", "fastapi"), 10)
    ratio_target("W2", "pgbench -M prepared", peer("W2", "pgbench-ceiling", "-M prepared"), 0.4)
    ratio_target("W3", "fastapi", peer("W3", "fastapi"), 10)
    ratio_target("W4", "postgraphile", peer("W4", "postgraphile"), 3)
    ratio_target("W4", "strawberry", peer("W4", "strawberry"), 20)

    for wl in ("W1", "W2"):
        o = our(wl)
        p99 = num(o["p99_ms"]) if o else None
        targets.append((f"{wl} p99 < 10 ms", "-" if p99 is None else f"{p99:.3f}", "-", "-", "10",
                        "NOT RUN" if p99 is None else ("PASS" if p99 < 10 else "MISS")))
    rss = [(num(r["peak_rss_mib"]), r["workload"]) for r in ours if num(r["peak_rss_mib"]) is not None]
    if rss:
        top = max(rss)
        targets.append(("peak RSS < 64 MiB (every workload)", f"{top[0]:.1f} ({top[1]})", "-", "-", "64",
                        "PASS" if top[0] < 64 else "MISS"))
    bad = [f"{r['workload']}: {r['non2xx']} non-2xx, {r['errors']} socket errors"
           for r in ours if (num(r["non2xx"]) or 0) > 0 or (num(r["errors"]) or 0) > 0]
    targets.append(("zero non-2xx and socket errors", "; ".join(bad) if bad else "0", "-", "-", "0",
                    "MISS" if bad else "PASS"))
    tmo = [f"{r['workload']}: {r['timeouts']}" for r in ours if (num(r["timeouts"]) or 0) > 0]
    targets.append(("no wrk time-outs (2 s)", "; ".join(tmo) if tmo else "0", "-", "-", "0", "MISS" if tmo else "PASS"))

    table = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in ours + peers]
    ttable = ["\t".join(["target", "ours", "anchor", "ratio", "goal", "verdict"])] + \
             ["\t".join(str(c) for c in t) for t in targets]
    with open(a.out, "w") as f:
        f.write("\n".join(table) + "\n")
    with open(a.targets_out, "w") as f:
        f.write("\n".join(ttable) + "\n")
    print("\n".join(table))
    print()
    print("\n".join(ttable))
    return 3 if any(t[5] == "MISS" for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
