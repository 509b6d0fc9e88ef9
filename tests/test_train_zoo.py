"""The zoo trainer: three tiny entries (grow, persist, regen) in one program, end to end on CPU."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import random_params

from nca_zoo import cli
from nca_zoo.config import NCAConfig
from nca_zoo.targets import grid_target
from nca_zoo.train import lineage, loop, zoo_trainer
from nca_zoo.train.recipe import preset
from nca_zoo.train.snapshot import kept_snapshot, load_snapshot, save_snapshot
from nca_zoo.train.step import init_state, train_step
from nca_zoo.weights import load_weights, save_weights

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = ["gecko:grow", "smiley:persist", "fish:regen"]
NAMES = ["gecko-grow-16", "smiley-persist-16", "fish-regen-16"]
SETS = [
    f"--set={item}"
    for item in (
        "iterations=4",
        "batch_size=4",
        "min_steps=3",
        "max_steps=5",
        "target_size=8",
        "padding=4",
        "persist.pool_size=8",
        "regen.pool_size=8",
        "regen.damage_count=1",
    )
]


SETS_RAW = [item.removeprefix("--set=") for item in SETS]


def _train_zoo(*args: str) -> int:
    return cli.main(["train-zoo", *args, "--no-progress"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The reference: all 4 iterations in one call (one chunk)."""
    out = tmp_path_factory.mktemp("zoo") / "one"
    assert _train_zoo(*ENTRIES, "--out", str(out), *SETS) == 0
    return out


def test_two_chunks_with_a_resume_equal_one_uninterrupted_run(uninterrupted, tmp_path, capsys):
    out = tmp_path / "two"
    assert _train_zoo(*ENTRIES, "--out", str(out), *SETS, "--chunk-iters", "2", "--max-chunks", "1") == 0
    assert '"stopped": true' in capsys.readouterr().out
    manifest = json.loads((out / "state" / "manifest.json").read_text())
    assert [(e["name"], e["status"], e["iteration"], e["pool"]) for e in manifest["entries"]] == [
        ("gecko-grow-16", "training", 2, "seed"),  # grow: no pool, the snapshot is the whole state
        ("smiley-persist-16", "training", 2, "file"),
        ("fish-regen-16", "training", 2, "file"),
    ]
    assert not any((out / name / "model.safetensors").exists() for name in NAMES)
    assert all(load_snapshot(kept_snapshot(out / name, 2)).iteration == 2 for name in NAMES)  # kept per chunk

    assert _train_zoo("--out", str(out)) == 0  # resume: the entries come from the state folder
    assert '"finished": ["gecko-grow-16", "smiley-persist-16", "fish-regen-16"]' in capsys.readouterr().out
    for name in NAMES:
        a, b = uninterrupted / name, out / name
        assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes(), name
        snap_a, snap_b = (load_snapshot(d / "snapshot.safetensors") for d in (a, b))
        # the same metadata (safetensors orders its keys at random: not bytes), but for the wall times
        timeless = [
            {**m, "lineage": re.sub(r'"wall_time_s":[0-9.]+', "", m["lineage"])}
            for m in (snap_a.metadata, snap_b.metadata)
        ]
        assert timeless[0] == timeless[1]
        for x, y in zip(jax.tree.leaves(snap_a.state), jax.tree.leaves(snap_b.state), strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        assert json.loads((a / "run.json").read_text()) == json.loads((b / "run.json").read_text())
        log_a, log_b = ([json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()] for d in (a, b))
        assert [r["iteration"] for r in log_b] == [1, 2, 3, 4]
        assert [(r["loss"], r["steps"]) for r in log_a] == [(r["loss"], r["steps"]) for r in log_b]
    assert all(e["status"] == "finished" for e in json.loads((out / "state" / "manifest.json").read_text())["entries"])
    assert not list((out / "state").glob("*.npy"))
    assert _train_zoo("--out", str(out)) == 0  # a finished zoo: nothing left to do


def test_a_finished_entry_is_a_run_folder_with_its_recipe(uninterrupted):
    """What scripts/register_entry.py reads: run.json (configs, target) and the final params."""
    spec = importlib.util.spec_from_file_location("register_entry", ROOT / "scripts" / "register_entry.py")
    register = sys.modules.setdefault("register_entry", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(register)  # (registered first: its dataclasses look their module up)
    for name, spec in zip(NAMES, ENTRIES, strict=True):
        run = json.loads((uninterrupted / name / "run.json").read_text())
        target, experiment = spec.split(":")
        assert run["target"] == target and run["model_config"] == NCAConfig().to_dict()
        overrides = {"iterations": 4, "batch_size": 4, "min_steps": 3, "max_steps": 5, "target_size": 8, "padding": 4}
        if experiment != "grow":
            overrides["pool_size"] = 8
        if experiment == "regen":
            overrides["damage_count"] = 1
        assert run["train_config"] == preset(experiment, **overrides).to_dict()  # the preset, passed through
        params, _ = load_weights(uninterrupted / name / "model.safetensors")
        snap = load_snapshot(uninterrupted / name / "snapshot.safetensors")
        assert snap.iteration == 4 and snap.target == target
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(snap.state.params), strict=True):
            np.testing.assert_array_equal(a, np.asarray(b))
        model_config, train_config, run_target = register.read_run(uninterrupted / name)  # the registry tool
        assert run_target == target and train_config.to_dict() == run["train_config"]
        reg_params, iterations = register.run_params(uninterrupted / name, model_config, train_config)
        assert iterations == 4
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(reg_params), strict=True):
            np.testing.assert_array_equal(a, np.asarray(b))


