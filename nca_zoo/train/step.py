"""One training iteration as a single jitted function: pool sampling, damage, rollout, Adam.

Everything lives on the device (the pool included) and all randomness comes from the key in the
train state, so a run is reproducible from one integer seed and resumes exactly from a checkpoint.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from nca_zoo import model
from nca_zoo.config import NCAConfig
from nca_zoo.train.recipe import TrainConfig


class TrainState(NamedTuple):
    params: Any
    opt_state: Any
    pool: jax.Array  # (pool_size, H, W, C); (0, H, W, C) without a pool
    key: jax.Array
    iteration: jax.Array  # int32 scalar: iterations completed


def normalize_per_variable(eps: float = 1e-8) -> optax.GradientTransformation:
    """Distill's gradient normalisation: each variable's gradient divided by its L2 norm."""
    return optax.stateless(lambda grads, _: jax.tree.map(lambda g: g / (jnp.linalg.norm(g) + eps), grads))


def make_optimizer(train_config: TrainConfig) -> optax.GradientTransformation:
    schedule = optax.piecewise_constant_schedule(
        train_config.learning_rate,
        {train_config.decay_at: train_config.decayed_learning_rate / train_config.learning_rate},
    )
    # eps as in Keras' Adam, which the Distill reference used.
    return optax.chain(normalize_per_variable(), optax.adam(schedule, eps=1e-7))


def per_sample_loss(states: jax.Array, target: jax.Array) -> jax.Array:
    """MSE on the visible RGBA channels against the premultiplied target, one value per sample."""
    return jnp.mean(jnp.square(model.to_rgba(states) - target), axis=(-3, -2, -1))


def init_state(model_config: NCAConfig, train_config: TrainConfig, params: Any = None) -> TrainState:
    key = jax.random.PRNGKey(train_config.seed)
    key, init_key = jax.random.split(key)
    if params is None:
        params = model.init_params(model_config, init_key)
    params = jax.tree.map(jnp.asarray, params)
    size = train_config.grid_size
    seed = model.seed(1, size, model_config.channels)
    pool = jnp.repeat(seed, train_config.pool_size, axis=0)
    return TrainState(
        params=params,
        opt_state=make_optimizer(train_config).init(params),
        pool=pool,
        key=key,
        iteration=jnp.zeros((), jnp.int32),
    )


def _variable_rollout(params, states, key, n_steps, model_config: NCAConfig, max_steps: int):
    """``n_steps`` (traced, ≤ max_steps) NCA steps: one compiled program for every step count."""

    def body(s, xs):
        i, k = xs
        s = jax.lax.cond(i < n_steps, lambda s: model.step(params, s, k, config=model_config), lambda s: s, s)
        return s, None

    xs = (jnp.arange(max_steps), jax.random.split(key, max_steps))
    return jax.lax.scan(body, states, xs)[0]


@functools.partial(jax.jit, static_argnames=("model_config", "train_config"), donate_argnums=(0,))
def train_step(
    state: TrainState, target: jax.Array, *, model_config: NCAConfig, train_config: TrainConfig
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One Distill training iteration; returns the new state and ``{"loss", "steps", "batch"}``."""
    tc = train_config
    key, k_sample, k_damage, k_steps, k_rollout = jax.random.split(state.key, 5)
    seed = model.seed(1, tc.grid_size, model_config.channels)
    if tc.pool_size:
        idx = jax.random.choice(k_sample, tc.pool_size, (tc.batch_size,), replace=False)
        batch = state.pool[idx]
        order = jnp.argsort(-per_sample_loss(batch, target))  # worst first
        idx, batch = idx[order], batch[order]
        batch = batch.at[:1].set(seed)
        if tc.damage_count:
            tail = batch[-tc.damage_count :]
            batch = batch.at[-tc.damage_count :].set(model.damage(tail, k_damage, kind="disc"))
    else:
        idx = None
        batch = jnp.repeat(seed, tc.batch_size, axis=0)
    n_steps = jax.random.randint(k_steps, (), tc.min_steps, tc.max_steps + 1)

    def loss_fn(params):
        final = _variable_rollout(params, batch, k_rollout, n_steps, model_config, tc.max_steps)
        return jnp.mean(per_sample_loss(final, target)), final

    (loss, final), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = make_optimizer(tc).update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    pool = state.pool.at[idx].set(final) if tc.pool_size else state.pool
    new_state = TrainState(params, opt_state, pool, key, state.iteration + 1)
    return new_state, {"loss": loss, "steps": n_steps, "batch": final}
