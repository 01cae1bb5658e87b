#!/usr/bin/env bash
# Drives the real apg-bench binary in tmux like a person would: launch, visit every
# panel, train a short experiment and watch the curves move, edit the experiment file
# from outside and see the reload, design a change in the Conditions panel while the
# file changes on disk and answer the question w asks (take theirs, then keep mine),
# compare two runs, quit, and check that the terminal is restored; then, at 80x24,
# compare two groups of three seeds and read the noise verdict, open a run in the Inspect
# panel, and scroll a history
# of 50 runs to its end and back. Usage: tests/tui_e2e.sh PATH/TO/apg-bench
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
session="apg-e2e-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

# A small workspace: the TUI fixture's dataset and one quick experiment.
mkdir -p "$work/ws/experiments"
cp "$here/fixtures/tui/workspace/data.toml" "$work/ws/data.toml"
sed -i 's/rows = 3000/rows = 20000/' "$work/ws/data.toml"
printf 'name = "e2e"\ndataset = "data.toml"\n' > "$work/ws/workspace.toml"
cat > "$work/ws/experiments/quick.toml" <<'TOML'
# A quick experiment for the end-to-end test.
dataset = "../data.toml"
[model]
hidden = [32, 16]
[apg]
variant = "v5"
rank = [8, 4]
[apg.condition]
mode = "group"
fields = ["domain"]
[train]
epochs = 1000
batch_size = 256
patience = 0
[metrics]
group_fields = ["user_activity"]
TOML

screen() { tmux capture-pane -t "$session" -p; }
fail() { echo "FAILED: $1"; echo "--- screen ---"; screen; exit 1; }
# Waits up to $2 seconds for the screen to show $1.
wait_for() {
  for _ in $(seq 1 $(( ${2:-10} * 10 ))); do
    if screen | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  fail "did not see '$1'"
}

tmux new-session -d -s "$session" -x 120 -y 34 "cd '$work' && stty -a > before.txt; '$bin' --workspace ws; echo \"EXIT \$?\"; stty -a > after.txt; sleep 600"
wait_for "Dataset" 20
wait_for "Bayes-optimal test AUC"
echo "Data panel ok"
tmux send-keys -t "$session" 2
wait_for "Condition fields of quick"
echo "Conditions panel ok"
tmux send-keys -t "$session" 4
wait_for "Runs: 0 of 0"
echo "Runs panel ok (empty)"
tmux send-keys -t "$session" 3
wait_for "Experiments"
tmux send-keys -t "$session" s
wait_for "training" 20
first=$(screen | grep -o '[0-9]*/[0-9]* steps' | head -1)
sleep 1.5
second=$(screen | grep -o '[0-9]*/[0-9]* steps' | head -1)
[ "$first" != "$second" ] || fail "the progress did not move ($first)"
wait_for "valid at step" 20
echo "Train panel ok: $first -> $second, validation shown"
# Edit the experiment from outside while it trains: vim-style (write a temp, rename).
sed 's/^batch_size = 256/batch_size = 512/' "$work/ws/experiments/quick.toml" > "$work/ws/experiments/quick.toml.tmp"
mv "$work/ws/experiments/quick.toml.tmp" "$work/ws/experiments/quick.toml"
wait_for "quick reloaded: the change applies to the next run" 5
echo "Hot reload ok"
# An invalid edit is reported with its line and does not stop anything.
cp "$work/ws/experiments/quick.toml" "$work/ws/experiments/quick.good"
printf 'dataset = "../data.toml"\n[model]\nhiden = [1]\n' > "$work/ws/experiments/quick.toml.tmp"
mv "$work/ws/experiments/quick.toml.tmp" "$work/ws/experiments/quick.toml"
wait_for "quick.toml:3:1" 5
echo "Invalid edit reported"
tmux send-keys -t "$session" x
wait_for "run stopped" 20
# s refuses the file while it has an error (it would train the last good version).
good="$work/ws/experiments/quick.good"
tmux send-keys -t "$session" s
wait_for "has an error: fix it first" 5
# Fixed, a second run starts; stopped quickly too.
mv "$good" "$work/ws/experiments/quick.toml"
wait_for "quick reloaded" 5
tmux send-keys -t "$session" s
wait_for "quick  training" 20
sleep 1
tmux send-keys -t "$session" x
sleep 1
wait_for "run stopped" 20
# An unsaved design and an outside edit of the same file: the panel says so, and w asks
# which to keep. First t (take theirs): the file stays as the outside edit left it.
exp="$work/ws/experiments/quick.toml"
# Sets rank (and batch_size) in the file as an editor would: write a copy, rename it.
outside_edit() {
  sed -e "s/^rank = .*/rank = [$1]/" -e "s/^batch_size = .*/batch_size = $2/" "$exp" > "$exp.tmp"
  mv "$exp.tmp" "$exp"
}
tmux send-keys -t "$session" 2
wait_for "Condition fields of quick"
tmux send-keys -t "$session" v v
wait_for "unsaved changes: w writes the experiment file" 5
outside_edit "4, 2" 512
wait_for "the file changed on disk meanwhile" 5
theirs=$(cat "$exp")
tmux send-keys -t "$session" w
wait_for "changed on disk since the design" 5
wait_for 'apg.variant: mine "v1", theirs "v5"'
wait_for "apg.rank: mine [8, 4], theirs [4, 2]"
tmux send-keys -t "$session" t
wait_for "took the version on disk" 5
[ "$(cat "$exp")" = "$theirs" ] || fail "t (take theirs) changed the file: $(cat "$exp")"
echo "Conflict answered t: the file is theirs"
# Then o (overwrite with mine): my [apg] keys are written (variant v1, rank [4, 2]),
# their other keys stay (batch_size 128), and so do the file's comments.
tmux send-keys -t "$session" v v
wait_for "unsaved changes: w writes the experiment file" 5
outside_edit "8, 4" 128
wait_for "the file changed on disk meanwhile" 5
tmux send-keys -t "$session" w
wait_for "changed on disk since the design" 5
tmux send-keys -t "$session" o
wait_for "wrote " 5
grep -qx 'variant = "v1"' "$exp" || fail "o did not write my variant: $(cat "$exp")"
grep -qx 'rank = \[4, 2\]' "$exp" || fail "o did not write my rank: $(cat "$exp")"
grep -qx 'batch_size = 128' "$exp" || fail "o lost their batch_size: $(cat "$exp")"
grep -qx '# A quick experiment for the end-to-end test.' "$exp" || fail "o lost the comment: $(cat "$exp")"
echo "Conflict answered o: mine written over theirs"
tmux send-keys -t "$session" 4
wait_for "Runs: 2 of 2" 10
# The cursor stays on the run it was on when the second one arrived: g goes to the top.
tmux send-keys -t "$session" g ' ' j ' ' c
wait_for "Comparison" 5
echo "Compare ok"
tmux send-keys -t "$session" '?'
wait_for "Keys: Runs panel"
tmux send-keys -t "$session" Escape
sleep 0.3
tmux send-keys -t "$session" q
wait_for "EXIT 0" 10
sleep 0.3
grep -q -- "-icanon" "$work/before.txt" && fail "the test terminal started in raw mode"
grep -q -- " icanon" "$work/after.txt" || fail "the terminal was left in raw mode"
grep -q -- " echo" "$work/after.txt" || fail "echo was left off"
echo "Quit ok, terminal restored"

