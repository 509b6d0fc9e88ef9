"""Many zoo entries in one program: K train states (one per target) stepped by one vmapped iteration.

Entries share the architecture and the recipe's shapes (batch, pool, grid, step range) but each
has its own parameters, optimizer state, pool, key and target, so entry k follows exactly the
run ``train_step`` would give it alone (to float rounding). On an accelerator the K rollouts fill
the device that one 8-sample batch leaves idle; on a CPU they mostly queue up (benchmarks/bench_many.py).

Under ``vmap`` the step count drawn per entry becomes a per-entry mask: every entry runs
``max_steps`` steps and keeps the state of its own ``n_steps``, and the sparse step's loop runs as
many chunks as the busiest entry needs.

``path`` and ``precision`` choose the step formulation and the matrix-product precision
(:func:`nca_zoo.model.step`); the default ``"auto"`` path is sparse on CPU and dense, with each
step rematerialised in the backward pass, on accelerators (memory O(state × steps) per entry).
The whole zoo, entries of different experiments included, trains in one program with
:mod:`nca_zoo.train.zoo_trainer`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

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


def stack(trees: Sequence[Any]) -> Any:
    """Stack pytrees of equal structure along a new leading (entry) axis."""
    if not trees:
        raise ValueError("need at least one entry")
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def unstack(tree: Any) -> list[Any]:
    """The inverse of :func:`stack`: one pytree per entry."""
    k = jax.tree.leaves(tree)[0].shape[0]
    return [jax.tree.map(lambda leaf, i=i: leaf[i], tree) for i in range(k)]


def init_many(
    model_config: NCAConfig,
    train_config: TrainConfig,
    seeds: Sequence[int],
    params: Sequence[Any] | None = None,
) -> TrainState:
    """Stacked train states, entry k as ``init_state`` with ``train_config.seed = seeds[k]``.

    ``params`` (one per entry) fine-tunes from given weights, as ``init_state``'s ``params``.
    """
    if params is not None and len(params) != len(seeds):
        raise ValueError(f"got {len(params)} parameter sets for {len(seeds)} entries; pass one per seed")
    states = [
        init_state(model_config, dataclasses.replace(train_config, seed=s), None if params is None else params[i])
        for i, s in enumerate(seeds)
    ]
    return stack(states)


def entry_iteration(
    state: TrainState,
    target: jax.Array,
    *,
    model_config: NCAConfig,
    train_config: TrainConfig,
    path: str = "auto",
    precision: str = "highest",
) -> tuple[TrainState, dict[str, jax.Array]]:
    """``nca_zoo.train.step.train_iteration`` for one entry (the same pieces in the same order),
    with a choice of step ``path`` and ``precision``. Returns ``(new_state, {"loss", "steps", "batch"})``."""
    tc = train_config
    keys = split_keys(state.key)
    idx, batch = sample_batch(state.pool, target, keys, model_config=model_config, train_config=tc)
    n_steps = draw_steps(keys, tc)
    loss, final, grads = loss_and_grads(
        state.params,
        batch,
        target,
        keys.rollout,
        n_steps,
        model_config=model_config,
        train_config=tc,
        path=path,
        precision=precision,
    )
    params, opt_state = apply_update(state.params, state.opt_state, grads, tc)
    new_state = TrainState(params, opt_state, write_back(state.pool, idx, final), keys.next, state.iteration + 1)
    return new_state, {"loss": loss, "steps": n_steps, "batch": final}


@functools.partial(jax.jit, static_argnames=("model_config", "train_config", "path", "precision"), donate_argnums=(0,))
def train_step_many(
    states: TrainState,
    targets: jax.Array,
    *,
    model_config: NCAConfig,
    train_config: TrainConfig,
    path: str = "auto",
    precision: str = "highest",
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One training iteration of every entry: ``states`` from :func:`init_many`, ``targets`` (K,G,G,4).

    Returns the stacked new states and ``{"loss", "steps", "batch"}`` with a leading entry axis.
    The recipe's seed is not used here (it only seeds :func:`init_many`), so entries may differ in it.
    ``path`` / ``precision``: see :func:`nca_zoo.model.step`.
    """
    k = jax.tree.leaves(states)[0].shape[0]
    if targets.shape[0] != k:
        raise ValueError(f"{targets.shape[0]} targets for {k} entries; stack one target per entry")
    iteration = functools.partial(
        entry_iteration, model_config=model_config, train_config=train_config, path=path, precision=precision
    )
    return jax.vmap(iteration)(states, targets)
