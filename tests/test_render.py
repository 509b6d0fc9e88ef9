"""PNG / GIF output: numbers are checked, file names must match their format, results are small."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import random_params
from PIL import Image

from nca_zoo import render
from nca_zoo.config import NCAConfig
from nca_zoo.zoo import ZooModel

SIZE = 24


@pytest.fixture(scope="module")
def nca() -> ZooModel:
    return ZooModel(NCAConfig(), random_params(), target=np.zeros((SIZE, SIZE, 4), np.float32))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, d: m.grow(-5, size=SIZE), "steps must be a non-negative integer, got -5"),
        (lambda m, d: m.grow(4, size=0), "size must be a positive integer, got 0"),
        (lambda m, d: m.grow(4, size=SIZE, batch=0), "batch must be a positive integer, got 0"),
        (lambda m, d: m.grow(2.5, size=SIZE), "steps must be a non-negative integer, got 2.5"),
        (lambda m, d: m.frames(4, every=0, size=SIZE), "every must be a positive integer, got 0"),
        (lambda m, d: m.save_png(d / "a.png", 4, size=SIZE, scale=0), "scale must be a positive integer, got 0"),
        (lambda m, d: m.save_gif(d / "a.gif", -5, size=SIZE), "steps must be a non-negative integer, got -5"),
        (lambda m, d: m.save_gif(d / "a.gif", 4, size=SIZE, duration_ms=0), "duration_ms must be a positive"),
        (lambda m, d: render.save_png(d / "a.png", np.zeros((4, 4, 16)), scale=0), "scale must be a positive"),
        (lambda m, d: render.save_png(d / "a.png", np.zeros((2, 4, 4, 16)), columns=0), "columns must be"),
    ],
)
def test_bad_numbers_are_clear_value_errors(nca, tmp_path, call, message):
    with pytest.raises(ValueError, match=message):
        call(nca, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_file_names_must_match_their_format(nca, tmp_path):
    for call, message in [
        (lambda: nca.save_png(tmp_path / "x.jpg", 4, size=SIZE), r"x.jpg: a PNG file must end in .png, got '.jpg'"),
        (lambda: nca.save_gif(tmp_path / "x.png", 4, size=SIZE), r"x.png: a GIF file must end in .gif"),
        (lambda: render.save_png(tmp_path / "x", np.zeros((4, 4, 16))), "got 'no suffix'"),
        (lambda: render.save_gif(tmp_path / "x.png", np.zeros((2, 4, 4, 16))), "must end in .gif"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
    assert list(tmp_path.iterdir()) == []
    assert render.save_png(tmp_path / "upper.PNG", np.zeros((4, 4, 16))) == tmp_path / "upper.PNG"


def test_saving_returns_a_small_result_with_the_mse_of_what_was_shown(nca, tmp_path):
    png = nca.save_png(tmp_path / "a.png", 6, size=SIZE)
    assert png == render.Saved(tmp_path / "a.png", 6, 1, pytest.approx(float(nca.mse(nca.grow(6, size=SIZE))[0])))
    assert Image.open(png.path).size == (4 * SIZE, 4 * SIZE)

    gif = nca.save_gif(tmp_path / "a.gif", 7, 3, size=SIZE)
    frames = nca.frames(7, 3, size=SIZE)
    assert (gif.path, gif.steps, gif.frames) == (tmp_path / "a.gif", 6, 3)  # frames at steps 0, 3, 6
    assert gif.mse == pytest.approx(float(nca.mse(frames[-1:])[0]))
    with Image.open(gif.path) as img:
        assert img.n_frames == 3

    regen = nca.save_gif(tmp_path / "r.gif", 6, 3, size=SIZE, regenerate=True)
    assert (regen.steps, regen.frames) == (12, 6)  # grow 6, cut, regrow 6

    assert nca.save_png(tmp_path / "b.png", 6, size=SIZE + 8).mse is None  # not the target's grid
    assert nca.save_png(tmp_path / "c.png", 6, size=SIZE, angle=0.5).mse is None  # rotated: not comparable
    plain = ZooModel(NCAConfig(), nca.params)
    assert plain.save_gif(tmp_path / "d.gif", 2, size=SIZE).mse is None  # no target
    assert isinstance(png.path, Path) and len(repr(png)) < 200  # not a wall of numbers in a notebook
