#!/usr/bin/env bash
# Zoo training on a GPU session (training/README.md, "On a GPU session"): every line of the PLAN file
# (default training/gpu_plan.txt) is one train-zoo program, and all of them run at once on the one GPU,
# so recipe variants — which one program cannot mix within an experiment — share the device's minutes:
#
#     TAG   ENTRY[,ENTRY...]   [train-zoo arguments: --set KEY=VALUE, --init DIR, ...]
#
# Each program trains ITERS iterations (default 8,000; a line's own `--set iterations=N` wins), keeps a
# snapshot every CHUNK iterations (default 100) and stops cleanly after MINUTES (default 8). Judge the
# runs on the CPU afterwards by windows of snapshots (`python scripts/watch_run.py WORK/TAG/zoo/NAME
# --every 100 --average 5 --means-only --once`, then `--batch 32`) and register one with
# `python scripts/register_entry.py RUN --snapshot FILE...`.
#
#     PACK="$OUT" bash training/gpu_train.sh /tmp/work   # on the device; $OUT/<TAG>.tgz per line (its run
#                                                       # folders, state/ and zoo.log), also when stopped
#                                                       # early. Rerun the same command on the warm machine
#                                                       # to continue; on a fresh one, copy each entry's last
#                                                       # snapshots/NNNNNN.safetensors to a carried folder as
#                                                       # <name>.safetensors and add --init FOLDER to its line
#
# What comes back is at most 8 files of 16 MiB: a snapshot is ~100 KB, so keep lines × entries × snapshots
# within that (4 entries on a line: CHUNK=200).
#
# Measured on one H200 (session 30): one program of 3 regen entries took 0.060 s per iteration (dense
# path, float32), so 8,000 iterations need ~8.5 minutes alone; session 31 ran 4 programs at once.
#
# Check a plan on the CPU with tiny sizes first:
#
#     ITERS=3 CHUNK=1 EXTRA_SETS="batch_size=4 min_steps=2 max_steps=3 target_size=8 padding=4 \
#       persist.pool_size=8 regen.pool_size=8 regen.damage_count=1" PACK=/tmp/pack bash training/gpu_train.sh /tmp/w
set -eu
cd "$(dirname "$0")/.."
WORK="${1:-${OUT:?give a work folder or set \$OUT}}"
PLAN="${PLAN:-training/gpu_plan.txt}"
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
# float32-exact products (TF32 is the GPU default): the models are evaluated and shipped at float32
export JAX_DEFAULT_MATMUL_PRECISION="${JAX_DEFAULT_MATMUL_PRECISION:-highest}"
EXTRA=()
for item in ${EXTRA_SETS:-}; do EXTRA+=("--set=$item"); done

tags=()
while read -r tag entries args; do
  case "$tag" in "" | "#"*) continue ;; esac
  tags+=("$tag")
done <"$PLAN"
[ ${#tags[@]} -gt 0 ] || { echo "no programs in $PLAN" >&2; exit 2; }
if [ -n "${PACK:-}" ]; then  # also when stopped early: what was trained comes back
  mkdir -p "$PACK"
  trap 'for tag in "${tags[@]}"; do [ -d "$WORK/$tag" ] && tar czf "$PACK/$tag.tgz" -C "$WORK" "$tag"; done' EXIT
fi

pids=()
while read -r tag entries args; do
  case "$tag" in "" | "#"*) continue ;; esac
  mkdir -p "$WORK/$tag"
  # shellcheck disable=SC2086  # a line's arguments are words
  "$PY" scripts/train_zoo.py ${entries//,/ } --out "$WORK/$tag/zoo" --pools drop --chunk-iters "${CHUNK:-100}" \
    --max-minutes "${MINUTES:-8}" --no-progress --set "iterations=${ITERS:-8000}" $args "${EXTRA[@]}" \
    >>"$WORK/$tag/zoo.log" 2>&1 &
  pids+=($!)
done <"$PLAN"

status=0
for i in "${!pids[@]}"; do
  code=0
  wait "${pids[$i]}" || code=$?
  tag="${tags[$i]}"
  finished=$(find "$WORK/$tag/zoo" -mindepth 2 -maxdepth 2 -name model.safetensors 2>/dev/null | wc -l)
  echo "== $tag: exit $code, $finished finished ($(date -u +%H:%M:%S))"
  grep -E 'finished at|error|note|iterations to go|starts from' "$WORK/$tag/zoo.log" | tail -n 6
  [ "$code" = 0 ] || status=$code
done
exit "$status"
