"""States → RGB images, PNG files and animated GIFs (the Distill display: RGBA over white)."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

from nca_zoo.weights import atomic_write_bytes


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
    rgb = to_uint8_rgb(state)
    if rgb.ndim == 4:
        rgb = tile(rgb, columns)
    img = Image.fromarray(rgb, "RGB")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST) if scale > 1 else img


def save_png(path: str | os.PathLike, state: np.ndarray, scale: int = 4, columns: int | None = None) -> None:
    buf = io.BytesIO()
    to_image(state, scale, columns).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def save_gif(
    path: str | os.PathLike,
    frames: Sequence[np.ndarray] | np.ndarray,
    scale: int = 4,
    duration_ms: int = 40,
    columns: int | None = None,
) -> None:
    """Frames of states (T,H,W,C) or batches (T,B,H,W,C) → a looping GIF, written atomically."""
    images = [to_image(f, scale, columns) for f in frames]
    if not images:
        raise ValueError("save_gif needs at least one frame")
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    atomic_write_bytes(path, buf.getvalue())
