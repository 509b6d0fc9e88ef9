"""The step/rollout contract: masks, keys, rotation, sparse == dense, frames, damage, model object."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import blob_state, random_params

from nca_zoo import model
from nca_zoo.config import NCAConfig
from nca_zoo.zoo import ZooModel


def _masks(shape, steps, seed=0):
    return np.random.RandomState(seed).uniform(size=(steps, *shape[:3], 1)) < 0.5


def test_sparse_equals_dense_forward_and_gradients():
    """The two step paths agree to 1e-6: states after 12 steps, loss, and gradients (params, state)."""
    params, state = random_params(), blob_state(2, 32)
    key = jax.random.PRNGKey(3)

    def loss(p, s, path):
        final, _ = model.rollout(p, s, key, 12, path=path)
        return jnp.mean((model.to_rgba(final) - 0.3) ** 2), final

    grad = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)
    (l_sparse, f_sparse), g_sparse = grad(params, state, "sparse")
    (l_dense, f_dense), g_dense = grad(params, state, "dense")
    assert float(jnp.abs(f_sparse).max()) > 0.1
    np.testing.assert_allclose(np.asarray(f_sparse), np.asarray(f_dense), atol=1e-6)
    assert abs(float(l_sparse) - float(l_dense)) < 1e-7
    for a, b in zip(jax.tree.leaves(g_sparse), jax.tree.leaves(g_dense), strict=True):
        assert float(jnp.abs(b).max()) > 0
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_path_selection_and_the_older_sparse_flag():
    assert model.resolve_path("auto", "cpu") == "sparse"
    assert model.resolve_path("auto", "gpu") == "dense" and model.resolve_path("auto", "tpu") == "dense"
    assert model.resolve_path("dense", "cpu") == "dense"
    params, state = random_params(), blob_state(1, 16)
    mask = np.ones((1, 16, 16, 1), bool)
    legacy = model.step(params, state, update_mask=mask, sparse=False)
    np.testing.assert_array_equal(
        np.asarray(legacy), np.asarray(model.step(params, state, update_mask=mask, path="dense"))
    )
    with pytest.raises(ValueError, match="contradicts"):
        model.step(params, state, update_mask=mask, path="dense", sparse=True)
    with pytest.raises(ValueError, match="unknown step path"):
        model.step(params, state, update_mask=mask, path="fused?")
    with pytest.raises(ValueError, match="unknown precision"):
        model.step(params, state, update_mask=mask, precision="fp8")


def test_dense_training_memory_grows_with_the_state_not_the_hidden_layer():
    """Compiled temp memory per rollout step (XLA's own figure): with the dense path rematerialised
    each step keeps about one state (B,H,W,16), not the MLP's 128-wide hidden layer."""
    from nca_zoo.train.recipe import preset
    from nca_zoo.train.step import loss_and_grads

    config, b, g = NCAConfig(), 2, 32
    params, state = random_params(), model.seed(b, g)

    def temp_bytes(path, remat, steps):
        tc = preset("grow", min_steps=steps, max_steps=steps, batch_size=b, target_size=16, padding=8)
        fn = jax.jit(
            lambda p, x, k, n: loss_and_grads(
                p, x, jnp.zeros((g, g, 4)), k, n, model_config=config, train_config=tc, path=path, remat=remat
            )
        )
        compiled = fn.lower(params, state, jax.random.PRNGKey(0), jnp.int32(steps)).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    state_bytes = b * g * g * 16 * 4
    per_step = {
        (path, remat): (temp_bytes(path, remat, 16) - temp_bytes(path, remat, 8)) / 8
        for path, remat in (("dense", None), ("dense", False))
    }
    assert per_step[("dense", None)] <= 1.5 * state_bytes, per_step  # the default: rematerialised
    assert per_step[("dense", False)] >= 5 * state_bytes, per_step  # what remat saves: hidden × steps


@pytest.mark.parametrize("angle", [0.0, 0.7])
def test_perception_backward_equals_autodiff_of_a_grouped_convolution(angle):
    """The hand-written perception VJP against XLA's own gradient of an independent formulation."""
    state = jax.random.normal(jax.random.PRNGKey(0), (2, 9, 11, 16))
    cotangent = jax.random.normal(jax.random.PRNGKey(1), (2, 9, 11, 48))
    sobel_x = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0]) / 8.0

    def by_convolution(s, a):
        kx = jnp.cos(a) * sobel_x - jnp.sin(a) * sobel_x.T
        ky = jnp.sin(a) * sobel_x + jnp.cos(a) * sobel_x.T
        identity = np.zeros((3, 3))
        identity[1, 1] = 1.0
        kernels = jnp.stack([identity, kx, ky], -1)  # (3, 3, 3): features id, dx, dy of each channel
        kernel = jnp.tile(kernels[:, :, None, :], (1, 1, 1, 16))  # HWIO, grouped: channel-major outputs
        out = jax.lax.conv_general_dilated(
            s, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=16
        )
        return out.reshape(*s.shape[:3], 16, 3).swapaxes(-1, -2).reshape(*s.shape[:3], 48)

    ours_out, ours_vjp = jax.vjp(model.perceive, state, jnp.float32(angle))
    ref_out, ref_vjp = jax.vjp(by_convolution, state, jnp.float32(angle))
    np.testing.assert_allclose(ours_out, ref_out, atol=1e-5)
    (g_state, g_angle), (ref_g_state, ref_g_angle) = ours_vjp(cotangent), ref_vjp(cotangent)
    np.testing.assert_allclose(g_state, ref_g_state, atol=1e-5)
    np.testing.assert_allclose(g_angle, ref_g_angle, rtol=1e-4)


