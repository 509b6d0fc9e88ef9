"""Publishing and loading through the real ``huggingface_hub`` client, against a local Hub (no network).

Each test gets its own server (tests/hub_server.py) and an empty ``HF_HOME``; registry entries are
built in the test, so nothing here depends on a trained entry existing.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import random_params
from hub_server import TOKEN, cache_files, running_hub, use_hub
from huggingface_hub import constants
from PIL import Image

import nca_zoo
from nca_zoo import registry
from nca_zoo.config import NCAConfig
from nca_zoo.hub import HubError, HubFileMissingError, PushError, files, pretrained
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
            model.save_pretrained(root / "repo", model_card_kwargs=card, weights_file=root / "weights.safetensors")
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
    return files.push_folder(folder, repo_id, ["config.json", "model.safetensors", "README.md"], progress=False)


def register(monkeypatch, folder, revision: str | None) -> ZooEntry:
    """Make the registry hold exactly one entry: the weights in ``folder``, pinned to ``revision``."""
    entry = tiny_entry(sha256_file(folder / "model.safetensors"), revision)
    monkeypatch.setattr(registry, "_entries", lambda: {entry.name: entry})
    monkeypatch.setattr(pretrained, "bundled_weights", lambda e: None)  # the real gecko may be bundled: not this one
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
    with pytest.raises(HubError, match="local_files_only=True") as err:
        nca_zoo.load("gecko", local_files_only=True)
    assert f"hf download {REPO} model.safetensors --revision {commit}" in str(err.value)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="HF_HUB_OFFLINE=1.*network access.*hf download"):
        nca_zoo.load("gecko")
    with pytest.raises(HubError, match="not in the local Hugging Face cache"):
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
    path = pretrained.resolve_weights(registry.get_entry("gecko"))
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
    with pytest.raises(HubError, match=f"{status}") as err:
        nca_zoo.load("gecko")
    assert REPO in str(err.value) and "model.safetensors" in str(err.value)
    files = cache_files(hf_home)
    assert not any("blobs/" in f or f.endswith("model.safetensors") or ".incomplete" in f for f in files), files


def test_missing_repo_revision_or_file_are_named(folders, server, hf_home, monkeypatch):
    _, folder = folders(0)
    commit = publish(folder).oid
    with pytest.raises(HubError, match="no Hub repo nca-zoo/nope"):
        nca_zoo.load("hf-hub:nca-zoo/nope")
    with pytest.raises(HubError, match="no revision 'v9'"):
        nca_zoo.load(f"hf-hub:{REPO}@v9")
    entry = register(monkeypatch, folder, commit)
    monkeypatch.setattr(registry, "_entries", lambda: {entry.name: dataclasses.replace(entry, hub_repo="nca-zoo/x")})
    with pytest.raises(HubError, match="no Hub repo nca-zoo/x"):
        nca_zoo.load("gecko")
    unpublished = dataclasses.replace(entry, revision=None)
    monkeypatch.setattr(registry, "_entries", lambda: {entry.name: unpublished})
    with pytest.raises(HubError, match="not yet published"):
        nca_zoo.load("gecko")
    initial = next(iter(server.repos[REPO].commits))  # the repo as created: only .gitattributes
    with pytest.raises(HubFileMissingError, match="has no file config.json"):
        files.download(REPO, "config.json", revision=initial)


def test_pushing_needs_a_valid_token_and_never_shows_it(folders, server, tmp_path, monkeypatch, capsys):
    _, folder = folders(0)
    use_hub(monkeypatch, server.endpoint, tmp_path / "hf", token=None)
    with pytest.raises(PushError, match="HF_TOKEN"):
        publish(folder)
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_value")
    with pytest.raises(PushError, match="HTTP 401.*write access") as err:
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


# ---- a hostile or broken mirror (issue 11) -------------------------------------------------------
@pytest.mark.parametrize("spec", ["gecko", f"hf-hub:{REPO}"])
def test_a_hostile_etag_never_deletes_a_file_outside_the_cache(folders, server, hf_home, monkeypatch, spec):
    """The server names the weights' blob ``../../../victim/important.txt``: huggingface_hub links the
    snapshot to that (existing) file; loading must refuse it and delete nothing outside ``blobs/``."""
    _, folder = folders(0)
    register(monkeypatch, folder, publish(folder).oid)
    victim = hf_home / "victim" / "important.txt"  # = <cache>/models--nca-zoo--gecko-regen-16/blobs/../../../victim
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"a user's file")
    server.etags[(REPO, "model.safetensors")] = "../../../victim/important.txt"
    with pytest.raises(HubError, match="outside the cache"):
        nca_zoo.load(spec)
    assert victim.read_bytes() == b"a user's file"
    assert not any(f.endswith("model.safetensors") for f in cache_files(hf_home))  # the bad link is gone


def test_evicting_deletes_only_inside_the_repos_blobs(tmp_path):
    storage = tmp_path / "hub" / "models--org--repo"
    (storage / "blobs").mkdir(parents=True)
    snapshot = storage / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    outside = snapshot / "model.safetensors"
    outside.symlink_to("../../../../victim.txt")
    files.evict_cached(outside)
    assert victim.read_text() == "keep me" and not outside.is_symlink()
    blob = storage / "blobs" / ("b" * 40)
    blob.write_bytes(b"corrupt")
    inside = snapshot / "config.json"
    inside.symlink_to(f"../../blobs/{'b' * 40}")
    files.evict_cached(inside)
    assert not blob.exists() and not inside.is_symlink()
    files.evict_cached(victim)  # not a cache file: left alone
    assert victim.read_text() == "keep me"


BAD_REVISIONS = ["../../../../pwned", "refs/../../../../pwned", "main/../../../../../pwned", ".hidden", "a//b", ""]


@pytest.mark.parametrize("revision", [*BAD_REVISIONS[:-1], "ABSOLUTE"])
def test_a_revision_that_could_leave_the_cache_is_refused(folders, server, hf_home, tmp_path, monkeypatch, revision):
    """``hf-hub:org/repo@../../x`` would make huggingface_hub write ``refs/../../x`` (the commit id the
    server answers) outside the cache; a mirror that answers every revision makes that real."""
    _, folder = folders(0)
    publish(folder)
    server.any_revision = True
    revision = str(tmp_path / "pwned") if revision == "ABSOLUTE" else revision
    before = len(server.requests)
    with pytest.raises(ValueError, match="revision"):
        nca_zoo.load(f"hf-hub:{REPO}@{revision}")
    with pytest.raises(ValueError, match="revision"):
        nca_zoo.load(f"hf-hub:{REPO}", revision=revision)
    with pytest.raises(ValueError, match="revision"):
        ZooModel.from_pretrained(REPO, revision=revision)
    with pytest.raises(ValueError, match="revision"):
        files.download(REPO, "config.json", revision=revision)
    assert len(server.requests) == before  # refused before any request
    assert not (tmp_path / "pwned").exists()
    assert not list(tmp_path.rglob("pwned"))


def test_good_revisions_are_accepted():
    for revision in ("main", "v1.0", "release/2024-11", "refs/pr/12", "0123456789abcdef0123456789abcdef01234567"):
        assert files.validate_revision(revision) == revision
    for revision in [*BAD_REVISIONS, "/etc/passwd", "x.lock", "a/b/", "~x"]:
        with pytest.raises(ValueError, match="branch or tag"):
            files.validate_revision(revision)


def test_a_hub_ref_never_loads_a_local_folder(folders, server, hf_home, tmp_path, monkeypatch):
    """``hf-hub:org/repo`` means the Hub, even when ``./org/repo`` is a loadable repo folder."""
    _, folder = folders(0)
    shutil.copytree(folder, tmp_path / "someone" / "local-only")
    monkeypatch.chdir(tmp_path)
    assert nca_zoo.load("local-dir:someone/local-only").entry.name == "gecko-regen-16"  # the folder is loadable
    with pytest.raises(HubError, match="no Hub repo someone/local-only"):
        nca_zoo.load("hf-hub:someone/local-only")
    assert any("/someone/local-only/resolve/" in path for _, path in server.requests)


def test_a_read_timeout_is_a_hub_error(folders, server, hf_home, monkeypatch):
    """The client's own timeouts (raw ``httpx`` errors after its retries) become a HubError naming the file."""
    _, folder = folders(0)
    register(monkeypatch, folder, publish(folder).oid)
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.3)
    monkeypatch.setattr("huggingface_hub.file_download.time.sleep", lambda seconds: None)  # skip retry back-off
    server.delay[("GET", "model.safetensors")] = 30
    with pytest.raises(HubError, match=r"model\.safetensors of nca-zoo/gecko-regen-16.*Timeout"):
        nca_zoo.load("gecko")


