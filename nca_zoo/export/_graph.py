"""The functions every exporter traces: one step and a rollout with explicit masks, weights baked in.

They use the dense reference formulation (``path="dense"``): no custom VJP, no loop whose trip
count depends on the data, so any tracer-based converter sees plain array ops.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from nca_zoo import model
from nca_zoo.zoo import ZooModel

StepFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def step_fn(nca: ZooModel) -> StepFn:
    """``(state, update_mask, angle) → new_state`` for ``nca``, its parameters as constants."""
    params, config = jax.tree.map(jnp.asarray, nca.params), nca.config

    def step(state: jax.Array, update_mask: jax.Array, angle: jax.Array) -> jax.Array:
        return model.step(params, state, config=config, angle=angle, update_mask=update_mask, path="dense")

    return step


def rollout_fn(step: StepFn) -> StepFn:
    """``(state, update_masks[T], angle) → state after T steps``, as a ``lax.scan`` over ``step``."""

    def rollout(state: jax.Array, update_masks: jax.Array, angle: jax.Array) -> jax.Array:
        return jax.lax.scan(lambda s, mask: (step(s, mask, angle), None), state, update_masks)[0]

    return rollout
