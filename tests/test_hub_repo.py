"""An entry's Hub repo folder: layout, config.json, model card, target.png; save → load round trips."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import random_params
from huggingface_hub import ModelCard
from PIL import Image

import nca_zoo
from nca_zoo.config import NCAConfig
from nca_zoo.factory import parse_spec
from nca_zoo.hub import layout, mixin, pretrained
from nca_zoo.publish import target_name
from nca_zoo.registry import ZooEntry
from nca_zoo.targets import grid_target
from nca_zoo.train.recipe import plain_overrides
from nca_zoo.weights import WeightsError, save_weights, sha256_file
from nca_zoo.zoo import ZooModel

METRICS = {"mse_96": 0.00123, "mse_1000": 0.00234, "mse_regen": 0.0456}


def tiny_entry(experiment: str = "regen", sha256: str = "0" * 64) -> ZooEntry:
    return ZooEntry(
        name=f"gecko-{experiment}-16",
        target="gecko",
        experiment=experiment,
        config=NCAConfig(),
        weights_file=f"gecko-{experiment}-16.safetensors",
        sha256=sha256,
        hub_repo=f"nca-zoo/gecko-{experiment}-16",
        revision=None,
        recipe={"experiment": experiment, "iterations": 3, "batch_size": 2, "target_size": 8, "padding": 4},
        training={"iterations": 3, "wall_time_s": 75.0, "hardware": "CPU: test, 2 cores", "final_loss": 0.0211},
        metrics=METRICS,
        description="A tiny test gecko.",
    )


def tiny_model(seed: int = 0, experiment: str = "regen") -> ZooModel:
    return ZooModel(
        NCAConfig(), random_params(seed=seed), entry=tiny_entry(experiment), target=grid_target("gecko", 8, 4)
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A regen model's repo folder (saved once: rendering the GIFs is the slow part)."""
    folder = tmp_path_factory.mktemp("repo") / "gecko-regen-16"
    model = tiny_model()
    with pytest.warns(UserWarning, match="sha256"):  # the test entry's sha256 is a placeholder
        model.save_pretrained(folder)
    return model, folder


def test_save_pretrained_writes_the_repo_layout(saved):
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == sorted(layout.REPO_FILES)
    config = json.loads((folder / "config.json").read_text())
    assert config["architecture"] == "growing-nca"
    assert config["nca_zoo_version"] == nca_zoo.__version__
    assert NCAConfig.from_dict(config["model_args"]) == model.config
    pretrained = config["pretrained_cfg"]
    assert pretrained["sha256"] == sha256_file(folder / "model.safetensors")
    assert pretrained["metrics"] == METRICS and pretrained["recipe"]["target_size"] == 8
    assert "revision" not in pretrained and "config" not in pretrained
    with Image.open(folder / "growth.gif") as gif:
        assert gif.n_frames == mixin.GIF_STEPS // 2 + 1
        assert gif.size == (16 * 18, 16 * 18)  # the 16-cell grid, scaled to ~288 px
    with Image.open(folder / "regeneration.gif") as gif:
        assert gif.n_frames > 90
    assert Image.open(folder / "target.png").size == (16, 16)


def test_model_card_has_metadata_and_every_section(saved):
    _, folder = saved
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "nca-zoo"
    assert card.data.license == "apache-2.0"
    assert {"jax", "flax", "neural-cellular-automata", "gecko", "regen"} <= set(card.data.tags)
    assert card.data.get("pipeline_tag") is None
    text = card.text
    for heading in ("## Target", "## What it does", "## Training", "## Metrics", "## Usage", "## Citation"):
        assert heading in text
    for value in ("0.001230", "0.002340", "0.045600", "**3 iterations**", "1 min 15 s", "CPU: test, 2 cores"):
        assert value in text, value
    assert 'src="target.png"' in text and 'src="growth.gif"' in text and 'src="regeneration.gif"' in text
    assert 'nca_zoo.load("hf-hub:nca-zoo/gecko-regen-16")' in text
    assert "10.23915/distill.00023" in text and "Mordvintsev" in text and "Levin" in text


