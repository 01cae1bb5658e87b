#!/usr/bin/env bash
# Checks the CUDA build on a GPU machine in one go of a few minutes: the demo experiments
# trained on the GPU and on the CPU with the same seed (test AUC / logloss and their
# differences), then training and scoring throughput on the GPU at two batch sizes.
# Meant for the lent GPU machine, run from the repository root with dist/cuda/ carried
# (scripts/cuda-build.sh makes it); works by hand anywhere:
#
#   scripts/gpu-check.sh                                            # dist/cuda on cuda:0
#   DEVICE=cpu APG=target/release/apg-bench scripts/gpu-check.sh    # dry run on a CPU
#
# Environment (defaults in brackets):
#   APG          the apg-bench to run [dist/cuda/apg-bench, else target/release/apg-bench]
#   DEVICE       the device under test [cuda:0]
#   EXPERIMENTS  demo experiments to compare [static-dnn apg-group]
#   STEPS        max_steps of the comparison runs; 0 = as written (4 epochs) [0]
#   BATCHES      batch sizes of the throughput runs [1024 8192]
#   SPEED_ROWS   rows of the synthetic data of the throughput runs [1000000]
#   SPEED_STEPS  training steps of each throughput run [100]
#   OUT          where the report and the run summaries go [$OUT, else target/gpu-check]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

if [ -z "${APG:-}" ]; then
  APG=dist/cuda/apg-bench
  [ -x "$APG" ] || APG=target/release/apg-bench
fi
device=${DEVICE:-cuda:0}
experiments=${EXPERIMENTS:-static-dnn apg-group}
steps=${STEPS:-0}
batches=${BATCHES:-1024 8192}
speed_rows=${SPEED_ROWS:-1000000}
speed_steps=${SPEED_STEPS:-100}
out=${OUT:-$repo/target/gpu-check}
mkdir -p "$out"
[ -x "$APG" ] || { echo "gpu-check: no apg-bench at $APG (run scripts/cuda-build.sh, or set APG)" >&2; exit 1; }

exec > >(tee "$out/report.txt") 2>&1
echo "gpu-check: $APG on $device, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs"
if [ "$(basename "$APG")" = apg-bench ] && [ -f "$(dirname "$APG")/BUILD-INFO" ]; then
  "$APG" --check || exit 1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

scratch=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
workspace=$scratch/workspace
mkdir -p "$workspace/experiments"
printf 'name = "gpu-check"\ndataset = "synthetic-multidomain"\n' >"$workspace/workspace.toml"

# experiment NAME COPY [KEY=VALUE...]: a copy of a demo experiment with [train] keys set.
experiment() {
  local file=$workspace/experiments/$2.toml key
  cp "workspaces/demo/experiments/$1.toml" "$file"
  shift 2
  for setting in "$@"; do
    key=${setting%%=*}
    case $key in
      dataset) sed -i "s|^dataset = .*|dataset = \"${setting#*=}\"|" "$file" ;;
      no-group-metrics) sed -i '/^gauc_field\|^group_fields/d' "$file" ;;
      *)
        sed -i "/^$key = /d" "$file"
        sed -i "/^\[train\]/a $key = ${setting#*=}" "$file"
        ;;
    esac
  done
  echo "$file"
}