# Two experiments of three seeds each, recorded by the CLI, compared as groups at 80x24.
tmux kill-session -t "$session"
mkdir -p "$work/ws2/experiments"
cp "$work/ws/data.toml" "$work/ws2/data.toml"
sed -i 's/rows = 20000/rows = 3000/' "$work/ws2/data.toml"
printf 'name = "e2e-groups"\ndataset = "data.toml"\n' > "$work/ws2/workspace.toml"
for variant in static v5; do
  cat > "$work/ws2/experiments/$variant.toml" <<TOML
dataset = "../data.toml"
[model]
hidden = [16]
[apg]
variant = "$variant"
rank = [4]
[apg.condition]
mode = "group"
fields = ["domain"]
[train]
epochs = 1
batch_size = 256
[metrics]
group_fields = ["user_activity"]
TOML
  "$bin" run "$work/ws2/experiments/$variant.toml" --seeds 3 > "$work/run-$variant.txt" 2>&1 \
    || { cat "$work/run-$variant.txt"; echo "FAILED: apg-bench run $variant --seeds 3"; exit 1; }
done
tmux new-session -d -s "$session" -x 80 -y 24 "cd '$work' && '$bin' --workspace ws2; echo \"EXIT \$?\"; sleep 600"
wait_for "Dataset" 20
tmux send-keys -t "$session" 4
wait_for "Runs: 6 of 6" 10
# Newest first: v5 s3, s2, s1, then static s3...; one run of each group is enough.
tmux send-keys -t "$session" ' ' j j j ' ' c
wait_for "Comparison of 2 groups of seeds" 5
wait_for "static (3 seeds)"
wait_for "v5 (3 seeds)"
verdict=$(screen | grep -oE "(within|beyond) noise" | head -1)
[ -n "$verdict" ] || fail "no noise verdict on screen"
echo "Compare groups at 80x24 ok: first verdict on screen: $verdict"
tmux send-keys -t "$session" G
wait_for "Noise: a difference of means" 5
tmux send-keys -t "$session" Escape
wait_for "Runs: 6 of 6" 5
# The newest run (v5, group-wise on the domain) opened in the Inspect panel with i.
tmux send-keys -t "$session" g i
wait_for "PCA of S" 30
wait_for "Groups (domain), test split" 5
wait_for "cos S · w switches" 5
tmux send-keys -t "$session" w
wait_for "cos W (W = U S V)" 5
echo "Inspect panel opened from the Runs panel at 80x24: heatmap, projection, groups"
tmux send-keys -t "$session" 4
wait_for "Runs: 6 of 6" 5
tmux send-keys -t "$session" q
wait_for "EXIT 0" 10

