"""Publishing and loading through the real ``huggingface_hub`` client, against a local Hub (no network).

Each test gets its own server (tests/hub_server.py) and an empty ``HF_HOME``; registry entries are
built in the test, so nothing here depends on a trained entry existing.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import random_params
from hub_server import TOKEN, cache_files, running_hub, use_hub
from huggingface_hub import constants

import nca_zoo
from nca_zoo import hub, hub_repo, registry
from nca_zoo.config import NCAConfig
from nca_zoo.registry import ZooEntry
from nca_zoo.targets import grid_target
from nca_zoo.weights import WeightsError, save_weights, sha256_file
from nca_zoo.zoo import ZooModel

REPO = "nca-zoo/gecko-regen-16"


@pytest.fixture
def server():
    with running_hub() as hub_server:
        yield hub_server


@pytest.fixture
def hf_home(server, tmp_path, monkeypatch):
    home = tmp_path / "hf-home"
    use_hub(monkeypatch, server.endpoint, home)
    return home


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Repo folders of tiny regen models, built once per seed (rendering the GIFs is the slow part)."""
    built: dict[tuple[int, bool], tuple[ZooModel, Path]] = {}

    def make(seed: int, *, with_entry: bool = True) -> tuple[ZooModel, Path]:
        if (seed, with_entry) not in built:
            root = tmp_path_factory.mktemp(f"repo-{seed}")
            params = random_params(seed=seed)
            sha = save_weights(root / "weights.safetensors", params, NCAConfig())
            entry = tiny_entry(sha) if with_entry else None
            model = ZooModel(NCAConfig(), params, entry=entry, target=grid_target("gecko", 8, 4))
            card = {"repo_id": REPO}
            hub_repo.save_pretrained(
                model, root / "repo", model_card_kwargs=card, weights_file=root / "weights.safetensors"
            )
            built[(seed, with_entry)] = model, root / "repo"
        return built[(seed, with_entry)]

    return make


def tiny_entry(sha256: str, revision: str | None = None) -> ZooEntry:
    return ZooEntry(
        name="gecko-regen-16",
        target="gecko",
        experiment="regen",
        config=NCAConfig(),
        weights_file="gecko-regen-16.safetensors",
        sha256=sha256,
        hub_repo=REPO,
        revision=revision,
        recipe={"target_size": 8, "padding": 4},
    )


def publish(folder, repo_id: str = REPO):
    return hub.push_folder(folder, repo_id, ["config.json", "model.safetensors", "README.md"], progress=False)


def register(monkeypatch, folder, revision: str | None) -> ZooEntry:
    """Make the registry hold exactly one entry: the weights in ``folder``, pinned to ``revision``."""
    entry = tiny_entry(sha256_file(folder / "model.safetensors"), revision)
    monkeypatch.setattr(registry, "_entries", lambda: {entry.name: entry})
    monkeypatch.setattr(hub, "bundled_weights", lambda e: None)  # the real gecko may be bundled: not this one
    return entry


def assert_same_params(a: ZooModel, b: ZooModel) -> None:
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_push_then_load_by_name_into_an_empty_cache(folders, server, hf_home, monkeypatch):
    model, folder = folders(0)
    commit = publish(folder)
    assert re.fullmatch(r"[0-9a-f]{40}", commit.oid)
    assert server.repos[REPO].branches["main"] == commit.oid
    assert server.files(REPO)["model.safetensors"] == (folder / "model.safetensors").read_bytes()
    assert len(server.repos[REPO].commits) == 2  # the repo's initial commit + one upload commit

    register(monkeypatch, folder, commit.oid)
    loaded = nca_zoo.load("gecko")
    assert_same_params(model, loaded)
    state = model.seed(2, 16)
    np.testing.assert_array_equal(
        np.asarray(model.rollout(state, 3, 30)[0]), np.asarray(loaded.rollout(state, 3, 30)[0])
    )
    assert f"/{REPO}/resolve/{commit.oid}/model.safetensors" in server.downloads()
    assert any(f.startswith("models--nca-zoo--gecko-regen-16/snapshots/" + commit.oid) for f in cache_files(hf_home))

    before = len(server.requests)
    nca_zoo.load("gecko-regen-16")
    assert len(server.requests) == before  # pinned + cached: no request at all


