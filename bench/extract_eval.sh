#!/usr/bin/env bash
# The extraction benchmark (BENCHMARKS.md, "Pages it has never seen"):
# bulletin-watch, trafilatura 2.3 and GNE 0.4 side by side on the saved
# real government pages in ../shared/realworld (never copied into this
# repository), scored against that folder's manifest.
#
#   bench/extract_eval.sh [DIR]
#
# The peers are installed from PyPI into a virtualenv this script creates
# (target/extract-venv), once.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$ROOT/../shared/realworld}
VENV=$ROOT/target/extract-venv
if ! "$VENV/bin/python" -c 'import trafilatura, gne' 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q trafilatura==2.3.1 gne==0.4.3 lxml_html_clean
fi
(cd "$ROOT" && cargo build -q --release --example extract-eval)
OURS=$(mktemp)
trap 'rm -f "$OURS"' EXIT
"$ROOT/target/release/examples/extract-eval" "$DIR" > "$OURS"
"$VENV/bin/python" "$ROOT/bench/extract_eval.py" "$DIR" "$OURS" --peers --json "$ROOT/target/extract-eval.json"