# A history of 50 hand-made runs at 80x24: G and PgDn reach the oldest, g the newest.
tmux kill-session -t "$session"
mkdir -p "$work/ws3/experiments"
cp "$work/ws2/data.toml" "$work/ws3/data.toml"
printf 'name = "e2e-history"\ndataset = "data.toml"\n' > "$work/ws3/workspace.toml"
for i in $(seq 1 50); do
  n=$(printf '%02d' "$i")
  id="20260101-0000$n-hist-$n-s1"
  mkdir -p "$work/ws3/runs/$id"
  cat > "$work/ws3/runs/$id/run.toml" <<TOML
id = "$id"
experiment = "hist-$n"
experiment_path = "experiments/hist.toml"
status = "finished"
started = "2026-01-01T00:00:${n}Z"
ended = "2026-01-01T01:00:00Z"
host = "h"
pid = 1
device = "cpu"
seed = 1
version = "0.1.0"
config_hash = "h$n"
dataset_fingerprint = "f"
parent = ""
TOML
done
tmux new-session -d -s "$session" -x 80 -y 24 "cd '$work' && '$bin' --workspace ws3; echo \"EXIT \$?\"; sleep 600"
wait_for "Dataset" 20
tmux send-keys -t "$session" 4
wait_for "Runs: 50 of 50" 10
# Newest first: hist-50 on top, hist-01 below the screen.
wait_for "hist-50"
screen | grep -qF "hist-01" && fail "all 50 runs fit at 80x24: nothing to scroll"
tmux send-keys -t "$session" G
wait_for "hist-01" 5
screen | grep -qF "hist-50" && fail "G left the newest run on screen"
tmux send-keys -t "$session" g
wait_for "hist-50" 5
screen | grep -qF "hist-01" && fail "g left the oldest run on screen"
for _ in $(seq 1 25); do
  screen | grep -qF "hist-01" && break
  tmux send-keys -t "$session" PageDown
  sleep 0.2
done
wait_for "hist-01" 5
echo "History of 50 runs scrolls: G and PgDn reach the oldest, g the newest"
tmux send-keys -t "$session" q
wait_for "EXIT 0" 10

# A study at 80x24: under the experiments in the Train panel, s queues and trains its
# runs (two variants, two seeds), the list counts them done, c opens its report.
tmux kill-session -t "$session"
mkdir -p "$work/ws4/experiments" "$work/ws4/studies"
cp "$work/ws2/data.toml" "$work/ws4/data.toml"
cp "$work/ws2/experiments/v5.toml" "$work/ws4/experiments/v5.toml"
printf 'name = "e2e-study"\ndataset = "data.toml"\n' > "$work/ws4/workspace.toml"
printf 'base = "v5"\nseeds = 2\nbaseline = "static"\n[variants.static]\n"apg.variant" = "static"\n[variants.v5]\n"apg.variant" = "v5"\n' \
  > "$work/ws4/studies/pair.toml"
tmux new-session -d -s "$session" -x 80 -y 24 "cd '$work' && '$bin' --workspace ws4; echo \"EXIT \$?\"; sleep 600"
wait_for "Dataset" 20
tmux send-keys -t "$session" 3
wait_for "Studies (1)" 10
wait_for "0/4" 5
tmux send-keys -t "$session" j
wait_for "study pair: 0/4 done" 5
tmux send-keys -t "$session" s
# The runs take a second or two each: the list's count is what stays.
wait_for "4/4" 120
wait_for "study pair: 4/4 done" 5
tmux send-keys -t "$session" c
wait_for "Comparison of 2 groups of seeds" 10
wait_for "pair/static (2 seeds)"
wait_for "pair/v5 (2 seeds)"
echo "Study at 80x24: s trained its 4 runs, c opened its report"
tmux send-keys -t "$session" q
wait_for "EXIT 0" 10
echo "tui e2e: 1 passed, 0 failed"