def test_local_folder_round_trip_is_exact(saved):
    model, folder = saved
    loaded = nca_zoo.load(f"local-dir:{folder}")
    for a, b in zip(jax.tree.leaves(model.params), jax.tree.leaves(loaded.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(loaded.target, model.target)  # target.png reloads bit-exactly
    assert loaded.entry.name == "gecko-regen-16" and loaded.entry.metrics == METRICS and loaded.entry.revision is None
    state = model.seed(2, 16)
    a, _ = model.rollout(state, 7, 20)
    b, _ = loaded.rollout(state, 7, 20)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    same = ZooModel.from_pretrained(folder)
    np.testing.assert_array_equal(same.params["dense_1"]["kernel"], loaded.params["dense_1"]["kernel"])


def test_tampered_or_incomplete_folders_are_rejected(saved, tmp_path):
    _, folder = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-3] ^= 0x40
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        nca_zoo.load(f"local-dir:{copy}")
    (copy / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        nca_zoo.load(f"local-dir:{copy}")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        nca_zoo.load(f"local-dir:{tmp_path / 'missing'}")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"architecture": "bert"}))
    (tmp_path / "other" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="not an nca-zoo"):
        nca_zoo.load(f"local-dir:{tmp_path / 'other'}")


def test_resave_keeps_the_card_and_rewrites_config(saved, tmp_path):
    _, folder = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "README.md").write_text("---\nlicense: apache-2.0\n---\nhand-edited card\n")
    loaded = nca_zoo.load(f"local-dir:{copy}")
    (copy / "config.json").write_text("{}")
    loaded.save_pretrained(copy, weights_file=folder / "model.safetensors")
    assert (copy / "README.md").read_text().endswith("hand-edited card\n")  # like ModelHubMixin
    assert json.loads((copy / "config.json").read_text())["architecture"] == "growing-nca"
    assert (copy / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()


def test_published_bytes_are_reused_not_reserialized(tmp_path, monkeypatch):
    """The repo's model.safetensors must be the bundled file's bytes, so one sha256 verifies both."""
    params = random_params(seed=3)
    bundled = tmp_path / "gecko-grow-16.safetensors"
    sha = save_weights(bundled, params, NCAConfig())
    entry = tiny_entry("grow", sha256=sha)
    monkeypatch.setattr(pretrained, "bundled_weights", lambda e: bundled if e.name == entry.name else None)
    model = ZooModel(NCAConfig(), params, entry=entry, target=grid_target("gecko", 8, 4))
    model.save_pretrained(tmp_path / "repo")
    assert (tmp_path / "repo" / "model.safetensors").read_bytes() == bundled.read_bytes()
    assert not (tmp_path / "repo" / "regeneration.gif").exists()  # only regenerating entries get one
    other = ZooModel(NCAConfig(), random_params(seed=4), target=grid_target("gecko", 8, 4))
    with pytest.raises(ValueError, match="does not hold this model's parameters"):
        other.save_pretrained(tmp_path / "other", weights_file=bundled)


def test_target_png_is_lossless_for_8_bit_targets():
    for spec in ("gecko", "butterfly"):
        target = grid_target(spec)
        png = layout.target_png_bytes(target)
        with Image.open(io.BytesIO(png)) as img:
            assert img.mode == "RGBA" and img.size == (72, 72)
        restored = layout.read_target_png(io.BytesIO(png))
        np.testing.assert_array_equal(restored, target)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("gecko", ("registry", "gecko", None)),
        ("hf-hub:nca-zoo/gecko-regen-16", ("hf-hub", "nca-zoo/gecko-regen-16", None)),
        ("hf-hub:me/x@v1.0", ("hf-hub", "me/x", "v1.0")),
        ("local-dir:../some/dir", ("local-dir", "../some/dir", None)),
    ],
)
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["hf-hub:gecko", "hf-hub:a/b/c", "hf-hub:/x", "local-dir:"])
def test_bad_specs_say_what_is_expected(spec):
    with pytest.raises(ValueError, match="expected"):
        parse_spec(spec)


def test_revision_only_applies_to_hub_names(tmp_path):
    with pytest.raises(ValueError, match="hf-hub: names only"):
        nca_zoo.load(f"local-dir:{tmp_path}", revision="main")
    with pytest.raises(ValueError, match="two revisions"):
        nca_zoo.load("hf-hub:a/b@v1", revision="v2")


