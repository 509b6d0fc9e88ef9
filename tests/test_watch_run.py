"""scripts/watch_run.py: which snapshots it evaluates, what it keeps, and the verdicts it gives."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nca_zoo.evaluate import original_metrics
from nca_zoo.targets import grid_target
from nca_zoo.train.loop import is_training, lock_run_dir
from nca_zoo.train.recipe import preset

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("watch_run", ROOT / "scripts" / "watch_run.py")
watch_run = importlib.util.module_from_spec(spec)
sys.modules["watch_run"] = watch_run
spec.loader.exec_module(watch_run)

#: ours = the original's metrics × this factor, per snapshot iteration (400 also collapses).
FACTORS = {100: 1.2, 200: 3.0, 250: 0.5, 300: 0.9, 400: 0.5}


@pytest.fixture
def run(tmp_path, monkeypatch) -> tuple[Path, list[int]]:
    """A gecko regen run with snapshots at FACTORS' iterations, and an evaluation that records its calls."""
    folder = tmp_path / "run"
    (folder / "snapshots").mkdir(parents=True)
    record = {"model_config": {}, "train_config": preset("regen").to_dict(), "target": "gecko"}
    (folder / "run.json").write_text(json.dumps(record))
    for iteration in FACTORS:
        (folder / "snapshots" / f"{iteration:06d}.safetensors").write_bytes(b"")
    original = original_metrics()[("gecko", "regen")]
    calls = []

    def fake_evaluate(paths, batch=8):  # the mean of several snapshots scores the mean of their factors
        iterations = [int(Path(path).stem) for path in paths]
        calls.append(iterations[0] if len(iterations) == 1 else tuple(iterations))
        factor = sum(FACTORS[i] for i in iterations) / len(iterations) * batch / 8
        metrics = {name: value * factor for name, value in original.items() if name != "stable"}
        return metrics | {"stable": 0.0 if 400 in iterations else 1.0}

    monkeypatch.setattr(watch_run, "from_snapshots", lambda paths, target: paths)
    monkeypatch.setattr(watch_run, "evaluate", fake_evaluate)
    return folder, calls


def test_evaluates_every_nth_snapshot_once_and_ranks_those_meeting_the_bar(run, capsys):
    folder, calls = run
    assert watch_run.main([str(folder), "--every", "100", "--once"]) == 0
    assert calls == [100, 200, 300, 400]  # 250 is not a multiple of 100
    out = capsys.readouterr().out
    assert "gecko regen" in out and "3.00× the original  misses" in out and "unstable" in out
    assert out.strip().endswith("meet the bar, best first: 300 0.90×, 100 1.20×")

    # a second look evaluates nothing again, and a torn last line (a killed watcher) is dropped
    with open(folder / watch_run.EVALS_NAME, "a") as f:
        f.write('{"iterations": [250], "metr')
    assert watch_run.main([str(folder), "--every", "50", "--start", "200", "--once"]) == 0
    assert calls == [100, 200, 300, 400, 250]
    assert "best first: 250 0.50×, 300 0.90×, 100 1.20×" in capsys.readouterr().out


def test_averages_each_stretch_of_snapshots(run, capsys):
    folder, calls = run
    assert watch_run.main([str(folder), "--every", "100", "--average", "2", "--once"]) == 0
    assert calls == [100, 200, (100, 200), 300, (200, 300), 400, (300, 400)]
    out = capsys.readouterr().out
    assert "200–300 (2)" in out and "worst 1.95× the original" in out  # (3.0 + 0.9) / 2
    assert out.strip().endswith("best first: 300 0.90×, 100 1.20×")  # 300–400 averages in the collapse
    assert watch_run.main([str(folder), "--every", "100", "--average", "3", "--once"]) == 0
    assert calls[7:] == [(100, 200, 300), (200, 300, 400)]


