"""The Growing-NCA step and rollout as pure functions over ``params`` (Distill 2020, exactly).

One step: perceive (per-channel identity + Sobel-x/y, zero padded, optionally rotated), a
48→128→16 MLP, a stochastic per-cell update mask, and the alive masks before and after.

Speed (see BENCHMARKS.md): most cells do no useful work in a step — a cell that is not alive
before the step is zeroed whatever its update, and a cell that does not fire discards it. The
``"sparse"`` path computes the MLP only for cells whose update can change the result, in
fixed-size chunks inside a loop whose trip count follows the number of such cells, with a
hand-written backward pass. The ``"dense"`` path (the reference formulation, used by exporters)
computes every cell as one matmul, which is what an accelerator does fastest. ``path="auto"``
(the default) picks sparse on CPU and dense elsewhere; both give the same result to float
rounding.

Precision: the MLP's matrix products run in full float32 (``precision="highest"``) on every
backend, so a GPU or TPU gives the CPU's results (XLA would otherwise use TF32 / bfloat16
products there). ``"tf32"`` and ``"bf16"`` are reduced-precision options for training only.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nca_zoo.config import NCAConfig

Params = dict[str, Any]
Array = jax.Array

DEFAULT_CONFIG = NCAConfig()
#: Rows of the MLP computed per loop iteration on the sparse path.
SPARSE_CHUNK = 1024

SOBEL_X = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0]) / 8.0
SOBEL_Y = SOBEL_X.T


class UpdateMLP(nn.Module):
    """Per-cell update rule: dense → ReLU → dense (zero-initialised, so a new NCA starts still).

    Its products run in full float32 on every backend, as :func:`step`'s do."""

    config: NCAConfig

    @nn.compact
    def __call__(self, features: Array) -> Array:
        highest = jax.lax.Precision.HIGHEST
        hidden = nn.Dense(
            self.config.hidden, kernel_init=nn.initializers.glorot_uniform(), precision=highest, name="dense_0"
        )
        out = nn.Dense(
            self.config.channels,
            kernel_init=nn.initializers.zeros,
            bias_init=nn.initializers.zeros,
            precision=highest,
            name="dense_1",
        )
        return out(nn.relu(hidden(features)))


def init_params(config: NCAConfig, key: Array) -> Params:
    """Fresh parameters for ``config`` (Flax layout: ``{"dense_0": {"kernel", "bias"}, ...}``)."""
    dummy = jnp.zeros((1, config.perception_size), jnp.float32)
    return jax.tree.map(jnp.asarray, UpdateMLP(config).init(key, dummy)["params"])


#: Matrix-product precisions: ``"highest"`` (float32, the default and the only one for
#: inference), ``"tf32"`` (TF32 tensor-core products on GPUs; emulated elsewhere by rounding the
#: operands to TF32's 10-bit mantissa) and ``"bf16"`` (bfloat16 operands, float32 accumulation,
#: every backend). The reduced ones are a training option.
PRECISIONS = ("highest", "tf32", "bf16")
#: Step formulations: ``"auto"`` = sparse on CPU, dense on accelerators; see :func:`resolve_path`.
PATHS = ("auto", "sparse", "dense")


def resolve_path(path: str = "auto", backend: str | None = None) -> str:
    """``"sparse"`` or ``"dense"``: ``"auto"`` becomes sparse on CPU (skipping dead and non-firing
    cells pays there) and dense on GPU/TPU (one big matmul per step is faster there; measured in
    BENCHMARKS.md). ``backend`` defaults to ``jax.default_backend()``."""
    if path not in PATHS:
        raise ValueError(f"unknown step path {path!r}; choose one of {PATHS}")
    if path != "auto":
        return path
    return "sparse" if (backend or jax.default_backend()) == "cpu" else "dense"


def _check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    return precision