def test_a_zoo_entry_follows_train_step(uninterrupted):
    """The regen entry, trained with two other recipes in one program, equals ``train_step`` alone."""
    tc = preset(
        "regen",
        iterations=4,
        batch_size=4,
        min_steps=3,
        max_steps=5,
        target_size=8,
        padding=4,
        pool_size=8,
        damage_count=1,
    )
    target = jnp.asarray(grid_target("fish", 8, 4))
    state = init_state(NCAConfig(), tc)
    for _ in range(4):
        state, _ = train_step(state, target, model_config=NCAConfig(), train_config=tc)
    params, _ = load_weights(uninterrupted / "fish-regen-16" / "model.safetensors")
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(state.params), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "settings",
    [{"detail_weight": 4.0, "aimed_disc_fraction": 0.5}, {"cut_in_rollout": True, "hidden_weight": 2.0}],
    ids=["weighted-aimed", "cut-in-rollout-hidden"],
)
def test_a_regen_recipe_variant_follows_train_step_beside_a_plain_entry(tmp_path, settings):
    """``detail_weight`` with ``aimed_disc_fraction``, or ``cut_in_rollout``, on the regen entry only: it still
    equals ``train_step`` alone with that recipe, and the persist entry, whose rollouts would otherwise share
    its vmapped loss, keeps the plain loss and no cut (equal to its own ``train_step``)."""
    out = tmp_path / "zoo"
    extra = [f"--set=regen.{key}={value}" for key, value in settings.items()]
    assert _train_zoo("smiley:persist", "fish:regen", "--out", str(out), *SETS, *extra) == 0
    tiny = dict(iterations=4, batch_size=4, min_steps=3, max_steps=5, target_size=8, padding=4, pool_size=8)
    recipes = {
        "fish-regen-16": preset("regen", **tiny, damage_count=1, **settings),
        "smiley-persist-16": preset("persist", **tiny),
    }
    for name, tc in recipes.items():
        target = jnp.asarray(grid_target(name.split("-")[0], 8, 4))
        state = init_state(NCAConfig(), tc)
        for _ in range(4):
            state, _ = train_step(state, target, model_config=NCAConfig(), train_config=tc)
        params, _ = load_weights(out / name / "model.safetensors")
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(state.params), strict=True):
            np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=1e-5)


