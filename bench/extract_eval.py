"""Scores bulletin-watch, trafilatura and GNE on the same saved pages.

Usage: extract_eval.py DIR OURS.jsonl [--peers] [--json OUT]

DIR holds the pages and `manifest.toml` (what a reader sees on each page:
title, published date, the first and last characters of the article body,
top-level section labels). OURS.jsonl is what `cargo run --release --example
extract-eval -- DIR` printed. With --peers, trafilatura and GNE are run on
the same pages in this one process (so the comparison does not measure
interpreter start-up) and scored the same way.

A page's columns:
- title: equal after white space is removed;
- date: equal (a page without a date must yield none);
- start / end: the body, white space removed, starts / ends with the
  manifest's first / last characters (white space removed);
- sections: the top-level labels equal the manifest's (none where it lists
  none). Peers give plain text, so their labels are read off the starts of
  their lines with the same numbering patterns.
"""

import json
import re
import sys
import time
import tomllib
import unicodedata
from pathlib import Path

COLUMNS = ["title", "date", "start", "end", "sections"]
TOP_LABEL = re.compile(r"^\s*([一二三四五六七八九十]{1,3})\s*[、．.]")


def squash(s):
    s = unicodedata.normalize("NFKC", s or "")
    return re.sub(r"\s+", "", s)


def top_labels(text):
    out = []
    for line in (text or "").splitlines():
        m = TOP_LABEL.match(line)
        if m:
            out.append(m.group(1) + "、")
    return out


def score(page, got):
    if got is None or got.get("error"):
        return {c: False for c in COLUMNS}
    body = squash(got.get("body"))
    want_date = page.get("published")
    # A page whose body is only images has no text: none is right there.
    first, last = squash(page.get("body_first")), squash(page.get("body_last"))
    return {
        "title": squash(got.get("title")) == squash(page.get("title")),
        "date": (got.get("published") or None) == (want_date or None),
        "start": body.startswith(first) if first else body == "",
        "end": body.endswith(last) if last else body == "",
        "sections": list(got.get("sections") or []) == list(page.get("sections") or []),
    }


def norm_date(s):
    if not s:
        return None
    m = re.search(r"(\d{4})\D{1,3}(\d{1,2})\D{1,3}(\d{1,2})", str(s))
    if not m:
        return None
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def run_peers(directory, pages):
    import trafilatura
    from trafilatura.utils import decode_file
    from gne import GeneralNewsExtractor

    gne = GeneralNewsExtractor()
    results = {"trafilatura": {}, "gne": {}}
    for page in pages:
        raw = (directory / page["file"]).read_bytes()
        html = decode_file(raw)
        start = time.perf_counter()
        try:
            doc = trafilatura.bare_extraction(html, with_metadata=True, favor_precision=False)
            if doc is not None and not isinstance(doc, dict):
                doc = doc.as_dict()
            doc = doc or {}
            got = {"title": doc.get("title"), "published": norm_date(doc.get("date")),
                   "body": doc.get("text") or ""}
        except Exception as e:  # a peer failing on a page scores zero there
            got = {"error": repr(e)}
        got["ms"] = (time.perf_counter() - start) * 1000
        got.setdefault("sections", top_labels(got.get("body")))
        results["trafilatura"][page["file"]] = got
        start = time.perf_counter()
        try:
            r = gne.extract(html)
            got = {"title": r.get("title"), "published": norm_date(r.get("publish_time")),
                   "body": r.get("content") or ""}
        except Exception as e:
            got = {"error": repr(e)}
        got["ms"] = (time.perf_counter() - start) * 1000
        got.setdefault("sections", top_labels(got.get("body")))
        results["gne"][page["file"]] = got
    return results


def main():
    args = sys.argv[1:]
    peers = "--peers" in args
    out_json = None
    if "--json" in args:
        out_json = args[args.index("--json") + 1]
    positional = [a for a in args if not a.startswith("--") and a != out_json]
    directory, ours_path = Path(positional[0]), Path(positional[1])
    manifest = tomllib.loads((directory / "manifest.toml").read_text(encoding="utf-8"))
    pages = [p for p in manifest["page"] if p.get("kind") == "article"]
    ours = {}
    for line in ours_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            ours[r["file"]] = r
    tools = {"bulletin-watch": ours}
    if peers:
        tools.update(run_peers(directory, pages))

    table = {}
    print(f"{'page':<22}" + "".join(f" {t[:14]:>14}" for t in tools))
    for page in pages:
        row = []
        for tool, results in tools.items():
            s = score(page, results.get(page["file"]))
            table.setdefault(tool, []).append((page["file"], s, (results.get(page["file"]) or {}).get("ms")))
            row.append("".join("✓" if s[c] else "·" for c in COLUMNS))
        print(f"{page['file']:<22}" + "".join(f" {r:>14}" for r in row))
    print(f"\ncolumns per page: {' '.join(COLUMNS)}\n")
    summary = {}
    print(f"{'tool':<16}" + "".join(f" {c:>9}" for c in COLUMNS) + f" {'ms/page':>9}")
    for tool, rows in table.items():
        n = len(rows)
        pct = {c: 100.0 * sum(1 for _, s, _ in rows if s[c]) / n for c in COLUMNS}
        times = sorted(ms for _, _, ms in rows if ms is not None)
        median = times[len(times) // 2] if times else float("nan")
        summary[tool] = {"pages": n, **pct, "median_ms": median, "total_ms": sum(times)}
        print(f"{tool:<16}" + "".join(f" {pct[c]:>8.1f}%" for c in COLUMNS) + f" {median:>9.2f}")
    if out_json:
        Path(out_json).write_text(json.dumps({"summary": summary, "pages": {
            t: {f: s for f, s, _ in rows} for t, rows in table.items()}}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
