#!/usr/bin/env bash
# One accelerator check, ≤ 8 minutes: golden parity on the device, the K = 1/10/30 training table
# (plain JAX, sparse, dense, TF32; the train-zoo program), inference at batch 8/256 and 4 × 512²,
# and a real train-zoo chunk (all 30 entries, fresh weights). Runs from a source checkout:
#
#     bash benchmarks/gpu_check.sh [RESULTS_DIR]      # default: $OUT, else benchmarks/results/gpu
#
# Needs Python with jax (+ CUDA or TPU plugin), flax, optax, orbax-checkpoint, safetensors, tqdm,
# pillow, pytest; nca-zoo need not be installed (PYTHONPATH=. finds the package and its weights/).
# Every part has its own time cap, so a slow part is cut short instead of eating the others' time;
# each part's output goes to RESULTS_DIR/<part>.log and the tables to RESULTS_DIR/summary.md.
set -u
cd "$(dirname "$0")/.."
RESULTS="${1:-${OUT:-benchmarks/results/gpu}}"
mkdir -p "$RESULTS"
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # peak-memory figures mean what was used, not reserved
SUMMARY="$RESULTS/summary.md"
START=$(date +%s)

part() {  # part NAME SECONDS COMMAND...: run with a time cap, log it, note how it ended
  local name=$1 cap=$2
  shift 2
  echo "== $name (cap ${cap}s, t=$(( $(date +%s) - START ))s)" | tee -a "$SUMMARY"
  timeout --signal=INT --kill-after=10 "$cap" "$@" >"$RESULTS/$name.log" 2>&1
  local rc=$?
  echo "   exit $rc after $(( $(date +%s) - START ))s total" | tee -a "$SUMMARY"
  return 0
}

table() {  # table LOG HEADER: the Markdown table of a part, or its progress lines if it was cut short
  if grep -q "^$2" "$1"; then sed -n "/^$2/,\$p" "$1"; else echo "(cut short; rows measured:)"; grep -E '^  ' "$1"; fi
}

{
  echo "# nca-zoo accelerator check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  "$PY" -c 'import sys, jax, flax, optax; d = jax.devices()[0]; print(f"python {sys.version.split()[0]}, jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}; {len(jax.devices())} × {d.device_kind} ({d.platform})")'
} >"$SUMMARY" 2>&1
cat "$SUMMARY"

# 1. Golden parity on the device at default settings (the distill-gecko cases skip without ../shared).
part golden 80 "$PY" -m pytest -q -p no:cacheprovider tests/test_golden.py \
  "tests/test_compat.py::test_fixed_perception_is_the_core_step" \
  "tests/test_model.py::test_sparse_equals_dense_forward_and_gradients" \
  "tests/test_many.py::test_training_gradients_are_the_same_on_both_paths"
tail -n 3 "$RESULTS/golden.log" >>"$SUMMARY"

# 2. Inference, M cell-updates/s (target: ≥ 3,000 at batch 256 on 72×72).
part infer 60 "$PY" benchmarks/bench_infer.py --shapes 8x72,256x72,4x512 --steps 96 --repeats 3
table "$RESULTS/infer.log" '| implementation' >>"$SUMMARY"

# 3. Training, K = 1 / 10 / 30 entries (regen, pool 1024): plain JAX vs sparse vs dense.
part train_k 150 "$PY" benchmarks/bench_many.py --entries 1,10,30 --paths sparse,dense --precisions highest \
  --pool-size 1024 --iterations 5 --no-zoo --budget-seconds 120
table "$RESULTS/train_k.log" '| program' >>"$SUMMARY"

# 4. K = 30: the train-zoo program (grow/persist/regen mix) and TF32, dense path.
part train_zoo_k30 75 "$PY" benchmarks/bench_many.py --entries 30 --paths dense --precisions highest,tf32 \
  --pool-size 1024 --iterations 5 --no-plain --budget-seconds 50
table "$RESULTS/train_zoo_k30.log" '| program' >>"$SUMMARY"

# 5. A real train-zoo chunk: all 30 entries from fresh weights, stopped cleanly after ~80 s.
part train_zoo_run 110 "$PY" -m nca_zoo.cli train-zoo all --out "$RESULTS/zoo" --pools drop \
  --max-minutes 1.35 --chunk-iters 50 --no-progress
grep -E '^\{"finished"|^\[ ' "$RESULTS/train_zoo_run.log" | tail -n 3 >>"$SUMMARY"

echo "== done in $(( $(date +%s) - START ))s" | tee -a "$SUMMARY"
cat "$SUMMARY"