def test_seeds_of_one_entry_train_side_by_side_each_as_train_step_with_its_seed(tmp_path):
    """``fish:regen@1 fish:regen@2``: two run folders named by seed in one program, each equal to
    ``train_step`` alone from its own seed (so they differ), each recording its seed for registration."""
    out = tmp_path / "seeds"
    assert _train_zoo("fish:regen@1", "fish:regen@2", "--out", str(out), *SETS) == 0
    tiny = dict(iterations=4, batch_size=4, min_steps=3, max_steps=5, target_size=8, padding=4, pool_size=8)
    trained = []
    for seed in (1, 2):
        run = out / f"fish-regen-16-seed{seed}"
        assert json.loads((run / "run.json").read_text())["train_config"]["seed"] == seed
        tc = preset("regen", **tiny, damage_count=1, seed=seed)
        state = init_state(NCAConfig(), tc)
        for _ in range(4):
            state, _ = train_step(
                state, jnp.asarray(grid_target("fish", 8, 4)), model_config=NCAConfig(), train_config=tc
            )
        params, _ = load_weights(run / "model.safetensors")
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(state.params), strict=True):
            np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=1e-5)
        trained.append(params)
    assert not np.allclose(jax.tree.leaves(trained[0])[0], jax.tree.leaves(trained[1])[0])


def test_entries_and_overrides():
    zoo = zoo_trainer.parse_entries(["all"])
    assert len(zoo) == 30 and len({e.name(NCAConfig()) for e in zoo}) == 30
    entries = zoo_trainer.parse_entries(["🦋:regen", "gecko:grow"], ["iterations=9", "regen.pool_size=64"], seed=3)
    assert [e.name(NCAConfig()) for e in entries] == ["butterfly-regen-16", "gecko-grow-16"]
    assert entries[0].train_config == preset("regen", iterations=9, pool_size=64, seed=3)
    assert entries[1].train_config == preset("grow", iterations=9, seed=3)
    for bad in (["gecko"], ["gecko:shrink"], [], ["gecko:grow@x"], ["gecko:grow@"], ["gecko@1"]):
        with pytest.raises(ValueError):
            zoo_trainer.parse_entries(bad)
    seeds = zoo_trainer.parse_entries(["gecko:regen@4", "gecko:regen@0", "gecko:regen"], seed=2)
    assert [e.name(NCAConfig()) for e in seeds] == ["gecko-regen-16-seed4", "gecko-regen-16-seed0", "gecko-regen-16"]
    assert [e.train_config.seed for e in seeds] == [4, 0, 2]
    assert [zoo_trainer.EntrySpec.from_dict(e.to_dict()) for e in seeds] == seeds  # the manifest keeps the names
    for bad in (["pool_size"], ["shrink.pool_size=3"], ["experiment=grow"], ["nope=1"], ["batch_size=x"]):
        with pytest.raises(ValueError, match="bad recipe override"):
            zoo_trainer.parse_entries(["gecko:grow"], bad)


def test_init_from_weights_continues_the_budget_and_schedule(tmp_path):
    """A weights file recording ``iterations`` (as ../shared/pretrain's do) starts the entry there:
    the learning-rate schedule continues, Adam's moments (and its bias-correction count) start fresh."""
    params = random_params()
    save_weights(tmp_path / "gecko-regen-16.safetensors", params, NCAConfig(), extra_metadata={"iterations": "1446"})
    (entry,) = zoo_trainer.parse_entries(["gecko:regen"])
    sources = zoo_trainer.init_files([tmp_path])
    state, what = zoo_trainer.initial_state(entry, NCAConfig(), sources["gecko-regen-16"])
    assert int(state.iteration) == 1446 and "1446" in what
    schedule = [
        s for s in jax.tree.leaves(state.opt_state, is_leaf=lambda n: isinstance(n, optax.ScaleByScheduleState))
    ]
    counts = [int(s.count) for s in schedule if isinstance(s, optax.ScaleByScheduleState)]
    adam = [
        int(s.count) for s in jax.tree.leaves(state.opt_state, is_leaf=lambda n: hasattr(n, "mu")) if hasattr(s, "mu")
    ]
    assert counts == [1446] and adam == [0]
    np.testing.assert_array_equal(
        np.asarray(state.params["dense_0"]["kernel"]), np.asarray(params["dense_0"]["kernel"])
    )
    fresh, _ = zoo_trainer.initial_state(dataclasses.replace(entry), NCAConfig(), None)
    assert int(fresh.iteration) == 0