# train FILE DEVICE: one run, its JSON report in $scratch/NAME.DEVICE.json; 0 if it finished.
train() {
  local name report start
  name=$(basename "$1" .toml)
  report=$scratch/$name.${2//:/}.json
  start=$SECONDS
  if "$APG" run "$1" --device "$2" --seed 1 --json >"$report" 2>"$report.log"; then
    printf '  %-28s %-7s %4ds\n' "$name" "$2" $((SECONDS - start))
    return 0
  fi
  printf '  %-28s %-7s FAILED after %ds:\n' "$name" "$2" $((SECONDS - start))
  # The run's error is in its JSON report; an error before the run, on stderr.
  { sed -n 's/^  "error": "\(.*\)",$/\1/p' "$report"; tail -3 "$report.log"; } | sed 's/^/    /'
  return 1
}

echo
echo "== accuracy: $device against cpu, seed 1$([ "$steps" != 0 ] && echo ", $steps steps")"
settings=()
[ "$steps" != 0 ] && settings+=("max_steps=$steps")
for name in $experiments; do
  file=$(experiment "$name" "$name" "${settings[@]}")
  train "$file" "$device" || true
  [ "$device" = cpu ] || train "$file" cpu || true
done

echo
echo "== throughput on $device: $speed_rows synthetic rows, $speed_steps steps per run"
sed "s/^rows = .*/rows = $speed_rows/; 0,/^name = .*/s//name = \"gpu-check-synthetic\"/" \
  datasets/synthetic-multidomain.toml >"$workspace/speed-data.toml"
for name in $experiments; do
  for batch in $batches; do
    file=$(experiment "$name" "speed-$name-b$batch" dataset=../speed-data.toml no-group-metrics \
      "batch_size=$batch" "max_steps=$speed_steps" epochs=1 patience=0)
    train "$file" "$device" || true
  done
done

mkdir -p "$out/runs"
cp "$scratch"/*.json* "$out/"
(cd "$workspace/runs" && tar --exclude='*.safetensors' -cf - .) | (cd "$out/runs" && tar -xf -)
echo
if ! command -v python3 >/dev/null; then
  echo "(no python3 here for the comparison tables: the runs as apg-bench lists them)"
  "$APG" --workspace "$workspace" runs list
  exit 0
fi
python3 - "$scratch" "$device" "$experiments" "$batches" <<'EOF'
import json, os, statistics, sys

scratch, device, experiments, batches = sys.argv[1:]
dev = device.replace(":", "")

def report(name, dev):
    try:
        with open(f"{scratch}/{name}.{dev}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def metrics(run):
    with open(os.path.join(run["folder"], "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]

def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)

print(f"{'accuracy (test)':<16} {'AUC ' + device:>13} {'AUC cpu':>9} {'diff':>9}   {'logloss ' + device:>17} {'logloss cpu':>11} {'diff':>9}")
for name in experiments.split():
    a, c = report(name, dev), report(name, "cpu")
    row = [name]
    for key in ("auc", "logloss"):
        x = (a or {}).get("summary") and (a["summary"].get("test") or {}).get(key)
        y = (c or {}).get("summary") and (c["summary"].get("test") or {}).get(key)
        d = None if x is None or y is None else x - y
        row += [fmt(x, ".4f"), fmt(y, ".4f"), fmt(d, "+.4f")]
    print(f"{row[0]:<16} {row[1]:>13} {row[2]:>9} {row[3]:>9}   {row[4]:>17} {row[5]:>11} {row[6]:>9}")

print()
print(f"{'throughput ' + device:<34} {'train/s (run)':>14} {'train/s (steady)':>17} {'score/s':>11}")
for name in experiments.split():
    for batch in batches.split():
        run = report(f"speed-{name}-b{batch}", dev)
        label = f"{name}, batch {batch}"
        if not run or not run.get("summary"):
            print(f"{label:<34} {'failed':>14}")
            continue
        records = metrics(run)
        train = [r for r in records if r.get("kind") == "train"]
        evals = [r for r in records if r.get("kind") == "eval"]
        # Steady: the training windows after the first, which holds the warm-up
        # (kernel loading, NVRTC, cuBLAS handles).
        steady = statistics.median(r["samples_per_s"] for r in train[1:]) if len(train) > 1 else None
        # Scoring: the test pass (batch 8192, metrics included), timed from the
        # validation record before it.
        valid = [r for r in evals if r["metrics"]["split"] == "valid"]
        test = [r for r in evals if r["metrics"]["split"] == "test"]
        score = None
        if valid and test and test[-1]["elapsed_s"] > valid[-1]["elapsed_s"]:
            score = test[-1]["metrics"]["rows"] / (test[-1]["elapsed_s"] - valid[-1]["elapsed_s"])
        print(f"{label:<34} {run['summary']['samples_per_s']:>14,.0f} {fmt(steady, ',.0f'):>17} {fmt(score, ',.0f'):>11}")
print("train/s (run): the run summary's samples/s, warm-up included; score/s: the test pass,")
print("batch 8192 (the trainer's scoring batch), AUC and logloss included.")
EOF
echo "report and run folders (without model weights): ${out#"$repo"/}/"
