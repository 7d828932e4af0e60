#!/usr/bin/env python3
"""Reads bench_anatomy's JSON (bench/suite/anatomy.cpp) and says where each plan's time went.

Per plan: the makespan of the recorded replay; for each operator its ready time (its producers'
latest end), its delay (ready to its first block past the wait: front end, dispatch, or blocks that
find no room), its run (begin to end) against its profiled duration (SM sharing stretches it); the
front end's pace (gaps between successive first-block entries in entry order); the as-run critical
path (from the last end back through the producer that ended last) split into delays and runs.

    python3 scripts/anatomy.py bench/results/anatomy-*.json [--workload NAME] [--nodes K]
"""
import json
import statistics as st
import sys


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def analyse(w, p, show_nodes):
    nodes = w["nodes"]
    n = len(nodes)
    entry, begin, end = p["entry_ns"], p["begin_ns"], p["end_ns"]
    stamped = [v for v in range(n) if end[v] >= 0]
    if len(stamped) < n:
        crit = [v for v in stamped]
        runs = [(end[v] - begin[v]) / 1e3 for v in crit]
        prof = [nodes[v]["profiled_us"] for v in crit]
        print(f"  {p['what']:<42} {p['median_us']:8.1f} us; stamped ops {len(stamped)}: run {sum(runs):.1f} us "
              f"(profiled {sum(prof):.1f}), span {p['timeline_makespan_us']:.1f} us")
        return
    ready = []
    for v in range(n):
        ps = nodes[v]["preds"]
        ready.append(max((end[u] for u in ps), default=0))
    delay = [(begin[v] - ready[v]) / 1e3 for v in range(n)]
    run = [(end[v] - begin[v]) / 1e3 for v in range(n)]
    prof = [nodes[v]["profiled_us"] for v in range(n)]
    stretch = [r / max(q, 1e-3) for r, q in zip(run, prof)]
    by_entry = sorted(range(n), key=lambda v: entry[v])
    gaps = [(entry[b] - entry[a]) / 1e3 for a, b in zip(by_entry, by_entry[1:])]
    # as-run critical path
    v = max(range(n), key=lambda u: end[u])
    path = []
    while True:
        path.append(v)
        ps = nodes[v]["preds"]
        if not ps:
            break
        v = max(ps, key=lambda u: end[u])
    path.reverse()
    so = p["stream_of"]
    cross = sum(1 for a, b in zip(path, path[1:]) if so[a] != so[b])
    pdelay = sum(delay[v] for v in path[1:])
    prun = sum(run[v] for v in path)
    pprof = sum(prof[v] for v in path)
    crit = [v for v in range(n) if nodes[v]["critical"]]
    cdelay = sum(delay[v] for v in crit[1:])
    crun = sum(run[v] for v in crit)
    cprof = sum(prof[v] for v in crit)
    busy = sum(run)
    print(f"  {p['what']:<42} {p['median_us']:8.1f} us (min {p['min_us']:.1f}, stamped {p['stamped_median_us']:.1f}, "
          f"timeline {p['timeline_makespan_us']:.1f}), {max(so) + 1} streams")
    print(f"    delay ready->begin: median {st.median(delay):.2f}, p90 {pct(delay, .9):.2f}, max {max(delay):.1f} us; "
          f"run/profiled: median {st.median(stretch):.2f}, p90 {pct(stretch, .9):.2f}; mean concurrency "
          f"{busy / max(p['timeline_makespan_us'], 1e-3):.1f} kernels")
    print(f"    front end: entries every {st.median(gaps):.2f} us (median; p90 {pct(gaps, .9):.2f}); "
          f"last entry at {entry[by_entry[-1]] / 1e3:.1f} us")
    print(f"    as-run critical path: {len(path)} ops ({cross} cross-stream), delays {pdelay:.1f} + runs {prun:.1f} us "
          f"(profiled {pprof:.1f}); head {begin[path[0]] / 1e3:.1f} us")
    print(f"    profile's critical path ({len(crit)} ops): delays {cdelay:.1f} + runs {crun:.1f} us (profiled {cprof:.1f}); "
          f"its last end {max(end[v] for v in crit) / 1e3:.1f} us")
    if "launch" in p:
        l = p["launch"]
        print(f"    launch: host {l['host_us']:.1f} us; isolated {l['isolated_us']:.1f}, queued {l['queued_us']:.1f}, back to back "
              f"{l['back_to_back_us']:.1f} us; first entry {l['start_us']:.1f} us after a mark (queued {l['queued_start_us']:.1f}), "
              f"last end {l['end_us']:.1f} us before a mark (queued {l['queued_end_us']:.1f})")
    if show_nodes:
        print(f"    slowest delays on the as-run path (op: delay, run/profiled, stream, #preds, entry-ready):")
        for v in sorted(path[1:], key=lambda u: -delay[u])[:show_nodes]:
            print(f"      {nodes[v]['name']:<28} {delay[v]:6.2f} us  {run[v]:6.1f}/{prof[v]:6.1f}  s{so[v]:<3} "
                  f"{len(nodes[v]['preds'])}  {(entry[v] - ready[v]) / 1e3:6.2f}")


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    only, show = None, 0
    files = []
    i = 0
    while i < len(args):
        if args[i] == "--workload":
            only = args[i + 1]; i += 2
        elif args[i] == "--nodes":
            show = int(args[i + 1]); i += 2
        else:
            files.append(args[i]); i += 1
    for f in files:
        doc = json.load(open(f))
        print(f"{f}: {doc['gpu']}, commit {doc['commit']}, %globaltimer step {doc['globaltimer_step_ns']:.0f} ns")
        for w in doc["workloads"]:
            if only and w["name"] != only:
                continue
            print(f"\n== {w['name']} ({len(w['nodes'])} ops)")
            for p in w["plans"]:
                analyse(w, p, show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