def test_recipe_overrides_and_target_names():
    assert plain_overrides(["batch_size=2", "learning-rate=1e-3"]) == {"batch_size": 2, "learning_rate": 1e-3}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        plain_overrides(["batch=2"])
    with pytest.raises(ValueError, match="takes a int"):
        plain_overrides(["batch_size=two"])
    assert target_name("🦎") == "gecko"
    assert target_name("\U0001f419") == "octopus"
    assert target_name("images/My Cat.png") == "my-cat"


# ---- a stranger's repo folder (issue 11) -----------------------------------------------------------
def _copy_with_config(saved, tmp_path, edit) -> tuple[Path, Path]:
    _, folder = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    config_path = copy / "config.json"
    config = json.loads(config_path.read_text())
    text = edit(config)
    config_path.write_text(text if isinstance(text, str) else json.dumps(config))
    return copy, config_path


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda c: '{"architecture": "growing-nca", ', "config.json is not valid JSON"),
        (lambda c: "[1, 2, 3]", "must hold a JSON object, not a list"),
        (lambda c: c.update(model_args=[16, 128]), "model_args: an NCAConfig is a JSON object"),
        (lambda c: c["model_args"].update(channels=16.0), "model_args: NCAConfig.channels must be a whole number"),
        (lambda c: c["model_args"].update(step_size=0), r"model_args: NCAConfig.step_size must be in \(0.0, 10.0\]"),
        (lambda c: c.update(pretrained_cfg=["x"]), "pretrained_cfg must be a JSON object"),
        (lambda c: c["pretrained_cfg"].update(recipe="fast"), "pretrained_cfg.recipe must be a JSON object"),
        (lambda c: c["pretrained_cfg"].update(sha256=12), "pretrained_cfg.sha256 must be 64 lowercase hex"),
        (lambda c: c["pretrained_cfg"].update(name=["x"]), "pretrained_cfg.name must be a string"),
        (lambda c: c["pretrained_cfg"].update(name="other-name"), "does not describe a zoo entry"),
    ],
)
def test_a_malformed_config_json_is_a_clear_error_naming_the_file(saved, tmp_path, edit, problem):
    copy, config_path = _copy_with_config(saved, tmp_path, edit)
    with pytest.raises(ValueError, match=problem) as err:
        nca_zoo.load(f"local-dir:{copy}")
    assert str(config_path) in str(err.value)


def test_weights_of_another_dtype_in_a_folder_without_a_sha256_are_refused(saved, tmp_path):
    def drop_sha(config):
        del config["pretrained_cfg"]["sha256"]

    copy, _ = _copy_with_config(saved, tmp_path, drop_sha)
    path = copy / "model.safetensors"
    path.write_bytes(path.read_bytes().replace(b'"dtype":"F32"', b'"dtype":"I32"'))
    with pytest.raises(WeightsError, match="int32 values.*float32"):
        nca_zoo.load(f"local-dir:{copy}")


def test_a_huge_target_png_is_refused_before_decoding(saved, tmp_path):
    _, folder = saved
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    Image.new("RGBA", (2048, 2048)).save(copy / "target.png")  # 16 kB on disk, 64 MB as float RGBA
    with pytest.raises(ValueError, match=r"target\.png.*2048×2048 pixels.*at most 1,048,576"):
        nca_zoo.load(f"local-dir:{copy}")
    Image.new("RGBA", (16, 8)).save(copy / "target.png")
    with pytest.raises(ValueError, match="a target grid is square"):
        nca_zoo.load(f"local-dir:{copy}")


@pytest.mark.parametrize(("key", "value"), [("target_size", 2000), ("padding", 10**6), ("target_size", "40")])
def test_a_huge_recipe_grid_is_refused(saved, tmp_path, key, value):
    """Without target.png the target is re-rendered on the recipe's grid: that grid is bounded."""
    copy, config_path = _copy_with_config(saved, tmp_path, lambda c: c["pretrained_cfg"]["recipe"].update({key: value}))
    (copy / "target.png").unlink()
    with pytest.raises(ValueError, match=f"recipe: {key}") as err:
        nca_zoo.load(f"local-dir:{copy}")
    assert str(config_path) in str(err.value)
