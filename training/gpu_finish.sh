#!/usr/bin/env bash
# The zoo's regen entries that do not yet heal as the issue asks, on a GPU, in one train-zoo program
# (training/README.md, "On a GPU session"), each by the zoo's regen recipe (the article's, with half of
# the damaged samples cut by a half-plane) from random init, 3 seeds per batch (pretzel, session 24),
# 2e-3 then 2e-4 from 2,000, ITERS iterations (default 8,000):
#
#   ladybug:regen     4 of 32 disc cuts make the entry fall apart; half cut 0.0146 (sessions 25–26:
#                     fine-tunes of the CPU lineage did not fix either)
#   smiley:regen      regrows a removed half without the right eye (0.0098 since session 27, from 0.0247:
#                     CPU fine-tunes brought back the face and mouth, never the eye)
#   gecko:regen       1 of 32 half cuts grows a second body
#
# Session 30 ran it (training/README.md, session 30): gecko and smiley came out better than the original
# on all four and were registered (smiley still without the eye after a half cut); ladybug healed halves
# but did not persist. Retarget ENTRIES/NAMES below before the next run.
#
# INIT=DIR_OR_FILE continues earlier runs instead (train-zoo --init: e.g. the $OUT/state of a previous
# chunk brought back here, or training/state).
#
# Every entry keeps a snapshot every CHUNK iterations; choose on the CPU afterwards, by the protocol, the
# best window of snapshots (`python scripts/watch_run.py RUN --every 100 --average 5 --means-only --once`,
# then with `--batch 32`) and register it (`python scripts/register_entry.py RUN --snapshot FILE...`).
#
#     PACK="$OUT" bash training/gpu_finish.sh /tmp/work   # on the device: stops cleanly after MINUTES
#                                                        # (default 9); each entry's run folder comes back
#                                                        # as $OUT/<name>.tgz, the resumable state as
#                                                        # $OUT/state.tgz; rerun on the warm machine to
#                                                        # continue, or on a fresh one with INIT=state
#                                                        # unpacked into a carried folder
#
# Measured (session 30, one H200): 0.060 s per iteration for the 3 entries together (dense path,
# float32), so 8,000 iterations take ~8.5 minutes: MINUTES=7 reached 6,700, a second call the rest.
#
# Checked on the CPU with tiny sizes first:
#
#     ITERS=3 CHUNK=1 EXTRA_SETS="batch_size=4 min_steps=2 max_steps=3 target_size=8 padding=4 \
#       persist.pool_size=8 regen.pool_size=8 regen.damage_count=1" PACK=/tmp/pack bash training/gpu_finish.sh /tmp/finish
set -eu
cd "$(dirname "$0")/.."
WORK="${1:-${OUT:?give a work folder or set \$OUT}}"
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
# float32-exact products (TF32 is the GPU default): the models are evaluated and shipped at float32
export JAX_DEFAULT_MATMUL_PRECISION="${JAX_DEFAULT_MATMUL_PRECISION:-highest}"
ENTRIES=(ladybug:regen smiley:regen gecko:regen)
NAMES=(ladybug-regen-16 smiley-regen-16 gecko-regen-16)
SETS=(--set regen.reseed_count=3)
for item in ${EXTRA_SETS:-}; do SETS+=("--set=$item"); done
if [ -n "${PACK:-}" ]; then  # also when the program stops early: what was trained comes back
  trap 'for name in "${NAMES[@]}"; do [ -d "$WORK/zoo/$name" ] && tar czf "$PACK/$name.tgz" -C "$WORK/zoo" "$name"; done; [ -d "$WORK/zoo/state" ] && tar czf "$PACK/state.tgz" -C "$WORK/zoo" state; cp "$WORK/zoo.log" "$PACK/" 2>/dev/null || true' EXIT
fi
mkdir -p "$WORK"
status=0
"$PY" scripts/train_zoo.py "${ENTRIES[@]}" --out "$WORK/zoo" ${INIT:+--init "$INIT"} --pools drop \
  --chunk-iters "${CHUNK:-100}" --max-minutes "${MINUTES:-9}" --no-progress --set "iterations=${ITERS:-8000}" \
  "${SETS[@]}" >>"$WORK/zoo.log" 2>&1 || status=$?
grep -E 'finished at|error|note|iterations to go' "$WORK/zoo.log" | tail -n 20
finished=$(find "$WORK/zoo" -mindepth 2 -maxdepth 2 -name model.safetensors | wc -l)
echo "== $finished of ${#ENTRIES[@]} finished ($(date -u +%H:%M:%S)); rerun the same command to continue"
exit "$status"
