"""jax-nca users switch by changing the import: the seed README runs, and what jax-nca got wrong
(stochastic updates) or only declared (trainable perception, alpha, num_target_channels) works."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nca_zoo import model
from nca_zoo.compat import NCA, EmojiTrainer, ImageDataset, perception_kernel
from nca_zoo.config import NCAConfig
from nca_zoo.train.step import per_sample_loss
from nca_zoo.weights import WeightsError, load_weights

SEED_README = Path(__file__).resolve().parents[2] / "shared" / "seed" / "jax-nca-README.md"


def random_mlp(nca: NCA, seed: int = 0, scale: float = 0.05) -> dict:
    """The module's own init with a non-zero output layer, so every step changes every firing cell."""
    state = nca.create_seed(nca.num_hidden_channels, nca.num_target_channels, (8, 8))
    key = jax.random.PRNGKey(seed)
    params = nca.init(key, state, key)["params"]
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed + 1))
    params["dense_1"]["kernel"] = jax.random.normal(k1, params["dense_1"]["kernel"].shape) * scale
    params["dense_1"]["bias"] = jax.random.normal(k2, params["dense_1"]["bias"].shape) * 0.01 + 0.02
    return params


def alive_everywhere(nca: NCA, size: int = 64, batch: int = 1, seed: int = 0) -> jnp.ndarray:
    """Random small channels with alpha = 1 in every cell: no cell dies, so a cell changes iff it fired."""
    rng = np.random.RandomState(seed)
    state = rng.uniform(-0.1, 0.1, (batch, size, size, nca.num_channels)).astype(np.float32)
    state[..., nca.num_target_channels] = 1.0
    return jnp.asarray(state)


def changed(before: jnp.ndarray, after: jnp.ndarray) -> np.ndarray:
    return np.asarray(jnp.any(before != after, axis=-1))


