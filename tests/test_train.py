"""The shared trainer: recipe, no recompiles, learning, resume == uninterrupted, NaN handling."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nca_zoo
from nca_zoo.config import NCAConfig
from nca_zoo.targets import grid_target
from nca_zoo.train import loop
from nca_zoo.train.recipe import TrainConfig, preset
from nca_zoo.train.step import init_state, normalize_per_variable, train_step
from nca_zoo.weights import load_weights, read_metadata, save_weights

TINY = {"batch_size": 4, "pool_size": 16, "min_steps": 6, "max_steps": 10, "target_size": 12, "padding": 4}


def tiny(experiment: str = "regen", **overrides) -> TrainConfig:
    damage = {"damage_count": 1} if experiment == "regen" else {}
    return preset(experiment, **{**TINY, **damage, **overrides})


def test_presets_are_the_distill_recipe():
    regen = preset("regen")
    assert (regen.batch_size, regen.pool_size, regen.damage_count) == (8, 1024, 3)
    assert (regen.min_steps, regen.max_steps, regen.iterations) == (64, 96, 8000)
    assert (regen.learning_rate, regen.decayed_learning_rate, regen.decay_at) == (2e-3, 2e-4, 2000)
    assert regen.grid_size == 72
    assert preset("persist").damage_count == 0 and preset("persist").pool_size == 1024
    assert preset("grow").pool_size == 0
    with pytest.raises(ValueError, match="unknown experiment"):
        preset("regrow")
    with pytest.raises(ValueError, match="damage needs a sample pool"):
        TrainConfig(experiment="grow", pool_size=0, damage_count=3)


def test_gradient_normalisation_is_per_variable():
    grads = {"a": jnp.full((3, 4), 7.0), "b": jnp.array([3.0, 4.0])}
    normed, _ = normalize_per_variable().update(grads, None)
    for leaf in jax.tree.leaves(normed):
        assert abs(float(jnp.linalg.norm(leaf)) - 1.0) < 1e-6


@pytest.mark.parametrize("batch_loss, scale", [("log", lambda L: 1 / L), ("rmse", lambda L: 1 / (2 * L**0.5))])
def test_the_log_and_rmse_batch_losses_weigh_each_sample_by_its_own_error(batch_loss, scale):
    """``batch_loss="log"`` follows the mean log-MSE, ``"rmse"`` the mean root-MSE: with equal per-sample
    losses L the gradient is the mean loss's times 1/L or 1/(2√L) (so it is not the mean's), while the
    logged loss stays the mean MSE; a sharded batch sums to the unsharded values under them too."""
    from nca_zoo.train.step import loss_and_grads

    mc = NCAConfig(fire_rate=1.0)  # every cell fires: identical samples stay identical
    target = jnp.asarray(grid_target("gecko", 12, 4))
    params = init_state(mc, tiny()).params
    params = jax.tree.map(lambda x: x + 0.01 * jax.random.normal(jax.random.PRNGKey(3), x.shape), params)
    batch = jnp.repeat(jax.random.uniform(jax.random.PRNGKey(4), (1, 20, 20, 16)), 4, axis=0)
    key, n = jax.random.PRNGKey(5), jnp.asarray(8)
    mean_loss, _, mean_grads = loss_and_grads(params, batch, target, key, n, model_config=mc, train_config=tiny())
    log_recipe = tiny(batch_loss=batch_loss)
    log_loss, _, log_grads = loss_and_grads(params, batch, target, key, n, model_config=mc, train_config=log_recipe)
    assert float(log_loss) == pytest.approx(float(mean_loss), rel=1e-6) and float(mean_loss) > 0
    for m, g in zip(jax.tree.leaves(mean_grads), jax.tree.leaves(log_grads), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(m) * scale(float(mean_loss)), rtol=2e-3, atol=1e-6)
    assert any(float(jnp.abs(m).max()) > 0 for m in jax.tree.leaves(mean_grads))

    other = jax.random.uniform(jax.random.PRNGKey(6), (4, 20, 20, 16))  # unequal samples, two shards
    whole = loss_and_grads(params, other, target, key, n, model_config=mc, train_config=log_recipe)
    shards = [
        loss_and_grads(params, other[i : i + 2], target, key, n, model_config=mc, train_config=log_recipe, rows=(i, 4))
        for i in (0, 2)
    ]
    assert float(shards[0][0] + shards[1][0]) == pytest.approx(float(whole[0]), rel=1e-5)
    for w, a, b in zip(*(jax.tree.leaves(r[2]) for r in (whole, *shards)), strict=True):
        np.testing.assert_allclose(np.asarray(a + b), np.asarray(w), rtol=1e-4, atol=1e-6)


def test_detail_weights_are_one_on_flat_colour_and_largest_at_a_small_feature():
    """``detail_weights``: 1 wherever the target is locally flat (background, the inside of a large
    patch), ``1 + strength`` at the sharpest feature — here a single dark pixel inside a yellow square."""
    from nca_zoo.train.step import detail_weights

    target = np.zeros((24, 24, 4), np.float32)
    target[4:20, 4:20] = (1.0, 0.8, 0.2, 1.0)
    target[12, 12] = (0.1, 0.1, 0.1, 1.0)
    weights = np.asarray(detail_weights(jnp.asarray(target), 8.0))[..., 0]
    assert weights.shape == (24, 24)
    assert weights[0, 0] == pytest.approx(1.0) and weights[8, 17] == pytest.approx(1.0)  # flat: 2 cells in
    assert weights.max() == pytest.approx(9.0) and np.unravel_index(weights.argmax(), weights.shape) == (12, 12)
    flat = np.asarray(detail_weights(jnp.full((8, 8, 4), 0.5), 8.0))[..., 0]  # the zero padding makes an edge
    assert flat[0, 0] == pytest.approx(9.0) and flat[4, 4] == pytest.approx(1.0)


def test_aimed_discs_are_centred_on_features_inside_the_pattern():
    """``aimed_disc_fraction``: ``feature_cells`` puts its probability on inner detail (a dark dot inside a
    yellow square), none on the outline or the background; nearly every aimed disc erases the dot; 0 keeps the
    article's draws key for key."""
    from nca_zoo.train.step import damage_samples, feature_cells

    target = np.zeros((40, 40, 4), np.float32)
    target[6:34, 6:34] = (1.0, 0.8, 0.2, 1.0)
    target[20, 14] = (0.1, 0.1, 0.1, 1.0)
    cells = np.asarray(feature_cells(jnp.asarray(target)))
    assert cells.sum() == pytest.approx(1.0) and cells[20, 14] == cells.max()
    assert cells[6, 20] == 0 and cells[0, 0] == 0 and cells[:, 30:].sum() < 1e-4  # outline, background, far side
    states = jnp.ones((64, 40, 40, 16))
    aimed = np.asarray(
        damage_samples(states, jax.random.PRNGKey(1), target=jnp.asarray(target), aimed_disc_fraction=1.0)
    )
    assert (aimed[:, 20, 14, 3] == 0).mean() > 0.9  # centred within 2 cells of the dot, radius ≥ 2 cells
    uniform = np.asarray(damage_samples(states, jax.random.PRNGKey(1)))
    assert (uniform[:, 20, 14, 3] == 0).mean() < 0.6
    article = np.asarray(nca_zoo.model.damage(states, jax.random.PRNGKey(1), kind="disc"))
    np.testing.assert_array_equal(uniform, article)
    flat = np.zeros((40, 40, 4), np.float32)
    flat[6:34, 6:34] = 1.0  # no inner detail: any opaque cell
    assert np.asarray(feature_cells(jnp.asarray(flat)))[6:34, 6:34].min() > 0
    with pytest.raises(ValueError, match="aimed discs need the target"):
        damage_samples(states, jax.random.PRNGKey(1), aimed_disc_fraction=0.5)


