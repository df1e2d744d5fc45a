#!/usr/bin/env python3
"""Turns the raw figures bench/run.sh collected (TSV) into Markdown tables.

    report.py budget FILE            passes at each N, median of the rounds
    report.py storage SIZES VERSIONS COMPACTED_BYTES
    report.py urlwatch FILE          both tools, same run
    report.py soak FILE              RSS and store size over a daemon run
"""
from __future__ import annotations

import statistics
import sys
from collections import defaultdict


def mb(b: float) -> str:
    return f"{b / 1e6:.1f} MB"


def budget(path: str) -> None:
    groups = defaultdict(list)
    order = []
    for line in open(path, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        n, label = int(f[0]), f[1]
        wall, user, sys_, rss, size = map(float, f[2:7])
        summary = f[7]
        req, ok, nm, body = map(int, f[8].split())
        key = (n, label)
        if key not in groups:
            order.append(key)
        groups[key].append((wall, user + sys_, rss, size, summary, req, ok, nm, body))
    print("| N | pass | rounds | wall (median, min–max) | CPU user+sys | pages/s | "
          "max RSS | store on disk | downloaded | 200 / 304 | result |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in order:
        rows = groups[key]
        n, label = key
        walls = [r[0] for r in rows]
        med = statistics.median(walls)
        cpu = statistics.median(r[1] for r in rows)
        rss = statistics.median(r[2] for r in rows)
        size = statistics.median(r[3] for r in rows)
        last = rows[-1]
        print(f"| {n:,} | {label} | {len(rows)} | {med:.2f} s ({min(walls):.2f}–{max(walls):.2f}) "
              f"| {cpu:.2f} s | {n / med:,.0f} | {rss / 1024:.0f} MB | {mb(size)} "
              f"| {mb(last[8])} | {last[6]} / {last[7]} | {last[4]} |")


def storage(path: str, versions: str, compacted: str) -> None:
    rows = [tuple(map(int, l.split())) for l in open(path)]
    raw_total = sum(r[1] for r in rows)
    first, last = rows[0], rows[-1]
    growth = (last[2] - first[2]) / (len(rows) - 1)
    page = statistics.mean(r[1] for r in rows)
    print(f"| versions stored | {versions} |")
    print("|---|---|")
    print(f"| page size | {page / 1000:.1f} KB |")
    print(f"| raw bytes of all versions | {mb(raw_total)} |")
    print(f"| store after version 1 | {first[2] / 1000:.0f} KB |")
    print(f"| store after version {len(rows)} | {last[2] / 1000:.0f} KB "
          f"({100 * last[2] / raw_total:.1f} % of raw) |")
    print(f"| growth per version (v2–v{len(rows)}) | {growth / 1000:.2f} KB "
          f"({100 * growth / page:.1f} % of the page) |")
    if len(first) > 3:
        pack = (last[3] - first[3]) / (len(rows) - 1)
        sled = growth - pack
        print(f"| of which the pack (blobs, records) | {pack / 1000:.2f} KB "
              f"({100 * pack / page:.1f} %) |")
        print(f"| of which sled (locators, alerts, state; whole 512 KB segments) | "
              f"{sled / 1000:.2f} KB ({100 * sled / page:.1f} %) |")
    print(f"| after `store compact` | {int(compacted) / 1000:.0f} KB "
          f"({100 * int(compacted) / raw_total:.1f} % of raw) |")


def urlwatch(path: str) -> None:
    """Every run, then the medians side by side."""
    runs: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    results: dict[tuple[str, str], list[str]] = defaultdict(list)
    print("| tool | run | wall | CPU user+sys | max RSS | store / cache | result |")
    print("|---|---|---|---|---|---|---|")
    for line in open(path, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        tool, label = f[0], f[1]
        wall, user, sys_, rss, size = map(float, f[2:7])
        runs[(tool, label)].append([wall, user + sys_, rss, size])
        results[(tool, label)].append(f[7])
        print(f"| {tool} | {label} | {wall:.2f} s | {user + sys_:.2f} s | {rss / 1024:.0f} MB "
              f"| {mb(size)} | {f[7]} |")
    print()
    print("| run | urlwatch wall, median (range) | bulletin-watch wall, median (range) | ratio of medians |")
    print("|---|---|---|---|")
    for label in ("first", "unchanged", "noise"):
        uw, bw = runs.get(("urlwatch", label)), runs.get(("bulletin-watch", label))
        if not uw or not bw:
            continue
        mu = statistics.median(r[0] for r in uw)
        mb_ = statistics.median(r[0] for r in bw)
        rng = lambda rs: f"{min(r[0] for r in rs):.2f}–{max(r[0] for r in rs):.2f}"
        print(f"| {label} | {mu:.2f} s ({rng(uw)}) | {mb_:.2f} s ({rng(bw)}) | {mu / mb_:.1f}× |")
    uw_cache = runs.get(("urlwatch", "first"))
    bw_store = runs.get(("bulletin-watch", "first"))
    if uw_cache and bw_store:
        c = statistics.median(r[3] for r in uw_cache)
        st = statistics.median(r[3] for r in bw_store)
        print(f"\nstore after the first run: {mb(st)} against urlwatch's cache {mb(c)} "
              f"({100 * st / c:.0f} %)")


def soak(path: str) -> None:
    rows = [tuple(map(int, l.split())) for l in open(path)]
    print("| elapsed | RSS | store on disk | checks logged |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} s | {r[1] / 1024:.1f} MB | {mb(r[2])} | {r[3]:,} |")


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    {"budget": budget, "storage": storage, "urlwatch": urlwatch, "soak": soak}[kind](*args)
