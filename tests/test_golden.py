"""Golden checks: our step against an independent NumPy implementation, and the authors' gecko."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import blob_state, random_params

from nca_zoo import model


def numpy_step(x: np.ndarray, params: dict, mask: np.ndarray) -> np.ndarray:
    """The Distill step written from the article, in float64 NumPy, with an explicit update mask."""
    _b, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    identity = np.zeros((3, 3))
    identity[1, 1] = 1.0
    sobel_x = np.outer([1, 2, 1], [-1, 0, 1]) / 8.0
    features = []
    for kernel in (identity, sobel_x, sobel_x.T):  # depthwise cross-correlation, row = y
        acc = np.zeros_like(x)
        for i in range(3):
            for j in range(3):
                acc += kernel[i, j] * padded[:, i : i + h, j : j + w]
        features.append(acc)
    y = np.concatenate(features, -1).reshape(-1, 3 * c)
    hidden = np.maximum(y @ params["dense_0"]["kernel"] + params["dense_0"]["bias"], 0.0)
    update = (hidden @ params["dense_1"]["kernel"] + params["dense_1"]["bias"]).reshape(x.shape)

    def alive(s: np.ndarray) -> np.ndarray:
        a = np.pad(s[..., 3:4], ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
        pooled = np.max([a[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=0)
        return pooled > 0.1

    pre = alive(x)
    x = x + update * mask
    return x * (pre & alive(x))


def _params64(params: dict) -> dict:
    return jax.tree.map(lambda a: np.asarray(a, np.float64), params)


#: Every backend JAX sees here (CI: cpu; on a GPU machine also gpu): the golden checks run on each,
#: with the default settings, so "same masks → same states" holds on any device.
BACKENDS = sorted({d.platform for d in jax.devices()} | {"cpu"})


def _golden_case(weights: str, request) -> tuple[dict, jax.Array]:
    if weights == "distill-gecko":
        nca = request.getfixturevalue("distill_gecko")
        return nca.params, model.seed(2, 40)
    return random_params(), blob_state(2, 32)


def _max_error_50_steps(params, state, step) -> float:
    rng = np.random.RandomState(0)
    ours, ref = state, np.asarray(state, np.float64)
    p64 = _params64(params)
    worst = 0.0
    for _ in range(50):
        mask = rng.uniform(size=(*state.shape[:3], 1)) < 0.5
        ours = step(params, ours, mask)
        ref = numpy_step(ref, p64, mask)
        worst = max(worst, float(np.abs(np.asarray(ours, np.float64) - ref).max()))
    assert np.abs(ref).sum() > 0  # the comparison was not between two empty grids
    return worst


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("weights", ["distill-gecko", "random"])
@pytest.mark.parametrize("path", ["sparse", "dense"])
def test_step_matches_numpy_reference_for_50_steps(weights, path, backend, request):
    """Default precision, both paths, every backend: within 1e-5 of float64 NumPy for 50 steps."""
    params, state = _golden_case(weights, request)
    device = jax.devices(backend)[0]
    params, state = jax.device_put((params, state), device)  # committed inputs: the step runs there
    step = jax.jit(lambda p, s, m: model.step(p, s, update_mask=jax.device_put(m, device), path=path))
    assert _max_error_50_steps(params, state, step) < 1e-5


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_reduced_precision_is_opt_in_and_really_reduced(precision):
    """The reduced products (emulated on CPU) move the state measurably; the default does not."""
    params, state = random_params(), blob_state(2, 32)
    reduced = jax.jit(lambda p, s, m: model.step(p, s, update_mask=m, precision=precision))
    assert _max_error_50_steps(params, state, reduced) > 1e-5


def test_distill_gecko_grows_in_our_rollout(distill_gecko):
    """Their ex3_gecko, run by our step: MSE < 0.002 at step 96 (8 rollouts) and after 500 steps."""
    grown, _ = distill_gecko.rollout(distill_gecko.seed(8), 0, 96)
    mse_96 = float(distill_gecko.mse(grown).mean())
    late, _ = distill_gecko.rollout(grown, 1, 404)
    mse_500 = float(distill_gecko.mse(late).mean())
    assert mse_96 < 0.002, mse_96
    assert mse_500 < 0.002, mse_500
