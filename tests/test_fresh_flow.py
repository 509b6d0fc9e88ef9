"""A fresh clone's first hour, through the command line only: train on your own image, grow the run
folder into a GIF, export it to ONNX — each a separate ``nca-zoo`` process, as a user would type them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def nca_zoo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "nca_zoo.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=900
    )
    assert done.returncode == 0, f"nca-zoo {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done


def test_train_then_grow_then_export_a_run_folder(tmp_path):
    pytest.importorskip("jax2onnx", reason="the export step needs the export extra: pip install -e '.[export]'")
    yy, xx = np.mgrid[:24, :24]
    shape = np.zeros((24, 24, 4), np.uint8)
    shape[(yy - 12) ** 2 + (xx - 12) ** 2 < 100] = (200, 60, 30, 255)  # a red disc on transparency
    Image.fromarray(shape, "RGBA").save(tmp_path / "disc.png")

    nca_zoo("train", "--target", "disc.png", "--experiment", "grow", "--iters", "1", "--out", "runs/disc", cwd=tmp_path)
    run = tmp_path / "runs" / "disc"
    assert (run / "model.safetensors").is_file() and (run / "run.json").is_file()

    grown = nca_zoo("grow", "runs/disc", "--steps", "8", "--out", "disc.gif", cwd=tmp_path)
    assert "disc-grow-16: 8 steps" in grown.stdout
    with Image.open(tmp_path / "disc.gif") as gif:
        assert gif.format == "GIF" and gif.size == (288, 288)  # 72 cells × 4 px

    exported = nca_zoo("export", "runs/disc", "--format", "onnx", "--out", "disc.onnx", cwd=tmp_path)
    assert (tmp_path / "disc.onnx").is_file() and "disc.onnx" in exported.stdout
