"""Registry: names, wildcards, aliases, close-match errors, and the integrity of shipped entries."""

from __future__ import annotations

import re

import pytest

from nca_zoo import registry
from nca_zoo.config import NCAConfig
from nca_zoo.evaluate import METRICS
from nca_zoo.hub.pretrained import bundled_weights
from nca_zoo.registry import UnknownModelError, ZooEntry
from nca_zoo.weights import load_weights, sha256_file


def _entry(target: str, experiment: str, channels: int = 16) -> ZooEntry:
    name = f"{target}-{experiment}-{channels}"
    return ZooEntry(
        name=name,
        target=target,
        experiment=experiment,
        config=NCAConfig(channels=channels),
        weights_file=f"{name}.safetensors",
        sha256="0" * 64,
        hub_repo=f"nca-zoo/{name}",
        revision=None,
    )


@pytest.fixture
def fake_registry(monkeypatch):
    entries = [_entry("gecko", e) for e in ("grow", "persist", "regen")] + [
        _entry("fish", "grow"),
        _entry("fish", "persist"),
        _entry("gecko", "regen", 32),
    ]
    monkeypatch.setattr(registry, "_entries", lambda: {e.name: e for e in entries})


def test_wildcards_and_aliases(fake_registry):
    assert registry.list_models("gecko-*") == [
        "gecko-grow-16",
        "gecko-persist-16",
        "gecko-regen-16",
        "gecko-regen-32",
    ]
    assert registry.list_models("*-persist-*") == ["fish-persist-16", "gecko-persist-16"]
    assert registry.list_models("nothing*") == []
    assert registry.resolve("gecko") == "gecko-regen-16"  # regen preferred, 16 channels first
    assert registry.resolve("\U0001f98e") == "gecko-regen-16"
    assert registry.resolve("fish") == "fish-persist-16"
    assert registry.resolve("gecko-grow") == "gecko-grow-16"
    assert registry.get_entry("gecko-regen-32").config.channels == 32


def test_unknown_names_suggest_the_closest(fake_registry):
    with pytest.raises(UnknownModelError, match="unknown model 'geko-regen-16'.*Did you mean: gecko-regen-16"):
        registry.get_entry("geko-regen-16")
    with pytest.raises(UnknownModelError, match="Available models: fish-grow-16"):
        registry.get_entry("zzz")


def test_entry_names_must_follow_the_scheme():
    with pytest.raises(ValueError, match="should be 'gecko-regen-16'"):
        ZooEntry("gecko-16", "gecko", "regen", NCAConfig(), "x", "0" * 64, "nca-zoo/x", None)


def test_shipped_entries_are_complete_and_verified():
    names = registry.list_models()
    assert "gecko-regen-16" in names and registry.resolve("gecko") == "gecko-regen-16"
    for name in names:
        entry = registry.get_entry(name)
        assert entry.hub_repo == f"{registry.HUB_ORG}/{name}"
        assert entry.revision is None or re.fullmatch(r"[0-9a-f]{40}", entry.revision)
        path = bundled_weights(entry)
        assert path is not None, f"{name}: weights not bundled"
        assert sha256_file(path) == entry.sha256
        _, config = load_weights(path, config=entry.config, sha256=entry.sha256)
        assert config == entry.config
        assert {*METRICS, "stable"} <= set(entry.metrics) and entry.metrics["stable"] == 1.0
        assert entry.training.get("iterations") and entry.training.get("hardware")
        assert ZooEntry.from_dict(entry.to_dict()) == entry
