"""Targets: shipped zoo targets need no font; image files need alpha; other emoji need Noto."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from nca_zoo import targets


def test_every_zoo_target_is_shipped_and_loads_without_a_font(monkeypatch):
    def no_font():
        raise AssertionError("a shipped target must not need the emoji font")

    monkeypatch.setattr(targets, "find_emoji_font", no_font)
    for name, char in targets.EMOJI.items():
        assert targets.shipped_target_path(name).is_file()
        rgba = targets.load_target(name)
        assert rgba.shape == (40, 40, 4) and rgba.dtype == np.float32
        assert np.all(rgba[..., :3] <= rgba[..., 3:] + 1e-6)  # premultiplied
        assert 0.1 < rgba[..., 3].mean() < 0.9
        np.testing.assert_array_equal(targets.load_target(char), rgba)
    grid = targets.grid_target("gecko")
    assert grid.shape == (72, 72, 4) and grid[:16].sum() == 0 and grid[-16:].sum() == 0


def test_image_file_target(tmp_path):
    img = np.zeros((80, 60, 4), np.uint8)
    img[10:70, 10:50] = (255, 0, 0, 128)
    Image.fromarray(img, "RGBA").save(tmp_path / "shape.png")
    rgba = targets.load_target(str(tmp_path / "shape.png"))
    assert rgba.shape == (40, 40, 4)
    inside = rgba[20, 20]
    np.testing.assert_allclose(inside, [128 / 255, 0, 0, 128 / 255], atol=0.01)  # premultiplied red
    assert rgba[0, 0, 3] == 0


def test_image_without_alpha_is_rejected_with_a_fix(tmp_path):
    Image.new("RGB", (40, 40), (255, 0, 0)).save(tmp_path / "flat.png")
    with pytest.raises(ValueError, match="no alpha channel.*RGBA PNG"):
        targets.load_target(str(tmp_path / "flat.png"))
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(tmp_path / "empty.png")
    with pytest.raises(ValueError, match="fully transparent"):
        targets.load_target(str(tmp_path / "empty.png"))
    with pytest.raises(FileNotFoundError):
        targets.load_target(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="unknown target 'geko'"):
        targets.load_target("geko")


def test_missing_font_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(targets, "NOTO_FONT_PATHS", ())
    monkeypatch.setattr(targets.shutil, "which", lambda _: None)
    with pytest.raises(FileNotFoundError, match="fonts-noto-color-emoji"):
        targets.load_target("\U0001f355")  # pizza: not a shipped target


def test_other_emoji_render_from_the_installed_font():
    try:
        targets.find_emoji_font()
    except FileNotFoundError:
        pytest.skip("Noto Color Emoji is not installed (apt-get install fonts-noto-color-emoji)")
    pizza = targets.load_target("\U0001f355")
    assert pizza.shape == (40, 40, 4) and pizza[..., 3].mean() > 0.2
    # The shipped gecko is exactly what the font renders (the script that made it is reproducible).
    np.testing.assert_allclose(targets.render_emoji(targets.EMOJI["gecko"]), targets.load_target("gecko"), atol=1 / 255)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width × height RGBA pixels and holds almost none (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_a_file_that_is_not_an_image_is_a_clear_error(tmp_path):
    (tmp_path / "notes.png").write_text("this is not a picture")
    with pytest.raises(ValueError, match=r"notes\.png is not a readable image.*RGBA PNG"):
        targets.load_target(str(tmp_path / "notes.png"))
    (tmp_path / "cut.png").write_bytes(_png_header_only(64, 64))
    with pytest.raises(ValueError, match=r"cut\.png could not be decoded.*truncated or corrupt"):
        targets.load_target(str(tmp_path / "cut.png"))


def test_tiny_targets_are_refused(tmp_path):
    Image.new("RGBA", (1, 1), (255, 0, 0, 255)).save(tmp_path / "one.png")
    with pytest.raises(ValueError, match=r"one\.png is 1×1 pixels.*at least 8×8"):
        targets.load_target(str(tmp_path / "one.png"))
    dot = np.zeros((40, 40, 4), np.uint8)
    dot[20, 20] = 255
    Image.fromarray(dot, "RGBA").save(tmp_path / "dot.png")
    with pytest.raises(ValueError, match=r"dot\.png: the visible shape is only 1×1 pixels"):
        targets.load_target(str(tmp_path / "dot.png"))
    with pytest.raises(ValueError, match=r"target_size must be in \[4, 1024\], got 1"):
        targets.grid_target("gecko", 1, 4)


def test_huge_images_and_grids_are_refused_before_decoding(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_header_only(9000, 9000))  # 81 M pixels declared, 60 bytes on disk
    with pytest.raises(ValueError, match=r"bomb\.png is 9000×9000 pixels.*at most 50,000,000 pixels"):
        targets.load_target(str(tmp_path / "bomb.png"))
    for size, padding, problem in [
        (2000, 16, r"target_size must be in \[4, 1024\]"),
        (40, 600, "1240-cell grid"),
        (40.0, 16, "target_size must be a whole number"),
        (40, True, "padding must be a whole number"),
    ]:
        with pytest.raises(ValueError, match=problem):
            targets.grid_target("gecko", size, padding)
