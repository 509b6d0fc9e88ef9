"""scripts/register_entry.py: the quality gate never lets a diverged or failing run in, and an entry's
files (weights, registry, card, pictures) change together or not at all."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import load_script

import nca_zoo
from nca_zoo.train.recipe import preset
from nca_zoo.train.snapshot import average_snapshots, save_snapshot
from nca_zoo.train.step import init_state
from nca_zoo.weights import load_weights, sha256_file

ROOT = Path(__file__).resolve().parents[1]
register_entry = load_script("register_entry")  # sys.modules holds it: dataclasses look their module up there


@pytest.fixture
def zoo_root(tmp_path) -> Path:
    """A copy of the zoo's files that the script may change."""
    root = tmp_path / "zoo"
    (root / "nca_zoo").mkdir(parents=True)
    shutil.copy(ROOT / "nca_zoo" / "registry.json", root / "nca_zoo" / "registry.json")
    shutil.copytree(ROOT / "weights", root / "weights")
    shutil.copy(ROOT / "MODEL_CARD.md", root / "MODEL_CARD.md")
    if (ROOT / "docs" / "rollouts-32.json").exists():  # the card renders it
        (root / "docs").mkdir()
        shutil.copy(ROOT / "docs" / "rollouts-32.json", root / "docs" / "rollouts-32.json")
    return root


def snapshot_of(files: Path) -> dict[str, bytes]:
    return {str(p.relative_to(files)): p.read_bytes() for p in sorted(files.rglob("*")) if p.is_file()}


def make_run(folder: Path, params) -> Path:
    """A stopped training run of the gecko (run.json + its small resumable state)."""
    gecko = nca_zoo.load("gecko-regen-16")
    tc = preset("regen")
    folder.mkdir(parents=True)
    record = {"model_config": gecko.config.to_dict(), "train_config": tc.to_dict(), "target": "gecko"}
    (folder / "run.json").write_text(json.dumps(record))
    state = init_state(gecko.config, dataclasses.replace(tc, pool_size=8), params)  # the pool is not saved
    save_snapshot(folder / "snapshot.safetensors", state, model_config=gecko.config, train_config=tc, target="gecko")
    return folder


def test_a_diverged_run_is_refused_and_nothing_changes(zoo_root, tmp_path):
    exploding = jax.tree.map(lambda a: a * 100.0, nca_zoo.load("gecko-regen-16").params)
    run = make_run(tmp_path / "run", exploding)
    before = snapshot_of(zoo_root)
    with pytest.raises(register_entry.NotRegistered, match="non-finite|collapses or explodes"):
        register_entry.register(run, register_entry.Paths(zoo_root), accept_miss=True, eval_batch=1, say=print)
    assert snapshot_of(zoo_root) == before
    assert register_entry.main([str(tmp_path / "no-such-run"), "--root", str(zoo_root)]) == 2
    assert snapshot_of(zoo_root) == before


def test_a_run_that_misses_the_bar_is_refused_unless_accepted_and_then_lands_whole(zoo_root, tmp_path, monkeypatch):
    # the persistent gecko's weights, registered as a regen run: they heal a half cut far worse than ex3_gecko
    run = make_run(tmp_path / "run", nca_zoo.load("gecko-persist-16").params)
    paths = register_entry.Paths(zoo_root)
    before = snapshot_of(zoo_root)
    with pytest.raises(register_entry.NotRegistered, match="mse_half"):
        register_entry.register(run, paths, eval_batch=1, say=print)
    assert snapshot_of(zoo_root) == before

    # a failure while building the update (here: the card) writes nothing at all
    def broken_card(*args, **kwargs):
        raise RuntimeError("card template broke")

    monkeypatch.setattr(register_entry, "model_card", broken_card)
    with pytest.raises(RuntimeError, match="card template broke"):
        register_entry.register(run, paths, accept_miss=True, eval_batch=1, say=print)
    assert snapshot_of(zoo_root) == before
    monkeypatch.undo()

    entry = register_entry.register(run, paths, accept_miss=True, eval_batch=1, say=print, note="test entry")
    registry = register_entry.read_registry(paths)
    assert registry["gecko-regen-16"] == entry
    assert sha256_file(paths.weights("gecko-regen-16")) == entry.sha256
    card = paths.card.read_text()
    assert "**missed**" in card and "mse_half" in card and "test entry" in card
    assert paths.grid.is_file() and paths.gif("gecko-regen-16").is_file()
    register_entry.entry_model(paths, entry)  # loads, sha256-verified


def test_a_saved_snapshot_of_the_run_is_read_and_one_of_another_run_is_refused(zoo_root, tmp_path):
    gecko = nca_zoo.load("gecko-regen-16")
    run = make_run(tmp_path / "run", gecko.params)
    kept = tmp_path / "snaps" / "gecko-regen-16-0.safetensors"
    kept.parent.mkdir()
    shutil.copy(run / "snapshot.safetensors", kept)
    params, iteration = register_entry.snapshot_params(kept, *register_entry.read_run(run))
    assert iteration == 0
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(gecko.params), strict=True):
        assert (a == b).all()

    other = make_run(tmp_path / "fish-run", gecko.params)
    record = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**record, "target": "fish"}))
    before = snapshot_of(zoo_root)
    with pytest.raises(ValueError, match="not of this run"):
        register_entry.register(other, register_entry.Paths(zoo_root), snapshot=kept, eval_batch=1, say=print)
    assert register_entry.main([str(other), "--snapshot", str(kept), "--root", str(zoo_root)]) == 2
    assert snapshot_of(zoo_root) == before