def test_a_slow_server_is_given_up_after_the_time_limit(folders, server, hf_home, monkeypatch):
    """However the client retries, one download takes at most NCA_ZOO_HUB_TIMEOUT seconds."""
    _, folder = folders(0)
    register(monkeypatch, folder, publish(folder).oid)
    server.delay[("GET", "model.safetensors")] = 120  # longer than every timeout and retry of the client
    monkeypatch.setenv("NCA_ZOO_HUB_TIMEOUT", "2")
    start = time.monotonic()
    with pytest.raises(HubError, match=r"longer than 2 s.*NCA_ZOO_HUB_TIMEOUT"):
        nca_zoo.load("gecko")
    assert time.monotonic() - start < 15
    monkeypatch.setenv("NCA_ZOO_HUB_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="NCA_ZOO_HUB_TIMEOUT"):
        nca_zoo.load("gecko")


def test_a_huge_target_png_from_the_hub_is_refused_before_decoding(folders, server, hf_home):
    _, folder = folders(0)
    files.push_folder(folder, REPO, ["config.json", "model.safetensors", "target.png"], progress=False)
    big = io.BytesIO()
    Image.new("RGBA", (2048, 2048)).save(big, format="PNG")  # a few kB on the wire, 64 MB as float RGBA
    server.tamper(REPO, "target.png", big.getvalue())
    with pytest.raises(ValueError, match=r"target\.png of nca-zoo/gecko-regen-16.*2048×2048.*at most"):
        nca_zoo.load(f"hf-hub:{REPO}")
