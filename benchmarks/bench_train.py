"""Time one training iteration and inference: nca-zoo vs the plain-JAX reference and the peers, same run.

Setting (the Distill recipe): batch 8, 72×72 grid, 16 channels, fire rate 0.5, starting from
grown patterns (the pretrained gecko grown for 96 steps, the state the sample pool holds in
steady-state training; see subject.py for the fallbacks). A training iteration = forward +
backward through a 96-step rollout + the Adam update with per-variable gradient normalisation;
inference = cell-updates per second (all grid cells × steps / seconds). Every number is the
median of ``--repeats`` timed runs after a warm-up (compilation excluded). Prints a Markdown
table with ratios against the baseline (plain JAX, pad + slice), which runs in every invocation.

    python benchmarks/bench_train.py                  # ours + baseline + every peer row
    python benchmarks/bench_train.py --skip-slow      # ours + baseline + the fast peer rows
    python benchmarks/bench_train.py --only-slow      # baseline + the slow peer rows, separately
    python benchmarks/bench_train.py --quick --peers none   # smoke run with 8 steps

Peers (benchmarks/peers/, install lines in benchmarks/README.md): tf (TensorFlow 2 tf.function,
with and without XLA), torch (PyTorch eager and torch.compile), cax (CAX), jaxnca (the seed
project jax-nca from PyPI). Slow rows (minutes per iteration: TF + XLA, CAX, jax-nca) are timed
``--slow-repeats`` times (default 1). A peer that is not installed is reported and skipped.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers
import reference_jax
from subject import load_subject

from nca_zoo import model
from nca_zoo.train.recipe import preset
from nca_zoo.train.step import init_state, make_optimizer, per_sample_loss, train_step

BATCH, SIZE = 8, 72


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def log(message: str) -> None:
    print(f"  [{stamp()}] {message}", flush=True)


def timed(fn: Callable[[], object], repeats: int) -> float:
    jax.block_until_ready(fn())  # compile + warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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


def parse_peers(text: str) -> list[str]:
    if text in ("", "none"):
        return []
    names = list(peers.PEERS) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in peers.PEERS:
            raise SystemExit(f"unknown peer {name!r}; choose from {', '.join(peers.PEERS)}, 'all' or 'none'")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 steps instead of 96, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="gecko", help="zoo entry whose grown patterns are used")
    parser.add_argument(
        "--peers", default="all", help=f"comma-separated peers from {{{','.join(peers.PEERS)}}}, 'all' or 'none'"
    )
    slow = parser.add_mutually_exclusive_group()
    slow.add_argument("--skip-slow", action="store_true", help="drop the slow peer rows (TF + XLA, CAX, jax-nca)")
    slow.add_argument("--only-slow", action="store_true", help="only the baseline and the slow peer rows")
    parser.add_argument("--slow-repeats", type=int, default=1, help="timed runs for slow peer rows (default 1)")
    parser.add_argument("--peers-only", action="store_true", help="only the baseline and the peers")
    args = parser.parse_args()
    steps = 8 if args.quick else 96
    repeats = 1 if args.quick else args.repeats
    peer_names = parse_peers(args.peers)
    args.peers_only = args.peers_only or args.only_slow

    subject = load_subject(args.model)
    params, config, target = subject.params, subject.config, subject.target
    x = subject.states(BATCH, SIZE)
    key = jax.random.PRNGKey(1)
    opt_state = make_optimizer(preset("regen")).init(params)
    print(
        f"# {stamp()} machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, {jax.devices()[0].platform}; weights: {subject.name}; "
        f"batch {BATCH}, {SIZE}×{SIZE}, steps {steps}",
        flush=True,
    )

    def ours(p, s, k, n):
        return model.rollout(p, s, k, n, config=config)[0]

    def ours_dense(p, s, k, n):
        return model.rollout(p, s, k, n, config=config, path="dense")[0]

    impls = {"plain JAX, pad + slice (reference)": reference_jax.rollout}
    if not args.peers_only:
        default = f"nca-zoo (default path: {model.resolve_path('auto')})"
        impls.update({"nca-zoo dense": ours_dense, default: ours})
    rows: list[tuple[str, float | None, float | None]] = []
    for name, fn in impls.items():
        it = make_train_iteration(fn, target, steps)
        train_s = timed(lambda it=it: it(params, opt_state, x, key), repeats)
        infer = jax.jit(fn, static_argnums=3)
        infer_s = timed(lambda infer=infer: infer(params, x, key, steps), repeats)
        rows.append((name, train_s, BATCH * SIZE * SIZE * steps / infer_s / 1e6))
        log(f"{name}: train {train_s:.3f} s/iter, inference {rows[-1][2]:.2f} M cell-updates/s")

    checks, failed = [], []
    reference_step = np.asarray(
        model.step(params, x, config=config, update_mask=jnp.ones((*x.shape[:3], 1), bool), path="dense")
    )
    setting = peers.Setting(
        params=jax.tree.map(np.asarray, params), states=np.asarray(x), target=np.asarray(target), steps=steps
    )
    for peer in peer_names:
        try:
            peer_rows = peers.load(peer).make(setting)
        except ImportError as err:
            failed.append(f"{peer}: not installed ({err}); see benchmarks/README.md")
            log(failed[-1])
            continue
        for row in peer_rows:
            if (args.skip_slow and row.slow) or (args.only_slow and not row.slow):
                continue
            peer_repeats = min(repeats, args.slow_repeats) if row.slow else repeats
            log(f"{row.name}: start" + (" (slow: minutes per training iteration)" if row.slow else ""))
            try:
                if row.check is not None:
                    checks.append((row.name, float(np.max(np.abs(row.check() - reference_step)))))
                train_s = timed(row.train, peer_repeats) if row.train else None
                infer_s = timed(row.infer, peer_repeats) if row.infer else None
            except Exception as err:  # a peer that breaks is reported, the table still prints
                traceback.print_exc()
                failed.append(f"{row.name}: failed ({type(err).__name__}: {err})")
                continue
            infer = BATCH * SIZE * SIZE * steps / infer_s / 1e6 if infer_s else None
            rows.append((f"{row.name} — {row.note}" if row.note else row.name, train_s, infer))
            train_text = f"{train_s:.3f} s/iter" if train_s else "–"
            log(f"{row.name}: train {train_text}, inference {infer or 0:.2f} M cell-updates/s")

    trainer_s = None
    scale = {}
    if not args.peers_only:
        # The real trainer in steady state: regen preset, pool filled with grown patterns (mean 80 steps).
        tc = preset("regen", min_steps=steps * 2 // 3, max_steps=steps)
        state = init_state(config, tc, params)
        state = state._replace(pool=jnp.repeat(subject.states(BATCH, SIZE), tc.pool_size // BATCH, axis=0))
        state, _ = train_step(state, target, model_config=config, train_config=tc)  # compile
        trainer_times = []
        for _ in range(max(repeats * 3, 3)):
            t0 = time.perf_counter()
            state, out = train_step(state, target, model_config=config, train_config=tc)
            float(out["loss"])
            trainer_times.append(time.perf_counter() - t0)
        trainer_s = statistics.median(trainer_times)
        for batch, size in ((1, 72), (1, 256)):
            xs = subject.states(batch, size)
            f = jax.jit(ours, static_argnums=3)
            seconds = timed(lambda f=f, xs=xs: f(params, xs, key, steps), repeats)
            scale[(batch, size)] = batch * size * size * steps / seconds

    base_train, base_infer = rows[0][1], rows[0][2]

    def cell(value: float | None, fmt: str) -> str:
        return "–" if value is None else format(value, fmt)

    def ratio(value: float | None, base: float, invert: bool) -> str:
        return "–" if value is None else f"{(base / value if invert else value / base):.2f}"

    print(f"\n# {stamp()}")
    print(f"| implementation | train s/iter ({steps} steps) | × baseline | inference M cell-updates/s | × baseline |")
    print("|---|---|---|---|---|")
    for name, train_s, infer in rows:
        print(
            f"| {name} | {cell(train_s, '.3f')} | {ratio(train_s, base_train, True)} | "
            f"{cell(infer, '.2f')} | {ratio(infer, base_infer, False)} |"
        )
    for name, diff in checks:
        verdict = "same model" if diff < 1e-4 else "DIFFERS"
        print(f"check {name}: one step, every cell firing, max |Δ| vs nca-zoo = {diff:.2e} ({verdict})")
    for line in failed:
        print(f"not measured: {line}")
    if trainer_s is not None:
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