def _round_to_tf32(x: Array) -> Array:
    """``x`` rounded to TF32 (10-bit mantissa, round to nearest even), straight-through gradient."""
    bits = jax.lax.bitcast_convert_type(x, jnp.uint32)
    bits = bits + jnp.uint32(0xFFF) + ((bits >> 13) & jnp.uint32(1))
    rounded = jax.lax.bitcast_convert_type(bits & jnp.uint32(0xFFFFE000), jnp.float32)
    return x + jax.lax.stop_gradient(rounded - x)


def matmul(a: Array, b: Array, precision: str = "highest") -> Array:
    """``a @ b`` in float32 at ``precision`` (see :data:`PRECISIONS`)."""
    if precision == "highest":
        return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)
    if precision == "bf16":
        return jnp.matmul(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16), preferred_element_type=jnp.float32)
    if precision == "tf32":
        if jax.default_backend() == "gpu":  # XLA's default float32 product on NVIDIA GPUs is TF32
            return jnp.matmul(a, b, precision=jax.lax.Precision.DEFAULT)
        return jnp.matmul(_round_to_tf32(a), _round_to_tf32(b), precision=jax.lax.Precision.HIGHEST)
    raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")


def _dense(params: Params, x: Array, precision: str = "highest") -> tuple[Array, Array]:
    """The MLP on rows ``x``; returns the output and the hidden pre-activation."""
    pre = matmul(x, params["dense_0"]["kernel"], precision) + params["dense_0"]["bias"]
    out = matmul(jax.nn.relu(pre), params["dense_1"]["kernel"], precision) + params["dense_1"]["bias"]
    return out, pre