def test_narrowed_disc_draws_cut_large_holes_over_the_middle():
    """``disc_center_span`` / ``disc_min_radius``: with a span of 0.1 and a minimum radius of 0.3 every disc
    erases the middle cell and at least π·(0.3·35.5)² cells (Distill's draws do neither); the recipe refuses
    a minimum radius above Distill's largest disc; the defaults are the article's draws key for key."""
    from nca_zoo.train.recipe import preset
    from nca_zoo.train.step import damage_masks, damage_settings

    shape, key = (256, 72, 72, 16), jax.random.PRNGKey(3)
    narrow = preset("regen", recipe="distill", disc_center_span=0.1, disc_min_radius=0.3)
    erased = np.asarray(damage_masks(key, shape, **damage_settings(narrow)))[..., 0]
    assert erased[:, 36, 36].all() and erased.sum(axis=(1, 2)).min() >= np.pi * (0.3 * 35.5) ** 2 * 0.95
    article = np.asarray(damage_masks(key, shape, **damage_settings(preset("regen", recipe="distill"))))[..., 0]
    assert not article[:, 36, 36].all() and article.sum(axis=(1, 2)).min() < np.pi * (0.3 * 35.5) ** 2 * 0.5
    np.testing.assert_array_equal(article, np.asarray(nca_zoo.model.damage_mask(key, shape, kind="disc"))[..., 0])
    with pytest.raises(ValueError, match="disc_min_radius must be in"):
        preset("regen", disc_min_radius=0.5)


def test_a_share_of_narrowed_discs_mixes_both_draws_per_sample():
    """``narrowed_disc_fraction``: with 0.5, about half the samples get a large middle disc and the rest
    Distill's draws (some miss the middle, some are small); the share must be a fraction."""
    from nca_zoo.train.recipe import preset
    from nca_zoo.train.step import damage_masks, damage_settings

    shape, key, large = (512, 72, 72, 16), jax.random.PRNGKey(3), np.pi * (0.3 * 35.5) ** 2 * 0.95
    mixed = preset("regen", recipe="distill", disc_center_span=0.1, disc_min_radius=0.3, narrowed_disc_fraction=0.5)
    erased = np.asarray(damage_masks(key, shape, **damage_settings(mixed)))[..., 0]
    middle_and_large = erased[:, 36, 36].astype(bool) & (erased.sum(axis=(1, 2)) >= large)
    assert 0.4 < middle_and_large.mean() < 0.8  # the narrowed half, and the wide discs that happen to be so
    assert (~erased[:, 36, 36].astype(bool)).mean() > 0.2 and erased.sum(axis=(1, 2)).min() < large / 4
    with pytest.raises(ValueError, match="narrowed_disc_fraction must be in"):
        preset("regen", narrowed_disc_fraction=1.5)


def test_a_cut_in_the_rollout_happens_at_its_step_inside_the_differentiated_steps():
    """``cut_in_rollout``: the batch is sampled undamaged, and the rollout multiplies the states by the cut's
    mask right before its step — the same states as stepping by hand and cutting there; the damaged rows'
    gradient then reaches the steps before the cut. A recipe without damage refuses it."""
    from nca_zoo import model
    from nca_zoo.train.step import _rollout_cut, _variable_rollout, rollout_settings, sample_batch, split_keys

    mc = NCAConfig()
    tc = tiny(cut_in_rollout=True, max_steps=8)
    target = jnp.asarray(grid_target("smiley", 12, 4))
    state = init_state(mc, tc)
    params = jax.tree.map(lambda x: x + 0.02 * jax.random.normal(jax.random.PRNGKey(3), x.shape), state.params)
    pool = jax.random.uniform(jax.random.PRNGKey(4), state.pool.shape)
    keys = split_keys(jax.random.PRNGKey(5))
    _, batch = sample_batch(pool, target, keys, model_config=mc, train_config=tc)
    assert float(jnp.min(batch[-1, ..., 3])) > 0  # not damaged before the rollout (the pool has no zeros)
    n = jnp.asarray(7)
    step, keep = _rollout_cut(batch, target, keys.rollout, n, tc)
    assert 0 <= int(step) <= 3 and float(keep[:-1].min()) == 1.0 and float(keep[-1].min()) == 0.0
    cut = (jnp.asarray(2), keep)
    rolled = _variable_rollout(params, batch, keys.rollout, n, mc, 8, cut=cut)
    by_hand = batch
    for i, k in enumerate(jax.random.split(keys.rollout, 8)[:7]):
        by_hand = by_hand * keep if i == 2 else by_hand
        by_hand = model.step(params, by_hand, k, config=mc)
    np.testing.assert_allclose(np.asarray(rolled), np.asarray(by_hand), rtol=1e-5, atol=1e-6)
    assert rollout_settings(tc) != rollout_settings(tiny()) and rollout_settings(tiny()) == rollout_settings(tiny())
    with pytest.raises(ValueError, match="cut_in_rollout needs damaged samples"):
        tiny("persist", cut_in_rollout=True)


