"""Multi-process (multi-host) data-parallel training: one job over the devices of several processes.

Every process runs this same program; ``jax.distributed.initialize`` connects them through a
coordinator, after which ``jax.devices()`` lists every process's devices and the data-parallel
step of :mod:`nca_zoo.train.parallel` runs over all of them (gradients summed across processes).

    # two processes on one machine, CPU (gloo collectives) — what the tests run:
    python -m nca_zoo.train.multihost --coordinator 127.0.0.1:12345 --num-processes 2 --process-id 0 \\
        --target gecko --experiment regen --out runs/dp &
    python -m nca_zoo.train.multihost --coordinator 127.0.0.1:12345 --num-processes 2 --process-id 1 \\
        --target gecko --experiment regen --out runs/dp

On a GPU/TPU cluster leave the three flags out where JAX detects the cluster (SLURM, Open MPI,
Cloud TPU); see docs/scale-out.md. Process 0 writes ``metrics.jsonl`` and ``model.safetensors``;
every process writes ``process-<i>.json`` (its losses and the sha256 of its parameters), which
must agree across processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nca_zoo.config import NCAConfig
from nca_zoo.targets import grid_target
from nca_zoo.train.recipe import EXPERIMENTS, preset
from nca_zoo.weights import atomic_write_bytes, flatten_params, save_weights


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
    cpu_collectives: str = "gloo",
) -> None:
    """Join the job; call before any other JAX call in the process.

    Without arguments JAX detects the cluster (SLURM, Open MPI, Cloud TPU). ``cpu_collectives``
    chooses the CPU cross-process collectives (``gloo``, built into jaxlib, or ``mpi``); without
    one, CPU computations spanning processes fail.
    """
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=local_device_ids,
    )


def params_sha256(params: Any) -> str:
    """A digest of the parameter values (names, shapes, dtypes, bytes): equal on every process of a
    healthy job. Hashes the arrays, not a safetensors file, whose header order is not fixed."""
    digest = hashlib.sha256()
    for name, value in sorted(flatten_params(params).items()):
        value = np.ascontiguousarray(value)
        digest.update(f"{name}:{value.dtype.str}:{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nca_zoo.train.multihost", description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", help="host:port of process 0's coordinator (omit to auto-detect)")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--cpu-collectives", default="gloo", choices=("gloo", "mpi"))
    parser.add_argument("--target", default="gecko", help="zoo target name, emoji or image path")
    parser.add_argument("--experiment", default="regen", choices=EXPERIMENTS)
    parser.add_argument(
        "--recipe", default="{}", help='JSON overrides of the preset, e.g. \'{"iterations": 100, "batch_size": 16}\''
    )
    parser.add_argument("--out", required=True, help="output directory (shared, or one per process)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    initialize(args.coordinator, args.num_processes, args.process_id, cpu_collectives=args.cpu_collectives)
    # Imported after initialize: nothing may touch a JAX backend before it.
    from nca_zoo.train.parallel import local_value, make_mesh, train_data_parallel

    tc = preset(args.experiment, **json.loads(args.recipe))
    model_config = NCAConfig()
    target = grid_target(args.target, tc.target_size, tc.padding)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rank = jax.process_index()
    mesh = make_mesh()
    print(
        f"[{time.strftime('%H:%M:%S')}] process {rank}/{jax.process_count()}: {jax.local_device_count()} local, "
        f"{mesh.size} global devices",
        flush=True,
    )
    losses: list[float] = []
    log = (out / "metrics.jsonl").open("w") if rank == 0 else None
    t0 = time.perf_counter()

    def on_iteration(iteration: int, record: dict[str, float]) -> None:
        losses.append(record["loss"])
        if log is not None:
            log.write(json.dumps({"iteration": iteration, **record, "seconds": time.perf_counter() - t0}) + "\n")
            log.flush()

    try:
        state = train_data_parallel(
            target, model_config=model_config, train_config=tc, mesh=mesh, on_iteration=on_iteration
        )
    finally:
        if log is not None:
            log.close()
    params = jax.tree.map(local_value, state.params)
    summary = {
        "process": rank,
        "processes": jax.process_count(),
        "devices": mesh.size,
        "iterations": int(local_value(state.iteration)),
        "losses": losses,
        "params_sha256": params_sha256(params),
        "train_config": dataclasses.asdict(tc),
    }
    atomic_write_bytes(out / f"process-{rank}.json", json.dumps(summary, indent=1).encode())
    if rank == 0:
        save_weights(out / "model.safetensors", params, model_config)
    print(f"[{time.strftime('%H:%M:%S')}] process {rank}: done, final loss {losses[-1]:.6f}", flush=True)
    jax.distributed.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