@pytest.mark.parametrize("kind", ["weights", "snapshot"])
@pytest.mark.parametrize("fine_tune", [False, True])
def test_a_start_of_another_model_shape_is_refused_with_the_fix(tmp_path, kind, fine_tune):
    """An 8-channel file as the start of a 16-channel zoo entry: an error naming the file, both
    configs and what to do, whether it is continued or fine-tuned from."""
    small = NCAConfig(channels=8)
    path = tmp_path / "gecko-regen-16.safetensors"
    if kind == "weights":
        save_weights(path, random_params(small), small)
    else:
        recipe = preset("regen", iterations=4, batch_size=4, min_steps=3, max_steps=5, target_size=8, padding=4)
        save_snapshot(path, init_state(small, recipe), model_config=small, train_config=recipe, target="gecko")
    (entry,) = zoo_trainer.parse_entries(["gecko:regen"])
    with pytest.raises(ValueError, match=rf"{kind} of a .*channels=8.* the zoo trains .*channels=16.*--init"):
        zoo_trainer.initial_state(entry, NCAConfig(), path, fine_tune=fine_tune)


def test_a_continued_snapshot_keeps_its_learning_rates_unless_set(tmp_path):
    """A run lowered to 5e-5 and moved to the zoo trainer goes on at 5e-5, not the preset's 2e-4 (as
    ``nca-zoo train --init SNAPSHOT`` does); ``--set`` still wins for what it names."""
    recipe = preset(  # SETS, with the learning rates a continued run was lowered to
        "regen", iterations=4, batch_size=4, min_steps=3, max_steps=5, target_size=8, padding=4, pool_size=8
    )
    recipe = dataclasses.replace(recipe, damage_count=1, learning_rate=5e-5, decayed_learning_rate=5e-5)
    state = init_state(NCAConfig(), recipe)
    state = state._replace(iteration=jnp.asarray(2, state.iteration.dtype))
    before = (lineage.Segment("fish-regen-cpu", "regen", 0, 2, 3.5, 5e-5),)
    save_snapshot(
        tmp_path / "fish-regen-16.safetensors",
        state,
        model_config=NCAConfig(),
        train_config=recipe,
        target="fish",
        extra_metadata={lineage.METADATA_KEY: lineage.dumps(before)},
    )

    sources = zoo_trainer.init_files([tmp_path])
    (kept,) = zoo_trainer.continue_schedules(zoo_trainer.parse_entries(["fish:regen"]), sources, NCAConfig())
    assert (kept.train_config.learning_rate, kept.train_config.decayed_learning_rate) == (5e-5, 5e-5)
    assert kept.train_config.pool_size == preset("regen").pool_size  # only the schedule is the snapshot's
    (named,) = zoo_trainer.continue_schedules(
        zoo_trainer.parse_entries(["fish:regen"], ["regen.decayed_learning_rate=1e-4"]), sources, NCAConfig()
    )
    assert (named.train_config.learning_rate, named.train_config.decayed_learning_rate) == (5e-5, 1e-4)

    out = tmp_path / "zoo"
    command = ("fish:regen", "--out", str(out), "--init", str(tmp_path), *SETS, "--chunk-iters", "1")
    assert _train_zoo(*command, "--max-chunks", "1") == 0  # stops after iteration 3
    assert _train_zoo(*command) == 0  # the same command resumes the same recipes
    rows = [json.loads(line) for line in (out / "fish-regen-16" / "metrics.jsonl").read_text().splitlines()]
    assert [row["lr"] for row in rows] == [5e-5, 5e-5]  # iterations 3 and 4, at the snapshot's rate

    def chain(path: Path) -> list[tuple[str, int, int]]:  # the runs a snapshot records as having made it
        return [(s.run, s.start, s.end) for s in loop.start_lineage(path)]

    run = out / "fish-regen-16"
    assert chain(kept_snapshot(run, 3)) == [("fish-regen-cpu", 0, 2), ("fish-regen-16", 2, 3)]
    assert chain(run / "snapshot.safetensors") == [("fish-regen-cpu", 0, 2), ("fish-regen-16", 2, 4)]
    assert chain(run / "model.safetensors") == chain(run / "snapshot.safetensors")  # read from the run folder