def loss_inputs() -> tuple:
    """``(model_config, target, params, batch, key, n_steps)``: a small loss_and_grads call whose gradient
    is not zero (params nudged off the zero-initialised last layer)."""
    mc = NCAConfig()
    target = jnp.asarray(grid_target("smiley", 12, 4))
    params = init_state(mc, tiny()).params
    params = jax.tree.map(lambda x: x + 0.01 * jax.random.normal(jax.random.PRNGKey(3), x.shape), params)
    batch = jax.random.uniform(jax.random.PRNGKey(4), (4, 20, 20, 16))
    return mc, target, params, batch, jax.random.PRNGKey(5), jnp.asarray(8)


def test_detail_weight_moves_the_gradient_but_not_the_logged_loss():
    """``detail_weight`` changes what the gradient follows (the target's details weigh more) while the
    logged loss stays the plain MSE; 0 is the article's loss exactly."""
    from nca_zoo.train.step import loss_and_grads

    mc, target, params, batch, key, n = loss_inputs()
    plain = loss_and_grads(params, batch, target, key, n, model_config=mc, train_config=tiny())
    zero = loss_and_grads(params, batch, target, key, n, model_config=mc, train_config=tiny(detail_weight=0.0))
    weighted = loss_and_grads(params, batch, target, key, n, model_config=mc, train_config=tiny(detail_weight=8.0))
    assert float(weighted[0]) == pytest.approx(float(plain[0]), rel=1e-6) and float(plain[0]) > 0
    differs = []
    for p, z, w in zip(*(jax.tree.leaves(r[2]) for r in (plain, zero, weighted)), strict=True):
        np.testing.assert_array_equal(np.asarray(z), np.asarray(p))
        differs.append(not np.allclose(np.asarray(w), np.asarray(p), rtol=1e-2))
    assert any(differs)


def test_hidden_weight_asks_the_cut_cells_hidden_channels_back():
    """``hidden_weight``: the error is the hidden channels' squared change over the cut cells only (per grid
    cell and channel, 0 for an uncut sample) against the same rollout uncut, which ends as the uncut rows do;
    it moves the gradient, not the logged loss, and needs the cut inside the rollout."""
    from nca_zoo.train.step import _variable_rollout, hidden_regrowth_error, loss_and_grads

    before = jax.random.uniform(jax.random.PRNGKey(0), (3, 10, 10, 16))
    final = before.at[..., 4:].add(0.5).at[..., :4].add(9.0)  # visible channels do not count
    keep = jnp.ones((3, 10, 10, 1)).at[2, :5, :4].set(0.0)  # 20 of sample 2's 100 cells cut
    np.testing.assert_allclose(np.asarray(hidden_regrowth_error(final, before, keep)), [0, 0, 0.25 * 0.2], rtol=1e-6)

    mc, target, params, batch, key, n = loss_inputs()
    cut, asked = tiny(cut_in_rollout=True), tiny(cut_in_rollout=True, hidden_weight=2.0)
    plain = loss_and_grads(params, batch, target, key, n, model_config=mc, train_config=cut)
    hidden = loss_and_grads(params, batch, target, key, n, model_config=mc, train_config=asked)
    assert float(hidden[0]) == pytest.approx(float(plain[0]), rel=1e-6)
    np.testing.assert_array_equal(np.asarray(hidden[1]), np.asarray(plain[1]))  # the same rollout
    uncut = _variable_rollout(params, batch, key, n, mc, asked.max_steps)  # the reference: same keys, no cut
    np.testing.assert_allclose(np.asarray(uncut[:-1]), np.asarray(hidden[1][:-1]), rtol=1e-6, atol=1e-7)
    assert not np.allclose(np.asarray(uncut[-1]), np.asarray(hidden[1][-1]))  # only the damaged row differs
    grads = (jax.tree.leaves(r[2]) for r in (plain, hidden))
    differs = [not np.allclose(a, b, rtol=1e-2) for a, b in zip(*grads, strict=True)]
    assert any(differs)
    with pytest.raises(ValueError, match="hidden_weight needs cut_in_rollout"):
        tiny(hidden_weight=1.0)


def test_variable_step_counts_share_one_compilation_and_the_pool_evolves():
    tc = tiny(iterations=6)
    target = jnp.asarray(grid_target("gecko", 12, 4))
    state = init_state(NCAConfig(), tc)
    pool0 = np.asarray(state.pool).copy()
    steps = set()
    before = train_step._cache_size()
    for _ in range(6):
        state, out = train_step(state, target, model_config=NCAConfig(), train_config=tc)
        steps.add(int(out["steps"]))
    assert len(steps) > 1 and all(6 <= s <= 10 for s in steps)
    assert train_step._cache_size() - before == 1
    changed = np.abs(np.asarray(state.pool) - pool0).reshape(16, -1).max(axis=1) > 0
    assert 4 <= changed.sum() <= 16  # pool entries were written back
    assert int(state.iteration) == 6


@pytest.mark.parametrize("reseed_count", [1, 3])
def test_the_worst_reseed_count_samples_of_a_pool_batch_are_replaced_by_the_seed(reseed_count):
    from nca_zoo import model
    from nca_zoo.train.step import per_sample_loss, sample_batch, split_keys

    tc = tiny("regen", batch_size=6, reseed_count=reseed_count)
    target = jnp.asarray(grid_target("gecko", 12, 4))
    state = init_state(NCAConfig(), tc)
    pool = jax.random.uniform(jax.random.PRNGKey(1), state.pool.shape)  # every row differs from the seed
    idx, batch = sample_batch(pool, target, split_keys(state.key), model_config=NCAConfig(), train_config=tc)
    seed = np.asarray(model.seed(1, tc.grid_size, 16))[0]
    is_seed = [np.array_equal(np.asarray(row), seed) for row in batch]
    assert is_seed == [True] * reseed_count + [False] * (6 - reseed_count)
    losses = np.asarray(per_sample_loss(pool[idx], target))
    assert np.all(np.diff(losses) <= 0)  # the reseeded rows were the worst of the batch


