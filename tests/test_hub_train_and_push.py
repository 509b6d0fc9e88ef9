"""``scripts/train_and_push.py --push`` end to end against a local Hub, then loading the entry it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from hub_server import TOKEN, running_hub, use_hub

import nca_zoo
from nca_zoo import registry
from nca_zoo.cli import main
from nca_zoo.evaluate import METRICS
from nca_zoo.hub import layout, pretrained
from nca_zoo.registry import ZooEntry
from nca_zoo.targets import grid_target
from nca_zoo.weights import load_weights, sha256_bytes, sha256_file
from nca_zoo.zoo import ZooModel

ROOT = Path(__file__).resolve().parents[1]
TINY = [f"--set={kv}" for kv in ("batch_size=2", "pool_size=4", "damage_count=1", "min_steps=4", "max_steps=6")]
TINY += ["--set=target_size=8", "--set=padding=4"]


@pytest.mark.slow
def test_train_push_download_load_round_trip(tmp_path, monkeypatch):
    with running_hub() as server:
        use_hub(monkeypatch, server.endpoint, tmp_path / "hf-push")  # HF_ENDPOINT etc. for the subprocess
        out = tmp_path / "gecko-tiny"
        script = ROOT / "scripts" / "train_and_push.py"
        args = ["--target", "🦎", "--experiment", "regen", "--iters", "3", *TINY, "--out", str(out), "--push"]
        proc = subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path, timeout=900
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert TOKEN not in proc.stdout + proc.stderr
        assert "train gecko" in proc.stderr and "upload nca-zoo/gecko-regen-16" in proc.stderr  # progress bars

        entry = ZooEntry.from_dict(json.loads(proc.stdout))  # stdout is exactly the registry entry
        repo = server.repos["nca-zoo/gecko-regen-16"]
        assert entry.hub_repo == "nca-zoo/gecko-regen-16" and entry.revision == repo.branches["main"]
        assert len(repo.commits) == 2  # created, then one commit with every file
        files = server.files(entry.hub_repo, entry.revision)
        assert set(files) == {".gitattributes", *layout.REPO_FILES}
        trained_file = out / "run" / "model.safetensors"
        assert entry.sha256 == sha256_bytes(files["model.safetensors"]) == sha256_file(trained_file)
        assert entry.training["iterations"] == 3 and set(METRICS) <= set(entry.metrics)
        card = files["README.md"].decode()
        assert "| `mse_grow` |" in card and "**3 iterations**" in card
        assert files["config.json"] == (out / "config.json").read_bytes()

        # a user with an empty cache loads the printed entry by name
        use_hub(monkeypatch, server.endpoint, tmp_path / "hf-user")
        monkeypatch.setattr(registry, "_entries", lambda: {entry.name: entry})
        monkeypatch.setattr(pretrained, "bundled_weights", lambda e: None)  # the real gecko may be bundled: not it
        loaded = nca_zoo.load("gecko")
        assert server.downloads()[-1] == f"/nca-zoo/gecko-regen-16/resolve/{entry.revision}/model.safetensors"
        by_repo = nca_zoo.load(f"hf-hub:{entry.hub_repo}")  # caches config.json and target.png too
        assert by_repo.entry == entry  # config.json's pretrained_cfg + the commit = the printed entry

    # HF_HUB_OFFLINE=1 as a real environment variable (read at import): the warm cache serves, a cold one fails clearly
    code = f"import nca_zoo; m = nca_zoo.load('hf-hub:{entry.hub_repo}@{entry.revision}'); print(m.entry.revision)"
    offline = {**os.environ, "HF_HUB_OFFLINE": "1"}
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=offline, timeout=300)
    assert warm.returncode == 0 and warm.stdout.strip() == entry.revision, warm.stderr[-2000:]
    cold = {**offline, "HF_HOME": str(tmp_path / "hf-cold"), "HF_HUB_CACHE": str(tmp_path / "hf-cold" / "hub")}
    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cold, timeout=300)
    assert failed.returncode != 0 and "HubError" in failed.stderr and "HF_HUB_OFFLINE=1" in failed.stderr

    params, config = load_weights(trained_file)
    trained = ZooModel(config, params, target=grid_target("gecko", 8, 4))
    for a, b in zip(jax.tree.leaves(trained.params), jax.tree.leaves(loaded.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(loaded.target, trained.target)
    state = trained.seed(4, 16)
    np.testing.assert_array_equal(
        np.asarray(trained.rollout(state, 11, 64)[0]), np.asarray(loaded.rollout(state, 11, 64)[0])
    )


def test_push_without_a_token_fails_before_training(tmp_path, monkeypatch, capsys):
    with running_hub() as server:
        use_hub(monkeypatch, server.endpoint, tmp_path / "hf", token=None)
        code = main(["push", "--target", "gecko", "--iters", "1", "--out", str(tmp_path / "out"), "--push"])
    assert code == 2
    assert "HF_TOKEN" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert server.requests == []
