"""``nca_zoo.load``: the pretrained default gecko grows, persists, and is tamper-checked."""

from __future__ import annotations

import shutil

import pytest

import nca_zoo
from nca_zoo import hub
from nca_zoo.weights import WeightsError


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
    shutil.copy(hub.bundled_weights(entry), bad)
    data = bytearray(bad.read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(hub, "bundled_weights", lambda e: bad)
    with pytest.raises(WeightsError, match="sha256"):
        nca_zoo.load("gecko")
