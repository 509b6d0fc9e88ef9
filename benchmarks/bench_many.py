"""Many zoo entries in one program: per-entry cost of a training iteration for K = 1 vs K = 4.

Entry k trains on its own target (gecko, butterfly, fish, …) from its own weights (the zoo entry,
else the Distill authors' ex3 model for that target, see subject.py) with a pool of its own grown
patterns; ``nca_zoo.train.many.train_step_many`` steps all K in one jitted, vmapped program.
The first row is the plain single-entry ``train_step`` for comparison: under vmap every entry runs
``max_steps`` steps and keeps its own ``n_steps`` (a select, not a branch), so K = 1 through the
vmapped program costs more than one entry alone. Compilation is excluded; each number is the
median over the timed iterations. Runs on whatever JAX's default device is (CPU here, a GPU when
present: that is where K > 1 is meant to pay).

    python benchmarks/bench_many.py            # regen preset steps (64–96), pool 256 per entry
    python benchmarks/bench_many.py --quick    # smoke run: 4–8 steps, pool 16, 2 timed iterations
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subject import load_subject

from nca_zoo.targets import EMOJI
from nca_zoo.train import many
from nca_zoo.train.recipe import preset
from nca_zoo.train.step import TrainState, init_state, train_step


def timed_iterations(step, state, iterations: int) -> tuple[float, TrainState]:
    state, out = step(state)  # compile + warm up
    jax.block_until_ready(out["loss"])
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        state, out = step(state)
        jax.block_until_ready(out["loss"])
        times.append(time.perf_counter() - t0)
    return statistics.median(times), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4–8 steps, pool 16, 2 timed iterations")
    parser.add_argument("--entries", default="1,4", help="comma-separated K values (default 1,4)")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per K")
    parser.add_argument("--pool-size", type=int, default=256, help="pool rows per entry")
    args = parser.parse_args()
    ks = [int(k) for k in args.entries.split(",")]
    names = list(EMOJI)
    if max(ks) > len(names):
        raise SystemExit(f"at most {len(names)} entries (one per zoo target)")
    if args.quick:
        tc = preset("regen", min_steps=4, max_steps=8, pool_size=16)
        iterations = 2
    else:
        tc = preset("regen", pool_size=args.pool_size)
        iterations = args.iterations

    subjects = [load_subject(name) for name in names[: max(ks)]]
    config = subjects[0].config
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, device {jax.devices()[0].device_kind}; regen preset, batch {tc.batch_size}, "
        f"{tc.grid_size}×{tc.grid_size}, steps {tc.min_steps}–{tc.max_steps}, pool {tc.pool_size} per entry",
        flush=True,
    )
    for s in subjects:
        print(f"#   {s.name}", flush=True)

    def entry_state(k: int) -> TrainState:
        s = subjects[k]
        state = init_state(config, tc, s.params)
        grown = s.states(tc.batch_size, tc.grid_size)
        return state._replace(pool=jnp.tile(grown, (tc.pool_size // tc.batch_size + 1, 1, 1, 1))[: tc.pool_size])

    rows = []
    single = entry_state(0)
    seconds, _ = timed_iterations(
        lambda st: train_step(st, subjects[0].target, model_config=config, train_config=tc), single, iterations
    )
    rows.append(("train_step, one entry", 1, seconds))
    print(f"  one entry (train_step): {seconds:.3f} s/iter", flush=True)
    for k in ks:
        states = many.stack([entry_state(i) for i in range(k)])
        targets = jnp.stack([s.target for s in subjects[:k]])
        seconds, _ = timed_iterations(
            lambda st, targets=targets: many.train_step_many(st, targets, model_config=config, train_config=tc),
            states,
            iterations,
        )
        rows.append((f"train_step_many, K = {k}", k, seconds))
        print(f"  K = {k}: {seconds:.3f} s/iter, {seconds / k:.3f} s per entry", flush=True)

    base = rows[0][2]
    print("\n| program | K | s/iteration (all entries) | s/iteration per entry | per-entry cost × one entry |")
    print("|---|---|---|---|---|")
    for name, k, seconds in rows:
        print(f"| {name} | {k} | {seconds:.3f} | {seconds / k:.3f} | {seconds / k / base:.2f} |")


if __name__ == "__main__":
    main()
