#!/usr/bin/env bash
# Every experiment of a workspace trained under several seeds, then compared as groups of
# repeats against its static baseline with apg-bench's own noise bands (mean ± sd, the
# delta and whether it is beyond 2 pooled standard errors). Prints a Markdown table.
#
#   scripts/seed-table.sh workspaces/demo              # 3 seeds, baseline static-dnn
#   SEEDS=5 BASELINE=static-dnn scripts/seed-table.sh workspaces/ml-100k
#   ONLY="static-dnn apg-group" scripts/seed-table.sh workspaces/demo
#
# The runs go to a copy of the workspace under target/seed-table/NAME, never into the
# workspace itself. ml-100k needs its files (APG_BENCH_DATA or datasets/movielens-100k).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOURCE=$(cd "${1:?usage: seed-table.sh WORKSPACE}" && pwd)
SEEDS=${SEEDS:-3}
BASELINE=${BASELINE:-static-dnn}
BIN=${BIN:-$ROOT/target/release/apg-bench}
NAME=$(basename "$SOURCE")
W=$ROOT/target/seed-table/$NAME
[ -n "${BIN_GIVEN:-}" ] || [ "$BIN" != "$ROOT/target/release/apg-bench" ] || (cd "$ROOT" && cargo build --release --quiet)
rm -rf "$W"
mkdir -p "$W"
cp -r "$SOURCE"/. "$W"/
rm -rf "$W/runs"
experiments=${ONLY:-$(cd "$W/experiments" && ls *.toml | sed 's/\.toml$//')}
names=()
for e in $experiments; do
  echo "== $e ($SEEDS seeds)" >&2
  if (cd "$ROOT" && "$BIN" run "$W/experiments/$e.toml" --workspace "$W" --seeds "$SEEDS" --json > "$W/$e.json" 2> "$W/$e.err"); then
    names+=("$e")
  else
    echo "   failed: $(tail -n 1 "$W/$e.err")" >&2
  fi
done
(cd "$ROOT" && "$BIN" runs compare --workspace "$W" --group --md --baseline "$BASELINE" "${names[@]}") | tee "$W/table.md"
