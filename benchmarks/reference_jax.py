"""The baseline: the Distill NCA in plain JAX, written from the published spec, computing every cell.

Perception by zero padding + 9 shifted slices (the faster of the two plain-JAX variants in
perf-notes), the MLP as two dense matmuls over all cells, masks from a fresh key per step.
Kept independent of ``nca_zoo.model`` on purpose: it is what our fast path is measured against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

IDENTITY = np.zeros((3, 3), np.float32)
IDENTITY[1, 1] = 1.0
SOBEL_X = (np.outer([1, 2, 1], [-1, 0, 1]) / 8.0).astype(np.float32)
KERNELS = (IDENTITY, SOBEL_X, SOBEL_X.T)


def perceive(x: jax.Array) -> jax.Array:
    h, w = x.shape[1], x.shape[2]
    p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = []
    for k in KERNELS:
        acc = 0.0
        for i in range(3):
            for j in range(3):
                if k[i, j] != 0:
                    acc = acc + float(k[i, j]) * p[:, i : i + h, j : j + w]
        out.append(acc)
    return jnp.concatenate(out, -1)


def alive(x: jax.Array) -> jax.Array:
    a = x[..., 3:4]
    pooled = jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1), "SAME")
    return pooled > 0.1


def step(params: dict, x: jax.Array, key: jax.Array, fire_rate: float = 0.5) -> jax.Array:
    pre = alive(x)
    y = perceive(x)
    h = jax.nn.relu(y @ params["dense_0"]["kernel"] + params["dense_0"]["bias"])
    dx = h @ params["dense_1"]["kernel"] + params["dense_1"]["bias"]
    mask = jax.random.uniform(key, (*x.shape[:3], 1)) < fire_rate
    x = x + dx * mask
    return x * (pre & alive(x))


def rollout(params: dict, x: jax.Array, key: jax.Array, steps: int) -> jax.Array:
    def body(s, k):
        return step(params, s, k), None

    return jax.lax.scan(body, x, jax.random.split(key, steps))[0]
