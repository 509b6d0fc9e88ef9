"""Training targets: an image or emoji → premultiplied 40-px RGBA, padded to the NCA grid.

The zoo's own targets ("gecko" or 🦎, …) are shipped as PNGs rendered by
``scripts/render_targets.py``, so they need no font. Any other emoji is rendered from an installed
Noto Color Emoji font (Debian: ``fonts-noto-color-emoji``), exactly as the shipped ones were.
"""

from __future__ import annotations

import importlib.resources
import numbers
import os
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

TARGET_SIZE = 40
PADDING = 16
GRID_SIZE = TARGET_SIZE + 2 * PADDING

#: Bounds on what a target may be (whatever its source: a user's file, a Hub repo, a recipe):
#: the shape's side in pixels, the NCA grid's side, and the pixels of an image file read as input.
MIN_TARGET_SIZE = 4
MAX_GRID_SIZE = 1024
MIN_IMAGE_SIDE = 8  # also the least extent of the visible shape
MAX_IMAGE_PIXELS = 50_000_000  # ~7000²: a photo is fine, a decompression bomb is not

#: The ten Distill emoji, in the order of the original article's models.
EMOJI: dict[str, str] = {
    "gecko": "\U0001f98e",
    "smiley": "\U0001f600",
    "boom": "\U0001f4a5",
    "eye": "\U0001f441",
    "fish": "\U0001f420",
    "butterfly": "\U0001f98b",
    "ladybug": "\U0001f41e",
    "web": "\U0001f578",
    "pretzel": "\U0001f968",
    "tree": "\U0001f384",
}
NOTO_FONT_PATHS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/System/Library/Fonts/Apple Color Emoji.ttc",
)
NOTO_BITMAP_SIZE = 109  # the only size of Noto's CBDT bitmaps


def _to_premultiplied(img: Image.Image, size: int) -> np.ndarray:
    """Fit ``img`` into a ``size``² transparent square (aspect kept) → premultiplied float RGBA."""
    img = img.convert("RGBA")
    bbox = img.getchannel("A").getbbox()
    if bbox is None:
        raise ValueError("the image is fully transparent: there is no shape to grow")
    img = img.crop(bbox)
    if max(img.size) < MIN_IMAGE_SIDE:
        raise ValueError(
            f"the visible shape is only {img.width}×{img.height} pixels; a target needs a shape at least "
            f"{MIN_IMAGE_SIDE} pixels across (the rest transparent)"
        )
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    rgba = np.asarray(canvas, np.float32) / 255.0
    rgba[..., :3] *= rgba[..., 3:]
    return rgba


