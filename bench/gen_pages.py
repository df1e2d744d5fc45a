#!/usr/bin/env python3
"""Writes the benchmark's bulletin pages as static files for bench/server.rs.

The pages are exactly those bench/fixture_server.py serves (same generator,
same seed: 20-40 KB of Chinese text, every 10th page GBK), written to
DIR/article/<i>.html. A state file DIR/state.json keeps each page's
generation, so

    gen_pages.py DIR --pages N              writes all N pages (generation 0)
    gen_pages.py DIR --pages N --bump-pct 1 edits 1 % of them (one paragraph
                                            each, like /__bump?pct=1)
    gen_pages.py DIR --pages 1 --sentence-edit V
                                            version V of one ~40 KB page: V=1
                                            writes it, V>1 rewrites one sentence
                                            of the current DIR/article/0.html

Only the pages that change are rewritten, so the static server's ETag and
Last-Modified (derived from size and mtime) change for them alone.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_server  # noqa: E402


def write_page(site: fixture_server.Site, out: str, i: int, gen: int) -> int:
    charset = "gbk" if site.is_gbk(i) else "utf-8"
    body = site.render_article(i, gen, None).encode(charset)
    path = os.path.join(out, "article", f"{i}.html")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(body)
    os.replace(tmp, path)
    return len(body)


def sentence_edit(out: str, version: int) -> None:
    path = os.path.join(out, "article", "0.html")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if version == 1:
        # The largest of 200 generated pages, lengthened to 40 KB with more
        # generated paragraphs.
        site = fixture_server.Site(200, 0)
        html = max((site.render_article(i, 0, None) for i in range(200)),
                   key=lambda h: len(h.encode("utf-8")))
        rng = random.Random("sentence-0")
        while len(html.encode("utf-8")) < 40_000:
            extra = f"<p>{fixture_server.paragraph(rng, 3)}</p>\n"
            html = html.replace('<p class="sign">', extra + '<p class="sign">', 1)
        body = html.encode("utf-8")
    else:
        with open(path, "rb") as f:
            html = f.read().decode("utf-8")
        paras = [m for m in re.finditer(r"<p>([^<]*)</p>", html)]
        m = paras[version % len(paras)]
        text = m.group(1)
        end = text.find("。") + 1
        rng = random.Random(f"sentence-{version}")
        new = fixture_server.sentence(rng) + text[end:]
        body = (html[:m.start(1)] + new + html[m.end(1):]).encode("utf-8")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(body)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--pages", type=int, required=True)
    ap.add_argument("--bump-pct", type=float)
    ap.add_argument("--sentence-edit", type=int)
    args = ap.parse_args()
    if args.sentence_edit is not None:
        return sentence_edit(args.dir, args.sentence_edit)
    site = fixture_server.Site(args.pages, 10)
    state_path = os.path.join(args.dir, "state.json")
    os.makedirs(os.path.join(args.dir, "article"), exist_ok=True)
    if args.bump_pct is None:
        total = sum(write_page(site, args.dir, i, 0) for i in range(args.pages))
        state = {"generation": [0] * args.pages, "cursor": 0}
        print(f"wrote {args.pages} pages, {total} bytes", file=sys.stderr)
    else:
        with open(state_path) as f:
            state = json.load(f)
        n = args.pages
        # The same deterministic spread as fixture_server's /__bump?pct=.
        k = max(1, round(n * args.bump_pct / 100.0))
        stride = max(1, n // k)
        idx = sorted({(state["cursor"] + j * stride) % n for j in range(k)})
        state["cursor"] = (state["cursor"] + 1) % n
        for i in idx:
            state["generation"][i] += 1
            write_page(site, args.dir, i, state["generation"][i])
        print(f"edited {len(idx)} pages", file=sys.stderr)
    with open(state_path, "w") as f:
        json.dump(state, f)


if __name__ == "__main__":
    main()
