"""Render the zoo's targets (the ten Distill emoji) to ``weights/targets/<name>.png``.

The package ships these PNGs so that loading a zoo target needs no font. Needs Noto Color Emoji
(Debian: ``apt-get install fonts-noto-color-emoji``). Usage: ``python scripts/render_targets.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from nca_zoo.targets import EMOJI, TARGET_SIZE, render_emoji


def to_straight_rgba_png(premultiplied: np.ndarray) -> Image.Image:
    alpha = premultiplied[..., 3:]
    rgb = np.where(alpha > 0, premultiplied[..., :3] / np.maximum(alpha, 1e-8), 0.0)
    data = np.concatenate([rgb, alpha], -1)
    return Image.fromarray(np.round(np.clip(data, 0, 1) * 255).astype(np.uint8), "RGBA")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "weights" / "targets")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, char in EMOJI.items():
        path = args.out / f"{name}.png"
        to_straight_rgba_png(render_emoji(char, TARGET_SIZE)).save(path)
        print(f"{char} -> {path}")


if __name__ == "__main__":
    main()