def has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def check_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int if it is a whole number in [low, high] (not a bool or a float), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def open_image(
    source: str | os.PathLike | IO[bytes],
    *,
    name: str | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    min_side: int = MIN_IMAGE_SIDE,
) -> Image.Image:
    """Open and decode an image file, refusing what is not an image and sizes outside the bounds
    before any pixel is decoded (a 12000² PNG is a few kB on disk and gigabytes in memory).

    Every failure is a ValueError naming the file (``name``, default the path) and the fix.
    """
    name = name or str(source)
    with warnings.catch_warnings():  # PIL warns about big images; the bound below is tighter
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(source)
        except (UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, OSError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise ValueError(
                f"{name} is not a readable image ({err}); a target must be an RGBA PNG (or another image "
                "format Pillow reads) with a transparent background"
            ) from err
    width, height = img.size
    if width * height > max_pixels or min(width, height) < min_side:
        img.close()
        if width * height > max_pixels:
            limit = f"at most {max_pixels:,} pixels: scale it down first"
        else:
            limit = f"at least {min_side}×{min_side} pixels: use a larger image"
        raise ValueError(f"{name} is {width}×{height} pixels; a target image must be {limit}")
    try:
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        img.close()
        raise ValueError(f"{name} could not be decoded ({err}): the image is truncated or corrupt") from err
    return img


def load_image(path: str | os.PathLike, size: int = TARGET_SIZE) -> np.ndarray:
    """An RGBA image file → premultiplied (size, size, 4) float32; the alpha defines the shape."""
    path = Path(path)
    size = check_int("target size", size, MIN_TARGET_SIZE, MAX_GRID_SIZE)
    if not path.is_file():
        raise FileNotFoundError(f"target image not found: {path}")
    with open_image(path) as img:
        if not has_alpha(img):
            raise ValueError(
                f"{path} has no alpha channel (mode {img.mode}): an NCA target's shape is its "
                "transparency. Save it as an RGBA PNG with a transparent background."
            )
        try:
            return _to_premultiplied(img, size)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


def find_emoji_font() -> Path:
    """The Noto Color Emoji font, or an error saying how to install it."""
    for candidate in NOTO_FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", "Noto Color Emoji"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out and "emoji" in out.lower() and Path(out).is_file():
            return Path(out)
    raise FileNotFoundError(
        "no Noto Color Emoji font found to render this emoji. Install it "
        "(Debian/Ubuntu: `apt-get install fonts-noto-color-emoji`), or pass an RGBA image path, "
        f"or use one of the shipped targets: {', '.join(EMOJI)}"
    )


def render_emoji(char: str, size: int = TARGET_SIZE) -> np.ndarray:
    """Render one emoji with Noto Color Emoji → premultiplied (size, size, 4) float32."""
    font = ImageFont.truetype(str(find_emoji_font()), NOTO_BITMAP_SIZE)
    left, top, right, bottom = font.getbbox(char)
    img = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((-left, -top), char, font=font, embedded_color=True)
    return _to_premultiplied(img, size)


def shipped_target_path(name: str) -> Path:
    return Path(str(importlib.resources.files("nca_zoo.bundled") / "targets" / f"{name}.png"))


def resolve_name(spec: str) -> str | None:
    """The zoo target name for ``spec`` ("gecko" or "🦎"), or None if it is not a zoo target."""
    if spec in EMOJI:
        return spec
    stripped = spec.replace("\ufe0f", "")
    for name, char in EMOJI.items():
        if stripped == char:
            return name
    return None


def load_target(spec: str | os.PathLike, size: int = TARGET_SIZE) -> np.ndarray:
    """A target by zoo name, emoji character or image path → premultiplied (size, size, 4).

    Zoo targets come from the PNGs the package ships, so no font is needed for them.
    """
    size = check_int("target size", size, MIN_TARGET_SIZE, MAX_GRID_SIZE)
    if isinstance(spec, str) and (name := resolve_name(spec)) is not None:
        path = shipped_target_path(name)
        if path.is_file():
            return load_image(path, size)
        return render_emoji(EMOJI[name], size)
    if isinstance(spec, str) and not Path(spec).suffix and len(spec) <= 8 and not Path(spec).exists():
        if any(ord(ch) > 0x2000 for ch in spec):
            return render_emoji(spec, size)
        raise ValueError(
            f"unknown target {spec!r}: use a zoo target name ({', '.join(EMOJI)}), an emoji, or a path to an RGBA image"
        )
    return load_image(spec, size)


def pad_target(rgba: np.ndarray, padding: int = PADDING) -> np.ndarray:
    """Place a target in the middle of the NCA grid: (h, w, 4) → (h + 2p, w + 2p, 4)."""
    return np.pad(rgba, ((padding, padding), (padding, padding), (0, 0)))


def check_grid(size: object, padding: object) -> tuple[int, int]:
    """(target_size, padding) as ints if they make a grid of at most :data:`MAX_GRID_SIZE` cells a side."""
    size = check_int("target_size", size, MIN_TARGET_SIZE, MAX_GRID_SIZE)
    padding = check_int("padding", padding, 0, MAX_GRID_SIZE)
    if size + 2 * padding > MAX_GRID_SIZE:
        raise ValueError(
            f"target_size {size} + 2 × padding {padding} = a {size + 2 * padding}-cell grid; "
            f"at most {MAX_GRID_SIZE} cells a side are supported"
        )
    return size, padding


def grid_target(spec: str | os.PathLike, size: int = TARGET_SIZE, padding: int = PADDING) -> np.ndarray:
    """The padded training/evaluation target for ``spec``: (size + 2·padding)² × 4."""
    size, padding = check_grid(size, padding)
    return pad_target(load_target(spec, size), padding)
