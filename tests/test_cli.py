"""The ``nca-zoo`` command line, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

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
