#!/usr/bin/env bash
# apg-bench and the PyTorch reference implementation of the same models (the "peer")
# trained side by side on the same data, in one call: the peer's 2M-row synthetic data
# (its gen_data.py, seed 42; train = first
# 1.8M rows, test = last 200k), static MLP 256-128-64 vs APG v4 (K = 32 in every layer,
# a linear generator on the domain field f0, a static bias), 16-dim embeddings, batch
# 1024, Adam lr 1e-3, 3 epochs. apg-bench's experiment files state only those settings;
# every other key is apg-bench's default. Prints the test AUC after every epoch, per
# seed and as mean ± sd, for both sides (docs/accuracy.md holds a measured table).
#
#   scripts/accuracy-vs-peer.sh                  # seeds 1 and 2, both sides
#   SEEDS="1 2 3" SIDES=ours scripts/accuracy-vs-peer.sh
#
# One-change-at-a-time studies: extra keys for one section of both experiment files,
#   EXTRA_MODEL='embedding_std = 0.1' SIDES=ours TAG=std0.1 scripts/accuracy-vs-peer.sh
# (also EXTRA_TRAIN, EXTRA_APG; EXTRA_APG applies to the APG experiment only).
#
# The peer needs torch from PyPI (~5 GB, a few minutes, once): installed in a virtual
# environment under target/peer, never in CI. Results: target/accuracy-vs-peer/TAG/.
# A full call (2 seeds x 2 models x 2 sides) takes ~25 minutes on 2 vCPUs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The PyTorch reference implementation (PEER_SRC): a folder holding its bench.py and
# gen_data.py; by default beside this checkout.
PEER_SRC=${PEER_SRC:-$ROOT/../shared/peer}
PEER_DIR=${PEER_DIR:-$ROOT/target/peer}
SEEDS=${SEEDS:-"1 2"}
SIDES=${SIDES:-"ours peer"}
MODELS=${MODELS:-"mlp apg"}
TAG=${TAG:-default}
OUT=${OUT:-$ROOT/target/accuracy-vs-peer/$TAG}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-$ROOT/target/release/apg-bench}

if [ ! -f "$PEER_SRC/gen_data.py" ]; then
  echo "error: the peer is not at $PEER_SRC (set PEER_SRC)" >&2
  exit 1