def test_sparse_handles_a_grid_full_of_live_cells():
    """When every cell is alive the sparse path must visit all of them (no fixed capacity)."""
    params = random_params()
    state = jnp.asarray(np.random.RandomState(1).uniform(0.2, 0.9, (2, 24, 24, 16)).astype(np.float32))
    mask = np.ones((2, 24, 24, 1), bool)
    sparse = model.step(params, state, update_mask=mask, path="sparse")
    np.testing.assert_allclose(sparse, model.step(params, state, update_mask=mask, path="dense"), atol=1e-6)


def test_key_draws_fresh_masks_each_step_with_the_fire_rate():
    shape = (4, 64, 64, 16)
    m1 = model.update_mask_from_key(jax.random.PRNGKey(0), shape, 0.5)
    m2 = model.update_mask_from_key(jax.random.PRNGKey(1), shape, 0.5)
    assert m1.dtype == jnp.bool_ and m1.shape == (4, 64, 64, 1)
    assert 0.47 < float(m1.mean()) < 0.53
    assert float((m1 != m2).mean()) > 0.4
    assert 0.2 < float(model.update_mask_from_key(jax.random.PRNGKey(0), shape, 0.25).mean()) < 0.3


def test_update_is_not_rescaled_and_non_firing_cells_keep_their_state():
    params, state = random_params(), blob_state(1, 32)
    none = model.step(params, state, update_mask=np.zeros((1, 32, 32, 1)))
    alive = np.asarray(model.alive_mask(state))
    np.testing.assert_array_equal(np.asarray(none), np.asarray(state) * alive)  # only the alive masking
    full = model.step(params, state, update_mask=np.ones((1, 32, 32, 1)))
    half_mask = np.random.RandomState(0).uniform(size=(1, 32, 32, 1)) < 0.5
    half = np.asarray(model.step(params, state, update_mask=half_mask))
    full = np.asarray(full)
    # Where a cell fires (and stays alive in both runs), it gets exactly the full update: no 1/fire_rate scaling.
    kept = half_mask[..., 0] & (np.abs(half).sum(-1) > 0) & (np.abs(full).sum(-1) > 0)
    assert kept.sum() > 50
    np.testing.assert_allclose(half[kept], full[kept], atol=1e-6)


def test_rollout_with_key_is_reproducible_and_key_dependent():
    params, state = random_params(), blob_state(1, 32)
    a, _ = model.rollout(params, state, jax.random.PRNGKey(0), 10)
    b, _ = model.rollout(params, state, jax.random.PRNGKey(0), 10)
    c, _ = model.rollout(params, state, jax.random.PRNGKey(1), 10)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert float(jnp.abs(a - c).max()) > 1e-3


def test_rollout_replays_explicit_masks_and_returns_every_kth_frame():
    params, state = random_params(), blob_state(2, 24)
    masks = _masks(state.shape, 10)
    manual = state
    for t in range(10):
        manual = model.step(params, manual, update_mask=masks[t])
    final, frames = model.rollout(params, state, None, 10, update_masks=masks, every=3)
    np.testing.assert_allclose(np.asarray(final), np.asarray(manual), atol=1e-6)
    assert frames.shape == (3, 2, 24, 24, 16)  # after steps 3, 6, 9; the 10th step runs after
    nine, _ = model.rollout(params, state, None, 9, update_masks=masks[:9])
    np.testing.assert_allclose(np.asarray(frames[-1]), np.asarray(nine), atol=1e-6)
    assert model.rollout(params, state, None, 10, update_masks=masks)[1] is None