def test_several_snapshots_register_as_the_mean_of_their_params(zoo_root, tmp_path):
    gecko = nca_zoo.load("gecko-regen-16")
    run = make_run(tmp_path / "run", gecko.params)
    tc, kept = preset("regen"), []
    for iteration, scale in ((300, 1.0), (200, 0.5)):  # given newest first: the order does not matter
        params = jax.tree.map(lambda a, s=scale: a * s, gecko.params)
        state = init_state(gecko.config, dataclasses.replace(tc, pool_size=8), params)
        state = state._replace(iteration=state.iteration + iteration)
        path = run / "snapshots" / f"{iteration:06d}.safetensors"
        kept.append(save_snapshot(path, state, model_config=gecko.config, train_config=tc, target="gecko"))
    params, iteration = register_entry.snapshot_params(kept, *register_entry.read_run(run))
    assert iteration == 300
    for mean, original in zip(jax.tree.leaves(params), jax.tree.leaves(gecko.params), strict=True):
        np.testing.assert_allclose(mean, 0.75 * np.asarray(original), rtol=1e-6, atol=1e-8)

    paths = register_entry.Paths(zoo_root)
    entry = register_entry.register(run, paths, accept_miss=True, snapshot=kept, eval_batch=1, say=print)
    assert entry.training["averaged_snapshots"] == [200, 300] and entry.training["iterations"] == 300
    assert "the mean of the params of 2 snapshots of the run, at iterations 200, 300" in paths.card.read_text()
    loaded, _ = load_weights(paths.weights("gecko-regen-16"), config=gecko.config)
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)

    fish = make_run(tmp_path / "fish-run", gecko.params)
    record = json.loads((fish / "run.json").read_text())
    (fish / "run.json").write_text(json.dumps({**record, "target": "fish"}))
    fish_state = init_state(gecko.config, dataclasses.replace(tc, pool_size=8), gecko.params)
    save_snapshot(fish / "snapshot.safetensors", fish_state, model_config=gecko.config, train_config=tc, target="fish")
    with pytest.raises(ValueError, match="cannot be averaged"):
        average_snapshots([kept[0], fish / "snapshot.safetensors"])
    with pytest.raises(ValueError, match="at least one"):
        average_snapshots([])


def test_render_rewrites_the_card_from_the_registry_without_measuring(zoo_root, monkeypatch):
    def no_measuring(*args, **kwargs):
        raise AssertionError("--render must not evaluate")

    monkeypatch.setattr(register_entry, "evaluate", no_measuring)
    registry = (zoo_root / "nca_zoo" / "registry.json").read_bytes()
    (zoo_root / "MODEL_CARD.md").write_text("stale")
    assert register_entry.main(["--render", "--root", str(zoo_root)]) == 0
    assert (zoo_root / "nca_zoo" / "registry.json").read_bytes() == registry
    card = (zoo_root / "MODEL_CARD.md").read_text()
    assert card == (ROOT / "MODEL_CARD.md").read_text()  # the checkout's card is the render of its registry


def test_the_card_names_every_entry_the_zoo_still_lacks(zoo_root):
    """The card says which of the 30 names have no entry, and stops saying it once all are in."""
    entries = register_entry.read_registry(register_entry.Paths(zoo_root))
    dropped = sorted(entries)[0]
    card = register_entry.model_card([e for n, e in sorted(entries.items()) if n != dropped], {})
    missing = 30 - len(entries) + 1
    note = card.split("Not in the zoo yet")[1].split("\n\n")[0]
    assert note.startswith(f" ({missing}): ") and f"`{dropped}`" in note
    everything = [
        dataclasses.replace(entries[dropped], name=f"{t}-{x}-16", target=t, experiment=x)
        for t in register_entry.EMOJI
        for x in register_entry.EXPERIMENTS
    ]
    assert "Not in the zoo yet" not in register_entry.model_card(everything, {})


def test_the_card_shows_more_rollouts_only_for_the_weights_they_measured(zoo_root):
    """eval_rollouts.py's numbers appear for an entry measured with its current weights; an entry
    re-registered since is named as stale, never shown with numbers of other weights."""
    entries = register_entry.read_registry(register_entry.Paths(zoo_root))
    gecko, eye = entries["gecko-regen-16"], entries["eye-regen-16"]
    measured = {"mse_grow": 0.001, "mse_persist": 0.001, "mse_disc": 0.002, "mse_half": 0.004, "stable": 1.0}
    original = {"mse_grow": 0.001, "mse_persist": 0.001, "mse_disc": 0.001, "mse_half": 0.001, "stable": 1.0}
    rollouts = {
        "batch": 32,
        "command": "python scripts/eval_rollouts.py '*-regen-16' --batch 32",
        "date": "2026-12-03",
        "machine": "x86_64 CPU, 1 device(s)",
        "entries": {
            gecko.name: {"sha256": gecko.sha256, "metrics": measured, "original": original},
            eye.name: {"sha256": "0" * 64, "metrics": measured, "original": original},
        },
    }
    card = register_entry.model_card([entries[n] for n in sorted(entries)], {}, rollouts)
    section = card.split("## The same protocol with 32 rollouts")[1].split("\n## ")[0]
    assert "| `gecko-regen-16` | 0.00100 / 0.00100 (1.00×)" in section
    assert "0.00400 / 0.00100 (4.00×)" in section and "**fail**" in section
    assert "with 32, 0 of these 1 would meet it" in section
    assert "| `eye-regen-16`" not in section and "not shown: `eye-regen-16`" in section
    assert "## The same protocol" not in register_entry.model_card([entries[n] for n in sorted(entries)], {})