def test_random_reseed_replaces_undamaged_rows_and_not_always_the_worst():
    from nca_zoo import model
    from nca_zoo.train.step import sample_batch, split_keys

    tc = tiny("regen", batch_size=8, damage_count=3, reseed_count=2, reseed="random")
    target = jnp.asarray(grid_target("gecko", 12, 4))
    pool = jax.random.uniform(jax.random.PRNGKey(1), init_state(NCAConfig(), tc).pool.shape)
    seed = np.asarray(model.seed(1, tc.grid_size, 16))[0]
    reseeded_rows = []
    for k in range(12):
        _, batch = sample_batch(
            pool, target, split_keys(jax.random.PRNGKey(k)), model_config=NCAConfig(), train_config=tc
        )
        rows = [i for i, row in enumerate(np.asarray(batch)) if np.array_equal(row, seed)]
        assert len(rows) == 2 and max(rows) < 8 - 3  # two rows, never a damaged one
        reseeded_rows.append(tuple(rows))
    assert set(reseeded_rows) != {(0, 1)}  # not the worst two every time


@pytest.mark.parametrize("experiment", ["grow", "persist", "regen"])
def test_each_experiment_learns(experiment, tmp_path):
    tc = tiny(experiment, iterations=60, learning_rate=5e-3)
    result = loop.train(
        grid_target("gecko", 12, 4), tmp_path, train_config=tc, target_name="gecko", progress=False, sample_every=20
    )
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 60
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    _params, config = load_weights(result.weights_path, sha256=result.sha256)
    assert config == NCAConfig()
    recorded = read_metadata(result.weights_path)  # the file alone says what it is
    assert (recorded["target"], recorded["experiment"], recorded["iterations"]) == ("gecko", experiment, "60")
    assert json.loads(recorded["recipe"]) == tc.to_dict()
    bare = tmp_path / "elsewhere" / "weights.safetensors"
    bare.parent.mkdir()
    bare.write_bytes(result.weights_path.read_bytes())
    np.testing.assert_array_equal(nca_zoo.load(str(bare)).target, grid_target("gecko", 12, 4))
    assert (tmp_path / "samples" / "iter_000020.png").is_file()
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(record) >= {"iteration", "loss", "steps", "lr", "seconds"}


class Killed(Exception):
    pass


