"""One training iteration as a single jitted function: pool sampling, damage, rollout, Adam.

Everything lives on the device (the pool included) and all randomness comes from the key in the
train state, so a run is reproducible from one integer seed and resumes exactly from a checkpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from nca_zoo import model
from nca_zoo.config import NCAConfig
from nca_zoo.train.recipe import TrainConfig

StepFn = Callable[[Any, jax.Array, jax.Array], jax.Array]  # (params, state, key) → new state


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
    return model.rgba_mse(states, target)


def _local_detail(target: jax.Array) -> jax.Array:
    """Each target pixel's distance (over RGBA) from the mean of its zero-padded 5×5 neighbourhood (H,W)."""
    padded = jnp.pad(target, ((2, 2), (2, 2), (0, 0)))
    h, w = target.shape[:2]
    local_mean = sum(padded[i : i + h, j : j + w] for i in range(5) for j in range(5)) / 25.0
    return jnp.sqrt(jnp.sum(jnp.square(target - local_mean), axis=-1))


def detail_weights(target: jax.Array, strength: float) -> jax.Array:
    """Per-pixel loss weights ``1 + strength · detail`` (H,W,1) for ``TrainConfig.detail_weight``.

    ``detail`` is the distance (over RGBA) of each target pixel from the mean of its zero-padded 5×5
    neighbourhood, divided by its maximum: ~0 on flat colour and background, 1 at the sharpest feature.
    """
    detail = _local_detail(target)
    return (1.0 + strength * detail / jnp.maximum(jnp.max(detail), 1e-12))[..., None]


def feature_cells(target: jax.Array) -> jax.Array:
    """Where ``TrainConfig.aimed_disc_fraction`` centres its discs: a probability per cell (H,W), ∝ the
    target's local detail among the cells whose whole 5×5 neighbourhood is opaque (features inside the
    pattern, not its outline); uniform over the opaque cells for a target without inner detail."""
    h, w = target.shape[:2]
    opaque = jnp.pad(target[..., 3] > 0.99, 2)
    inside = jnp.stack([opaque[i : i + h, j : j + w] for i in range(5) for j in range(5)]).all(axis=0)
    weight = jnp.where(inside, _local_detail(target), 0.0)
    fallback = jnp.where(target[..., 3] > 0.1, 1.0, 0.0)
    weight = jnp.where(weight.sum() > 0, weight, fallback)
    return weight / jnp.maximum(weight.sum(), 1e-12)


def init_state(model_config: NCAConfig, train_config: TrainConfig, params: Any = None) -> TrainState:
    key = jax.random.PRNGKey(train_config.seed)
    key, init_key = jax.random.split(key)
    if params is None:
        params = model.init_params(model_config, init_key)
    # A copy: train_step donates the state, which must not delete the caller's arrays.
    params = jax.tree.map(jnp.array, params)
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


class IterationKeys(NamedTuple):
    """The five keys one iteration draws from ``TrainState.key``, in the order ``train_step`` splits them."""

    next: jax.Array  # the state's key for the following iteration
    sample: jax.Array
    damage: jax.Array
    steps: jax.Array
    rollout: jax.Array


def split_keys(key: jax.Array) -> IterationKeys:
    return IterationKeys(*jax.random.split(key, 5))


def sample_batch(
    pool: jax.Array,
    target: jax.Array,
    keys: IterationKeys,
    *,
    model_config: NCAConfig,
    train_config: TrainConfig,
) -> tuple[jax.Array | None, jax.Array]:
    """The iteration's batch and the pool rows it came from (``None`` without a pool).

    Pool training: ``batch_size`` distinct rows, sorted worst loss first; the ``reseed_count`` worst
    (Distill: 1; with ``reseed="random"`` as many undamaged rows drawn at random) are replaced by the
    seed and the last ``damage_count`` are damaged. Without a pool: seeds.
    """
    tc = train_config
    seed = model.seed(1, tc.grid_size, model_config.channels)
    if not tc.pool_size:
        return None, jnp.repeat(seed, tc.batch_size, axis=0)
    idx = jax.random.choice(keys.sample, tc.pool_size, (tc.batch_size,), replace=False)
    batch = pool[idx]
    order = jnp.argsort(-per_sample_loss(batch, target))  # worst first
    idx, batch = idx[order], batch[order]
    if tc.reseed == "random":  # its own key from the sampling key: "worst" runs keep their draws
        undamaged = jax.random.permutation(jax.random.fold_in(keys.sample, 1), tc.batch_size - tc.damage_count)
        batch = batch.at[undamaged[: tc.reseed_count]].set(seed)
    else:
        batch = batch.at[: tc.reseed_count].set(seed)
    if tc.damage_count and not tc.cut_in_rollout:  # cut_in_rollout: cut inside loss_and_grads' rollout
        tail = batch[-tc.damage_count :]
        damaged = damage_samples(tail, keys.damage, target=target, **damage_settings(tc))
        batch = batch.at[-tc.damage_count :].set(damaged)
    return idx, batch


