"""The shared trainer: recipe, no recompiles, learning, resume == uninterrupted, NaN handling."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nca_zoo.config import NCAConfig
from nca_zoo.targets import grid_target
from nca_zoo.train import loop
from nca_zoo.train.recipe import TrainConfig, preset
from nca_zoo.train.step import init_state, normalize_per_variable, train_step
from nca_zoo.weights import load_weights

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


@pytest.mark.parametrize("experiment", ["grow", "persist", "regen"])
def test_each_experiment_learns(experiment, tmp_path):
    tc = tiny(experiment, iterations=60, learning_rate=5e-3)
    result = loop.train(grid_target("gecko", 12, 4), tmp_path, train_config=tc, progress=False, sample_every=20)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 60
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    _params, config = load_weights(result.weights_path, sha256=result.sha256)
    assert config == NCAConfig()
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
    resumed = loop.train(target, tmp_path / "b", train_config=tc, checkpoint_every=3, progress=False, resume=True)
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
