"""Evaluate a training run's snapshots as they appear, and say which meet the zoo's bar.

    python scripts/watch_run.py runs/pretzel-regen-16 --every 100 --average 6   # until the run stops
    python scripts/watch_run.py runs/pretzel-regen-16 --every 500 --once        # what is there now
    python scripts/watch_run.py runs/pz25 --average 11 --stride 500 --means-only  # means of 11, every 500
    python scripts/watch_run.py runs/my-sprite --target my-sprite.png --once     # a run trained on an image

Pool-trained NCAs swing between snapshots (eye-regen-16's persistence moved 10× between 100-iteration
snapshots at 5e-5; training/README.md, session 18), so an entry is picked by evaluating snapshots with
the zoo's protocol, not by the training loss; and the mean of a stretch of snapshots' params does not
swing (session 19). This evaluates every ``--every``-th snapshot in ``RUN/snapshots/`` and, with
``--average K``, the mean of each K consecutive ones (in this process, so the protocol is compiled
once); prints each against the original authors' model of the same target and experiment (worst
ratio; the bar is ``nca_zoo.evaluate.BAR``); and keeps the results in ``RUN/evals.jsonl`` so that a
restart evaluates nothing twice. It waits for new snapshots while the run's training lock is held,
and ends with what meets the bar, best first, for ``scripts/register_entry.py RUN --snapshot FILE...``.

A cut's metric can hinge on one rare failed rollout that the protocol's 8 do not draw (training/README.md,
session 25), so ``--batch 32`` judges with 32 rollouts against the originals measured the same way by
``scripts/eval_rollouts.py`` (``docs/rollouts-32.json``); results are kept per batch size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from nca_zoo.evaluate import BAR, EXPERIMENT_METRICS, evaluate, meets_bar, original_metrics, ratios
from nca_zoo.factory import from_snapshots, read_run, run_target
from nca_zoo.targets import grid_target
from nca_zoo.train.loop import is_training
from nca_zoo.train.recipe import TrainConfig

EVALS_NAME = "evals.jsonl"
PROTOCOL_BATCH = 8
ROLLOUTS_FILE = Path(__file__).resolve().parents[1] / "docs" / "rollouts-32.json"

#: What one evaluation measured: the iterations of the snapshots whose params were averaged (one: just it).
Key = tuple[int, ...]


def read_evals(run_dir: Path, batch: int = PROTOCOL_BATCH) -> dict[Key, dict[str, float]]:
    """``{iterations: metrics}`` already measured with ``batch`` rollouts (a record without a batch has the
    protocol's); a torn last line (a killed watcher) is dropped."""
    path = run_dir / EVALS_NAME
    evals = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
                if record.get("batch", PROTOCOL_BATCH) != batch:
                    continue
                evals[tuple(int(i) for i in record["iterations"])] = record["metrics"]
            except (ValueError, KeyError, TypeError):
                continue
    return evals


def append_eval(run_dir: Path, key: Key, metrics: dict[str, float], batch: int = PROTOCOL_BATCH) -> None:
    """One whole line per evaluation, flushed to disk before the next begins."""
    record = {"iterations": list(key), "metrics": metrics, "batch": batch}
    with open(run_dir / EVALS_NAME, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def pending(
    run_dir: Path,
    every: int,
    start: int,
    average: int,
    done: dict[Key, dict],
    *,
    stride: int | None = None,
    means_only: bool = False,
) -> list[tuple[Key, list[Path]]]:
    """What is still to evaluate, oldest first: each snapshot whose iteration is a multiple of ``every``
    (from ``start``; of ``stride`` too, when given), and with ``average`` > 1 the mean of it and the
    ``average - 1`` before it (``every`` apart). ``means_only`` skips the single snapshots."""
    snapshots = {}
    for path in (run_dir / "snapshots").glob("*.safetensors"):
        if path.stem.isdigit() and int(path.stem) % every == 0:
            snapshots[int(path.stem)] = path
    found = []
    for iteration in sorted(i for i in snapshots if i >= start and (stride is None or i % stride == 0)):
        windows = [] if means_only and average > 1 else [(iteration,)]
        if average > 1:
            windows.append(tuple(iteration - k * every for k in reversed(range(average))))
        for key in windows:
            if key not in done and all(i in snapshots for i in key):
                found.append((key, [snapshots[i] for i in key]))
    return found


def label(key: Key) -> str:
    """``5200``, or ``4700–5200 (6)`` for the mean of six snapshots."""
    return f"{key[0]:6d}" if len(key) == 1 else f"{key[0]}–{key[-1]} ({len(key)})"


def worst_ratio(metrics: dict[str, float], original: dict[str, float] | None, experiment: str) -> float:
    """The largest ours/original over the experiment's metrics (NaN without an original)."""
    if original is None:
        return math.nan
    values = ratios(metrics, original, experiment).values()
    return math.nan if any(math.isnan(v) for v in values) else max(values)


def describe(key: Key, metrics: dict[str, float], original: dict[str, float] | None, experiment: str) -> str:
    """One line: the experiment's metrics, the worst ratio to the original and whether it meets the bar."""
    values = " / ".join(f"{metrics[name]:.5f}" for name in EXPERIMENT_METRICS[experiment])
    if original is None:
        return f"{label(key)}  {values}  (no original to compare with)"
    ok, _ = meets_bar(metrics, original, experiment)
    verdict = "meets the bar" if ok else ("unstable" if metrics.get("stable") != 1.0 else "misses")
    return f"{label(key)}  {values}  worst {worst_ratio(metrics, original, experiment):.2f}× the original  {verdict}"


def original_for(target: str, experiment: str, batch: int) -> dict | None:
    """The original authors' model's metrics with ``batch`` rollouts: the shipped protocol results for 8,
    else ``scripts/eval_rollouts.py``'s measurement in ``ROLLOUTS_FILE`` (``None`` where none is recorded)."""
    if batch == PROTOCOL_BATCH:
        return original_metrics().get((target, experiment))
    data = json.loads(ROLLOUTS_FILE.read_text()) if ROLLOUTS_FILE.exists() else {}
    if data.get("batch") != batch:
        return None
    return data.get("entries", {}).get(f"{target}-{experiment}-16", {}).get("original")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training run's folder (nca-zoo train --out)")
    parser.add_argument("--every", type=int, default=100, help="evaluate snapshots whose iteration is a multiple")
    parser.add_argument("--average", type=int, default=1, help="also evaluate the mean of each this many snapshots")
    parser.add_argument("--start", type=int, default=0, help="skip snapshots before this iteration")
    parser.add_argument(
        "--stride",
        type=int,
        help="evaluate only at snapshots whose iteration is a multiple of this (windows still average "
        "--average consecutive ones, --every apart): e.g. --every 100 --average 11 --stride 500",
    )
    parser.add_argument("--means-only", action="store_true", help="with --average, skip the single snapshots")
    parser.add_argument("--experiment", help="judge as this experiment (default: the run's)")
    parser.add_argument(
        "--target",
        help="the image a run was trained on (its run.json keeps only the image's name; the same path "
        "`nca-zoo train --resume` asks for again); default: the run's zoo target",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=PROTOCOL_BATCH,
        help="rollouts per metric (default 8, the protocol's; 32 judges against docs/rollouts-32.json)",
    )
    parser.add_argument("--once", action="store_true", help="evaluate what is there now, then stop")
    parser.add_argument("--poll", type=float, default=30.0, help="seconds between looks for new snapshots")
    args = parser.parse_args(argv)
    run_dir = args.run_dir
    if not (run_dir / "run.json").is_file():
        parser.error(f"{run_dir} is not a training run (no run.json); pass the folder given to `nca-zoo train --out`")
    if args.every < 1 or args.average < 1 or args.batch < 1 or (args.stride is not None and args.stride < 1):
        parser.error("--every, --average, --batch and --stride must be positive integers")
    try:
        _, train_config, target = read_run(run_dir)
        recipe = TrainConfig.from_dict(train_config)
        target_grid = run_target(run_dir, target, train_config)
    except (ValueError, TypeError) as err:
        parser.error(f"{run_dir}: {err}")
    experiment = args.experiment or recipe.experiment
    if args.target is not None:
        target_grid = grid_target(args.target, recipe.target_size, recipe.padding)
    elif target_grid is None:
        parser.error(
            f"{run_dir} was trained on an image ({target!r}) that its run.json does not keep: "
            "pass --target with that image's path"
        )
    original = original_for(target, experiment, args.batch)
    if original is None and args.batch != PROTOCOL_BATCH:
        print(
            f"no original {target} {experiment} measured with {args.batch} rollouts in {ROLLOUTS_FILE.name} "
            f"(python scripts/eval_rollouts.py '{target}-{experiment}-16' --batch {args.batch} measures it)"
        )
    print(
        f"{run_dir}: {target} {experiment}; "
        + " / ".join(EXPERIMENT_METRICS[experiment])
        + f"; {args.batch} rollouts; bar {BAR}×"
    )
    done = read_evals(run_dir, args.batch)
    for key in sorted(done, key=lambda k: (k[-1], len(k))):
        if key[0] >= args.start:
            print(describe(key, done[key], original, experiment))
    while True:
        todo = pending(
            run_dir, args.every, args.start, args.average, done, stride=args.stride, means_only=args.means_only
        )
        for key, paths in todo:
            metrics = evaluate(from_snapshots(paths, target_grid), batch=args.batch)
            append_eval(run_dir, key, metrics, args.batch)
            done[key] = metrics
            print(describe(key, metrics, original, experiment), flush=True)
        if args.once or (not todo and not is_training(run_dir)):
            break  # --once: only what was there at the start, not the snapshots a live run writes meanwhile
        if not todo:
            time.sleep(args.poll)
    if original is None:
        return 0
    passing = sorted(
        (worst_ratio(m, original, experiment), key) for key, m in done.items() if meets_bar(m, original, experiment)[0]
    )
    if passing:
        print("meet the bar, best first: " + ", ".join(f"{label(key).strip()} {r:.2f}×" for r, key in passing))
    else:
        print("no evaluated snapshot meets the bar yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
