"""Multi-file updates land whole or not at all."""

from __future__ import annotations

import os

import pytest

from nca_zoo import transaction


def test_write_all_replaces_and_creates_files(tmp_path):
    (tmp_path / "a").write_bytes(b"old a")
    transaction.write_all({tmp_path / "a": b"new a", tmp_path / "sub" / "b": b"new b"})
    assert (tmp_path / "a").read_bytes() == b"new a"
    assert (tmp_path / "sub" / "b").read_bytes() == b"new b"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "sub"]  # no staged leftovers


def test_a_failure_midway_restores_every_file(tmp_path, monkeypatch):
    (tmp_path / "weights").write_bytes(b"old weights")
    (tmp_path / "registry.json").write_bytes(b"old registry")
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # weights and registry are in place, the card fails
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(transaction.os, "replace", failing_replace)
    files = {
        tmp_path / "weights": b"new weights",
        tmp_path / "registry.json": b"new registry",
        tmp_path / "MODEL_CARD.md": b"new card",
    }
    with pytest.raises(OSError, match="disk full"):
        transaction.write_all(files)
    monkeypatch.undo()
    assert (tmp_path / "weights").read_bytes() == b"old weights"
    assert (tmp_path / "registry.json").read_bytes() == b"old registry"
    assert not (tmp_path / "MODEL_CARD.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json", "weights"]
