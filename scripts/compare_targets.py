"""How much the zoo's targets differ from the original authors' — to read the quality bar fairly.

    python scripts/compare_targets.py [--originals ../shared/reference/distill-growing-ca]

The bar compares our entry against its own target with the original against theirs (their 2020 emoji
sprite; ours are rendered from Noto Color Emoji), so a target with more detail is a harder task. Per
target this prints the total variation (the summed absolute difference between neighbouring pixels of
the premultiplied RGBA: how much edge there is to draw), the covered area (summed alpha), ours ÷ theirs
for both, and the MSE between the two targets.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nca_zoo.convert import distill_target
from nca_zoo.targets import EMOJI, grid_target

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "distill-growing-ca"


def total_variation(rgba: np.ndarray) -> float:
    """Summed absolute difference between vertically and horizontally neighbouring pixels."""
    return float(np.abs(np.diff(rgba, axis=0)).sum() + np.abs(np.diff(rgba, axis=1)).sum())


def compare(ours: np.ndarray, theirs: np.ndarray) -> dict[str, float]:
    """Ratios ours ÷ theirs of total variation and covered area, and the MSE between the two targets."""
    ours, theirs = np.asarray(ours, np.float32)[..., :4], np.asarray(theirs, np.float32)[..., :4]
    if ours.shape != theirs.shape:
        raise ValueError(f"targets differ in shape: ours {ours.shape}, theirs {theirs.shape}")
    tv_ours, tv_theirs = total_variation(ours), total_variation(theirs)
    return {
        "tv_ours": tv_ours,
        "tv_theirs": tv_theirs,
        "tv_ratio": tv_ours / tv_theirs,
        "area_ratio": float(ours[..., 3].sum() / theirs[..., 3].sum()),
        "mse": float(((ours - theirs) ** 2).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=Path, default=DEFAULT_DIR, help="folder with emoji_targets_40px.png")
    args = parser.parse_args(argv)
    print("| target | total variation ours / theirs (ratio) | area ratio | MSE between them |")
    print("|---|---|---|---|")
    for name in EMOJI:
        c = compare(grid_target(name), distill_target(args.originals, name))
        print(
            f"| {name} | {c['tv_ours']:.0f} / {c['tv_theirs']:.0f} ({c['tv_ratio']:.2f}×) | "
            f"{c['area_ratio']:.2f}× | {c['mse']:.4f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