def test_killed_run_resumes_to_the_same_state(tmp_path):
    tc = tiny(iterations=7)
    target = grid_target("gecko", 12, 4)
    whole = loop.train(target, tmp_path / "a", train_config=tc, checkpoint_every=3, progress=False)

    def kill_at_5(iteration, _):
        if iteration == 5:
            raise Killed

    with pytest.raises(Killed):
        loop.train(target, tmp_path / "b", train_config=tc, checkpoint_every=3, progress=False, on_iteration=kill_at_5)
    with pytest.raises(FileExistsError, match="resume"):
        loop.train(target, tmp_path / "b", train_config=tc, progress=False)
    resumed = loop.train(target, tmp_path / "b", train_config=tc, progress=False, resume=True)  # keeps every 3
    kept = sorted(p.stem for p in (tmp_path / "b" / "snapshots").glob("*.safetensors"))
    assert kept == ["000003", "000006", "000007"]
    for a, b in zip(jax.tree.leaves(whole.params), jax.tree.leaves(resumed.params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert whole.sha256 == resumed.sha256
    state_a = loop.resume_state(tmp_path / "a", NCAConfig(), tc)
    state_b = loop.resume_state(tmp_path / "b", NCAConfig(), tc)
    np.testing.assert_array_equal(np.asarray(state_a.pool), np.asarray(state_b.pool))
    np.testing.assert_array_equal(np.asarray(state_a.key), np.asarray(state_b.key))
    log = [json.loads(line)["iteration"] for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert log == list(range(1, 8))  # the killed iterations were logged once, after the resume
    with pytest.raises(ValueError, match="different settings"):
        loop.train(target, tmp_path / "b", train_config=tiny(iterations=9, seed=1), progress=False, resume=True)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    tc = tiny(iterations=6)
    real_step = loop.train_step

    def poisoned(state, target, **kw):
        state, out = real_step(state, target, **kw)
        if int(state.iteration) == 4:
            out = {**out, "loss": jnp.float32(np.nan)}
        return state, out

    monkeypatch.setattr(loop, "train_step", poisoned)
    with pytest.raises(loop.TrainingDivergedError, match="loss is nan at iteration 4.*checkpoint is iteration 2"):
        loop.train(grid_target("gecko", 12, 4), tmp_path, train_config=tc, checkpoint_every=2, progress=False)
    assert int(loop.resume_state(tmp_path, NCAConfig(), tc).iteration) == 2
    assert not (tmp_path / "model.safetensors").exists()


def test_target_of_the_wrong_size_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"expected \(20, 20, 4\)"):
        loop.train(np.zeros((72, 72, 4)), tmp_path, train_config=tiny(), progress=False)


# ---- trust: divergence, locking, validation, budget, snapshots (issue 11) ----------------------------
MICRO = {"batch_size": 2, "pool_size": 4, "min_steps": 2, "max_steps": 3, "target_size": 8, "padding": 2}


def micro(**overrides) -> TrainConfig:
    return preset("persist", **{**MICRO, **overrides})


def micro_target() -> np.ndarray:
    return grid_target("gecko", 8, 2)


@pytest.fixture
def counting_step(monkeypatch):
    """A train step that only counts iterations (loss 1/iteration): the loop's bookkeeping, no compile."""

    def step(state, target, *, model_config, train_config):
        iteration = state.iteration + 1
        batch = jnp.zeros((train_config.batch_size, *target.shape[:2], model_config.channels))
        return state._replace(iteration=iteration), {"loss": 1.0 / iteration, "steps": jnp.int32(2), "batch": batch}

    monkeypatch.setattr(loop, "train_step", step)


def capture_train_arguments(monkeypatch) -> dict:
    """From now on, what ``nca-zoo train`` passes to ``loop.train``: the call stops (KeyboardInterrupt) there."""
    seen: dict = {}

    def fake_train(target, out, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before any training: only the arguments matter here

    monkeypatch.setattr(loop, "train", fake_train)
    return seen


def _log(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_diverged_update_is_never_checkpointed_and_a_lower_lr_resumes(tmp_path, monkeypatch):
    from nca_zoo.train.checkpoint import Checkpoints
    from nca_zoo.train.snapshot import load_snapshot

    tc, target = micro(iterations=4), micro_target()
    real_step = loop.train_step

    def poisoned(state, target, **kw):
        state, out = real_step(state, target, **kw)
        if int(state.iteration) == 3:  # the update broke the parameters; the loss (from before it) is finite
            state = state._replace(params=jax.tree.map(lambda p: p * jnp.nan, state.params))
        return state, out

    monkeypatch.setattr(loop, "train_step", poisoned)
    diverged = r"parameters non-finite.* at iteration 3; the last good checkpoint is iteration 2.*--lr"
    with pytest.raises(loop.TrainingDivergedError, match=diverged):
        loop.train(target, tmp_path, train_config=tc, checkpoint_every=1, progress=False)
    good = loop.resume_state(tmp_path, NCAConfig(), tc)
    assert int(good.iteration) == 2
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(good.params))
    with pytest.raises(ValueError, match="not finite"):  # the checkpointer itself refuses a broken state
        Checkpoints(tmp_path / "other").save(good._replace(params=jax.tree.map(lambda p: p * jnp.nan, good.params)))

    monkeypatch.undo()
    lower = dataclasses.replace(tc, learning_rate=1e-3, decayed_learning_rate=1e-4, decay_at=3)
    result = loop.train(target, tmp_path, train_config=lower, checkpoint_every=1, progress=False, resume=True)
    assert (result.iterations, result.iterations_run) == (4, 2)
    assert [(r["iteration"], r["lr"]) for r in _log(tmp_path)] == [(1, 2e-3), (2, 2e-3), (3, 1e-3), (4, 1e-4)]
    assert json.loads((tmp_path / "run.json").read_text())["train_config"]["learning_rate"] == 1e-3
    snapshot = load_snapshot(tmp_path / loop.SNAPSHOT_NAME)  # the small resumable state, written with the checkpoint
    assert snapshot.iteration == 4 and snapshot.train_config == lower
    for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(snapshot.state.params), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="different settings"):  # only the budget and learning rates may change
        loop.train(target, tmp_path, train_config=dataclasses.replace(lower, min_steps=3), progress=False, resume=True)


HOLD_LOCK = (
    "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); "
    "os.ftruncate(fd, 0); os.write(fd, f'{os.getpid()}\\n'.encode()); print('locked', flush=True); time.sleep(120)"
)


def test_a_run_directory_is_locked_and_a_killed_holder_does_not_block(tmp_path, counting_step):
    out, tc = tmp_path / "run", micro(iterations=2)
    out.mkdir()
    with loop.lock_run_dir(out), pytest.raises(loop.RunDirectoryLockedError, match=f"pid {os.getpid()}"):
        loop.train(micro_target(), out, train_config=tc, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".lock"]  # refused before writing anything
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(loop.RunDirectoryLockedError, match=f"pid {holder.pid}"):
            loop.train(micro_target(), out, train_config=tc, progress=False)
    finally:
        holder.kill()  # like a killed run: its lock file stays behind
        holder.wait()
        holder.stdout.close()
    assert loop.train(micro_target(), out, train_config=tc, progress=False).iterations == 2


def test_a_torn_last_metrics_line_is_dropped_on_resume_and_a_torn_middle_line_is_an_error(tmp_path, counting_step):
    tc = micro(iterations=4)

    def kill_at_3(iteration, _):
        if iteration == 3:
            raise Killed

    with pytest.raises(Killed):
        loop.train(micro_target(), tmp_path, train_config=tc, checkpoint_every=2, on_iteration=kill_at_3)
    with (tmp_path / "metrics.jsonl").open("a") as log:
        log.write('{"iteration": 4, "loss": 0.2')  # killed mid-write
    loop.train(micro_target(), tmp_path, train_config=tc, checkpoint_every=2, progress=False, resume=True)
    assert [r["iteration"] for r in _log(tmp_path)] == [1, 2, 3, 4]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    lines[1] = lines[1][:20]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"metrics.jsonl line 2 is not a metrics record"):
        loop.train(micro_target(), tmp_path, train_config=tc, progress=False, resume=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("iterations", 0, "iterations must be a positive integer, got 0"),
        ("iterations", -5, "iterations must be a positive integer"),
        ("iterations", 2.5, "iterations must be a positive integer"),
        ("batch_size", True, "batch_size must be a positive integer"),
        ("pool_size", -4, "pool_size must be a non-negative integer"),
        ("decay_at", -1, "decay_at must be a non-negative integer"),
        ("target_size", 0, "target_size must be a positive integer"),
        ("seed", -1, "seed must be a non-negative integer"),
        ("learning_rate", float("nan"), "learning_rate must be a finite number, got nan"),
        ("learning_rate", 0.0, "learning_rate must be positive"),
        ("learning_rate", "1e-3", "learning_rate must be a finite number"),
        ("decayed_learning_rate", float("inf"), "decayed_learning_rate must be a finite number"),
        ("decayed_learning_rate", -2e-4, "decayed_learning_rate must be positive"),
        ("batch_loss", "median", "unknown batch_loss 'median'; choose one of"),
        ("reseed_count", 0, "reseed_count must be a positive integer"),
        ("reseed", "best", "unknown reseed 'best'; choose one of"),
        ("detail_weight", -1.0, "detail_weight must be 0 or more"),
        ("detail_weight", float("nan"), "detail_weight must be a finite number"),
        ("hidden_weight", -0.5, "hidden_weight must be 0 or more"),
        ("aimed_disc_fraction", 1.5, r"aimed_disc_fraction must be in \[0, 1\]"),
        ("cut_in_rollout", 1, "cut_in_rollout must be True or False"),
        ("reseed_count", 3, r"reseed_count \(3\) \+ damage_count \(0\) must not exceed batch_size \(2\)"),
    ],
)
def test_every_recipe_field_is_validated(field, value, message):
    with pytest.raises(ValueError, match=message):
        micro(**{field: value})


