"""``nca_zoo.load``: the pretrained default gecko grows, persists, and is tamper-checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import random_params
from PIL import Image

import nca_zoo
from nca_zoo.config import NCAConfig
from nca_zoo.hub import pretrained
from nca_zoo.targets import grid_target
from nca_zoo.train.recipe import preset
from nca_zoo.weights import MAX_FILE_BYTES, WeightsError, save_weights


@pytest.fixture(scope="module")
def gecko():
    return nca_zoo.load("gecko")


def test_load_returns_a_ready_model(gecko):
    assert gecko.entry.name == "gecko-regen-16"
    assert gecko.config == nca_zoo.NCAConfig()
    assert gecko.target.shape == (72, 72, 4)
    assert sorted(gecko.params) == ["dense_0", "dense_1"]


def test_pretrained_gecko_grows_and_persists(gecko):
    grown = gecko.grow(96, batch=8)
    mse_96 = float(gecko.mse(grown).mean())
    late, _ = gecko.rollout(grown, 1, 904)
    mse_1000 = float(gecko.mse(late).mean())
    assert mse_96 < 0.005, mse_96
    assert mse_1000 < 0.005, mse_1000


def test_unknown_model_lists_close_matches():
    with pytest.raises(nca_zoo.UnknownModelError, match="Did you mean: gecko"):
        nca_zoo.load("gekko")


def test_tampered_bundled_weights_are_rejected(tmp_path, monkeypatch):
    entry = nca_zoo.get_entry("gecko")
    bad = tmp_path / entry.weights_file
    shutil.copy(pretrained.bundled_weights(entry), bad)
    data = bytearray(bad.read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "bundled_weights", lambda e: bad)
    with pytest.raises(WeightsError, match="sha256"):
        nca_zoo.load("gecko")


# ---- configs (issue 11) ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"step_size": -1e30}, r"step_size must be in \(0.0, 10.0\], got -1e\+30"),
        ({"step_size": 0}, r"step_size must be in \(0.0, 10.0\], got 0"),
        ({"alive_threshold": float("nan")}, "alive_threshold must be a finite number, got nan"),
        ({"fire_rate": float("inf")}, "fire_rate must be a finite number"),
        ({"channels": 16.0}, "channels must be a whole number"),
        ({"channels": True}, "channels must be a whole number"),
        ({"channels": 3}, r"channels must be in \[4, 1024\]"),
        ({"hidden": "128"}, "hidden must be a whole number"),
        ({"hidden": 10**9}, r"hidden must be in \[1, 8192\]"),
        ({"perception": None}, "perception must be one of"),
    ],
)
def test_a_config_with_bad_values_is_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        NCAConfig(**fields)
    with pytest.raises(ValueError, match=problem):
        NCAConfig.from_dict(fields)


def test_config_numbers_are_normalised():
    assert NCAConfig(channels=np.int64(16), step_size=1) == NCAConfig()
    assert type(NCAConfig(channels=np.int64(16)).channels) is int
    assert type(NCAConfig(step_size=1).step_size) is float
    with pytest.raises(ValueError, match="JSON object of its fields, got list"):
        NCAConfig.from_dict([16, 128])


# ---- training runs (issue 11) ----------------------------------------------------------------------
def make_run(folder: Path, target: str = "gecko", *, weights: bool = True, seed: int = 0) -> dict:
    """A run folder as ``nca-zoo train`` leaves it: run.json (+ metrics.jsonl) + model.safetensors."""
    folder.mkdir(parents=True)
    train_config = preset("persist", target_size=8, padding=4, iterations=3)
    record = {"model_config": NCAConfig().to_dict(), "train_config": train_config.to_dict(), "target": target}
    (folder / "run.json").write_text(json.dumps(record, indent=2))
    (folder / "metrics.jsonl").write_text('{"iteration": 1, "loss": 0.1}\n')
    params = random_params(seed=seed)
    if weights:
        save_weights(folder / "model.safetensors", params, NCAConfig())
    return params


def test_a_training_run_folder_loads_as_it_is(tmp_path, monkeypatch):
    params = make_run(tmp_path / "runs" / "x")
    monkeypatch.chdir(tmp_path)
    for spec in ("runs/x", "local-dir:runs/x", "runs/x/model.safetensors", "./runs/x", tmp_path / "runs" / "x"):
        nca = nca_zoo.load(spec)
        np.testing.assert_array_equal(nca.params["dense_1"]["kernel"], np.asarray(params["dense_1"]["kernel"]))
        np.testing.assert_array_equal(nca.target, grid_target("gecko", 8, 4))  # the run's zoo target, its grid
        assert nca.name == "gecko-persist-16" and nca.entry.revision is None and nca.entry.hub_repo == ""
        assert nca.entry.recipe["target_size"] == 8
    assert nca.mse(nca.grow(8, size=16)).shape == (1,)


def test_a_run_on_an_image_loads_without_a_target(tmp_path):
    make_run(tmp_path / "mine", target="my-shape")
    nca = nca_zoo.load(str(tmp_path / "mine"))
    assert nca.target is None and nca.name == "my-shape-persist-16"
    Image.fromarray(np.full((16, 16, 4), 255, np.uint8), "RGBA").save(tmp_path / "mine" / "target.png")
    assert nca_zoo.load(str(tmp_path / "mine")).target.shape == (16, 16, 4)  # a run that keeps its target


def test_unfinished_or_broken_runs_say_what_is_wrong(tmp_path):
    make_run(tmp_path / "unfinished", weights=False)
    with pytest.raises(FileNotFoundError, match="has not finished.*--resume"):
        nca_zoo.load(str(tmp_path / "unfinished"))
    make_run(tmp_path / "broken")
    (tmp_path / "broken" / "run.json").write_text("[]")
    with pytest.raises(ValueError, match=r"run\.json is not a training run record"):
        nca_zoo.load(str(tmp_path / "broken"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json .* and no run.json"):
        nca_zoo.load(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="no such file or folder.*hf-hub:org/missing"):
        nca_zoo.load("org/missing")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="not a .safetensors weights file"):
        nca_zoo.load(str(tmp_path / "notes.txt"))


def test_a_bare_weights_file_loads_with_its_stored_config(tmp_path):
    params = random_params(NCAConfig(hidden=64), seed=2)
    save_weights(tmp_path / "w.safetensors", params, NCAConfig(hidden=64))
    nca = nca_zoo.load(str(tmp_path / "w.safetensors"))
    assert nca.config == NCAConfig(hidden=64) and nca.target is None and nca.entry is None


def test_a_bare_weights_file_brings_the_zoo_target_its_metadata_names(tmp_path):
    params = random_params(NCAConfig(), seed=2)
    recipe = json.dumps({"target_size": 24, "padding": 4})
    save_weights(tmp_path / "w.safetensors", params, NCAConfig(), {"target": "fish", "recipe": recipe})
    nca = nca_zoo.load(str(tmp_path / "w.safetensors"))
    np.testing.assert_array_equal(nca.target, grid_target("fish", 24, 4))
    save_weights(tmp_path / "x.safetensors", params, NCAConfig(), {"target": "../../etc/passwd"})
    assert nca_zoo.load(str(tmp_path / "x.safetensors")).target is None  # not a zoo target: none


def test_a_training_snapshot_loads_as_its_params_and_target(tmp_path):
    """A run's snapshot.safetensors (params + optimiser state + key) loads as the model it holds, so a
    run can be evaluated or grown while it trains; its target and experiment come from its recipe."""
    import jax

    from nca_zoo.factory import recorded_provenance
    from nca_zoo.train.snapshot import save_snapshot, snapshot_model
    from nca_zoo.train.step import init_state

    config, recipe = NCAConfig(hidden=32), preset("persist", pool_size=8, target_size=24, padding=4)
    params = random_params(config, seed=3)
    path = tmp_path / "fish-persist-16-300.safetensors"
    save_snapshot(path, init_state(config, recipe, params), model_config=config, train_config=recipe, target="fish")
    nca = nca_zoo.load(str(path))
    assert nca.config == config and nca.entry is None
    for a, b in zip(jax.tree.leaves(nca.params), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(nca.target, grid_target("fish", 24, 4))
    recorded = recorded_provenance(path)
    assert (recorded["target"], recorded["experiment"], recorded["recipe"]) == ("fish", "persist", recipe.to_dict())
    assert snapshot_model(path).iteration == 0
    save_weights(tmp_path / "w.safetensors", params, config)  # plain weights are not a snapshot
    with pytest.raises(ValueError, match="not a readable nca-zoo training snapshot"):
        snapshot_model(tmp_path / "w.safetensors")
    with open(tmp_path / "huge.safetensors", "wb") as f:  # sparse: refused by its size before it is read
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ValueError, match="more than any nca-zoo training snapshot takes"):
        snapshot_model(tmp_path / "huge.safetensors")


def test_a_registry_name_is_not_shadowed_by_a_folder(tmp_path, monkeypatch):
    make_run(tmp_path / "gecko")  # a run folder named like the zoo entry
    make_run(tmp_path / "my-run")
    monkeypatch.chdir(tmp_path)
    assert nca_zoo.load("gecko").name == "gecko-regen-16"  # the zoo entry, not the folder's gecko-persist-16
    assert nca_zoo.load("my-run").name == "gecko-persist-16"  # not a registry name: the folder
    with pytest.raises(nca_zoo.UnknownModelError, match="no file or folder of that name"):
        nca_zoo.load("gekko")