def test_a_later_push_does_not_change_what_a_pinned_entry_loads(folders, server, hf_home, monkeypatch):
    v1, folder1 = folders(1)
    v2, folder2 = folders(2)
    c1 = publish(folder1).oid
    register(monkeypatch, folder1, c1)
    c2 = publish(folder2).oid
    assert c1 != c2 and server.repos[REPO].branches["main"] == c2

    assert_same_params(v1, nca_zoo.load("gecko"))
    assert_same_params(v2, nca_zoo.load(f"hf-hub:{REPO}"))  # the branch moved on
    pinned = nca_zoo.load(f"hf-hub:{REPO}@{c1}")
    assert_same_params(v1, pinned)
    assert pinned.entry.revision == c1 and pinned.entry.hub_repo == REPO
    assert nca_zoo.load(f"hf-hub:{REPO}", revision=c1).entry.revision == c1
    assert ZooModel.from_pretrained(REPO).entry.revision == c2
    np.testing.assert_array_equal(pinned.target, grid_target("gecko", 8, 4))


def test_offline_with_a_warm_cache_needs_no_server(folders, server, hf_home, monkeypatch):
    model, folder = folders(0)
    commit = publish(folder).oid
    register(monkeypatch, folder, commit)
    nca_zoo.load("gecko")
    nca_zoo.load(f"hf-hub:{REPO}")
    before = len(server.requests)
    assert_same_params(model, nca_zoo.load("gecko", local_files_only=True))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets at import
    assert_same_params(model, nca_zoo.load("gecko"))
    assert_same_params(model, nca_zoo.load(f"hf-hub:{REPO}"))  # main → the cached commit
    assert len(server.requests) == before


def test_offline_with_a_cold_cache_says_how_to_get_the_weights(folders, server, hf_home, monkeypatch):
    _, folder = folders(0)
    commit = publish(folder).oid
    register(monkeypatch, folder, commit)
    before = len(server.requests)
    with pytest.raises(hub.HubError, match="local_files_only=True") as err:
        nca_zoo.load("gecko", local_files_only=True)
    assert f"hf download {REPO} model.safetensors --revision {commit}" in str(err.value)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(hub.HubError, match="HF_HUB_OFFLINE=1.*network access.*hf download"):
        nca_zoo.load("gecko")
    with pytest.raises(hub.HubError, match="not in the local Hugging Face cache"):
        nca_zoo.load(f"hf-hub:{REPO}")
    assert len(server.requests) == before
    assert cache_files(hf_home) == []


@pytest.mark.parametrize("damage", ["tampered", "truncated"])
def test_a_bad_download_is_rejected_and_never_kept(folders, server, hf_home, monkeypatch, damage):
    model, folder = folders(0)
    commit = publish(folder).oid
    register(monkeypatch, folder, commit)
    good = (folder / "model.safetensors").read_bytes()
    bad = good[:-64] if damage == "truncated" else good[:-5] + bytes([good[-5] ^ 1]) + good[-4:]
    server.tamper(REPO, "model.safetensors", bad)
    with pytest.raises(WeightsError, match="sha256"):
        nca_zoo.load("gecko")
    with pytest.raises(WeightsError, match="sha256"):
        nca_zoo.load(f"hf-hub:{REPO}")  # checked against its own config.json
    blobs = [p for p in (hf_home / "hub").rglob("*") if p.is_file() and not p.is_symlink()]
    assert all(p.read_bytes() != bad for p in blobs)
    assert not any(f.endswith("model.safetensors") for f in cache_files(hf_home))

    del server.tampered[(REPO, "model.safetensors")]
    assert_same_params(model, nca_zoo.load("gecko"))  # the next load downloads a fresh, good copy


