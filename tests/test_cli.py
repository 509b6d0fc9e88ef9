"""The ``nca-zoo`` command line, end to end."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nca_zoo.cli import main


def test_list_and_info(capsys):
    assert main(["list", "gecko-*"]) == 0
    assert "gecko-regen-16" in capsys.readouterr().out
    assert main(["list", "nothing-*"]) == 1
    assert main(["info", "gecko"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "gecko-regen-16" and info["hub_repo"] == "nca-zoo/gecko-regen-16"


def test_unknown_name_exits_2_with_suggestions(capsys):
    assert main(["info", "gekko"]) == 2
    assert "Did you mean: gecko" in capsys.readouterr().err


def test_grow_gif_and_png(tmp_path, capsys):
    gif = tmp_path / "gecko.gif"
    assert main(["grow", "gecko", "--steps", "40", "--out", str(gif)]) == 0
    with Image.open(gif) as img:
        assert img.n_frames == 21  # the seed + a frame every 2 steps
    assert "MSE vs target" in capsys.readouterr().out
    png = tmp_path / "gecko.png"
    assert main(["grow", "gecko", "--steps", "20", "--size", "64", "--angle", "45", "--out", str(png)]) == 0
    assert Image.open(png).size == (256, 256)
    assert main(["grow", "gecko", "--out", str(tmp_path / "gecko.jpg")]) == 2


def test_grow_cut_damages_the_grown_pattern_and_regrows_it(tmp_path, capsys):
    """``--cut half`` grows, erases the right half, regrows as long: the GIF shows both (the frame after
    the cut has nothing right of the middle), and the gecko regrows (the final MSE is the grown one's order)."""
    gif = tmp_path / "regen.gif"
    assert main(["grow", "gecko", "--steps", "80", "--every", "40", "--cut", "half", "--out", str(gif)]) == 0
    out = capsys.readouterr().out
    assert "half cut at step 80, 80 steps to regrow" in out and "MSE vs target at step 160" in out
    with Image.open(gif) as img:
        assert img.n_frames == 6  # growth 0, 40, 80; the cut state, then 40 and 80 steps of regrowth
        frames = []
        for i in (2, 3, 5):
            img.seek(i)
            frames.append(np.asarray(img.convert("RGB"), np.int16))
    grown, cut, regrown = frames
    right = slice(grown.shape[1] // 2 + 4, None)  # a few cells past the middle, in pixels (scale 4)
    assert (grown[:, right] < 200).any() and (cut[:, right] >= 250).all() and (regrown[:, right] < 200).any()
    png = tmp_path / "regen.png"
    assert main(["grow", "gecko", "--steps", "80", "--cut", "disc", "--out", str(png)]) == 0
    assert "disc cut at step 80" in capsys.readouterr().out and Image.open(png).size == (288, 288)
    with pytest.raises(SystemExit) as exit_:
        main(["grow", "gecko", "--cut", "slice", "--out", str(png)])
    assert exit_.value.code == 2 and "invalid choice: 'slice'" in capsys.readouterr().err


def test_train_and_resume_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "nca_zoo.cli", "train", "--target", "gecko", "--experiment", "grow"]
    cmd += ["--iters", "2", "--out", str(out), "--checkpoint-every", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (out / "model.safetensors").is_file() and "trained 2 iterations" in done.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "--resume" in again.stderr
    more = [*cmd[:-4], "--iters", "3", "--out", str(out), "--resume"]
    resumed = subprocess.run(more, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr  # a run can be extended
    assert "trained 3 iterations" in resumed.stdout
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == [1, 2, 3]
    other = [*cmd[:-4], "--iters", "3", "--out", str(out), "--resume", "--seed", "7"]
    refused = subprocess.run(other, capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "different settings" in refused.stderr


# ---- trust and first use (issue 11) ---------------------------------------------------------------
MICRO = {"batch_size": 2, "pool_size": 4, "min_steps": 2, "max_steps": 3, "target_size": 8, "padding": 2}


@pytest.fixture
def micro_training(monkeypatch):
    """``nca-zoo train`` on tiny recipes (8-px target, batch 2) with a step that only counts iterations."""
    import jax.numpy as jnp

    from nca_zoo.train import loop, recipe

    full_preset = recipe.preset
    monkeypatch.setattr(recipe, "preset", lambda experiment, **kw: full_preset(experiment, **{**MICRO, **kw}))

    def step(state, target, *, model_config, train_config):
        iteration = state.iteration + 1
        batch = jnp.zeros((train_config.batch_size, *target.shape[:2], model_config.channels))
        return state._replace(iteration=iteration), {"loss": 1.0 / iteration, "steps": jnp.int32(2), "batch": batch}

    monkeypatch.setattr(loop, "train_step", step)


def test_train_validates_its_options_before_writing_anything(tmp_path, capsys, micro_training):
    out = tmp_path / "run"
    train = ["train", "--target", "gecko", "--experiment", "persist", "--out", str(out)]
    for bad, message in [
        (["--iters", "0"], "iterations must be a positive integer, got 0"),
        (["--iters", "-5"], "iterations must be a positive integer, got -5"),
        (["--lr", "nan"], "learning_rate must be a finite number, got nan"),
        (["--decayed-lr", "0"], "decayed_learning_rate must be positive"),
        (["--checkpoint-every", "0"], "checkpoint_every must be a positive integer"),
    ]:
        assert main([*train, *bad]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()


def test_iters_is_the_total_and_more_adds_iterations(tmp_path, capsys, micro_training):
    out = tmp_path / "run"
    train = ["train", "--target", "gecko", "--experiment", "persist", "--out", str(out)]
    assert main([*train, "--iters", "2"]) == 0
    assert "trained 2 iterations" in capsys.readouterr().out
    assert main([*train, "--resume", "--iters", "1"]) == 2
    assert "total budget" in (err := capsys.readouterr().err) and "--more N" in err
    assert main([*train, "--resume"]) == 0  # the run's own budget (2), not the recipe's 8000: nothing to do
    done = capsys.readouterr().out
    assert "nothing to do" in done and "2 of 2 iterations" in done and "nan" not in done
    resume = ["train", "--out", str(out), "--resume"]  # the run knows its target and experiment
    assert main([*resume, "--more", "1", "--lr", "1e-3"]) == 0  # a resume may change the learning rate
    assert "trained 3 iterations" in capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())["train_config"]
    assert (run["iterations"], run["learning_rate"]) == (3, 1e-3)
    assert main([*train, "--resume", "--lr", "1e-4", "--seed", "7"]) == 2  # other settings may not change
    assert "different settings" in capsys.readouterr().err

    assert main(["train", "--out", str(tmp_path / "new")]) == 2  # a new run needs its target
    assert "--target is required for a new run" in capsys.readouterr().err

    # continue its snapshot elsewhere (it records the target): its iteration counts towards --iters
    other = ["train", "--out", str(tmp_path / "b"), "--init", str(out / "snapshot.safetensors")]
    assert main([*other, "--iters", "5"]) == 0
    assert "trained 5 iterations (2 in" in capsys.readouterr().out
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == [4, 5]
    stored = json.loads((tmp_path / "b" / "run.json").read_text())["train_config"]
    assert (stored["experiment"], stored["learning_rate"], stored["iterations"]) == ("persist", 1e-3, 5)


def test_recipe_switches_a_continued_snapshots_damage_and_a_resume_keeps_its_own(
    tmp_path, capsys, monkeypatch, micro_training
):
    from nca_zoo.train import recipe

    micro = recipe.preset  # a batch that leaves room for regen's 3 damaged samples
    monkeypatch.setattr(recipe, "preset", lambda experiment, **kw: micro(experiment, batch_size=8, pool_size=16, **kw))

    def half_cut_fraction(run):
        return json.loads((tmp_path / run / "run.json").read_text())["train_config"]["half_cut_fraction"]

    train = ["train", "--target", "gecko", "--iters", "2"]
    assert main([*train, "--recipe", "distill", "--out", str(tmp_path / "a")]) == 0
    assert half_cut_fraction("a") == 0.0  # the article's disc-only damage
    snapshot = str(tmp_path / "a" / "snapshot.safetensors")
    assert main(["train", "--init", snapshot, "--more", "1", "--out", str(tmp_path / "b")]) == 0
    assert half_cut_fraction("b") == 0.0  # no --recipe: the snapshot's own
    assert main(["train", "--init", snapshot, "--recipe", "zoo", "--more", "1", "--out", str(tmp_path / "c")]) == 0
    assert half_cut_fraction("c") == 0.5  # switched to the zoo's half-plane cuts
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "a"), "--resume", "--recipe", "zoo", "--more", "1"]) == 2
    assert "different settings" in capsys.readouterr().err
    assert half_cut_fraction("a") == 0.0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--steps", "-5"], "--steps must be a non-negative integer, got -5"),
        (["--size", "0"], "--size must be a positive integer, got 0"),
        (["--scale", "0"], "--scale must be a positive integer, got 0"),
        (["--every", "0"], "--every must be a positive integer, got 0"),
    ],
)
def test_grow_rejects_bad_numbers_with_a_message(tmp_path, capsys, option, message):
    out = tmp_path / "gecko.gif"
    assert main(["grow", "gecko", *option, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_help_shows_every_default_and_explains_every_option(capsys):
    from nca_zoo.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        for action in sub._actions:
            assert action.help, f"nca-zoo {name} {action.dest} has no help text"
    with pytest.raises(SystemExit):
        main(["grow", "--help"])
    grow_help = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: 200)", "(default: gecko.gif)", "(default: gecko)", "(default: 4)"):
        assert shown in grow_help
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    train_help = " ".join(capsys.readouterr().out.split())
    shown_in_train = ("--lr", "--decayed-lr", "--more N", "total iterations", "snapshot.safetensors")
    for shown in (*shown_in_train, "(default: 200, or the run's when resuming)"):
        assert shown in train_help
    assert "default: None" not in train_help


def test_export_without_the_runtime_names_both_installs_and_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the export extra were not installed
    monkeypatch.setitem(sys.modules, "jax2onnx", None)
    out = tmp_path / "gecko_web"
    assert main(["export", "gecko", "--format", "onnx-web", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'nca-zoo[export]'" in err and "pip install -e '.[export]'" in err
    assert not out.exists()
