#!/usr/bin/env bash
# apg-bench and the PyTorch reference implementation (PEER_SRC; "the peer" below) side by
# side, on this machine, in one call: the same model shapes and data distribution, the
# same thread count, measured in alternation (apg-bench, peer, apg-bench, peer, ...)
# because this VM's speed drifts.
# Prints a Markdown table of samples/s with the ratio apg-bench / peer.
#
#   scripts/bench-vs-peer.sh            # threads 1 and 2, 2 rounds
#   THREADS="2" ROUNDS=3 scripts/bench-vs-peer.sh
#
# The peer needs torch from PyPI (~5 GB, a few minutes, once): this script installs it in
# a virtual environment under target/peer, never in CI. Results: target/bench-vs-peer/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The PyTorch reference implementation (PEER_SRC): a folder holding its bench.py and
# gen_data.py; by default beside this checkout.
PEER_SRC=${PEER_SRC:-$ROOT/../shared/peer}
PEER_DIR=${PEER_DIR:-$ROOT/target/peer}
OUT=${OUT:-$ROOT/target/bench-vs-peer}
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-2}
# apg-bench models matched to the peer's (bench.py documents the peer's):
#   probe/mlp          <-> mlp        160-256-128-64-1
#   peer/apg-v4-group  <-> apg, apg_dedup   K=32 per layer, shared U and V, S = Linear(16 -> K*K)(domain embedding)
#   peer/apg-v5-group  <-> apg_op     the same with U = U_l U_r, V = V_l V_r, P = 256
OURS=probe/mlp,peer/apg-v4-group,peer/apg-v5-group
PEERS=mlp,apg,apg_dedup,apg_op

if [ ! -f "$PEER_SRC/bench.py" ]; then
  echo "error: the peer is not at $PEER_SRC (set PEER_SRC)" >&2
  exit 1
fi
mkdir -p "$PEER_DIR" "$OUT"
cp "$PEER_SRC"/*.py "$PEER_DIR"/
if [ ! -x "$PEER_DIR/venv/bin/python" ]; then
  echo "== creating the peer's virtual environment (torch from PyPI, once)"
  python3 -m venv "$PEER_DIR/venv"
fi
if ! "$PEER_DIR/venv/bin/python" -c "import torch, numpy, sklearn" 2>/dev/null; then
  "$PEER_DIR/venv/bin/pip" install -q torch numpy scikit-learn
fi
if [ ! -f "$PEER_DIR/data/synth_2m.npz" ]; then
  echo "== generating the peer's data (seed 42)"
  (cd "$PEER_DIR" && venv/bin/python gen_data.py --no-csv)
fi

echo "== building apg-bench (release)"
(cd "$ROOT" && cargo build --release --quiet)
BIN=$ROOT/target/release/apg-bench

: > "$OUT/ours.jsonl"
: > "$OUT/peer.jsonl"
for t in $THREADS; do
  for round in $(seq 1 "$ROUNDS"); do
    echo "== threads $t, round $round: apg-bench"
    "$BIN" bench --only model --model "$OURS" --threads "$t" --json 2>/dev/null \
      | python3 -c "import json,sys; r=json.load(sys.stdin); [print(json.dumps(dict(f, threads=$t))) for f in r['figures']]" \
      >> "$OUT/ours.jsonl"
    for what in train infer; do
      echo "== threads $t, round $round: peer $what"
      (cd "$PEER_DIR" && venv/bin/python bench.py interleave --what "$what" --models "$PEERS" --threads "$t" \
         --adam fused --reps 3 --max-wait 30 2>/dev/null) \
        | sed -n 's/^RESULT //p' \
        | python3 -c "import json,sys; [print(json.dumps(dict(json.loads(l), threads=$t))) for l in sys.stdin]" \
        >> "$OUT/peer.jsonl"
    done
  done
done

python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import json, statistics, sys, os
out = sys.argv[1]
ours = [json.loads(l) for l in open(os.path.join(out, "ours.jsonl"))]
peer = [json.loads(l) for l in open(os.path.join(out, "peer.jsonl"))]
PAIRS = [("probe/mlp", "mlp", "static MLP 160-256-128-64-1"),
         ("peer/apg-v4-group", "apg", "APG K=32 (peer: S per row)"),
         ("peer/apg-v4-group", "apg_dedup", "APG K=32 (peer: S per domain)"),
         ("peer/apg-v5-group", "apg_op", "APG K=32, P=256 (v5 / apg_op)")]
def ours_rate(model, what, batch, t):
    shape, name = model.split("/")
    v = [f["value"] for f in ours if f.get("shape") == shape and f.get("model") == name
         and f.get("what") == what and f.get("batch") == batch and f["threads"] == t]
    return statistics.median(v) if v else None
def peer_rate(model, what, t):
    v = [s for r in peer if r["model"] == model and r["what"] == what and r["threads"] == t
         for s in r["samples_per_s_all"]]
    return statistics.median(v) if v else None
print("| threads | model | what (batch) | apg-bench samples/s | peer samples/s | apg-bench / peer |")
print("|---|---|---|---|---|---|")
for t in sorted({f["threads"] for f in ours}):
    for ours_model, peer_model, label in PAIRS:
        for what, batch in (("train", 1024), ("infer", 4096)):
            a, p = ours_rate(ours_model, what, batch, t), peer_rate(peer_model, what, t)
            ratio = f"{a / p:.2f}x" if a and p else "n/a"
            fa = f"{a:,.0f}" if a else "n/a"
            fp = f"{p:,.0f}" if p else "n/a"
            print(f"| {t} | {label} | {what} ({batch}) | {fa} | {fp} | {ratio} |")
PY
