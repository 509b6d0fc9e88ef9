"""Time one training iteration and inference: nca-zoo's step vs the plain-JAX reference, same run.

Setting (the Distill recipe): batch 8, 72×72 grid, 16 channels, fire rate 0.5, starting from
grown patterns (the pretrained gecko grown for 96 steps, the state the sample pool holds in
steady-state training). A training iteration = forward + backward through a 96-step rollout +
the Adam update with per-variable gradient normalisation; inference = cell-updates per second
(all grid cells × steps / seconds). Every number is the median of ``--repeats`` timed runs after
a warm-up (compilation excluded). Prints a Markdown table with ratios against the baseline.

    python benchmarks/bench_train.py            # full measurement (a few minutes on 2 cores)
    python benchmarks/bench_train.py --quick    # smoke run with fewer steps
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_jax

import nca_zoo
from nca_zoo import model
from nca_zoo.targets import grid_target
from nca_zoo.train.recipe import preset
from nca_zoo.train.step import init_state, make_optimizer, per_sample_loss, train_step


def timed(fn: Callable[[], object], repeats: int) -> float:
    jax.block_until_ready(fn())  # compile + warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def grown_states(nca: nca_zoo.ZooModel, batch: int, size: int) -> jax.Array:
    return nca.rollout(nca.seed(batch, size), 0, 96)[0]


def make_train_iteration(rollout_fn: Callable, target: jax.Array, steps: int) -> Callable:
    """A full iteration (loss, grads, normalisation, Adam) around ``rollout_fn(params, x, key, steps)``."""
    opt = make_optimizer(preset("regen"))

    @jax.jit
    def iteration(params, opt_state, x, key):
        def loss_fn(p):
            return jnp.mean(per_sample_loss(rollout_fn(p, x, key, steps), target))

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return iteration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 steps instead of 96, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="gecko", help="zoo entry whose grown patterns are used")
    args = parser.parse_args()
    steps = 8 if args.quick else 96
    repeats = 1 if args.quick else args.repeats

    nca = nca_zoo.load(args.model)
    params = nca.params
    x = grown_states(nca, 8, 72)
    target = jnp.asarray(grid_target(nca.entry.target))
    key = jax.random.PRNGKey(1)
    opt_state = make_optimizer(preset("regen")).init(params)
    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, {jax.devices()[0].platform}; model {nca.name}; steps {steps}"
    )

    def ours(p, s, k, n):
        return model.rollout(p, s, k, n)[0]

    def ours_dense(p, s, k, n):
        return model.rollout(p, s, k, n, sparse=False)[0]

    impls = {"plain JAX, pad + slice (reference)": reference_jax.rollout, "nca-zoo dense": ours_dense, "nca-zoo": ours}
    rows = []
    for name, fn in impls.items():
        it = make_train_iteration(fn, target, steps)
        train_s = timed(lambda it=it: it(params, opt_state, x, key), repeats)
        infer = jax.jit(fn, static_argnums=3)
        infer_s = timed(lambda infer=infer: infer(params, x, key, steps), repeats)
        rows.append((name, train_s, 8 * 72 * 72 * steps / infer_s / 1e6))
        print(f"  {name}: train {train_s:.3f} s/iter, inference {rows[-1][2]:.2f} M cell-updates/s", flush=True)

    # The real trainer in steady state: regen preset, pool filled with grown patterns (mean 80 steps).
    tc = preset("regen", min_steps=steps * 2 // 3, max_steps=steps)
    state = init_state(nca.config, tc, params)
    state = state._replace(pool=jnp.repeat(grown_states(nca, 8, 72), tc.pool_size // 8, axis=0))
    state, _ = train_step(state, target, model_config=nca.config, train_config=tc)  # compile
    trainer_times = []
    for _ in range(max(repeats * 3, 3)):
        t0 = time.perf_counter()
        state, out = train_step(state, target, model_config=nca.config, train_config=tc)
        float(out["loss"])
        trainer_times.append(time.perf_counter() - t0)
    trainer_s = statistics.median(trainer_times)

    scale = {}
    for batch, size in ((1, 72), (1, 256)):
        xs = grown_states(nca, batch, size)
        f = jax.jit(ours, static_argnums=3)
        seconds = timed(lambda f=f, xs=xs: f(params, xs, key, steps), repeats)
        scale[(batch, size)] = batch * size * size * steps / seconds

    base_train, base_infer = rows[0][1], rows[0][2]
    print(f"\n| implementation | train s/iter ({steps} steps) | × baseline | inference M cell-updates/s | × baseline |")
    print("|---|---|---|---|---|")
    for name, train_s, infer in rows:
        print(f"| {name} | {train_s:.3f} | {base_train / train_s:.2f} | {infer:.2f} | {infer / base_infer:.2f} |")
    print(
        f"\nreal trainer loop (regen preset, pool of grown patterns, {tc.min_steps}–{tc.max_steps} steps, "
        f"pool sampling + damage + Adam): {trainer_s:.3f} s/iter (median of {len(trainer_times)})"
    )
    for (batch, size), v in scale.items():
        print(f"inference batch {batch}, {size}×{size}: {v / 1e6:.2f} M cell-updates/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