def test_more_rollouts_are_judged_against_the_originals_measured_with_as_many(run, tmp_path, monkeypatch, capsys):
    folder, calls = run
    assert watch_run.main([str(folder), "--every", "100", "--once"]) == 0  # the protocol's 8 first
    rollouts = tmp_path / "rollouts-32.json"
    monkeypatch.setattr(watch_run, "ROLLOUTS_FILE", rollouts)
    assert watch_run.main([str(folder), "--every", "100", "--once", "--batch", "32"]) == 0
    assert calls == [100, 200, 300, 400] * 2  # kept per batch size: the 8-rollout results are not reused
    assert "no original gecko regen measured with 32 rollouts" in capsys.readouterr().out

    # the fake scores 4× worse with 32 rollouts; an original measured 4× worse too gives the 8-rollout ratios
    original = {k: v * 4 for k, v in original_metrics()[("gecko", "regen")].items() if k != "stable"}
    entries = {"gecko-regen-16": {"sha256": "x", "metrics": original, "original": original}}
    rollouts.write_text(json.dumps({"batch": 32, "entries": entries}))
    assert watch_run.main([str(folder), "--every", "100", "--once", "--batch", "32"]) == 0
    out = capsys.readouterr().out
    assert calls == [100, 200, 300, 400] * 2 and "32 rollouts" in out
    assert out.strip().endswith("meet the bar, best first: 300 0.90×, 100 1.20×")
    assert watch_run.main([str(folder), "--every", "100", "--once", "--batch", "16"]) == 0
    assert "no original gecko regen measured with 16 rollouts" in capsys.readouterr().out  # the file holds 32


def test_stride_and_means_only_evaluate_just_the_windows_asked_for(run, capsys):
    folder, calls = run
    argv = [str(folder), "--every", "100", "--average", "2", "--stride", "200", "--means-only", "--once"]
    assert watch_run.main(argv) == 0
    assert calls == [(100, 200), (300, 400)]  # windows ending at multiples of 200; no single snapshot
    assert "100–200 (2)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        watch_run.main([str(folder), "--stride", "0", "--once"])
    assert "--stride must be positive integers" in capsys.readouterr().err


def test_waits_for_new_snapshots_while_the_run_trains(run, monkeypatch, capsys):
    folder, calls = run
    assert not is_training(folder)
    training = contextlib.ExitStack()
    training.enter_context(lock_run_dir(folder))
    assert is_training(folder)
    waits = []

    def sleep(seconds):  # the run writes one more snapshot, then stops
        waits.append(seconds)
        if len(waits) == 1:
            (folder / "snapshots" / "000500.safetensors").write_bytes(b"")
        else:
            training.close()

    monkeypatch.setattr(watch_run.time, "sleep", sleep)
    monkeypatch.setitem(FACTORS, 500, 0.8)
    assert watch_run.main([str(folder), "--every", "100", "--poll", "7"]) == 0
    assert calls == [100, 200, 300, 400, 500] and waits == [7, 7] and not is_training(folder)
    assert "best first: 500 0.80×, 300 0.90×" in capsys.readouterr().out


def test_once_evaluates_only_what_was_there_at_the_start(run, monkeypatch):
    """A live run writes snapshots while --once evaluates: it stops at what it found, not chasing them."""
    folder, calls = run
    evaluate = watch_run.evaluate

    def evaluate_while_training(paths, batch=8):  # each evaluation sees the run write one more snapshot
        new = 600 + 100 * len(calls)
        monkeypatch.setitem(FACTORS, new, 0.8)
        (folder / "snapshots" / f"{new:06d}.safetensors").write_bytes(b"")
        return evaluate(paths, batch)

    monkeypatch.setattr(watch_run, "evaluate", evaluate_while_training)
    with lock_run_dir(folder):
        assert watch_run.main([str(folder), "--every", "100", "--once"]) == 0
    assert calls == [100, 200, 300, 400]
    assert len(list((folder / "snapshots").glob("*.safetensors"))) == 9  # 4 more written, none evaluated


def test_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        watch_run.main([str(tmp_path)])
    assert exit_info.value.code == 2 and "not a training run (no run.json)" in capsys.readouterr().err


def test_a_run_trained_on_an_image_needs_that_image_and_is_judged_against_it(run, tmp_path, monkeypatch, capsys):
    folder, calls = run
    record = json.loads((folder / "run.json").read_text())
    # what `nca-zoo train --target sprite.png` records: the image's name, not its path
    (folder / "run.json").write_text(json.dumps(record | {"target": "sprite"}))
    with pytest.raises(SystemExit):
        watch_run.main([str(folder), "--once"])
    err = capsys.readouterr().err
    assert "trained on an image ('sprite')" in err and "pass --target with that image's path" in err

    image = tmp_path / "sprite.png"
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[10:30, 10:30] = (200, 40, 40, 255)
    Image.fromarray(pixels, "RGBA").save(image)
    seen = []
    monkeypatch.setattr(watch_run, "from_snapshots", lambda paths, target: seen.append(target) or paths)
    assert watch_run.main([str(folder), "--every", "100", "--once", "--target", str(image)]) == 0
    assert calls == [100, 200, 300, 400] and len(seen) == 4
    np.testing.assert_array_equal(seen[0], grid_target(image))
    assert "sprite regen" in capsys.readouterr().out  # no original for an image: values only
