"""Data-parallel training on ``jax.sharding``: the batch and the pool split across devices.

One iteration is :func:`nca_zoo.train.step.train_iteration` with its rollout under ``shard_map``:

- the pool lives sharded along its rows (``P("data")``), so it grows with the number of devices;
- sampling stays global — the same ``batch_size`` rows as on one device, sorted by loss over the
  whole batch (XLA gathers them from the shards), the worst reseeded, the best damaged;
- each device rolls out ``batch_size / devices`` samples. Every step's update mask is drawn for
  the whole batch from the same key as on one device and sliced, so the run is the single-device
  run, not merely a run like it: loss and gradients are summed over devices (``psum``), Adam is
  applied identically everywhere and the rolled-out rows go back to the pool rows they came from.

The same code runs across processes (multi-host, see :mod:`nca_zoo.train.multihost`): the mesh
then holds every process's devices and :func:`shard_state` builds the global arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from nca_zoo.config import NCAConfig
from nca_zoo.train.recipe import TrainConfig
from nca_zoo.train.step import (
    TrainState,
    apply_update,
    draw_steps,
    init_state,
    loss_and_grads,
    sample_batch,
    split_keys,
    write_back,
)

AXIS = "data"


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh (``"data"``) over ``devices`` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (AXIS,))


def check_divisible(train_config: TrainConfig, mesh: Mesh) -> None:
    """Batch and pool must split evenly over the devices; say which setting to change if not."""
    n = mesh.size
    tc = train_config
    if tc.batch_size % n:
        raise ValueError(
            f"batch_size {tc.batch_size} does not split over {n} devices; use a multiple of {n} "
            f"(or a mesh of a divisor of {tc.batch_size} devices)"
        )
    if tc.pool_size % n:
        raise ValueError(f"pool_size {tc.pool_size} does not split over {n} devices; use a multiple of {n}")


def state_shardings(state: TrainState, mesh: Mesh) -> TrainState:
    """Where each part of the train state lives: pool rows split over ``"data"``, the rest replicated."""
    replicated = NamedSharding(mesh, P())
    pool = NamedSharding(mesh, P(AXIS)) if state.pool.shape[0] else replicated
    return TrainState(
        params=jax.tree.map(lambda _: replicated, state.params),
        opt_state=jax.tree.map(lambda _: replicated, state.opt_state),
        pool=pool,
        key=replicated,
        iteration=replicated,
    )


def _place(x: Any, sharding: NamedSharding) -> jax.Array:
    """``x`` (the same value on every process) as a global array; works when ``sharding`` spans
    devices of other processes, where ``jax.device_put`` of host data does not."""
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def shard_state(state: TrainState, mesh: Mesh) -> TrainState:
    """``state`` laid out over ``mesh`` (every process must pass the same state)."""
    return jax.tree.map(_place, state, state_shardings(state, mesh))


def replicate(x: Any, mesh: Mesh) -> jax.Array:
    """``x`` copied to every device of ``mesh`` (e.g. the target)."""
    return _place(x, NamedSharding(mesh, P()))


def init_sharded_state(
    model_config: NCAConfig, train_config: TrainConfig, mesh: Mesh, params: Any = None
) -> TrainState:
    """:func:`nca_zoo.train.step.init_state` (same seed, same values), laid out over ``mesh``."""
    check_divisible(train_config, mesh)
    return shard_state(init_state(model_config, train_config, params), mesh)


def local_value(x: jax.Array) -> np.ndarray:
    """A replicated (or single-process) array as NumPy, on any process."""
    if x.is_fully_addressable:
        return np.asarray(x)
    if not x.is_fully_replicated:
        raise ValueError("this array is split across processes; gather it with multihost_utils.process_allgather")
    return np.asarray(x.addressable_data(0))


@functools.partial(jax.jit, static_argnames=("model_config", "train_config", "mesh"), donate_argnums=(0,))
def parallel_train_step(
    state: TrainState, target: jax.Array, *, model_config: NCAConfig, train_config: TrainConfig, mesh: Mesh
) -> tuple[TrainState, dict[str, jax.Array]]:
    """``train_step`` with the batch and pool sharded over ``mesh``; the same results to float rounding.

    ``state`` comes from :func:`init_sharded_state` / :func:`shard_state`. Returns the new state
    (pool still sharded) and ``{"loss", "steps", "batch"}`` (``batch`` sharded like the pool).
    """
    tc = train_config
    check_divisible(tc, mesh)
    keys = split_keys(state.key)
    idx, batch = sample_batch(state.pool, target, keys, model_config=model_config, train_config=tc)
    n_steps = draw_steps(keys, tc)
    per_device = tc.batch_size // mesh.size

    def shard(params, batch, target, key, n_steps):
        rows = (jax.lax.axis_index(AXIS) * per_device, tc.batch_size)
        loss, final, grads = loss_and_grads(
            params, batch, target, key, n_steps, model_config=model_config, train_config=tc, rows=rows
        )
        return jax.lax.psum(loss, AXIS), final, jax.lax.psum(grads, AXIS)

    # check_vma=False: the gradients are explicitly summed above; the sparse step's custom VJP
    # returns per-device parameter cotangents, which the varying-axes checker would reject.
    loss, final, grads = jax.shard_map(
        shard,
        mesh=mesh,
        in_specs=(P(), P(AXIS), P(), P(), P()),
        out_specs=(P(), P(AXIS), P()),
        check_vma=False,
    )(state.params, batch, target, keys.rollout, n_steps)
    params, opt_state = apply_update(state.params, state.opt_state, grads, tc)
    pool = write_back(state.pool, idx, final)
    if tc.pool_size:
        pool = jax.lax.with_sharding_constraint(pool, NamedSharding(mesh, P(AXIS)))
    new_state = TrainState(params, opt_state, pool, keys.next, state.iteration + 1)
    return new_state, {"loss": loss, "steps": n_steps, "batch": final}


def train_data_parallel(
    target: Any,
    *,
    model_config: NCAConfig = NCAConfig(),
    train_config: TrainConfig = TrainConfig(),
    mesh: Mesh | None = None,
    init_params: Any = None,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainState:
    """Run ``train_config.iterations`` data-parallel iterations from a fresh state; return the last.

    A minimal driver (no checkpoints, no samples) for scale-out runs and their tests; the full
    single-machine driver with logging and resume is :func:`nca_zoo.train.loop.train`.
    ``on_iteration(iteration, {"loss", "steps"})`` is called after each iteration on every process.
    """
    tc = train_config
    mesh = make_mesh() if mesh is None else mesh
    expected = (tc.grid_size, tc.grid_size, 4)
    if np.shape(target) != expected:
        raise ValueError(f"target has shape {np.shape(target)}, but this recipe trains on {expected}")
    state = init_sharded_state(model_config, tc, mesh, init_params)
    target = replicate(jnp.asarray(target, jnp.float32), mesh)
    while int(local_value(state.iteration)) < tc.iterations:
        state, out = parallel_train_step(state, target, model_config=model_config, train_config=tc, mesh=mesh)
        if on_iteration is not None:
            record = {"loss": float(local_value(out["loss"])), "steps": int(local_value(out["steps"]))}
            on_iteration(int(local_value(state.iteration)), record)
    return state
