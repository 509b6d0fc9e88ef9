"""Many zoo entries in one program: time per training iteration for K entries, by step path and precision.

Rows (each on JAX's default device; CPU here, a GPU or TPU when present):

- ``plain JAX``: the baseline (``reference_jax.py``: pad + slice perception, dense MLP, no remat),
  K entries vmapped, ``max_steps`` steps every iteration, loss + grads + the same Adam. It is what
  the other rows are compared with (per entry-iteration, K = 1).
- ``train_step_many``: K entries of one recipe (default regen) vmapped by ``nca_zoo.train.many``,
  per ``--paths`` (sparse / dense; dense is rematerialised per step) and ``--precisions``.
- ``zoo``: ``nca_zoo.train.zoo_trainer.zoo_step``, the ``train-zoo`` program: K entries cycling
  through grow / persist / regen (three recipe groups, one merged rollout).

Every entry uses the zoo's gecko weights and a pool of its grown patterns (targets differ per
entry): timing, not training, so all entries do the same amount of work; the sparse path's cost
depends on the patterns, the dense one's does not. Each number is the median of ``--iterations``
timed iterations after one warm-up (compilation excluded; the warm-up time is printed). Under vmap
every entry runs ``max_steps`` steps (its own count is a mask), as in real zoo training.

    python benchmarks/bench_many.py                       # CPU: K = 1, 4; sparse and dense
    python benchmarks/bench_many.py --quick               # smoke run: 4–8 steps, pool 16, 2 iterations
    python benchmarks/bench_many.py --entries 1,10,30 --paths sparse,dense --precisions highest,tf32 \\
        --pool-size 1024 --budget-seconds 240             # the accelerator table (benchmarks/gpu_check.sh)
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_jax
from subject import load_subject

from nca_zoo.targets import EMOJI, grid_target
from nca_zoo.train import many, zoo_trainer
from nca_zoo.train.recipe import EXPERIMENTS, preset
from nca_zoo.train.step import init_state, make_optimizer, per_sample_loss


def timed(step: Callable, state, iterations: int) -> tuple[float, float]:
    """(median seconds per call, seconds of the first call incl. compilation); ``step(state) → state, out``."""
    t0 = time.perf_counter()
    state, out = step(state)
    jax.block_until_ready(out)
    first = time.perf_counter() - t0
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        state, out = step(state)
        jax.block_until_ready(out)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), first


def peak_memory() -> str:
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return f"{peak / 2**30:.1f} GiB" if peak else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4–8 steps, pool 16, 2 timed iterations")
    parser.add_argument("--entries", default="1,4", help="comma-separated K values (default 1,4)")
    parser.add_argument("--paths", default="sparse,dense", help="step paths for train_step_many rows")
    parser.add_argument("--precisions", default="highest", help="comma-separated, from highest,tf32,bf16")
    parser.add_argument("--experiment", default="regen", choices=EXPERIMENTS, help="recipe of the many rows")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per row")
    parser.add_argument("--pool-size", type=int, default=256, help="pool rows per entry")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain-JAX rows")
    parser.add_argument("--no-zoo", action="store_true", help="skip the mixed-experiment zoo rows")
    parser.add_argument("--budget-seconds", type=float, default=None, help="skip rows once this much time is used")
    args = parser.parse_args()
    t_start = time.monotonic()
    ks = [int(k) for k in args.entries.split(",")]
    paths = [p for p in args.paths.split(",") if p]
    precisions = [p for p in args.precisions.split(",") if p]
    steps = {"min_steps": 4, "max_steps": 8} if args.quick else {}
    pool = 16 if args.quick else args.pool_size
    iterations = 2 if args.quick else args.iterations
    recipes = {e: preset(e, **steps, **({"pool_size": pool} if e != "grow" else {})) for e in EXPERIMENTS}
    tc = recipes[args.experiment]

    subject = load_subject("gecko")
    config = subject.config
    grown = subject.states(tc.batch_size, tc.grid_size)
    names = list(EMOJI)
    targets_all = [jnp.asarray(grid_target(names[i % len(names)])) for i in range(max(ks))]
    dev = jax.devices()[0]
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, device {dev.device_kind} ({dev.platform}); weights: {subject.name}; "
        f"batch {tc.batch_size}, {tc.grid_size}×{tc.grid_size}, steps {tc.min_steps}–{tc.max_steps}, "
        f"pool {pool} per entry",
        flush=True,
    )

    def entry_state(tc_e):
        state = init_state(config, tc_e, subject.params)
        if not tc_e.pool_size:
            return state
        reps = tc_e.pool_size // tc_e.batch_size + 1
        return state._replace(pool=jnp.tile(grown, (reps, 1, 1, 1))[: tc_e.pool_size])

    rows: list[tuple[str, str, str, int, float | None, str]] = []

    def run(label: str, path: str, precision: str, k: int, make: Callable[[], tuple[Callable, object]]) -> None:
        if args.budget_seconds is not None and time.monotonic() - t_start > args.budget_seconds:
            rows.append((label, path, precision, k, None, "skipped (time budget)"))
            print(f"  {label} {path} {precision} K={k}: skipped (time budget)", flush=True)
            return
        try:
            step, state = make()
            seconds, first = timed(step, state, iterations)
        except Exception as err:  # out of memory on the device, most likely: reported, the table still prints
            traceback.print_exc(limit=1)
            rows.append((label, path, precision, k, None, f"failed: {type(err).__name__}: {str(err)[:80]}"))
            return
        note = f"first call {first:.1f} s; peak device memory {peak_memory()}"
        rows.append((label, path, precision, k, seconds, note))
        print(f"  {label} {path} {precision} K={k}: {seconds:.4f} s/iter, {1e3 * seconds / k:.2f} ms/entry ({note})")

    opt = make_optimizer(tc)

    def plain(k: int):
        def iteration(params, opt_state, x, key, target):
            def loss_fn(p):
                return jnp.mean(per_sample_loss(reference_jax.rollout(p, x, key, tc.max_steps), target))

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        fn = jax.jit(jax.vmap(iteration))
        params = many.stack([subject.params] * k)
        opt_state = many.stack([opt.init(subject.params)] * k)
        xs, keys, targets = (
            jnp.stack([grown] * k),
            jax.random.split(jax.random.PRNGKey(1), k),
            jnp.stack(targets_all[:k]),
        )

        def step(state):
            p, o = state
            p, o, loss = fn(p, o, xs, keys, targets)
            return (p, o), loss

        return step, (params, opt_state)

    def many_rows(k: int, path: str, precision: str):
        targets = jnp.stack(targets_all[:k])

        def step(states):
            return many.train_step_many(
                states, targets, model_config=config, train_config=tc, path=path, precision=precision
            )

        return step, many.stack([entry_state(tc) for _ in range(k)])

    def zoo_rows(k: int, path: str, precision: str):
        experiments = [EXPERIMENTS[i % 3] for i in range(k)]
        order = [e for e in EXPERIMENTS if e in experiments]
        groups = tuple(many.stack([entry_state(recipes[e]) for x in experiments if x == e]) for e in order)
        targets = tuple(jnp.stack([targets_all[i] for i, x in enumerate(experiments) if x == e]) for e in order)
        static = tuple(zoo_trainer._static_recipe(recipes[e]) for e in order)

        def step(groups):
            return zoo_trainer.zoo_step(
                groups, targets, model_config=config, recipes=static, path=path, precision=precision
            )

        return step, groups

    for k in ks:
        if not args.no_plain:
            run("plain JAX (reference, vmapped)", "dense", "default", k, functools.partial(plain, k))
        for precision in precisions:
            for path in paths:
                run(
                    f"train_step_many ({args.experiment})",
                    path,
                    precision,
                    k,
                    functools.partial(many_rows, k, path, precision),
                )
        if not args.no_zoo:
            for precision in precisions:
                for path in paths:
                    run("zoo (grow/persist/regen)", path, precision, k, functools.partial(zoo_rows, k, path, precision))

    base = next((r[4] for r in rows if r[0].startswith("plain") and r[3] == min(ks) and r[4]), None)
    base_per_entry = base / min(ks) if base else None
    print(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} ({time.monotonic() - t_start:.0f} s in all)")
    print(
        "| program | path | precision | K | s/iteration (all entries) | ms per entry-iteration "
        "| × plain JAX K=1 per entry | notes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, path, precision, k, seconds, note in rows:
        if seconds is None:
            print(f"| {label} | {path} | {precision} | {k} | – | – | – | {note} |")
            continue
        per = seconds / k
        ratio = f"{base_per_entry / per:.2f}" if base_per_entry else "–"
        print(f"| {label} | {path} | {precision} | {k} | {seconds:.4f} | {1e3 * per:.2f} | {ratio} | {note} |")


if __name__ == "__main__":
    main()
