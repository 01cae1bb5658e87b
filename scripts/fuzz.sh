#!/usr/bin/env bash
# The long fuzz run (docs/fuzzing.md): mutated experiment files, dataset descriptors,
# CSV and libFM bytes, cache files, run filters and run folders, fed to the entry points
# users reach, out of process in chunks so that aborts and hangs are counted too.
# Prints the counts per target (inputs, rejected, accepted, panics, aborts, hangs) and
# exits non-zero when any case panicked, aborted or hung; crashing inputs are saved in
# target/fuzz-crashes/.
#
#   scripts/fuzz.sh                         # 100,000 inputs over all targets
#   INPUTS=5000 TARGETS=filter,cache scripts/fuzz.sh
#   FIRST=100000 scripts/fuzz.sh            # other seeds than the last run's
#   CHUNK=500 TIMEOUT=30 scripts/fuzz.sh    # cases per child process; seconds without progress = hang
#
# Runs under `nice`: the build and the run leave the machine's other users their share.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
INPUTS=${INPUTS:-100000}
CHUNK=${CHUNK:-500}
TIMEOUT=${TIMEOUT:-30}
FIRST=${FIRST:-0}
args=(long --inputs "$INPUTS" --chunk "$CHUNK" --timeout "$TIMEOUT" --first "$FIRST")
[ -n "${TARGETS:-}" ] && args+=(--targets "$TARGETS")
nice -n 10 cargo build --profile fuzz --example fuzz --quiet
exec nice -n 10 "$ROOT/target/fuzz/examples/fuzz" "${args[@]}"
