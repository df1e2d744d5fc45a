#!/usr/bin/env bash
# The search dictionary against jieba's full one, on the text of the real
# pages in ../shared/realworld (never copied into the project) and the
# test fixtures, tags stripped: see BENCHMARKS.md, "Sixth round".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
real=${REALWORLD:-$root/../shared/realworld}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 - "$real" "$root/tests/fixtures" > "$out/text.txt" <<'PY'
import glob, html, re, sys
for d in sys.argv[1:]:
    for f in sorted(glob.glob(d + '/**/*.html', recursive=True)):
        b = open(f, 'rb').read()
        for enc in ('utf-8', 'gb18030'):
            try:
                t = b.decode(enc)
                break
            except UnicodeDecodeError:
                pass
        else:
            continue
        t = re.sub(r'(?is)<(script|style)[^>]*>.*?</\1>', '', t)
        t = html.unescape(re.sub(r'<[^>]+>', ' ', t))
        print(re.sub(r'\s+', ' ', t))
PY
cargo build --release --quiet --manifest-path "$here/words-eval/Cargo.toml" --target-dir "$root/target/words-eval"
dict=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path '*jieba-rs-0.11.*/src/data/dict.txt' | head -1)
"$root/target/words-eval/release/words-eval" "$out/text.txt" "$dict"