def test_a_corrupted_cache_entry_is_replaced_by_a_fresh_download(folders, server, hf_home, monkeypatch):
    model, folder = folders(0)
    commit = publish(folder).oid
    register(monkeypatch, folder, commit)
    path = hub.resolve_weights(registry.get_entry("gecko"))
    blob = path.resolve()
    blob.write_bytes(blob.read_bytes()[:-10])  # disk corruption after the download
    downloads = len(server.downloads())
    assert_same_params(model, nca_zoo.load("gecko"))
    assert len(server.downloads()) == downloads + 1


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", 500), ("GET", 500), ("HEAD", 404), ("GET", 503)],
)
def test_server_errors_fail_clearly_and_leave_no_partial_files(folders, server, hf_home, monkeypatch, method, status):
    _, folder = folders(0)
    commit = publish(folder).oid
    register(monkeypatch, folder, commit)
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", lambda seconds: None)  # skip retry back-off
    server.fail[(method, "model.safetensors")] = status
    with pytest.raises(hub.HubError, match=f"{status}") as err:
        nca_zoo.load("gecko")
    assert REPO in str(err.value) and "model.safetensors" in str(err.value)
    files = cache_files(hf_home)
    assert not any("blobs/" in f or f.endswith("model.safetensors") or ".incomplete" in f for f in files), files


def test_missing_repo_revision_or_file_are_named(folders, server, hf_home, monkeypatch):
    _, folder = folders(0)
    commit = publish(folder).oid
    with pytest.raises(hub.HubError, match="no Hub repo nca-zoo/nope"):
        nca_zoo.load("hf-hub:nca-zoo/nope")
    with pytest.raises(hub.HubError, match="no revision 'v9'"):
        nca_zoo.load(f"hf-hub:{REPO}@v9")
    entry = register(monkeypatch, folder, commit)
    monkeypatch.setattr(registry, "_entries", lambda: {entry.name: dataclasses.replace(entry, hub_repo="nca-zoo/x")})
    with pytest.raises(hub.HubError, match="no Hub repo nca-zoo/x"):
        nca_zoo.load("gecko")
    unpublished = dataclasses.replace(entry, revision=None)
    monkeypatch.setattr(registry, "_entries", lambda: {entry.name: unpublished})
    with pytest.raises(hub.HubError, match="not yet published"):
        nca_zoo.load("gecko")
    initial = next(iter(server.repos[REPO].commits))  # the repo as created: only .gitattributes
    with pytest.raises(hub.HubFileMissingError, match="has no file config.json"):
        hub.download(REPO, "config.json", revision=initial)


def test_pushing_needs_a_valid_token_and_never_shows_it(folders, server, tmp_path, monkeypatch, capsys):
    _, folder = folders(0)
    use_hub(monkeypatch, server.endpoint, tmp_path / "hf", token=None)
    with pytest.raises(hub.PushError, match="HF_TOKEN"):
        publish(folder)
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_value")
    with pytest.raises(hub.PushError, match="HTTP 401.*write access") as err:
        publish(folder)
    assert "hf_wrong_token_value" not in str(err.value)
    assert REPO not in server.repos
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    first = publish(folder)
    assert publish(folder).oid == first.oid  # nothing changed: no empty commit, same revision
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err


def test_push_to_hub_from_a_model_and_load_it_back(folders, server, hf_home):
    model, _ = folders(5, with_entry=False)
    commit = model.push_to_hub("someone/my-gecko", progress=False)
    files = server.files("someone/my-gecko")
    assert {"config.json", "model.safetensors", "README.md", "target.png", "growth.gif"} <= set(files)
    assert b"hf-hub:someone/my-gecko" in files["README.md"]
    loaded = nca_zoo.load(f"hf-hub:someone/my-gecko@{commit.oid}")
    assert_same_params(model, loaded)
    assert loaded.entry is None  # saved without a registry entry
    np.testing.assert_array_equal(loaded.target, model.target)
