"""Safetensors weights: round trip, sha256, corrupt files, shape/config mismatches, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import random_params

from nca_zoo.config import NCAConfig
from nca_zoo.weights import WeightsError, load_weights, save_weights, sha256_file


def test_round_trip_keys_metadata_and_sha(tmp_path):
    params, config = random_params(), NCAConfig()
    path = tmp_path / "m.safetensors"
    sha = save_weights(path, params, config)
    assert sha == sha256_file(path)
    header = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    assert sorted(k for k in header if k != "__metadata__") == [
        "dense_0/bias",
        "dense_0/kernel",
        "dense_1/bias",
        "dense_1/kernel",
    ]
    meta = header["__metadata__"]
    assert meta["format"] == "nca-zoo" and meta["format_version"] == "1"
    assert NCAConfig.from_dict(json.loads(meta["config"])) == config
    loaded, loaded_config = load_weights(path, sha256=sha)
    assert loaded_config == config
    np.testing.assert_array_equal(loaded["dense_0"]["kernel"], np.asarray(params["dense_0"]["kernel"]))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp files left behind


def test_tampered_file_fails_sha256(tmp_path):
    path = tmp_path / "m.safetensors"
    sha = save_weights(path, random_params(), NCAConfig())
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_weights(path, sha256=sha)


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "m.safetensors"
    save_weights(path, random_params(), NCAConfig())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_weights(path)


def test_wrong_shape_names_the_key(tmp_path):
    path = tmp_path / "m.safetensors"
    save_weights(path, random_params(NCAConfig(hidden=64)), NCAConfig(hidden=64))
    with pytest.raises(WeightsError, match="config mismatch.*hidden"):
        load_weights(path, config=NCAConfig())
    params = random_params()
    params["dense_1"]["kernel"] = np.zeros((128, 12), np.float32)
    with pytest.raises(WeightsError, match="'dense_1/kernel' has shape"):
        save_weights(path, params, NCAConfig())


def test_nan_weights_and_missing_file(tmp_path):
    params = random_params()
    params["dense_0"]["bias"] = np.full((128,), np.nan, np.float32)
    with pytest.raises(WeightsError, match="NaN"):
        save_weights(tmp_path / "m.safetensors", params, NCAConfig())
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_weights(tmp_path / "missing.safetensors")


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_weights(path, random_params(), NCAConfig())
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        save_weights(path, random_params(seed=5), NCAConfig())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
