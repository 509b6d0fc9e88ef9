#!/usr/bin/env bash
# The route that worked in session 13 ("grow from scratch, then pool it"), every leg in one device command,
# for the targets still missing their entries (training/README.md, "On a GPU session"):
#
#   leg 1  grow from random init, the article's schedule (2e-3, 2e-4 from 2,000)       $OUT/route/grow
#   leg 2  persist, fine-tuning each leg-1 model at 5e-5                              $OUT/route/persist
#   leg 3  grow (2e-4, 5e-5 from 600) and regen (5e-5) fine-tunes of each leg-2 model  $OUT/route/final
#          (+ regen of the targets in REGEN_FROM_ZOO, from their registered persist entries in weights/)
#
#     bash training/gpu_route.sh [WORK] [TARGET...]     # default: $OUT; ladybug pretzel butterfly
#     PACK="$OUT" bash training/gpu_route.sh /tmp/work   # on the device: each leg also packed as
#                                                         # $OUT/<leg>.tgz (the device returns ≤ 8 files)
#
# The route stops cleanly (state saved) MINUTES after it starts (default 9, inside one device command's 10);
# rerunning the same command continues where it stopped (each leg is a train-zoo folder: a finished leg is
# skipped, and a leg starts only once the leg before it has finished every entry). Each leg keeps a snapshot every CHUNK iterations (~100 KB each) in <leg>/<name>/snapshots/,
# so the best one can be chosen afterwards on the CPU (`nca-zoo eval FILE --originals`) and registered with
# `python scripts/register_entry.py <leg>/<name> --snapshot FILE ...`. The budgets are environment
# variables (LEG1_ITERS, LEG2_ITERS, GROW_ITERS, REGEN_ITERS, CHUNK; EXTRA_SETS adds `--set` items to every
# leg), so the script is checked on the CPU with tiny sizes first:
#
#     LEG1_ITERS=2 LEG2_ITERS=2 GROW_ITERS=2 REGEN_ITERS=2 CHUNK=1 \
#       EXTRA_SETS="batch_size=2 min_steps=2 max_steps=3 target_size=8 padding=4 persist.pool_size=8 \
#         regen.pool_size=8 regen.damage_count=1" \
#       bash training/gpu_route.sh /tmp/route ladybug
set -eu
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:?give OUT or set \$OUT}}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(ladybug pretzel butterfly)
REGEN_FROM_ZOO="${REGEN_FROM_ZOO-eye}"
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
# float32-exact products (TF32 is the GPU default): the models are evaluated and shipped at float32
export JAX_DEFAULT_MATMUL_PRECISION="${JAX_DEFAULT_MATMUL_PRECISION:-highest}"
ROUTE="$OUT_DIR/route"
SETS=()
INITS=()
for item in ${EXTRA_SETS:-}; do SETS+=("--set=$item"); done
if [ -n "${PACK:-}" ]; then  # also when the route stops early: what finished comes back
  trap 'for leg in grow persist final; do [ -d "$ROUTE/$leg" ] && tar czf "$PACK/$leg.tgz" -C "$ROUTE" "$leg" "$leg.log"; done' EXIT
fi

END=$(( $(date +%s) + ${MINUTES:-9} * 60 ))

zoo() {  # zoo LEG_FOLDER N ARGS...: one train-zoo call of N entries, its log beside it; stops the route
  local leg=$1 count=$2 status=0 minutes  # unless all N finished (a failed or cut-short leg: rerun)
  shift 2
  minutes=$(awk "BEGIN { printf \"%.2f\", ($END - $(date +%s)) / 60 }")
  mkdir -p "$ROUTE"
  echo "== $(basename "$leg"): $count entries, $minutes minutes left ($(date -u +%H:%M:%S))"
  if awk "BEGIN { exit !($minutes < 0.5) }"; then echo "out of time: rerun to continue"; exit 3; fi
  "$PY" scripts/train_zoo.py "$@" --out "$leg" --pools drop --chunk-iters "${CHUNK:-100}" --no-progress \
    --max-minutes "$minutes" "${SETS[@]}" >>"$leg.log" 2>&1 || status=$?
  grep -E '^\{|finished at|error|note' "$leg.log" | tail -n 20
  [ "$status" -eq 0 ] || exit "$status"
  local done
  done=$(find "$leg" -mindepth 2 -maxdepth 2 -name model.safetensors | wc -l)
  [ "$done" -ge "$count" ] || { echo "$(basename "$leg"): $done of $count finished: rerun to continue"; exit 3; }
}

entries() {  # entries EXPERIMENT...: TARGET:EXPERIMENT for every route target
  local target experiment
  for target in "${TARGETS[@]}"; do for experiment in "$@"; do echo "$target:$experiment"; done; done
}

# word splitting of `entries` is intended below
N=${#TARGETS[@]}
# shellcheck disable=SC2046
zoo "$ROUTE/grow" "$N" $(entries grow) --set "grow.iterations=${LEG1_ITERS:-4000}"
# shellcheck disable=SC2046
zoo "$ROUTE/persist" "$N" $(entries persist) --init "$ROUTE/grow" --init-from grow \
  --set "persist.iterations=${LEG2_ITERS:-2500}" --set persist.learning_rate=5e-5 --set persist.decayed_learning_rate=5e-5
FROM_ZOO=()
for target in $REGEN_FROM_ZOO; do
  FROM_ZOO+=("$target:regen")
  INITS+=(--init "weights/$target-persist-16.safetensors")
done
# shellcheck disable=SC2046
zoo "$ROUTE/final" $(( 2 * N + ${#FROM_ZOO[@]} )) $(entries grow regen) "${FROM_ZOO[@]}" "${INITS[@]}" \
  --init "$ROUTE/persist" --init-from persist \
  --set "grow.iterations=${GROW_ITERS:-1200}" --set grow.learning_rate=2e-4 --set grow.decayed_learning_rate=5e-5 \
  --set grow.decay_at=600 \
  --set "regen.iterations=${REGEN_ITERS:-2000}" --set regen.learning_rate=5e-5 --set regen.decayed_learning_rate=5e-5
echo "== done ($(date -u +%H:%M:%S)); finished runs: $(ls -d "$ROUTE"/*/*/model.safetensors 2>/dev/null | wc -l)"