fi
mkdir -p "$PEER_DIR" "$OUT"
cp "$PEER_SRC"/*.py "$PEER_DIR"/
[ -x "$PEER_DIR/venv/bin/python" ] || python3 -m venv "$PEER_DIR/venv"
case " $SIDES " in
  *" peer "*) need="import torch, numpy, sklearn"; pkgs="torch numpy scikit-learn" ;;
  *) need="import numpy, sklearn"; pkgs="numpy scikit-learn" ;;
esac
"$PEER_DIR/venv/bin/python" -c "$need" 2>/dev/null || "$PEER_DIR/venv/bin/pip" install -q $pkgs
if [ ! -f "$PEER_DIR/data/synth_2m.csv" ] || [ ! -f "$PEER_DIR/data/synth_2m.npz" ]; then
  echo "== generating the peer's data (seed 42)"
  (cd "$PEER_DIR" && venv/bin/python gen_data.py >/dev/null)
fi

# The workspace: the same rows as the peer, the test rows also used for validation (the
# peer reports the test AUC after every epoch and selects nothing).
W=$ROOT/target/accuracy-vs-peer/workspace
D=$W/datasets/peer
if [ ! -f "$D/test.csv" ]; then
  mkdir -p "$D"
  head -1800001 "$PEER_DIR/data/synth_2m.csv" > "$D/train.csv"
  (head -1 "$PEER_DIR/data/synth_2m.csv"; tail -n 200000 "$PEER_DIR/data/synth_2m.csv") > "$D/test.csv"
fi
{
  printf 'name = "peer-synth"\n[source]\nformat = "csv"\ndir = ["peer"]\n[label]\ncolumn = "label"\n'
  for i in 0 1 2 3 4 5 6 7 8 9; do printf '[[fields]]\nname = "f%d"\nkind = "categorical"\n' "$i"; done
  printf '[split]\nkind = "files"\ntrain = "train.csv"\nvalid = "test.csv"\ntest = "test.csv"\n'
} > "$W/datasets/peer-synth.toml"
printf 'name = "accuracy-vs-peer"\ndataset = "datasets/peer-synth.toml"\n' > "$W/workspace.toml"
E=$OUT/experiments
mkdir -p "$E"
model="[model]\nbase = \"dnn\"\nhidden = [256, 128, 64]\nembedding_dim = 16\n${EXTRA_MODEL:-}\n"
train="[train]\nepochs = 3\nlr = 0.001\nbatch_size = 1024\npatience = 5\n${EXTRA_TRAIN:-}\n"
apg="[apg]\nvariant = \"v4\"\nrank = [32]\ngenerate_bias = false\n${EXTRA_APG:-}\n[apg.condition]\nmode = \"group\"\nfields = [\"f0\"]\n"
printf "dataset = \"../../workspace/datasets/peer-synth.toml\"\n$model$train" > "$E/mlp.toml"
printf "dataset = \"../../workspace/datasets/peer-synth.toml\"\n$model$apg$train" > "$E/apg.toml"

if [[ " $SIDES " == *" ours "* ]] && [ -z "${BIN_GIVEN:-}" ]; then
  echo "== building apg-bench (release)"
  (cd "$ROOT" && cargo build --release --quiet)
fi

: > "$OUT/results.jsonl"
for seed in $SEEDS; do
  for m in $MODELS; do
    for side in $SIDES; do
      echo "== seed $seed, $m: $side"
      if [ "$side" = ours ]; then
        log=$OUT/ours-$m-$seed.json
        "$BIN" run "$E/$m.toml" --workspace "$W" --seed "$seed" --json > "$log" 2> "$OUT/ours-$m-$seed.err" \
          || { echo "apg-bench run failed: $(tail -n 3 "$OUT/ours-$m-$seed.err")" >&2; exit 1; }
        python3 - "$log" "$m" "$seed" >> "$OUT/results.jsonl" <<'PY'
import json, sys, os
report, model, seed = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
run = report["run_id"]
epochs = []
for line in open(os.path.join(report["folder"], "metrics.jsonl")):
    r = json.loads(line)
    if r.get("kind") == "eval" and r["metrics"]["split"] == "valid":
        epochs.append(r["metrics"]["auc"])
print(json.dumps({"side": "apg-bench", "model": model, "seed": seed, "epoch_auc": epochs,
                  "test_auc": report["summary"]["test"]["auc"], "run": run}))
PY
      else
        peer_model=$m
        (cd "$PEER_DIR" && venv/bin/python bench.py train --model "$peer_model" --epochs 3 --seed "$seed" \
            --threads 2 2>/dev/null) | sed -n 's/^RESULT //p' > "$OUT/peer-$m-$seed.jsonl"
        python3 - "$OUT/peer-$m-$seed.jsonl" "$m" "$seed" >> "$OUT/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
aucs = [r["test_auc"] for r in sorted(rows, key=lambda r: r["epoch"])]
print(json.dumps({"side": "peer", "model": sys.argv[2], "seed": int(sys.argv[3]), "epoch_auc": aucs,
                  "test_auc": aucs[-1] if aucs else None}))
PY
      fi
    done
  done
done

python3 - "$OUT/results.jsonl" <<'PY' | tee "$OUT/table.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"
sides = [s for s in ("apg-bench", "peer") if any(r["side"] == s for r in rows)]
print("| model | side | seeds | " + " | ".join(f"test AUC epoch {e}" for e in (1, 2, 3)) + " | per seed (final) |")
print("|---|---|---|---|---|---|---|")
for model in ("mlp", "apg"):
    for side in sides:
        sel = [r for r in rows if r["side"] == side and r["model"] == model]
        if not sel:
            continue
        cells = [fmt([r["epoch_auc"][e] if len(r["epoch_auc"]) > e else None for r in sel]) for e in range(3)]
        per_seed = " / ".join(f"{r['test_auc']:.4f}" for r in sel)
        print(f"| {model} | {side} | {len(sel)} | " + " | ".join(cells) + f" | {per_seed} |")
for side in sides:
    mlp = [r["test_auc"] for r in rows if r["side"] == side and r["model"] == "mlp"]
    apg = [r["test_auc"] for r in rows if r["side"] == side and r["model"] == "apg"]
    if mlp and apg:
        print(f"\n{side}: APG - MLP = {statistics.mean(apg) - statistics.mean(mlp):+.4f} (means of final test AUC)")
PY