def test_rotation_angle_rotates_the_dynamics():
    """Perception rotated by +90° equals running on the grid rotated by −90° (odd grid: exact)."""
    params, state = random_params(), blob_state(1, 33)
    mask = _masks(state.shape, 1)[0]
    rotated = model.step(params, state, update_mask=mask, angle=np.pi / 2)
    turned = model.step(params, jnp.rot90(state, -1, axes=(1, 2)), update_mask=np.rot90(mask, -1, axes=(1, 2)))
    np.testing.assert_allclose(np.asarray(jnp.rot90(rotated, -1, axes=(1, 2))), np.asarray(turned), atol=1e-5)
    plain = model.step(params, state, update_mask=mask)
    assert float(jnp.abs(rotated - plain).max()) > 1e-3
    np.testing.assert_allclose(np.asarray(model.step(params, state, update_mask=mask, angle=0.0)), np.asarray(plain))


def test_seed_display_and_damage():
    s = model.seed(2, (8, 10))
    assert s.shape == (2, 8, 10, 16)
    assert float(s.sum()) == 2 * 13 and float(s[0, 4, 5, 3]) == 1.0 and float(s[0, 4, 5, 2]) == 0.0
    rgb = model.to_rgb(s)
    assert float(rgb.min()) >= 0 and float(rgb.max()) <= 1 and float(rgb[0, 0, 0].min()) == 1.0  # white background
    full = jnp.ones((3, 40, 40, 16))
    disc = model.damage(full, jax.random.PRNGKey(0), kind="disc")
    erased = 1 - np.asarray(disc[..., 0]).mean(axis=(1, 2))
    assert np.all(erased > 0.005) and np.all(erased < 0.6) and len(set(np.round(erased, 4))) == 3
    half = model.damage(full, kind="half", side="right")
    assert float(half[0, :, :20].min()) == 1.0 and float(half[0, :, 20:].max()) == 0.0
    kept = {side: np.asarray(model.damage(full, kind="half", side=side)[0, ..., 0]) for side in model.HALF_SIDES}
    assert kept["left"][:, 20:].min() == 1.0 and kept["left"][:, :20].max() == 0.0
    assert kept["top"][20:].min() == 1.0 and kept["top"][:20].max() == 0.0
    assert kept["bottom"][:20].min() == 1.0 and kept["bottom"][20:].max() == 0.0
    with pytest.raises(ValueError, match="unknown side 'middle'"):
        model.damage(full, kind="half", side="middle")
    square = model.damage(full, kind="square", center=(0.0, 0.0), radius=0.5)
    assert float(square[0, 20, 20, 0]) == 0.0 and float(square[0, 0, 0, 0]) == 1.0
    with pytest.raises(ValueError, match="unknown damage kind"):
        model.damage(full, kind="star")
    with pytest.raises(ValueError, match="needs a key"):
        model.damage(full, kind="disc")


def test_model_object_step_accepts_numpy_and_never_retraces():
    nca = ZooModel(NCAConfig(), random_params())
    state = np.asarray(blob_state(1, 24))
    for i in range(30):
        state = nca.step(state, jax.random.PRNGKey(i), angle=0.1 * i)
    mask = np.ones((1, 24, 24, 1), np.float32)
    for _ in range(5):
        state = nca.step(np.asarray(state), update_mask=mask)
    assert nca._step._cache_size() == 2  # one trace for key-driven, one for mask-driven steps
    with pytest.raises(ValueError, match="PRNG key"):
        nca.step(state)
    with pytest.raises(ValueError, match=r"expected \(batch, height, width, 16\)"):
        nca.step(np.zeros((24, 24, 16)), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="expected"):
        nca.rollout(np.zeros((1, 24, 24, 12)), 0, 3)


def test_model_object_grow_frames_and_files(tmp_path):
    nca = ZooModel(NCAConfig(), random_params(), target=np.zeros((72, 72, 4), np.float32))
    grown = nca.grow(8)
    assert grown.shape == (1, 72, 72, 16)
    frames = nca.frames(10, every=5)
    assert frames.shape == (3, 72, 72, 16)
    np.testing.assert_array_equal(frames[-1], np.asarray(nca.rollout(nca.seed(), 0, 10)[0])[0])
    regen = nca.regenerate(6, 6, every=3)
    assert regen.shape == (6, 72, 72, 16)
    nca.save_gif(tmp_path / "a.gif", 6, 3)
    nca.save_png(tmp_path / "a.png", 6)
    from PIL import Image

    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (288, 288)
    assert Image.open(tmp_path / "a.png").size == (288, 288)
    assert nca.mse(grown).shape == (1,)
