#!/usr/bin/env bash
# A slice of sweeps/paper-dft.yaml on real malonaldehyde data, prepared for one short GPU lease
# (benchmarks/README.md): standard vs ASTEROID vs no_bat, 3 seeds, EGNN 5 x 128, trials sharing
# the GPU at once; then `harness bench models` on CUDA and CPU and the CUDA-relevant tests.
#
# Here first: benchmarks/gpu-slice-prepare.sh (data and wheels into .gpu-slice/, carried).
# On the device: SIZE=full bash benchmarks/gpu-paper-slice.sh   (writes under $OUT)
# On a CPU, in seconds: SIZE=smoke RUN_TESTS=0 DATA=folder OUT=folder benchmarks/gpu-paper-slice.sh
#
# At most 8 files come back from $OUT: summary.json, summary.md, bench-models-cuda.json,
# bench-models-cpu.json, pytest.log, slice.log, trials.tar.gz (each trial's results.json,
# config and log; no checkpoints).
set -uo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-full}
OUT=${OUT:-results/gpu-slice-$SIZE}
CARRY=${CARRY:-.gpu-slice}
DATA=${DATA:-$CARRY/data}
PYTHON=${PYTHON:-python3}
WORK=${WORK:-$(mktemp -d)}
SEEDS=${SEEDS:-}   # e.g. "0 1": fewer trials than the size's 3 seeds
RUN_BENCH=${RUN_BENCH:-1}
RUN_TESTS=${RUN_TESTS:-1}
TEST_TIMEOUT=${TEST_TIMEOUT:-90}
if [ "$SIZE" = full ]; then DEADLINE=${DEADLINE:-250}; else DEADLINE=${DEADLINE:-120}; fi
mkdir -p "$OUT" "$WORK"
LOG="$OUT/slice.log"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
say() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$LOG"; }

# The device image lacks pydantic and ase (and has an older typing-extensions): the wheels.
if ! "$PYTHON" -c "import pydantic, ase" 2>/dev/null; then
  say "installing the carried wheels"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" "$CARRY"/wheels/*.whl >>"$LOG" 2>&1 || { say "wheels failed"; exit 3; }
  # first: the carried typing-extensions must win over the image's older one
  export PYTHONPATH="$WORK/site:$PYTHONPATH"
fi
say "environment"
"$PYTHON" - >>"$LOG" 2>&1 <<'EOF'
import platform, torch, torch_geometric, pydantic, ase
print("python", platform.python_version(), "torch", torch.__version__, "pyg",
      torch_geometric.__version__, "pydantic", pydantic.__version__, "ase", ase.__version__)
print("cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
EOF
command -v nvidia-smi >/dev/null && nvidia-smi >>"$LOG" 2>&1

say "trials: size $SIZE, deadline ${DEADLINE}s"
monitor=""
if command -v nvidia-smi >/dev/null; then  # GPU load every 10 s: how well the trials share it
  nvidia-smi dmon -s um -d 10 >"$WORK/dmon.log" 2>&1 &
  monitor=$!
fi
"$PYTHON" -m harness.bench.gpu_slice --size "$SIZE" --data "$DATA" --runs "$WORK/runs" \
  --out "$OUT" --deadline "$DEADLINE" ${SEEDS:+--seeds $SEEDS} 2>&1 | tee -a "$LOG"
slice_status=${PIPESTATUS[0]}
if [ -n "$monitor" ]; then kill "$monitor"; cat "$WORK/dmon.log" >>"$LOG"; fi
tar -czf "$OUT/trials.tar.gz" -C "$WORK/runs" --exclude=checkpoints --exclude=model.pt . \
  2>>"$LOG"
say "trials done (exit status $slice_status)"

if [ "$RUN_BENCH" = 1 ]; then
  if [ "$SIZE" = full ]; then
    say "bench models: cuda"
    "$PYTHON" -m harness.cli bench models --device cuda --json "$OUT/bench-models-cuda.json" \
      2>&1 | tee -a "$LOG"
    say "bench models: cpu, egnn"
    "$PYTHON" -m harness.cli bench models --device cpu --models egnn \
      --json "$OUT/bench-models-cpu.json" 2>&1 | tee -a "$LOG"
  else
    say "bench models: cpu, egnn, quick"
    "$PYTHON" -m harness.cli bench models --device cpu --quick --threads 1 --models egnn \
      --molecules ethanol --json "$OUT/bench-models-cpu.json" 2>&1 | tee -a "$LOG"
  fi
  "$PYTHON" -m harness.bench.gpu_slice_summary --out "$OUT" 2>&1 | tee -a "$LOG"
fi

if [ "$RUN_TESTS" = 1 ]; then
  # `make test` would build a venv from the network. First the tests that need CUDA (seconds),
  # then the suites whose imports the device has (no mlflow, optuna or PostgreSQL there);
  # -rs lists what is still skipped, and why.
  say "CUDA tests"
  "$PYTHON" -m pytest -q -rs -p no:cacheprovider tests/unit/models/test_physics.py \
    tests/unit/bench/test_gpu_slice.py -k "cuda" >"$OUT/pytest.log" 2>&1
  say "CUDA tests exit status $?"
  tail -n 4 "$OUT/pytest.log" | tee -a "$LOG"
  say "suites (at most ${TEST_TIMEOUT}s)"
  parallel=$("$PYTHON" -c "import xdist" 2>/dev/null && echo "-n 8")
  timeout "$TEST_TIMEOUT" "$PYTHON" -m pytest -q -rs -p no:cacheprovider $parallel \
    --continue-on-collection-errors tests/unit/models tests/unit/train tests/unit/bench \
    tests/unit/data tests/integration/test_train_end_to_end.py >>"$OUT/pytest.log" 2>&1
  say "suites exit status $? (124: timed out); tail:"
  tail -n 25 "$OUT/pytest.log" | tee -a "$LOG"
fi
say "done"
exit "$slice_status"
