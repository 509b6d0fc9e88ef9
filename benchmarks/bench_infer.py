"""Inference throughput (M cell-updates/s = batch × H × W × steps / seconds) by step path and shape.

Rows: the plain-JAX baseline (``reference_jax.py``), nca-zoo's dense and sparse paths and the
default (``path="auto"``: sparse on CPU, dense elsewhere), each at float32 (``precision="highest"``,
the only inference precision nca-zoo uses; ``--precisions highest,tf32`` adds the reduced one for
comparison). Shapes: batch 8 and 256 on 72×72, and 4 × 512×512, from grown gecko patterns (the
zoo entry grown for 96 steps, tiled). Median of ``--repeats`` timed rollouts after a warm-up.

    python benchmarks/bench_infer.py --shapes 8x72 --steps 32            # CPU smoke run
    python benchmarks/bench_infer.py --shapes 8x72,256x72,4x512 --steps 96   # the accelerator table
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_jax
from subject import load_subject

from nca_zoo import model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="8x72,256x72", help="BATCHxSIZE list (default 8x72,256x72)")
    parser.add_argument("--steps", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precisions", default="highest", help="for the nca-zoo rows: highest[,tf32,bf16]")
    args = parser.parse_args()
    subject = load_subject("gecko")
    params, config = subject.params, subject.config
    grown = subject.states(1, 72)
    dev = jax.devices()[0]
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, device {dev.device_kind} ({dev.platform}); weights: {subject.name}; "
        f"{args.steps} steps; default path here: {model.resolve_path('auto')}",
        flush=True,
    )
    impls = {"plain JAX (reference)": lambda p, s, k: reference_jax.rollout(p, s, k, args.steps)}
    for precision in args.precisions.split(","):
        for path in ("dense", "sparse", "auto"):

            def fn(p, s, k, path=path, precision=precision):
                return model.rollout(p, s, k, args.steps, config=config, path=path, precision=precision)[0]

            impls[f"nca-zoo {path}" + (f" ({precision})" if precision != "highest" else "")] = fn
    rows = []
    for shape in args.shapes.split(","):
        batch, size = (int(v) for v in shape.split("x"))
        reps = -(-size // 72)
        x = jnp.tile(grown, (batch, reps, reps, 1))[:, :size, :size]
        key = jax.random.PRNGKey(0)
        for name, fn in impls.items():
            try:
                f = jax.jit(fn)
                jax.block_until_ready(f(params, x, key))
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    jax.block_until_ready(f(params, x, key))
                    times.append(time.perf_counter() - t0)
                rate = batch * size * size * args.steps / statistics.median(times) / 1e6
                rows.append((name, f"{batch} × {size}×{size}", f"{rate:,.1f}"))
            except Exception as err:  # out of memory, most likely: reported, the table still prints
                traceback.print_exc(limit=1)
                rows.append((name, f"{batch} × {size}×{size}", f"failed: {type(err).__name__}"))
            print(f"  {rows[-1][0]}, {rows[-1][1]}: {rows[-1][2]} M cell-updates/s", flush=True)
    print(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print("| implementation | batch × grid | M cell-updates/s |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
