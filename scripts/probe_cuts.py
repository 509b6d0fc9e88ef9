"""Cut a grown pattern in ways the protocol does not, and see whether it heals: MSE per cut (and a PNG with --png).

    python scripts/probe_cuts.py smiley-regen-16                          # the four half cuts
    python scripts/probe_cuts.py smiley-regen-16 --cut disc:31,29,6 --cut disc:31,42,6 --heal 200
    python scripts/probe_cuts.py original:smiley:regen --cut disc:28,30,6 --png orig.png
    python scripts/probe_cuts.py runs/sm29/snapshots/000800.safetensors --target smiley
    python scripts/probe_cuts.py ladybug-regen-16 --cut disc:random --heal 100 --batch 64 --seed 1 --worst 8
    python scripts/probe_cuts.py runs/lb32-p/snapshots/0071*.safetensors ... --cut disc:36,36,5   # their mean

The protocol cuts only the right half and random discs (``nca_zoo.evaluate``), so a feature that never
regrows can hide inside a good ``mse_half`` / ``mse_disc`` (smiley-regen-16's eye: training/README.md,
sessions 29–30). Each cut is applied to the protocol's own step-200 states (8 rollouts, seed 0) and
healed ``--heal`` steps (:func:`nca_zoo.evaluate.cut_and_heal`). Cuts: ``half:SIDE`` (right, left, top,
bottom), ``disc:ROW,COL,RADIUS`` in grid cells (72×72) and ``disc:random``, the protocol's own random
discs (with ``--heal 100`` and the defaults, exactly ``mse_disc``): with more rollouts (``--batch``) and
another ``--seed`` it counts the rare cuts a model does not heal, which the protocol's 8 seldom draw
(``ladybug-regen-16``: training/README.md, session 32). ``original:TARGET:EXPERIMENT`` loads the
original authors' model from ``--originals`` (``../shared/reference/distill-growing-ca``); several snapshot
files probe the mean of their params, the window mean an entry is registered as.
For each cut it prints the MSE over the grid and the MSE inside the cut alone (median and worst of the
rollouts): a regrown eye is ~1/250 of the grid, and only the second number tells a regrown one (the
original smiley: 0.002) from a yellow patch (0.05). ``--png`` draws one row per cut, one column per rollout.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

import nca_zoo
from nca_zoo import render
from nca_zoo.convert import load_distill_original
from nca_zoo.evaluate import HALF_HEAL, cut_and_heal, mse
from nca_zoo.factory import from_snapshots
from nca_zoo.model import HALF_SIDES, to_rgba
from nca_zoo.targets import grid_target

GRID = 72


def parse_cut(text: str) -> dict:
    """``half:left``, ``disc:ROW,COL,RADIUS`` (grid cells) or ``disc:random`` → :func:`nca_zoo.model.damage`
    keywords (:func:`nca_zoo.evaluate.cut_and_heal` draws a disc without a centre as the protocol does)."""
    kind, _, spec = text.partition(":")
    if kind == "half" and spec in HALF_SIDES:
        return {"kind": "half", "side": spec}
    if text == "disc:random":
        return {"kind": "disc"}
    if kind == "disc":
        try:
            row, col, radius = (float(v) for v in spec.split(","))
        except ValueError:
            pass
        else:
            if 0 <= row < GRID and 0 <= col < GRID and 0 < radius <= GRID:
                scale = 2.0 / (GRID - 1)  # cell index → the [-1, 1] coordinates damage_mask uses
                return {"kind": "disc", "center": (row * scale - 1.0, col * scale - 1.0), "radius": radius * scale}
    raise argparse.ArgumentTypeError(
        f"cut {text!r}: use half:SIDE (SIDE one of {', '.join(HALF_SIDES)}), disc:ROW,COL,RADIUS in grid cells"
        " or disc:random"
    )


def load(specs: list[str], target: str | None, originals: Path):
    if len(specs) > 1:
        return from_snapshots(specs, None if target is None else grid_target(target))
    spec = specs[0]
    if spec.startswith("original:"):
        _, name, experiment = [*spec.split(":"), "", ""][:3]
        return load_distill_original(originals, name, experiment or "regen")
    nca = nca_zoo.load(spec)
    if target is not None:
        nca = dataclasses.replace(nca, target=grid_target(target))
    if nca.target is None:
        raise SystemExit(f"{spec} records no target: pass --target (a zoo target name or an image)")
    return nca


def mse_inside(states: np.ndarray, target: np.ndarray, erased: np.ndarray) -> np.ndarray:
    """Per rollout, the MSE of the visible RGBA against ``target`` over the ``erased`` cells (B,H,W)."""
    errors = np.square(np.asarray(to_rgba(states)) - np.asarray(target))
    return np.array([errors[i, erased[i]].mean() for i in range(len(states))])


def worst_rollouts(per_rollout: np.ndarray, erased: np.ndarray, count: int) -> list[str]:
    """One line for each of the ``count`` rollouts with the largest MSE: its index (the same rollout for the
    same ``--seed`` and ``--batch``, whatever the model), MSE, and where the cut erased (centre row, column and
    the radius of a disc of its area, in cells), so failures can be told apart and compared across models."""
    lines = []
    for i in np.argsort(-per_rollout, kind="stable")[:count]:
        rows, cols = np.nonzero(erased[i])
        where = f"cut centre ({rows.mean():.0f}, {cols.mean():.0f}), radius {np.sqrt(len(rows) / np.pi):.1f}"
        lines.append(f"  rollout {i}: MSE {per_rollout[i]:.5f}; {where if len(rows) else 'nothing erased'}")
    return lines


#: A disc outside the grid: the protocol's rollout with nothing cut, healed with a fixed cut's keys.
NO_CUT = {"kind": "disc", "center": (5.0, 5.0), "radius": 0.1}


def hidden_change(healed: np.ndarray, uncut: np.ndarray, erased: np.ndarray) -> float:
    """How far the cut cells' hidden channels (4…) end from the same rollout's without the cut: the RMS of the
    difference over the cut cells ÷ the uncut hidden state's RMS there (0: regrown as it was; a cut eye of the
    original smiley 0.05, of ``smiley-regen-16`` 0.40: training/README.md, session 36)."""
    before = uncut[..., 4:][erased]
    return float(np.sqrt(np.mean(np.square(healed[..., 4:][erased] - before))) / np.sqrt(np.mean(np.square(before))))


def describe(cut: dict) -> str:
    if "side" in cut:
        return f"half {cut['side']}"
    if "center" in cut:
        return "disc at ({:.2f}, {:.2f}), radius {:.2f}".format(*cut["center"], cut["radius"])
    return "random discs"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "model",
        nargs="+",
        help="zoo name, weights or snapshot file, or original:TARGET:EXPERIMENT; several snapshot files: their mean",
    )
    parser.add_argument("--cut", action="append", type=parse_cut, help="half:SIDE or disc:ROW,COL,RADIUS (repeatable)")
    parser.add_argument("--heal", type=int, default=HALF_HEAL, help=f"steps after the cut (default {HALF_HEAL})")
    parser.add_argument("--target", help="the model's target, where its file records none")
    parser.add_argument("--originals", type=Path, default=Path("../shared/reference/distill-growing-ca"))
    parser.add_argument("--batch", type=int, default=8, help="rollouts (default: the protocol's 8)")
    parser.add_argument("--seed", type=int, default=0, help="the protocol's seed (default 0); others draw anew")
    parser.add_argument("--fail", type=float, default=0.005, help="an MSE above this counts as not healed")
    parser.add_argument("--png", type=Path, help="also draw the healed rollouts here (one row per cut)")
    parser.add_argument("--worst", type=int, default=0, help="also list this many worst rollouts of each cut")
    parser.add_argument(
        "--hidden",
        action="store_true",
        help="also say how far the cut cells' hidden state ends from the uncut rollout's (fixed cuts only)",
    )
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    nca = load(args.model, args.target, args.originals)
    cuts = args.cut or [parse_cut(f"half:{side}") for side in HALF_SIDES]
    if args.hidden and any(cut.get("center") is None and "side" not in cut for cut in cuts):
        parser.error("--hidden compares with the uncut rollout under a fixed cut's keys: not with disc:random")
    heal = {"heal_steps": args.heal, "batch": args.batch, "seed": args.seed}
    uncut = cut_and_heal(nca, NO_CUT, **heal)[1] if args.hidden else None
    healed_states = []
    for cut in cuts:
        value, healed, erased = cut_and_heal(nca, cut, **heal)
        inside = mse_inside(healed, nca.target, erased)
        per_rollout = mse(healed, nca.target)
        failed = int(np.sum(per_rollout > args.fail))
        hidden = f"; hidden state {hidden_change(healed, uncut, erased):.2f} off the uncut" if args.hidden else ""
        print(
            f"{describe(cut)}: MSE {value:.5f} after {args.heal} steps; inside the cut {np.median(inside):.4f} "
            f"(worst {inside.max():.4f}){hidden}; above {args.fail:g}: {failed} of {args.batch}",
            flush=True,
        )
        for line in worst_rollouts(per_rollout, erased, args.worst):
            print(line)
        healed_states.append(healed)
    if args.png is not None:
        path = render.save_png(args.png, np.concatenate(healed_states), scale=2, columns=len(healed_states[0]))
        print(f"wrote {path} (one row per cut)")


if __name__ == "__main__":
    main()
