"""Safetensors weights: round trip, sha256, corrupt files, shape/config mismatches, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import random_params
from safetensors.numpy import save as st_save

import nca_zoo
from nca_zoo import weights
from nca_zoo.config import NCAConfig
from nca_zoo.weights import WeightsError, flatten_params, load_weights, save_weights, sha256_file

CONFIG_METADATA = {"config": json.dumps(NCAConfig().to_dict())}


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


def test_bytes_are_deterministic_across_processes_and_readable_by_safetensors(tmp_path):
    import subprocess
    import sys

    from safetensors import safe_open

    code = (
        "import sys; sys.path.insert(0, 'tests'); from conftest import random_params; "
        "from nca_zoo.config import NCAConfig; from nca_zoo.weights import save_weights; "
        "print(save_weights(sys.argv[1], random_params(), NCAConfig(), {'b': '1', 'a': '2', 'c': '3'}))"
    )
    shas = {
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / f"{i}.st")], capture_output=True, text=True, check=True
        ).stdout.strip()
        for i in range(3)
    }
    assert len(shas) == 1
    with safe_open(tmp_path / "0.st", framework="numpy") as f:
        assert f.metadata()["a"] == "2"
        np.testing.assert_array_equal(f.get_tensor("dense_1/bias"), np.asarray(random_params()["dense_1"]["bias"]))
    assert (tmp_path / "0.st").stat().st_mode & 0o777 == 0o644


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


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int8, np.int32, np.bool_])
def test_weights_of_another_dtype_are_refused(tmp_path, dtype):
    """Right shapes, wrong dtype: never loaded, even where no sha256 is known."""
    flat = flatten_params(random_params())
    path = tmp_path / "m.safetensors"
    path.write_bytes(st_save({k: v.astype(dtype) for k, v in flat.items()}, metadata=CONFIG_METADATA))
    with pytest.raises(WeightsError, match=r"'dense_0/bias' holds \w+ values.*float32"):
        load_weights(path)
    with pytest.raises(WeightsError, match="float32"):
        nca_zoo.load(str(path))


def test_float32_bytes_relabelled_as_int32_are_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_weights(path, random_params(), NCAConfig())
    data = path.read_bytes()
    assert data.count(b'"dtype":"F32"') == 4
    path.write_bytes(data.replace(b'"dtype":"F32"', b'"dtype":"I32"'))  # same length: only the label changes
    with pytest.raises(WeightsError, match="int32 values"):
        load_weights(path)


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ("{not json", "Expecting property name"),
        ("[16, 128]", "JSON object"),
        ('"sobel"', "JSON object"),
        ('{"channels": 16.0}', "channels must be a whole number"),
        ('{"step_size": -1e30}', "step_size must be in"),
        ('{"alive_threshold": NaN}', "alive_threshold must be a finite number"),
        ('{"chanels": 16}', "unknown NCAConfig fields"),
    ],
)
def test_a_malformed_config_in_the_metadata_names_the_file(tmp_path, config, problem):
    path = tmp_path / "m.safetensors"
    path.write_bytes(st_save(flatten_params(random_params()), metadata={"config": config}))
    with pytest.raises(WeightsError, match=problem) as err:
        load_weights(path)
    assert str(path) in str(err.value) and "'config' in the file's metadata" in str(err.value)


def test_an_oversized_file_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_weights(path, random_params(), NCAConfig())
    monkeypatch.setattr(weights, "MAX_FILE_BYTES", 1000)
    with pytest.raises(WeightsError, match="more than any nca-zoo model takes"):
        load_weights(path)