def test_bad_loop_arguments_fail_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    for bad in ({"checkpoint_every": 0}, {"sample_every": -1}, {"more": 0}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be"):
            loop.train(micro_target(), out, train_config=micro(iterations=2), progress=False, **bad)
        assert not out.exists()


def test_iterations_is_the_total_budget(tmp_path, counting_step):
    target = micro_target()
    loop.train(target, tmp_path, train_config=micro(iterations=3), progress=False)
    with pytest.raises(ValueError, match=r"already run 3 iterations, more than the 2 asked for.*total budget.*--more"):
        loop.train(target, tmp_path, train_config=micro(iterations=2), progress=False, resume=True)
    assert json.loads((tmp_path / "run.json").read_text())["train_config"]["iterations"] == 3  # untouched
    done = loop.train(target, tmp_path, train_config=micro(iterations=3), progress=False, resume=True)
    assert (done.iterations, done.iterations_run, done.final_loss) == (3, 0, pytest.approx(1 / 3))  # from the log
    more = loop.train(target, tmp_path, train_config=micro(iterations=3), progress=False, resume=True, more=2)
    assert (more.iterations, more.iterations_run, more.train_config.iterations) == (5, 2, 5)
    assert [r["iteration"] for r in _log(tmp_path)] == [1, 2, 3, 4, 5]
    assert json.loads((tmp_path / "run.json").read_text())["train_config"]["iterations"] == 5


def test_a_snapshot_continues_in_a_new_directory(tmp_path, counting_step):
    from nca_zoo.train.snapshot import SNAPSHOTS_DIR, kept_snapshot, load_snapshot

    target = micro_target()
    first = loop.train(target, tmp_path / "a", train_config=micro(iterations=3), checkpoint_every=2, progress=False)
    snapshot = load_snapshot(tmp_path / "a" / loop.SNAPSHOT_NAME, train_config=micro(iterations=5))
    assert snapshot.iteration == 3  # written at the end too, not only every checkpoint_every
    kept = sorted(p.name for p in (tmp_path / "a" / SNAPSHOTS_DIR).iterdir())
    assert kept == ["000002.safetensors", "000003.safetensors"]  # each one kept, by iteration
    assert load_snapshot(kept_snapshot(tmp_path / "a", 2)).iteration == 2
    assert kept_snapshot(tmp_path / "a", 3).read_bytes() == (tmp_path / "a" / loop.SNAPSHOT_NAME).read_bytes()
    result = loop.train(
        target, tmp_path / "b", train_config=snapshot.train_config, start_state=snapshot.state, progress=False
    )
    assert (result.iterations, result.iterations_run) == (5, 2)  # the budget is the total, minus its iteration
    assert [r["iteration"] for r in _log(tmp_path / "b")] == [4, 5]
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(result.params), strict=True):
        np.testing.assert_array_equal(a, b)  # the counting step keeps the parameters it was given