def test_init_from_chains_a_route_each_leg_fine_tuning_the_last(uninterrupted, tmp_path, capsys):
    """``--init OUT --init-from persist``: each entry starts from its target's persist model in another
    zoo's output folder (its finished run's snapshot), as a fine-tune — its params, a fresh optimiser,
    iteration 0, its own recipe — so grow → persist → grow / regen runs as separate train-zoo calls."""
    files = zoo_trainer.init_files([uninterrupted])
    assert {name: path.relative_to(uninterrupted).as_posix() for name, path in files.items()} == {
        name: f"{name}/snapshot.safetensors" for name in NAMES
    }
    entries = zoo_trainer.parse_entries(["smiley:grow", "smiley:regen", "gecko:grow"], SETS_RAW)
    sources = zoo_trainer.entry_sources(entries, files, NCAConfig(), "persist")
    assert sources == {n: files["smiley-persist-16"] for n in ("smiley-grow-16", "smiley-regen-16")}
    assert zoo_trainer.entry_sources(entries, files, NCAConfig()) == {"gecko-grow-16": files["gecko-grow-16"]}
    state, what = zoo_trainer.initial_state(entries[1], NCAConfig(), sources["smiley-regen-16"], fine_tune=True)
    persist_params, _ = load_weights(uninterrupted / "smiley-persist-16" / "model.safetensors")
    assert int(state.iteration) == 0 and "fine-tune" in what
    assert int(jax.tree.leaves(state.opt_state, is_leaf=lambda n: hasattr(n, "mu"))[0].count) == 0
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(persist_params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    out = tmp_path / "leg2"
    command = ("smiley:grow", "smiley:regen", "--out", str(out), "--init", str(uninterrupted), *SETS, "--chunk-iters=2")
    assert _train_zoo(*command, "--init-from", "persist") == 0
    printed = capsys.readouterr().out
    assert "fine-tune of" in printed and "not used: fish-regen-16, gecko-grow-16" in printed
    for name in ("smiley-grow-16", "smiley-regen-16"):
        recorded = [(s.run, s.start, s.end) for s in loop.start_lineage(out / name / "model.safetensors")]
        assert recorded == [("smiley-persist-16", 0, 4), (name, 0, 4)]
        rows = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines()]
        assert [row["iteration"] for row in rows] == [1, 2, 3, 4]  # from iteration 0: its own budget
        kept = sorted((out / name / "snapshots").glob("*.safetensors"))  # one per chunk, in one call
        assert [load_snapshot(f).iteration for f in kept] == [2, 4]
    assert _train_zoo(*command, "--init-from", "persist") == 0  # the same command again: nothing left to do
    assert '"finished": ["smiley-grow-16", "smiley-regen-16"]' in capsys.readouterr().out
    assert len(list((out / "smiley-grow-16" / "snapshots").glob("*.safetensors"))) == 2
    with pytest.raises(SystemExit):  # an unknown experiment is refused by the parser
        _train_zoo(*command, "--init-from", "shrink")


