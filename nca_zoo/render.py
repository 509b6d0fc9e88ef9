"""States → RGB images, PNG files and animated GIFs (the Distill display: RGBA over white)."""

from __future__ import annotations

import dataclasses
import io
import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from nca_zoo.weights import atomic_write_bytes


@dataclasses.dataclass(frozen=True)
class Saved:
    """What :meth:`ZooModel.save_png` / :meth:`ZooModel.save_gif` wrote: the file, the step of the
    last state shown, the number of images, and that state's RGBA MSE against the model's target
    (``None`` without a target, on another grid size, or with a rotated perception)."""

    path: Path
    steps: int
    frames: int
    mse: float | None = None


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int if it is a whole number >= ``minimum``; else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_suffix(path: str | os.PathLike, suffix: str) -> Path:
    """``path`` as a Path if it ends in ``suffix`` (any case); else a ValueError (no file written)."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        kind = suffix[1:].upper()
        raise ValueError(f"{path}: a {kind} file must end in {suffix}, got {path.suffix or 'no suffix'!r}")
    return path


def to_uint8_rgb(state: np.ndarray) -> np.ndarray:
    """One state (H,W,C) or a batch (B,H,W,C) → uint8 RGB of the same leading shape."""
    state = np.asarray(state, np.float32)
    alpha = np.clip(state[..., 3:4], 0.0, 1.0)
    rgb = np.clip(1.0 - alpha + state[..., :3], 0.0, 1.0)
    return np.round(rgb * 255).astype(np.uint8)


def tile(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """(N,H,W,3) → one image with the N images in a grid (white gaps of 2 px)."""
    n, h, w, _ = images.shape
    columns = columns or n
    rows = -(-n // columns)
    out = np.full((rows * (h + 2) - 2, columns * (w + 2) - 2, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + 2) : r * (h + 2) + h, c * (w + 2) : c * (w + 2) + w] = img
    return out


def to_image(state: np.ndarray, scale: int = 1, columns: int | None = None) -> Image.Image:
    """A state or a batch of states as one PIL image, each cell ``scale``×``scale`` pixels."""
    scale = check_count("scale", scale)
    if columns is not None:
        check_count("columns", columns)
    rgb = to_uint8_rgb(state)
    if rgb.ndim == 4:
        rgb = tile(rgb, columns)
    img = Image.fromarray(rgb, "RGB")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST) if scale > 1 else img


def save_png(path: str | os.PathLike, state: np.ndarray, scale: int = 4, columns: int | None = None) -> Path:
    """A state (H,W,C) or a batch (B,H,W,C) → a PNG file (``path`` must end in .png), written atomically."""
    path = check_suffix(path, ".png")
    buf = io.BytesIO()
    to_image(state, scale, columns).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
    return path


def save_gif(
    path: str | os.PathLike,
    frames: Sequence[np.ndarray] | np.ndarray,
    scale: int = 4,
    duration_ms: int = 40,
    columns: int | None = None,
) -> Path:
    """Frames of states (T,H,W,C) or batches (T,B,H,W,C) → a looping GIF (``path`` must end in
    .gif), written atomically."""
    path = check_suffix(path, ".gif")
    duration_ms = check_count("duration_ms", duration_ms)
    images = [to_image(f, scale, columns) for f in frames]
    if not images:
        raise ValueError("save_gif needs at least one frame")
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    atomic_write_bytes(path, buf.getvalue())
    return path