@pytest.mark.parametrize("experiment", [None, "regen", "persist"])
def test_a_snapshot_continues_its_run_or_starts_a_sibling_fine_tune(experiment, tmp_path, monkeypatch):
    """``train --init SNAPSHOT`` continues that run (optimiser, iteration, learning rates); with another
    ``--experiment`` (a persist sibling of a regen run) it fine-tunes the snapshot's params from a fresh
    optimiser at iteration 0 with that experiment's preset."""
    from nca_zoo import cli
    from nca_zoo.train.snapshot import save_snapshot

    recipe = tiny("regen", learning_rate=5e-5, decayed_learning_rate=5e-5)
    state = init_state(NCAConfig(), recipe)
    state = state._replace(iteration=jnp.asarray(7, state.iteration.dtype))
    snap = save_snapshot(
        tmp_path / "s.safetensors", state, model_config=NCAConfig(), train_config=recipe, target="fish"
    )
    seen = capture_train_arguments(monkeypatch)
    args = ["train", "--init", str(snap), "--out", str(tmp_path / "run")]
    with pytest.raises(KeyboardInterrupt):
        cli.main(args + (["--experiment", experiment] if experiment else []))
    if experiment == "persist":
        assert seen["start_state"] is None and seen["train_config"] == preset("persist")
        for a, b in zip(jax.tree.leaves(seen["init_params"]), jax.tree.leaves(state.params), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    else:
        assert seen["init_params"] is None and seen["train_config"] == recipe
        assert int(seen["start_state"].iteration) == 7
    assert seen["target_name"] == "fish"


def test_a_chain_of_runs_records_its_lineage_in_every_file_it_writes(tmp_path, counting_step):
    """A continued snapshot, then a fine-tune of the result: each file carries the runs that made it, so an
    entry built over several runs can state its whole budget (the registry's ``total_*``)."""
    from nca_zoo.publish import entry_for_run
    from nca_zoo.train import lineage
    from nca_zoo.train.snapshot import kept_snapshot, load_snapshot

    def recorded(path) -> list[tuple[str, int, int]]:
        chain = lineage.loads(read_metadata(path).get(lineage.METADATA_KEY), str(path))
        return [(s.run, s.start, s.end) for s in chain]

    target = micro_target()
    loop.train(target, tmp_path / "a", train_config=micro(iterations=3), checkpoint_every=2, progress=False)
    assert recorded(kept_snapshot(tmp_path / "a", 2)) == [("a", 0, 2)]
    snapshot = load_snapshot(tmp_path / "a" / loop.SNAPSHOT_NAME, train_config=micro(iterations=5))
    before_b = lineage.loads(snapshot.metadata[lineage.METADATA_KEY], "a")
    b = loop.train(
        target,
        tmp_path / "b",
        train_config=snapshot.train_config,
        start_state=snapshot.state,
        lineage=before_b,
        progress=False,
    )
    assert recorded(tmp_path / "b" / loop.SNAPSHOT_NAME) == [("a", 0, 3), ("b", 3, 5)]
    assert recorded(b.weights_path) == []  # same weights, same bytes: the run folder beside it has the chain
    assert [(s.run, s.start, s.end) for s in loop.start_lineage(b.weights_path)] == [("a", 0, 3), ("b", 3, 5)]
    params, _ = load_weights(b.weights_path)
    before_c = loop.start_lineage(b.weights_path)
    loop.train(
        target, tmp_path / "c", train_config=micro(iterations=2), init_params=params, lineage=before_c, progress=False
    )
    assert recorded(kept_snapshot(tmp_path / "c", 2)) == [("a", 0, 3), ("b", 3, 5), ("c", 0, 2)]

    # a resumed run keeps the lineage its run.json recorded, whatever the caller passes
    loop.train(target, tmp_path / "c", train_config=micro(iterations=2), resume=True, more=1)
    assert recorded(tmp_path / "c" / loop.SNAPSHOT_NAME) == [("a", 0, 3), ("b", 3, 5), ("c", 0, 3)]

    entry = entry_for_run(
        tmp_path / "c",
        target="gecko",
        model_config=NCAConfig(),
        train_config=micro(iterations=3),
        iterations=3,
        sha256="0" * 64,
        metrics={},
    )
    log_seconds = sum(r["seconds"] for run in "abc" for r in _log(tmp_path / run))
    assert entry.training["iterations"] == 3 and entry.training["total_iterations"] == 3 + 2 + 3
    assert entry.training["total_wall_time_s"] == pytest.approx(log_seconds, abs=0.2)
    assert [s["run"] for s in entry.training[lineage.METADATA_KEY]] == ["a", "b", "c"]


def test_a_run_records_the_machine_it_trained_on_for_the_card(tmp_path, counting_step, monkeypatch):
    """A run trained on one machine (a GPU, under another JAX) and registered on another (the CPU) names where
    and under which JAX it trained, and a chain that changed machines says which run ran where; resuming on
    another machine is allowed."""
    from nca_zoo.machine import hardware, machine_record
    from nca_zoo.publish import entry_for_run
    from nca_zoo.train import lineage

    target = micro_target()
    gpu = {"hardware": "1× NVIDIA H200 (gpu)", "jax_version": "0.11.2"}
    monkeypatch.setattr(loop, "machine_record", lambda: gpu)
    loop.train(target, tmp_path / "a", train_config=micro(iterations=2), progress=False)
    record = json.loads((tmp_path / "a" / "run.json").read_text())
    assert {key: record[key] for key in gpu} == gpu
    monkeypatch.setattr(loop, "machine_record", machine_record)  # registered (and continued) here, on the CPU
    params, _ = load_weights(tmp_path / "a" / "model.safetensors")
    before = loop.start_lineage(tmp_path / "a" / "model.safetensors")
    assert before[0].hardware == "1× NVIDIA H200 (gpu)"
    entry = entry_for_run(
        tmp_path / "a", target="gecko", model_config=NCAConfig(), train_config=micro(iterations=2),
        iterations=2, sha256="0" * 64, metrics={},
    )  # fmt: skip
    assert entry.training["hardware"] == "1× NVIDIA H200 (gpu)" != hardware()
    assert entry.training["jax_version"] == "0.11.2" != jax.__version__
    loop.train(
        target, tmp_path / "b", train_config=micro(iterations=1), init_params=params, lineage=before, progress=False
    )
    chain = loop.chain_of_run(tmp_path / "b", 1)
    assert [s.hardware for s in chain] == ["1× NVIDIA H200 (gpu)", hardware()]
    line = lineage.describe(chain)
    assert "on 1× NVIDIA H200 (gpu)" in line and "on CPU" not in line  # the card's training line names the last
    assert lineage.loads(lineage.dumps(chain), "b") == chain
    loop.train(target, tmp_path / "a", train_config=micro(iterations=2), resume=True, more=1, progress=False)
    with pytest.raises(ValueError, match="hardware"):
        lineage.loads(lineage.dumps((dataclasses.replace(chain[0], hardware="x" * 200),)), "b")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[{", "unreadable"),
        ('{"run": "a"}', "not a list"),
        ('[{"run": "a"}]', "needs the keys"),
        (
            '[{"run": "a", "experiment": "grow", "start": 0, "end": 9, "wall_time_s": 1, "learning_rate": 0,'
            ' "learning_rates": [[0, 0.002], [12, 0.0002]]}]',
            "iteration in 0..9",
        ),
        (
            '[{"run": "a", "experiment": "grow", "start": 0, "end": 9, "wall_time_s": 1, "learning_rate": 0,'
            ' "learning_rates": [[4, 0.002], [2, 0.0002]]}]',
            "increasing",
        ),
        (
            '[{"run": "a", "experiment": "regen", "start": 5, "end": 2, "wall_time_s": 1, "learning_rate": 0}]',
            "start <= end",
        ),
        (
            '[{"run": "a", "experiment": "regen", "start": 0, "end": 2, "wall_time_s": NaN, "learning_rate": 0}]',
            "finite",
        ),
        ("[" + ",".join(["{}"] * 300) + "]", "at most 256"),
        (
            '[{"run": "a", "experiment": "regen", "start": 0, "end": 2, "wall_time_s": 1, "learning_rate": 0,'
            ' "settings": {"__class__": "x"}}]',
            "not a recipe setting",
        ),
        (
            '[{"run": "a", "experiment": "regen", "start": 0, "end": 2, "wall_time_s": 1, "learning_rate": 0,'
            ' "settings": {"damage_count": Infinity}}]',
            "not a recipe setting",
        ),
    ],
)
def test_a_recorded_lineage_is_validated_as_untrusted_input(text, problem):
    from nca_zoo.train import lineage

    with pytest.raises(ValueError, match=rf"weights\.safetensors: its recorded training lineage.*{problem}"):
        lineage.loads(text, "weights.safetensors")


def test_a_segment_records_each_learning_rate_it_trained_at(tmp_path, counting_step):
    """The card's lineage line names every rate of a run, not only its last: a from-scratch run spends
    2,000 iterations at 2e-3 before the drop (it once read "0→2400 at 2e-4"); a resume at another rate adds one."""
    from nca_zoo.train import lineage

    recipe = micro(iterations=4, learning_rate=2e-3, decayed_learning_rate=2e-4, decay_at=3)
    loop.train(micro_target(), tmp_path / "a", train_config=recipe, progress=False)
    segment = loop.run_segment(tmp_path / "a", 4)
    assert segment.learning_rates == ((0, 2e-3), (3, 2e-4)) and segment.learning_rate == 2e-4
    slower = dataclasses.replace(recipe, decayed_learning_rate=5e-5)
    loop.train(micro_target(), tmp_path / "a", train_config=slower, resume=True, more=2, progress=False)
    segment = loop.run_segment(tmp_path / "a", 6)
    assert segment.learning_rates == ((0, 2e-3), (3, 2e-4), (4, 5e-5))
    # the micro recipe's small sizes follow, as departures from the zoo preset
    assert lineage.describe((segment,)).startswith("a (persist, 0→6 at 2e-3, 2e-4 from 3, 5e-5 from 4; batch_size 2")
    assert lineage.loads(lineage.dumps((segment,)), "a") == (segment,)
    older = lineage.Segment("b", "grow", 0, 100, 20.0, 2e-4)  # recorded before the rates were
    assert "learning_rates" not in older.to_dict() and lineage.describe((older,)) == "b (grow, 0→100 at 2e-4)"


def test_a_segment_records_where_its_recipe_departed_from_the_zoo_preset(tmp_path, counting_step):
    """A leg of a route that trained with the log loss and one damaged sample says so in the card's lineage
    line, not only its learning rate; a run on the preset records no settings (and writes none)."""
    from nca_zoo.train import lineage
    from nca_zoo.train.recipe import departures

    assert departures(preset("regen")) == {}
    assert departures(preset("regen", recipe="distill")) == {"half_cut_fraction": 0.0}
    leg = preset("regen", batch_loss="log", damage_count=1, half_cut_fraction=0.8)
    assert departures(leg) == {"batch_loss": "log", "damage_count": 1, "half_cut_fraction": 0.8}

    loop.train(micro_target(), tmp_path / "a", train_config=micro(iterations=2, batch_loss="log"), progress=False)
    segment = loop.run_segment(tmp_path / "a", 2)
    assert ("batch_loss", "log") in segment.settings and ("batch_size", MICRO["batch_size"]) in segment.settings
    assert "; " in lineage.describe((segment,)) and "batch_loss log" in lineage.describe((segment,))
    assert lineage.loads(lineage.dumps((segment,)), "a") == (segment,)
    plain = lineage.Segment("b", "regen", 0, 100, 20.0, 2e-4)
    assert "settings" not in plain.to_dict() and lineage.describe((plain,)) == "b (regen, 0→100 at 2e-4)"
    cut = lineage.Segment(
        "c", "regen", 0, 9, 1.0, 1e-4, settings=tuple(departures(preset("regen", cut_in_rollout=True)).items())
    )
    assert lineage.loads(lineage.dumps((cut,)), "c") == (cut,) and "cut_in_rollout True" in lineage.describe((cut,))


def test_train_init_passes_the_lineage_of_what_it_starts_from(tmp_path, monkeypatch):
    """``--init`` from a snapshot or weights file passes the lineage they record; from a zoo entry recorded
    before lineages, one ``zoo:`` segment of what its record counts."""
    from nca_zoo import cli
    from nca_zoo.train import lineage
    from nca_zoo.train.snapshot import save_snapshot

    chain = (lineage.Segment("fish-regen", "regen", 0, 7, 12.5, 5e-5),)
    recipe = tiny("regen")
    state = init_state(NCAConfig(), recipe)._replace(iteration=jnp.asarray(7))
    snap = save_snapshot(
        tmp_path / "s.safetensors",
        state,
        model_config=NCAConfig(),
        train_config=recipe,
        target="fish",
        extra_metadata={lineage.METADATA_KEY: lineage.dumps(chain)},
    )
    seen = capture_train_arguments(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["train", "--init", str(snap), "--out", str(tmp_path / "r1")])
    assert seen["lineage"] == chain
    with pytest.raises(KeyboardInterrupt):
        cli.main(["train", "--init", str(snap), "--experiment", "persist", "--out", str(tmp_path / "r2")])
    assert seen["lineage"] == chain  # a sibling fine-tune starts after the same runs
    entry = nca_zoo.get_entry("gecko-grow-16")
    with pytest.raises(KeyboardInterrupt):
        cli.main(["train", "--target", "gecko", "--init", "gecko-grow-16", "--out", str(tmp_path / "r3")])
    expected = lineage.of_entry(entry.name, entry.training, entry.experiment)
    assert seen["lineage"] == expected and expected[-1].end == entry.training["iterations"]
    with pytest.raises(KeyboardInterrupt):  # the entry names its target: no --target needed
        cli.main(["train", "--init", "gecko-grow-16", "--out", str(tmp_path / "r4")])
    assert seen["target_name"] == "gecko" and seen["lineage"] == expected


def test_a_chain_that_starts_mid_run_counts_the_iterations_before_it_and_says_it_is_incomplete():
    from nca_zoo.train import lineage

    known = (lineage.Segment("a", "persist", 0, 300, 60.0, 5e-5), lineage.Segment("b", "grow", 0, 100, 20.0, 2e-4))
    assert lineage.totals(known) == (400, 80.0) and lineage.complete(known)
    continued = (lineage.Segment("d", "persist", 3600, 4000, 313.7, 2e-5),)  # continued an unrecorded snapshot
    assert lineage.totals(continued) == (4000, 313.7) and not lineage.complete(continued)
    entry = lineage.of_entry("boom-grow-16", {"iterations": 1000, "wall_time_s": 900.0}, "grow")
    assert entry[0].run == "zoo:boom-grow-16" and not lineage.complete((*entry, *known))


def test_a_zoo_entrys_weights_file_starts_a_run_after_the_entrys_recorded_lineage(tmp_path):
    """``--init weights/eye-persist-16.safetensors`` (or train-zoo's ``--init`` of that file) records the runs
    that made the entry, read from its registry record; a file that only shares the name records none."""
    from nca_zoo.hub.pretrained import bundled_weights
    from nca_zoo.train import lineage

    entry = nca_zoo.get_entry("eye-persist-16")
    bundled = bundled_weights(entry)
    assert bundled is not None and bundled.name == "eye-persist-16.safetensors"
    chain = loop.start_lineage(bundled)
    assert chain == lineage.of_entry(entry.name, entry.training, entry.experiment) and lineage.complete(chain)
    impostor = tmp_path / "eye-persist-16.safetensors"
    params, config = load_weights(bundled)
    params["dense_1"]["bias"] = params["dense_1"]["bias"] + 1.0
    save_weights(impostor, params, config)
    assert loop.start_lineage(impostor) == ()


def test_train_init_from_a_run_folder_passes_that_runs_chain(tmp_path, counting_step, monkeypatch):
    from nca_zoo import cli

    loop.train(micro_target(), tmp_path / "a", train_config=micro(iterations=3), progress=False)
    seen = capture_train_arguments(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["train", "--target", "gecko", "--init", str(tmp_path / "a"), "--out", str(tmp_path / "b")])
    assert [(s.run, s.start, s.end) for s in seen["lineage"]] == [("a", 0, 3)]