def test_a_source_checkout_finds_the_bundled_weights_without_installing():
    """``PYTHONPATH=.`` in a plain checkout: ``nca_zoo.bundled`` is the repository's weights/ folder."""
    code = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'Editable' not in getattr(f, '__name__', '')];"
        "import importlib.resources, nca_zoo; print(importlib.resources.files('nca_zoo.bundled'))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == ROOT / "weights"


def test_an_interrupt_keeps_the_completed_iterations_and_resumes_exactly(uninterrupted, tmp_path, monkeypatch):
    """Ctrl-C (or a SIGINT when a lease ends) mid-chunk: the iterations that completed are logged and
    saved, and the resumed run still ends where the uninterrupted one did."""
    real_step, calls = zoo_trainer._Program.step, []

    def step(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(zoo_trainer._Program, "step", step)
    out = tmp_path / "interrupted"
    result = zoo_trainer.train_zoo(zoo_trainer.parse_entries(ENTRIES, [s[6:] for s in SETS]), out, progress=False)
    assert result.stopped and result.iterations == 2 and result.unfinished == NAMES
    manifest = json.loads((out / "state" / "manifest.json").read_text())
    assert {e["iteration"] for e in manifest["entries"]} == {2}
    monkeypatch.setattr(zoo_trainer._Program, "step", real_step)
    assert zoo_trainer.train_zoo(None, out, progress=False).finished == NAMES
    for name in NAMES:
        assert (uninterrupted / name / "model.safetensors").read_bytes() == (
            out / name / "model.safetensors"
        ).read_bytes()


def test_the_gpu_script_runs_every_program_of_its_plan_at_once_and_packs_each(tmp_path):
    """training/gpu_train.sh at tiny sizes on the CPU, as its header says to check a plan before a device
    run: each line is its own train-zoo program with its own recipe (a line's settings reach its run.json,
    the defaults the others), a line's --init continues the state there, and each comes back as TAG.tgz."""
    tiny = "batch_size=4 min_steps=2 max_steps=3 target_size=8 padding=4 regen.pool_size=8 regen.damage_count=1"
    states = tmp_path / "states"
    states.mkdir()
    tc = preset("regen", pool_size=8)
    start = init_state(NCAConfig(), tc, random_params())
    save_snapshot(
        states / "smiley-regen-16.safetensors", start, model_config=NCAConfig(), train_config=tc, target="smiley"
    )
    plan = tmp_path / "plan.txt"
    plan.write_text(
        "# a comment, then a blank line\n\n"
        "weighted  gecko:regen,smiley:regen  --set regen.detail_weight=4 --set regen.reseed_count=2\n"
        f"continued smiley:regen  --init {states}\n"
    )
    packed = tmp_path / "packed"  # the script makes it
    env = os.environ | {"CHUNK": "1", "ITERS": "2", "PYTHON": sys.executable, "EXTRA_SETS": tiny}
    env |= {"PLAN": str(plan), "PACK": str(packed)}
    work = tmp_path / "work"
    script = ["bash", "training/gpu_train.sh", str(work)]
    done = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "== weighted: exit 0, 2 finished" in done.stdout and "== continued: exit 0, 1 finished" in done.stdout
    assert "smiley-regen-16: snapshot" in done.stdout and "gecko-regen-16: fresh weights" in done.stdout

    def recipe(tag: str, name: str) -> dict:
        return json.loads((work / tag / "zoo" / name / "run.json").read_text())["train_config"]

    assert recipe("weighted", "gecko-regen-16")["detail_weight"] == 4.0
    assert recipe("weighted", "smiley-regen-16")["reseed_count"] == 2
    assert recipe("continued", "smiley-regen-16")["detail_weight"] == 0.0
    assert sorted(p.name for p in packed.iterdir()) == ["continued.tgz", "weighted.tgz"]
    with tarfile.open(packed / "weighted.tgz") as archive:
        assert "weighted/zoo/gecko-regen-16/model.safetensors" in archive.getnames()