def _sobel(state: Array) -> tuple[Array, Array]:
    """Sobel-x and Sobel-y of every channel, zero padded, as cross-correlation (row = y, column = x).

    Computed with shifted slices of a padded copy (~50× faster than a grouped convolution on
    XLA:CPU), separably: smoothing [1,2,1] along one axis, central difference along the other.
    """
    p = jnp.pad(state, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = state.shape[1], state.shape[2]

    def shifted(dy: int, dx: int) -> Array:
        return p[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w, :]

    diff_x = [shifted(dy, 1) - shifted(dy, -1) for dy in (-1, 0, 1)]
    diff_y = [shifted(1, dx) - shifted(-1, dx) for dx in (-1, 0, 1)]
    gx = (diff_x[0] + 2.0 * diff_x[1] + diff_x[2]) * 0.125
    gy = (diff_y[0] + 2.0 * diff_y[1] + diff_y[2]) * 0.125
    return gx, gy


@jax.custom_vjp
def perceive(state: Array, angle: Array | float = 0.0) -> Array:
    """Per-channel identity, Sobel-x and Sobel-y with zero padding: (B,H,W,C) → (B,H,W,3C).

    Features are ordered [identity×C, dx×C, dy×C] (the Distill WebGL layout). Kernels are applied
    as cross-correlation, kernel row = y, column = x, and rotated by ``angle`` (radians) as in the
    Distill rotation experiment: dx' = cos·dx − sin·dy, dy' = sin·dx + cos·dy.

    The backward pass is hand-written (see ``_perceive_bwd``): XLA's transpose of the shifted
    slices costs ~15× the forward pass and was a third of a training iteration.
    """
    gx, gy = _sobel(state)
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.concatenate([state, c * gx - s * gy, s * gx + c * gy], axis=-1)


def _perceive_fwd(state: Array, angle: Array | float) -> tuple[Array, tuple[Array, Array]]:
    return perceive(state, angle), (state, jnp.asarray(angle))


def _perceive_bwd(residuals: tuple[Array, Array], g: Array) -> tuple[Array, Array]:
    """The adjoint of zero-padded cross-correlation is zero-padded cross-correlation with the
    flipped kernel, and the Sobel kernels are odd (flipped = negated): so the state's gradient
    is the identity part minus the Sobel filters of the (un-rotated) feature gradients."""
    state, angle = residuals
    g_id, g_dx, g_dy = jnp.split(g, 3, axis=-1)
    c, s = jnp.cos(angle), jnp.sin(angle)
    g_gx, g_gy = c * g_dx + s * g_dy, c * g_dy - s * g_dx
    sx_of_gx, _ = _sobel(g_gx)
    _, sy_of_gy = _sobel(g_gy)
    g_state = g_id - sx_of_gx - sy_of_gy
    gx, gy = _sobel(state)
    g_angle = jnp.sum(g_dx * (-s * gx - c * gy) + g_dy * (c * gx - s * gy))
    return g_state, jnp.reshape(g_angle, jnp.shape(angle)).astype(angle.dtype)


perceive.defvjp(_perceive_fwd, _perceive_bwd)


def _max3(x: Array, window: int = 3) -> Array:
    # Keyword arguments: jax2onnx swaps in a keyword-only ``max_pool`` while it traces.
    return nn.max_pool(x, window_shape=(window, window), strides=(1, 1), padding="SAME")


def alive_mask(state: Array, threshold: float = DEFAULT_CONFIG.alive_threshold, alpha_index: int = 3) -> Array:
    """Cells with some alpha > threshold in their 3×3 neighbourhood: (B,H,W,1) bool.

    Alpha is channel 3 (RGBA first); ``alpha_index`` serves layouts that put it elsewhere (jax-nca compat).
    """
    return _max3(state[..., alpha_index : alpha_index + 1]) > threshold


def _active_rows(active: Array) -> tuple[Array, Array]:
    """Indices of active rows (padded with N to a whole number of chunks) and their count."""
    n = active.shape[0]
    padded = -(-n // SPARSE_CHUNK) * SPARSE_CHUNK
    idx = jnp.nonzero(active, size=padded, fill_value=n)[0].astype(jnp.int32)
    return idx, jnp.sum(active, dtype=jnp.int32)


def _chunks(count: Array) -> Array:
    return (count + SPARSE_CHUNK - 1) // SPARSE_CHUNK


def _sparse_forward(params: Params, features: Array, active: Array, precision: str = "highest") -> Array:
    n = features.shape[0]
    channels = params["dense_1"]["bias"].shape[0]
    idx, count = _active_rows(active)

    def body(i: Array, out: Array) -> Array:
        rows = jax.lax.dynamic_slice(idx, (i * SPARSE_CHUNK,), (SPARSE_CHUNK,))
        y, _ = _dense(params, features.at[rows].get(mode="fill", fill_value=0.0), precision)
        return out.at[rows].set(y, mode="drop")

    return jax.lax.fori_loop(0, _chunks(count), body, jnp.zeros((n, channels), features.dtype))


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _sparse_update(
    params: Params, state: Array, angle: Array, active: Array, grad_active: Array, precision: str = "highest"
) -> Array:
    """MLP(perceive(state)) on rows where ``active``, zero elsewhere: (B,H,W,C).

    ``grad_active`` ⊆ ``active`` marks the rows whose update reaches the output with a non-zero
    gradient (alive before the step and firing); the backward pass only visits those.
    """
    b, h, w, c = state.shape
    features = perceive(state, angle).reshape(b * h * w, -1)
    return _sparse_forward(params, features, active.reshape(-1), precision).reshape(b, h, w, c)


def _sparse_update_fwd(params, state, angle, active, grad_active, precision):
    out = _sparse_update(params, state, angle, active, grad_active, precision)
    return out, (params, state, angle, grad_active)


def _sparse_update_bwd(precision, residuals, g):
    params, state, angle, grad_active = residuals
    b, h, w, c = state.shape
    features, perceive_vjp = jax.vjp(lambda s: perceive(s, angle).reshape(b * h * w, -1), state)
    g = g.reshape(b * h * w, c)
    idx, count = _active_rows(grad_active.reshape(-1))
    w0, w1 = params["dense_0"]["kernel"], params["dense_1"]["kernel"]

    def body(i, carry):
        grads, g_features = carry
        rows = jax.lax.dynamic_slice(idx, (i * SPARSE_CHUNK,), (SPARSE_CHUNK,))
        x = features.at[rows].get(mode="fill", fill_value=0.0)
        gy = g.at[rows].get(mode="fill", fill_value=0.0)
        pre = matmul(x, w0, precision) + params["dense_0"]["bias"]
        hid = jax.nn.relu(pre)
        g_pre = jnp.where(pre > 0, matmul(gy, w1.T, precision), 0.0)
        step_grads = {
            "dense_0": {"kernel": matmul(x.T, g_pre, precision), "bias": g_pre.sum(0)},
            "dense_1": {"kernel": matmul(hid.T, gy, precision), "bias": gy.sum(0)},
        }
        grads = jax.tree.map(jnp.add, grads, step_grads)
        return grads, g_features.at[rows].set(matmul(g_pre, w0.T, precision), mode="drop")

    zero_grads = jax.tree.map(jnp.zeros_like, params)
    grads, g_features = jax.lax.fori_loop(0, _chunks(count), body, (zero_grads, jnp.zeros_like(features)))
    (g_state,) = perceive_vjp(g_features)
    return grads, g_state, jnp.zeros_like(angle), None, None


_sparse_update.defvjp(_sparse_update_fwd, _sparse_update_bwd)


def update_mask_from_key(key: Array, shape: tuple[int, ...], fire_rate: float) -> Array:
    """The stochastic update: a cell fires where ``uniform < fire_rate`` (bool, (B,H,W,1))."""
    return jax.random.uniform(key, (*shape[:3], 1)) < fire_rate


def step(
    params: Params,
    state: Array,
    key: Array | None = None,
    *,
    config: NCAConfig = DEFAULT_CONFIG,
    angle: Array | float = 0.0,
    fire_rate: float | None = None,
    update_mask: Array | None = None,
    path: str = "auto",
    precision: str = "highest",
    sparse: bool | None = None,
) -> Array:
    """One NCA step on ``state`` (B,H,W,C).

    The per-cell update mask is drawn from ``key`` (pass a fresh key each step), unless
    ``update_mask`` (B,H,W,1, bool or 0/1 float) is given, which replays a run exactly.
    ``angle`` (radians) rotates the perception. ``path`` chooses the formulation: ``"sparse"``
    (the MLP only where it can change the result), ``"dense"`` (every cell; the reference
    formulation, used by exporters) or ``"auto"`` (sparse on CPU, dense on accelerators; see
    :func:`resolve_path`); all give the same result. ``sparse=True/False`` is the older spelling
    of ``path="sparse"/"dense"``. ``precision`` is the MLP's matrix-product precision
    (:data:`PRECISIONS`; float32 unless a reduced one is asked for).
    """
    path = _legacy_path(path, sparse)
    _check_precision(precision)
    if update_mask is None:
        if key is None:
            raise ValueError("step needs a PRNG key or an explicit update_mask")
        rate = config.fire_rate if fire_rate is None else fire_rate
        fire = update_mask_from_key(key, state.shape, rate)
    else:
        update_mask = jnp.asarray(update_mask)
        fire = update_mask if update_mask.dtype == jnp.bool_ else update_mask > 0.5
    angle = jnp.asarray(angle, state.dtype)
    alpha = state[..., 3:4]
    pre = _max3(alpha) > config.alive_threshold
    if resolve_path(path) == "sparse":
        # A firing cell matters if it is alive before the step, or if its new alpha can make a
        # pre-alive neighbour pass the post-step alive test: i.e. within 5×5 of live alpha.
        reach = _max3(alpha, 5) > config.alive_threshold
        update = _sparse_update(params, state, angle, fire & reach, fire & pre, precision)
    else:
        b, h, w, c = state.shape
        update, _ = _dense(params, perceive(state, angle).reshape(b * h * w, -1), precision)
        update = update.reshape(b, h, w, c) * fire.astype(state.dtype)
    new = state + update * config.step_size
    post = alive_mask(new, config.alive_threshold)
    return new * (pre & post).astype(state.dtype)


def _legacy_path(path: str, sparse: bool | None) -> str:
    """``path`` after applying the older ``sparse=`` flag (which must not contradict it)."""
    if sparse is None:
        return path
    legacy = "sparse" if sparse else "dense"
    if path not in ("auto", legacy):
        raise ValueError(f"sparse={sparse} contradicts path={path!r}; pass only path=")
    return legacy


@functools.partial(jax.jit, static_argnames=("steps", "config", "every", "path", "precision", "sparse"))
def rollout(
    params: Params,
    state: Array,
    key: Array | None,
    steps: int,
    *,
    config: NCAConfig = DEFAULT_CONFIG,
    angle: Array | float = 0.0,
    fire_rate: float | None = None,
    update_masks: Array | None = None,
    every: int | None = None,
    path: str = "auto",
    precision: str = "highest",
    sparse: bool | None = None,
) -> tuple[Array, Array | None]:
    """Run ``steps`` steps with ``jax.lax.scan``; a fresh key (or ``update_masks[t]``) each step.
    ``path``, ``precision`` (and the older ``sparse``) as in :func:`step`.

    Returns ``(final_state, frames)``: ``frames`` is ``None`` unless ``every`` is given, then it
    holds the states after steps ``every, 2·every, …`` (shape (steps // every, B, H, W, C)), so
    the whole trajectory is never kept in memory unless asked for (``every=1``).
    """
    if update_masks is None:
        if key is None:
            raise ValueError("rollout needs a PRNG key or explicit update_masks")
        xs = jax.random.split(key, steps)
    else:
        xs = jnp.asarray(update_masks)
        if xs.shape[0] != steps:
            raise ValueError(f"update_masks has {xs.shape[0]} steps, expected {steps}")

    def body(s: Array, x: Array) -> tuple[Array, None]:
        kw = {"config": config, "angle": angle, "path": path, "precision": precision, "sparse": sparse}
        if update_masks is None:
            return step(params, s, x, fire_rate=fire_rate, **kw), None
        return step(params, s, update_mask=x, **kw), None

    if every is None:
        return jax.lax.scan(body, state, xs)[0], None
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    n_frames, rest = divmod(steps, every)

    def chunk(s: Array, x: Array) -> tuple[Array, Array]:
        s = jax.lax.scan(body, s, x)[0]
        return s, s

    head = jax.tree.map(lambda a: a[: n_frames * every].reshape(n_frames, every, *a.shape[1:]), xs)
    state, frames = jax.lax.scan(chunk, state, head)
    if rest:
        state = jax.lax.scan(body, state, jax.tree.map(lambda a: a[n_frames * every :], xs))[0]
    return state, frames


def seed(batch: int = 1, size: int | tuple[int, int] = 72, channels: int = 16) -> Array:
    """The Distill seed: an empty grid with one live cell in the centre (channels 3: = 1)."""
    h, w = (size, size) if isinstance(size, int) else size
    state = np.zeros((batch, h, w, channels), np.float32)
    state[:, h // 2, w // 2, 3:] = 1.0
    return jnp.asarray(state)


def to_rgba(state: Array) -> Array:
    """The visible (premultiplied) RGBA channels of a state."""
    return state[..., :4]


def rgba_mse(states: Array, target: Array, weights: Array | None = None) -> Array:
    """Per-sample MSE of the visible RGBA channels of ``states`` (B,H,W,C) against ``target`` (H,W,4):
    the training loss and every evaluation metric; ``weights`` (H,W,1) weighs each cell's squared error."""
    squared = jnp.square(to_rgba(states) - target)
    return jnp.mean(squared if weights is None else weights * squared, axis=(-3, -2, -1))


def to_rgb(state: Array) -> Array:
    """The Distill display: premultiplied RGB over a white background, ``1 - a + rgb``, clipped."""
    alpha = jnp.clip(state[..., 3:4], 0.0, 1.0)
    return jnp.clip(1.0 - alpha + state[..., :3], 0.0, 1.0)


DAMAGE_KINDS = ("disc", "half", "square", "plane")
HALF_SIDES = ("right", "left", "top", "bottom")
MAX_DISC_RADIUS = 0.4  # Distill's largest damaging disc, in grid coordinates ([-1, 1] across)


def damage_mask(
    key: Array | None,
    shape: tuple[int, ...],
    *,
    kind: str = "disc",
    center: tuple[float, float] | None = None,
    radius: float | None = None,
    side: str = "right",
    center_span: float = 0.5,
    min_radius: float = 0.1,
) -> Array:
    """1 where cells are erased, (B,H,W,1) float. Coordinates span [-1, 1] across the grid.

    ``disc`` draws, per batch element, a centre in [-0.5, 0.5]² and a radius in [0.1, 0.4]
    (the Distill regeneration training damage) unless ``center``/``radius`` fix them (``center``: two
    numbers, or two arrays of one number per batch element); ``center_span`` and ``min_radius`` narrow
    the draws (a centre in [-span, span]², a radius in [min_radius, 0.4]); ``square``
    is the same with a square; ``half`` erases the ``side`` half (left/right/top/bottom); ``plane``
    erases, per batch element, a random half-plane: the cells with x·cos θ + y·sin θ > d for θ
    uniform in [0, 2π) and d uniform in [-0.2, 0.2] (the zoo's regen recipe adds it to the discs).
    """
    if kind not in DAMAGE_KINDS:
        raise ValueError(f"unknown damage kind {kind!r}; choose one of {DAMAGE_KINDS}")
    b, h, w = shape[:3]
    ys = jnp.linspace(-1.0, 1.0, h)[None, :, None]
    xs = jnp.linspace(-1.0, 1.0, w)[None, None, :]
    if kind == "half":
        if side not in HALF_SIDES:
            raise ValueError(f"unknown side {side!r}; choose one of {HALF_SIDES}")
        coord = xs if side in ("right", "left") else ys
        erased = coord > 0 if side in ("right", "bottom") else coord < 0
        return jnp.broadcast_to(erased, (b, h, w))[..., None].astype(jnp.float32)
    if kind == "plane":
        if key is None:
            raise ValueError("plane damage needs a key")
        k_angle, k_offset = jax.random.split(key)
        theta = jax.random.uniform(k_angle, (b, 1, 1), maxval=2 * jnp.pi)
        offset = jax.random.uniform(k_offset, (b, 1, 1), minval=-0.2, maxval=0.2)
        return (xs * jnp.cos(theta) + ys * jnp.sin(theta) > offset)[..., None].astype(jnp.float32)
    if (center is None or radius is None) and key is None:
        raise ValueError(f"{kind} damage needs a key, or both center and radius")
    if not (0.0 <= center_span <= 1.0 and 0.0 < min_radius <= MAX_DISC_RADIUS):
        raise ValueError(
            f"need 0 <= center_span <= 1 and 0 < min_radius <= {MAX_DISC_RADIUS}, got {center_span}, {min_radius}"
        )
    k_center, k_radius = jax.random.split(key) if key is not None else (None, None)
    if center is None:
        cy, cx = jax.random.uniform(k_center, (2, b, 1, 1), minval=-center_span, maxval=center_span)
    else:  # one centre for all, or one per batch element
        cy, cx = (jnp.broadcast_to(jnp.reshape(jnp.asarray(v, jnp.float32), (-1, 1, 1)), (b, 1, 1)) for v in center)
    r = jax.random.uniform(k_radius, (b, 1, 1), minval=min_radius, maxval=MAX_DISC_RADIUS) if radius is None else radius
    dx, dy = (xs - cx) / r, (ys - cy) / r
    inside = (dx * dx + dy * dy < 1.0) if kind == "disc" else (jnp.maximum(abs(dx), abs(dy)) < 1.0)
    return inside[..., None].astype(jnp.float32)


def damage(state: Array, key: Array | None = None, **kwargs: Any) -> Array:
    """Erase part of every pattern in the batch; see :func:`damage_mask` for the shapes."""
    return state * (1.0 - damage_mask(key, state.shape, **kwargs))