def test_seed_readme_usage_runs_end_to_end(tmp_path, monkeypatch):
    """The README's two examples (typos fixed; 20 iterations on a 32-px grid, 16–24 steps)."""
    monkeypatch.chdir(tmp_path)
    nca = NCA(
        num_hidden_channels=16,
        num_target_channels=3,
        trainable_perception=False,
        cell_fire_rate=1.0,
        alpha_living_threshold=0.1,
    )
    nca_seed = nca.create_seed(nca.num_hidden_channels, nca.num_target_channels, shape=(64, 64), batch_size=1)
    assert nca_seed.shape == (1, 64, 64, 20)
    rng = jax.random.PRNGKey(0)
    params = nca.init(rng, nca_seed, rng)["params"]
    update = nca.apply({"params": params}, nca_seed, jax.random.PRNGKey(10))
    assert update.shape == nca_seed.shape
    final_state, nca_states = nca.multi_step(params, nca_seed, jax.random.PRNGKey(10), num_steps=32)
    assert nca_states.shape == (32, 1, 64, 64, 20) and final_state.shape == (1, 64, 64, 20)
    np.testing.assert_array_equal(np.asarray(final_state), np.asarray(nca_states[-1]))

    dataset = ImageDataset(emoji="🦎", img_size=32)
    trainer = EmojiTrainer(dataset, nca, n_damage=0)
    trainer.train(20, batch_size=8, seed=10, lr=2e-4, min_steps=16, max_steps=24, progress=False)
    state = trainer.state
    assert int(state.iteration) == 20 and len(trainer.losses) == 20 and np.all(np.isfinite(trainer.losses))
    assert not np.array_equal(np.asarray(state.params["dense_1"]["kernel"]), 0.0)  # it learned something

    nca.save(state.params, "saved_params")
    assert (tmp_path / "saved_params").is_file()  # the path as written, no extension added
    loaded_params = nca.load("saved_params")
    assert jax.tree.structure(loaded_params) == jax.tree.structure(jax.tree.map(np.asarray, state.params))
    for a, b in zip(jax.tree.leaves(loaded_params), jax.tree.leaves(state.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # A fixed-perception RGB model's file is an ordinary zoo weights file.
    zoo_params, config = load_weights(tmp_path / "saved_params")
    assert config == nca.layout.config
    np.testing.assert_array_equal(zoo_params["dense_0"]["kernel"], np.asarray(state.params["dense_0"]["kernel"]))


def test_readme_emoji_as_printed_is_the_gecko():
    if SEED_README.is_file():
        assert "emoji='ðŸ¦Ž'" in SEED_README.read_text()
    gecko = ImageDataset(emoji="🦎").img
    np.testing.assert_array_equal(ImageDataset(emoji="ðŸ¦Ž").img, gecko)
    np.testing.assert_array_equal(ImageDataset(emoji="gecko").img, gecko)
    assert gecko.shape == (1, 64, 64, 4)
    ys, xs = np.nonzero(gecko[0, ..., 3] > 0)
    assert ys.min() >= 12 and ys.max() < 52 and xs.min() >= 12 and xs.max() < 52  # 40 px, centred
    targets, rgb = ImageDataset(img=gecko[0]).get_batch(3)
    assert targets.shape == (3, 64, 64, 4) and rgb.shape == (3, 64, 64, 3)
    np.testing.assert_array_equal(targets[2], gecko[0])


def test_seed_layout_rgb_alpha_hidden():
    np.testing.assert_array_equal(NCA.create_seed(12, 3, (9, 7), 2), np.asarray(model.seed(2, (9, 7), 16)))
    grey = NCA.create_seed(2, 1, (5, 5))  # alpha is channel num_target_channels = 1
    assert grey.shape == (1, 5, 5, 4)
    np.testing.assert_array_equal(grey[0, 2, 2], [0.0, 1.0, 1.0, 1.0])
    assert grey.sum() == 3.0


@pytest.mark.parametrize("fire_rate", [1.0, 0.5])
def test_fixed_perception_is_the_core_step(fire_rate):
    nca = NCA(num_hidden_channels=12, cell_fire_rate=fire_rate, alpha_living_threshold=0.1)
    params = random_mlp(nca)
    state = alive_everywhere(nca, 24, batch=2)
    state = state * jnp.asarray(np.arange(24) < 16, jnp.float32)[None, :, None, None]  # some dead rows
    key = jax.random.PRNGKey(7)
    config = NCAConfig(channels=16, fire_rate=fire_rate)
    want = model.step(params, state, key, config=config)
    np.testing.assert_allclose(nca.apply({"params": params}, state, key), want, atol=1e-5)
    # The learned-perception path, at its initial (identity + Sobel) kernel, computes the same step.
    learned = NCA(num_hidden_channels=12, cell_fire_rate=fire_rate, trainable_perception=True)
    learned_params = {**params, "perception": {"kernel": jnp.asarray(perception_kernel(16))}}
    np.testing.assert_allclose(learned.apply({"params": learned_params}, state, key), want, atol=1e-5)
    _, frames = learned.multi_step(learned_params, state, key, num_steps=3)
    _, core_frames = model.rollout(params, state, key, 3, config=config, every=1)
    np.testing.assert_allclose(frames, core_frames, atol=1e-5)


def test_alpha_channel_follows_num_target_channels():
    """Grey + alpha + 2 hidden equals the core step on the same channels reordered RGBA-style."""
    nca = NCA(num_hidden_channels=2, num_target_channels=1, cell_fire_rate=0.5)
    params = random_mlp(nca, scale=0.3)
    rng = np.random.RandomState(1)
    state = np.zeros((2, 20, 20, 4), np.float32)
    state[:, 5:15, 5:15] = rng.uniform(-0.2, 0.8, (2, 10, 10, 4))
    perm = np.array([0, 2, 3, 1])  # core channel j = compat channel perm[j]: alpha lands on 3
    rows = np.concatenate([block * 4 + perm for block in range(3)])
    core_params = {
        "dense_0": {"kernel": params["dense_0"]["kernel"][rows], "bias": params["dense_0"]["bias"]},
        "dense_1": {"kernel": params["dense_1"]["kernel"][:, perm], "bias": params["dense_1"]["bias"][perm]},
    }
    key = jax.random.PRNGKey(3)
    for _ in range(3):
        key, k = jax.random.split(key)
        new = nca.apply({"params": params}, state, k)
        want = model.step(core_params, jnp.asarray(state[..., perm]), k, config=NCAConfig(channels=4, fire_rate=0.5))
        np.testing.assert_allclose(np.asarray(new)[..., perm], want, atol=1e-5)
        assert changed(state, new).any()
        state = np.asarray(new)


@pytest.mark.parametrize("trainable", [False, True])
def test_cell_fire_rate_draws_a_fresh_mask_every_step(trainable):
    nca = NCA(num_hidden_channels=12, cell_fire_rate=0.5, trainable_perception=trainable)
    params = random_mlp(nca)
    if trainable:
        params["perception"] = {"kernel": jnp.asarray(perception_kernel(16))}
    state = alive_everywhere(nca)
    a = nca.apply({"params": params}, state, jax.random.PRNGKey(1))
    b = nca.apply({"params": params}, state, jax.random.PRNGKey(2))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, nca.apply({"params": params}, state, jax.random.PRNGKey(1)))
    assert abs(changed(state, a).mean() - 0.5) < 0.03

    rng = jax.random.PRNGKey(5)
    final, states = nca.multi_step(params, state, rng, num_steps=3)
    assert states.shape == (3, 1, 64, 64, 16)
    masks = [changed(before, after) for before, after in zip([state, *states[:-1]], states, strict=True)]
    for t, (mask, key) in enumerate(zip(masks, jax.random.split(rng, 3), strict=True)):
        assert abs(mask.mean() - 0.5) < 0.03, t
        # Exactly the cells where uniform(key_t) < rate fired.
        np.testing.assert_array_equal(mask, np.asarray(jax.random.uniform(key, (1, 64, 64, 1)) < 0.5)[..., 0])
    assert abs((masks[0] & masks[1]).mean() - 0.25) < 0.03  # independent masks, not one mask reused
    np.testing.assert_array_equal(final, nca.multi_step(params, state, rng, num_steps=3)[0])


@pytest.mark.parametrize("trainable", [False, True])
def test_alpha_scales_the_update(trainable):
    full = NCA(num_hidden_channels=12, alpha=1.0, trainable_perception=trainable)
    half = NCA(num_hidden_channels=12, alpha=0.5, trainable_perception=trainable)
    params = random_mlp(full)
    if trainable:
        params["perception"] = {"kernel": jnp.asarray(perception_kernel(16)) * 1.5}
    state = alive_everywhere(full, 32)
    key = jax.random.PRNGKey(0)
    d_full = full.apply({"params": params}, state, key) - state
    d_half = half.apply({"params": params}, state, key) - state
    assert changed(state, state + d_full).all()  # every cell fired and moved
    np.testing.assert_allclose(d_half, 0.5 * d_full, atol=1e-6)


def test_trainable_perception_kernel_is_a_parameter_with_gradients():
    nca = NCA(num_hidden_channels=12, trainable_perception=True)
    params = random_mlp(nca)
    assert set(params) == {"dense_0", "dense_1", "perception"}
    np.testing.assert_array_equal(params["perception"]["kernel"], perception_kernel(16))
    state = alive_everywhere(nca, 16)
    target = jnp.zeros((16, 16, 4))

    def loss(p):
        return jnp.mean(per_sample_loss(nca.multi_step(p, state, jax.random.PRNGKey(0), num_steps=4)[0], target))

    grad = jax.grad(loss)(params)["perception"]["kernel"]
    assert grad.shape == (3, 3, 3, 16) and np.all(np.isfinite(grad)) and float(jnp.abs(grad).max()) > 0.0
    # The kernel is really used: changing it changes the step.
    other = {**params, "perception": {"kernel": params["perception"]["kernel"] * 0.5}}
    key = jax.random.PRNGKey(0)
    assert not np.allclose(nca.apply({"params": params}, state, key), nca.apply({"params": other}, state, key))


TINY = {"batch_size": 4, "seed": 3, "lr": 2e-3, "min_steps": 12, "max_steps": 16, "progress": False}


@pytest.fixture(scope="module")
def tiny_dataset() -> ImageDataset:
    return ImageDataset(emoji="gecko", img_size=24)


@pytest.fixture(scope="module")
def core_run(tiny_dataset) -> EmojiTrainer:
    trainer = EmojiTrainer(tiny_dataset, NCA(num_hidden_channels=12), pool_size=16)
    trainer.train(30, **TINY)
    return trainer


def test_training_lowers_the_loss(core_run, tiny_dataset):
    nca = core_run.nca
    seed = nca.create_seed(12, 3, (24, 24))
    key = jax.random.PRNGKey(0)
    target = jnp.asarray(tiny_dataset.img[0])

    def grown_loss(params):
        return float(per_sample_loss(nca.multi_step(params, seed, key, num_steps=14)[0], target)[0])

    _, init_key = jax.random.split(jax.random.PRNGKey(TINY["seed"]))  # the trainer's initial params
    initial = nca.init(init_key, seed, init_key)["params"]
    assert grown_loss(core_run.state.params) < 0.8 * grown_loss(initial)


def test_training_learns_the_perception_kernel(core_run, tiny_dataset, tmp_path):
    nca = NCA(num_hidden_channels=12, trainable_perception=True)
    trainer = EmojiTrainer(tiny_dataset, nca, pool_size=16)
    trainer.train(6, **TINY)
    kernel = np.asarray(trainer.state.params["perception"]["kernel"])
    assert np.all(np.isfinite(trainer.losses)) and np.abs(kernel - perception_kernel(16)).max() > 1e-4
    # Same seed, same first batch and keys, kernel still at Sobel: the first loss is the core's.
    assert abs(trainer.losses[0] - core_run.losses[0]) < 1e-6

    sha = nca.save(trainer.state.params, tmp_path / "learned.safetensors")
    assert len(sha) == 64
    loaded = nca.load(tmp_path / "learned.safetensors")
    np.testing.assert_array_equal(loaded["perception"]["kernel"], kernel)
    with pytest.raises(WeightsError, match="perception/kernel"):
        NCA(num_hidden_channels=12).load(tmp_path / "learned.safetensors")
    with pytest.raises(WeightsError, match="no config"):  # the core will not run it without the kernel
        load_weights(tmp_path / "learned.safetensors")
    with pytest.raises(WeightsError, match="shape"):
        NCA(num_hidden_channels=8, trainable_perception=True).load(tmp_path / "learned.safetensors")


def test_load_reads_only_safetensors(tmp_path):
    path = tmp_path / "saved_params"
    path.write_bytes(b"\x82\xa7dense_0\x80")  # what jax-nca's msgpack save looks like
    with pytest.raises(WeightsError, match="msgpack"):
        NCA(num_hidden_channels=12).load(path)
    with pytest.raises(FileNotFoundError):
        NCA(num_hidden_channels=12).load(tmp_path / "missing")


def test_n_damage_picks_the_core_recipe(tiny_dataset):
    nca = NCA(num_hidden_channels=12)
    args = {"num_epochs": 5, "batch_size": 8, "seed": 1, "lr": 2e-4, "min_steps": 64, "max_steps": 96}
    persist = EmojiTrainer(tiny_dataset, nca).train_config(**args)
    assert (persist.experiment, persist.pool_size, persist.damage_count) == ("persist", 1024, 0)
    regen = EmojiTrainer(tiny_dataset, nca, n_damage=2).train_config(**args)
    assert (regen.experiment, regen.damage_count, regen.grid_size) == ("regen", 2, 24)
    assert regen.learning_rate == regen.decayed_learning_rate == 2e-4


def test_trainer_rejects_what_it_cannot_train():
    with pytest.raises(ValueError, match="num_target_channels=3"):
        EmojiTrainer(ImageDataset(emoji="gecko", img_size=24), NCA(num_hidden_channels=2, num_target_channels=1))
    with pytest.raises(ValueError, match="fire_rate"):
        _ = NCA(num_hidden_channels=12, cell_fire_rate=0.0).layout