def damage_settings(train_config: TrainConfig) -> dict[str, float]:
    """The keywords of :func:`damage_masks` that ``train_config`` sets."""
    tc = train_config
    return {
        "half_cut_fraction": tc.half_cut_fraction,
        "aimed_disc_fraction": tc.aimed_disc_fraction,
        "disc_center_span": tc.disc_center_span,
        "disc_min_radius": tc.disc_min_radius,
        "narrowed_disc_fraction": tc.narrowed_disc_fraction,
    }


def damage_samples(states: jax.Array, key: jax.Array, half_cut_fraction: float = 0.0, **settings: Any) -> jax.Array:
    """``states`` with the recipe's damage (:func:`damage_masks`, the same keywords) erased."""
    return states * (1.0 - damage_masks(key, states.shape, half_cut_fraction, **settings))


def damage_masks(
    key: jax.Array,
    shape: tuple[int, ...],
    half_cut_fraction: float = 0.0,
    *,
    target: jax.Array | None = None,
    aimed_disc_fraction: float = 0.0,
    disc_center_span: float = 0.5,
    disc_min_radius: float = 0.1,
    narrowed_disc_fraction: float = 1.0,
) -> jax.Array:
    """The recipe's damage, 1 where erased (B,H,W,1): a random disc per sample (Distill), or with
    probability ``half_cut_fraction`` a random half-plane instead (the zoo's regen recipe); with probability
    ``aimed_disc_fraction`` a disc is centred on a feature of ``target`` (:func:`feature_cells`).
    ``disc_center_span`` and ``disc_min_radius`` narrow the uniform discs' draws (:func:`nca_zoo.model.
    damage_mask`; Distill's 0.5 and 0.1) for a share ``narrowed_disc_fraction`` of the samples."""
    if not half_cut_fraction and not aimed_disc_fraction:
        return _uniform_discs(key, shape, disc_center_span, disc_min_radius, narrowed_disc_fraction)
    k_disc, k_plane, k_choice = jax.random.split(key, 3)
    disc = _uniform_discs(k_disc, shape, disc_center_span, disc_min_radius, narrowed_disc_fraction)
    b, h, w = shape[:3]
    if aimed_disc_fraction:
        if target is None:
            raise ValueError("aimed discs need the target")
        k_cell, k_radius, k_aim = jax.random.split(jax.random.fold_in(k_disc, 1), 3)
        cell = jax.random.choice(k_cell, h * w, (b,), p=feature_cells(target).ravel())
        center = ((cell // w) * 2.0 / (h - 1) - 1.0, (cell % w) * 2.0 / (w - 1) - 1.0)
        radius = jax.random.uniform(k_radius, (b, 1, 1), minval=disc_min_radius, maxval=model.MAX_DISC_RADIUS)
        aimed = model.damage_mask(None, shape, kind="disc", center=center, radius=radius)
        disc = jnp.where(jax.random.uniform(k_aim, (b, 1, 1, 1)) < aimed_disc_fraction, aimed, disc)
    if not half_cut_fraction:
        return disc
    plane = model.damage_mask(k_plane, shape, kind="plane")
    return jnp.where(jax.random.uniform(k_choice, (b, 1, 1, 1)) < half_cut_fraction, plane, disc)


def _uniform_discs(
    key: jax.Array, shape: tuple[int, ...], center_span: float, min_radius: float, narrowed_fraction: float
) -> jax.Array:
    """Uniform discs with the narrowed draws for a share ``narrowed_fraction`` of the samples and Distill's
    for the rest; with the share 1 exactly :func:`nca_zoo.model.damage_mask`'s, key for key."""
    narrowed = model.damage_mask(key, shape, kind="disc", center_span=center_span, min_radius=min_radius)
    if narrowed_fraction >= 1.0:
        return narrowed
    k_wide, k_pick = jax.random.split(jax.random.fold_in(key, 2))
    wide = model.damage_mask(k_wide, shape, kind="disc")
    return jnp.where(jax.random.uniform(k_pick, (shape[0], 1, 1, 1)) < narrowed_fraction, narrowed, wide)


def draw_steps(keys: IterationKeys, train_config: TrainConfig) -> jax.Array:
    """This iteration's rollout length, uniform in [min_steps, max_steps] (int32 scalar)."""
    return jax.random.randint(keys.steps, (), train_config.min_steps, train_config.max_steps + 1)


def _variable_rollout(
    params,
    states,
    key,
    n_steps,
    model_config: NCAConfig,
    max_steps: int,
    rows: tuple[jax.Array, int] | None = None,
    step_fn: StepFn | None = None,
    path: str = "auto",
    precision: str = "highest",
    remat: bool | None = None,
    cut: tuple[jax.Array, jax.Array] | None = None,
):
    """``n_steps`` (traced, ≤ max_steps) NCA steps: one compiled program for every step count.

    ``step_fn(params, state, key)`` replaces the core step (the jax-nca compat layer's learned
    perception uses this to share the whole training iteration). ``path`` and ``precision`` go
    to :func:`nca_zoo.model.step`.

    ``remat`` (default: exactly when the dense path runs) rematerialises each step in the
    backward pass: only the state entering each step is kept, so memory grows with the state
    (16 channels) × steps instead of the dense MLP's hidden layer (128) × steps. The sparse path
    keeps only the state already (its hand-written backward recomputes the MLP rows it needs).

    ``rows = (offset, global_batch)`` marks ``states`` as rows ``offset …`` of a larger batch (one
    device's shard): each step's update mask is drawn for the whole batch, as one device would,
    and sliced, so a sharded run sees exactly the masks of the unsharded one.

    ``cut = (step, keep)`` multiplies the states by ``keep`` (B,H,W,1) before step ``step``
    (``TrainConfig.cut_in_rollout``): the damage happens inside the differentiated rollout.
    """

    def advance(s, k):
        if step_fn is not None:
            return step_fn(params, s, k)
        if rows is None:
            return model.step(params, s, k, config=model_config, path=path, precision=precision)
        offset, global_batch = rows
        fire = model.update_mask_from_key(k, (global_batch, *s.shape[1:3]), model_config.fire_rate)
        fire = jax.lax.dynamic_slice_in_dim(fire, offset, s.shape[0])
        return model.step(params, s, config=model_config, update_mask=fire, path=path, precision=precision)

    def body(s, xs):
        i, k = xs
        if cut is not None:
            s = jnp.where(i == cut[0], s * cut[1], s)
        return jax.lax.cond(i < n_steps, lambda s: advance(s, k), lambda s: s, s), None

    if remat is None:
        remat = step_fn is None and model.resolve_path(path) == "dense"
    if remat:
        body = jax.checkpoint(body, prevent_cse=False)  # inside scan: CSE cannot undo the remat
    xs = (jnp.arange(max_steps), jax.random.split(key, max_steps))
    return jax.lax.scan(body, states, xs)[0]


def loss_and_grads(
    params: Any,
    batch: jax.Array,
    target: jax.Array,
    key: jax.Array,
    n_steps: jax.Array,
    *,
    model_config: NCAConfig,
    train_config: TrainConfig,
    rows: tuple[jax.Array, int] | None = None,
    step_fn: StepFn | None = None,
    path: str = "auto",
    precision: str = "highest",
    remat: bool | None = None,
) -> tuple[jax.Array, jax.Array, Any]:
    """Roll ``batch`` out for ``n_steps`` and differentiate the recipe's batch loss:
    ``(loss, final, grads)``, ``loss`` always the mean MSE (what the metrics log) and ``grads``
    those of ``train_config.batch_loss`` (the mean MSE, the mean log-MSE or the mean RMSE) of each sample's
    MSE, weighted per pixel by :func:`detail_weights` where ``train_config.detail_weight`` is set.

    With ``rows`` (see :func:`_variable_rollout`) ``batch`` is one shard of a global batch and the
    loss is this shard's share of the global mean (sum over its samples / global batch size), so
    summing loss and grads over the shards gives the unsharded values. ``path``, ``precision``
    and ``remat`` as in :func:`_variable_rollout`.
    """
    share = jnp.mean if rows is None else (lambda values: jnp.sum(values) / rows[1])
    cut = _rollout_cut(batch, target, key, n_steps, train_config) if train_config.cut_in_rollout else None
    if cut is not None and rows is not None:
        raise ValueError("cut_in_rollout does not shard (rows): train it on one device")
    weights = detail_weights(target, train_config.detail_weight) if train_config.detail_weight else None
    # hidden_weight's reference: where the same rollout (same keys, so the same update masks) ends uncut
    uncut = None
    if train_config.hidden_weight:  # validated: only with cut_in_rollout, so cut is set
        uncut = _variable_rollout(
            params,
            batch,
            key,
            n_steps,
            model_config,
            train_config.max_steps,
            step_fn=step_fn,
            path=path,
            precision=precision,
        )

    def loss_fn(p):
        final = _variable_rollout(
            p, batch, key, n_steps, model_config, train_config.max_steps, rows, step_fn, path, precision, remat, cut
        )
        losses = per_sample_loss(final, target)
        weighted = losses if weights is None else model.rgba_mse(final, target, weights)
        pulled = share(_PULLED[train_config.batch_loss](weighted))
        if uncut is not None:
            pulled = pulled + train_config.hidden_weight * share(hidden_regrowth_error(final, uncut, cut[1]))
        return pulled, (final, share(losses))

    (_, (final, loss)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    return loss, final, grads


def rollout_settings(train_config: TrainConfig) -> tuple:
    """What :func:`loss_and_grads` reads of a recipe: entries whose recipes agree here can share one vmapped
    call of it (the zoo trainer groups them so)."""
    tc = train_config
    cut = (tc.damage_count, *damage_settings(tc).values()) if tc.cut_in_rollout else ()
    return (tc.min_steps, tc.max_steps, tc.batch_loss, tc.detail_weight, tc.cut_in_rollout, tc.hidden_weight, *cut)


def _rollout_cut(
    batch: jax.Array, target: jax.Array, key: jax.Array, n_steps: jax.Array, train_config: TrainConfig
) -> tuple[jax.Array, jax.Array]:
    """``(step, keep)`` for ``TrainConfig.cut_in_rollout``: the last ``damage_count`` samples get the recipe's
    damage (:func:`damage_samples`, its own keys from the rollout key) at a step uniform in ``[0, n_steps // 2]``."""
    tc = train_config
    k_mask, k_step = jax.random.split(jax.random.fold_in(key, 1))
    shape = (tc.damage_count, *batch.shape[1:3])
    erased = damage_masks(k_mask, shape, target=target, **damage_settings(tc))
    kept = jnp.ones((batch.shape[0] - tc.damage_count, *shape[1:], 1), batch.dtype)
    keep = jnp.concatenate([kept, 1.0 - erased.astype(batch.dtype)])
    return jax.random.randint(k_step, (), 0, n_steps // 2 + 1), keep


def hidden_regrowth_error(final: jax.Array, uncut: jax.Array, keep: jax.Array) -> jax.Array:
    """Per sample, the squared difference of the hidden channels (4…) between ``final`` and ``uncut`` (where the
    same rollout ends without ``cut_in_rollout``'s cut), summed over the cut cells (``keep`` 0) and divided
    by the grid's cells × channels, as an MSE is: 0 for an uncut sample (``TrainConfig.hidden_weight``)."""
    erased = 1.0 - keep
    return jnp.mean(jnp.square(final[..., 4:] - uncut[..., 4:]) * erased, axis=(1, 2, 3))


def _floored(losses: jax.Array) -> jax.Array:
    return jnp.maximum(losses, 1e-12)  # a sample that reached the target exactly: no infinite slope


#: What each ``TrainConfig.batch_loss`` differentiates, per sample (then averaged over the batch).
_PULLED: dict[str, Callable[[jax.Array], jax.Array]] = {
    "mean": lambda losses: losses,
    "log": lambda losses: jnp.log(_floored(losses)),
    "rmse": lambda losses: jnp.sqrt(_floored(losses)),
}


def apply_update(params: Any, opt_state: Any, grads: Any, train_config: TrainConfig) -> tuple[Any, Any]:
    """Per-variable gradient normalisation + Adam: the new ``(params, opt_state)``."""
    updates, opt_state = make_optimizer(train_config).update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def write_back(pool: jax.Array, idx: jax.Array | None, final: jax.Array) -> jax.Array:
    """Return the rolled-out batch to the pool rows it was drawn from (no-op without a pool)."""
    return pool if idx is None else pool.at[idx].set(final)


def train_iteration(
    state: TrainState,
    target: jax.Array,
    *,
    model_config: NCAConfig,
    train_config: TrainConfig,
    step_fn: StepFn | None = None,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One Distill training iteration, unjitted (``train_step`` is this under ``jax.jit``; the
    many-entries trainer vmaps it). Returns the new state and ``{"loss", "steps", "batch"}``.
    ``step_fn`` replaces the core step (see :func:`_variable_rollout`)."""
    tc = train_config
    keys = split_keys(state.key)
    idx, batch = sample_batch(state.pool, target, keys, model_config=model_config, train_config=tc)
    n_steps = draw_steps(keys, tc)
    loss, final, grads = loss_and_grads(
        state.params, batch, target, keys.rollout, n_steps, model_config=model_config, train_config=tc, step_fn=step_fn
    )
    params, opt_state = apply_update(state.params, state.opt_state, grads, tc)
    new_state = TrainState(params, opt_state, write_back(state.pool, idx, final), keys.next, state.iteration + 1)
    return new_state, {"loss": loss, "steps": n_steps, "batch": final}


@functools.partial(jax.jit, static_argnames=("model_config", "train_config"), donate_argnums=(0,))
def train_step(
    state: TrainState, target: jax.Array, *, model_config: NCAConfig, train_config: TrainConfig
) -> tuple[TrainState, dict[str, jax.Array]]:
    """One Distill training iteration; returns the new state and ``{"loss", "steps", "batch"}``."""
    return train_iteration(state, target, model_config=model_config, train_config=train_config)
