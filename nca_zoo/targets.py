"""Training targets: an image or emoji → premultiplied 40-px RGBA, padded to the NCA grid.

The zoo's own targets ("gecko" or 🦎, …) are shipped as PNGs rendered by
``scripts/render_targets.py``, so they need no font. Any other emoji is rendered from an installed
Noto Color Emoji font (Debian: ``fonts-noto-color-emoji``), exactly as the shipped ones were.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TARGET_SIZE = 40
PADDING = 16
GRID_SIZE = TARGET_SIZE + 2 * PADDING

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
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    rgba = np.asarray(canvas, np.float32) / 255.0
    rgba[..., :3] *= rgba[..., 3:]
    return rgba


def has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def load_image(path: str | os.PathLike, size: int = TARGET_SIZE) -> np.ndarray:
    """An RGBA image file → premultiplied (size, size, 4) float32; the alpha defines the shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"target image not found: {path}")
    with Image.open(path) as img:
        if not has_alpha(img):
            raise ValueError(
                f"{path} has no alpha channel (mode {img.mode}): an NCA target's shape is its "
                "transparency. Save it as an RGBA PNG with a transparent background."
            )
        return _to_premultiplied(img, size)


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


def grid_target(spec: str | os.PathLike, size: int = TARGET_SIZE, padding: int = PADDING) -> np.ndarray:
    """The padded training/evaluation target for ``spec``: (size + 2·padding)² × 4."""
    return pad_target(load_target(spec, size), padding)
