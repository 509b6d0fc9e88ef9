"""Evaluate a training run's snapshots as they appear, and say which meet the zoo's bar.

    python scripts/watch_run.py runs/pretzel-regen-16 --every 100            # until the run stops
    python scripts/watch_run.py runs/pretzel-regen-16 --every 500 --once     # what is there now

Pool-trained NCAs swing between snapshots (eye-regen-16's persistence moved 10× between 100-iteration
snapshots at 5e-5; training/README.md, session 18), so an entry is picked by evaluating many
snapshots with the zoo's protocol, not by the training loss. This evaluates every ``--every``-th
snapshot in ``RUN/snapshots/`` (in this process, so the protocol is compiled once), prints each
against the original authors' model of the same target and experiment (worst ratio; the bar is
``nca_zoo.evaluate.BAR``), and keeps the results in ``RUN/evals.jsonl`` so that a restart evaluates
nothing twice. It waits for new snapshots while the run's training lock is held, and ends with the
snapshots that meet the bar, best first: pass one to ``scripts/register_entry.py RUN --snapshot``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import nca_zoo
from nca_zoo.evaluate import BAR, EXPERIMENT_METRICS, evaluate, meets_bar, original_metrics, ratios
from nca_zoo.train.loop import is_training

EVALS_NAME = "evals.jsonl"


def read_evals(run_dir: Path) -> dict[int, dict[str, float]]:
    """``{iteration: metrics}`` already measured; a torn last line (a killed watcher) is dropped."""
    path = run_dir / EVALS_NAME
    evals = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            evals[int(record["iteration"])] = record["metrics"]
    return evals


def append_eval(run_dir: Path, iteration: int, metrics: dict[str, float]) -> None:
    """One whole line per evaluation, flushed to disk before the next begins."""
    with open(run_dir / EVALS_NAME, "a") as f:
        f.write(json.dumps({"iteration": iteration, "metrics": metrics}) + "\n")
        f.flush()
        os.fsync(f.fileno())


def pending(run_dir: Path, every: int, start: int, done: dict[int, dict[str, float]]) -> list[tuple[int, Path]]:
    """The snapshots still to evaluate: iteration a multiple of ``every``, at least ``start``, oldest first."""
    found = []
    for path in sorted((run_dir / "snapshots").glob("*.safetensors")):
        if path.stem.isdigit():
            iteration = int(path.stem)
            if iteration % every == 0 and iteration >= start and iteration not in done:
                found.append((iteration, path))
    return found


def worst_ratio(metrics: dict[str, float], original: dict[str, float] | None, experiment: str) -> float:
    """The largest ours/original over the experiment's metrics (NaN without an original)."""
    if original is None:
        return math.nan
    values = ratios(metrics, original, experiment).values()
    return math.nan if any(math.isnan(v) for v in values) else max(values)


def describe(iteration: int, metrics: dict[str, float], original: dict[str, float] | None, experiment: str) -> str:
    """One line: the experiment's metrics, the worst ratio to the original and whether it meets the bar."""
    values = " / ".join(f"{metrics[name]:.5f}" for name in EXPERIMENT_METRICS[experiment])
    if original is None:
        return f"{iteration:6d}  {values}  (no original to compare with)"
    ok, _ = meets_bar(metrics, original, experiment)
    verdict = "meets the bar" if ok else ("unstable" if metrics.get("stable") != 1.0 else "misses")
    return f"{iteration:6d}  {values}  worst {worst_ratio(metrics, original, experiment):.2f}× the original  {verdict}"


def run_settings(run_dir: Path) -> tuple[str, str]:
    """The run's target and experiment, as its ``run.json`` records them."""
    record = json.loads((run_dir / "run.json").read_text())
    train_config = record["train_config"]
    if isinstance(train_config, str):
        train_config = json.loads(train_config)
    return record["target"], train_config["experiment"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a training run's folder (nca-zoo train --out)")
    parser.add_argument("--every", type=int, default=100, help="evaluate snapshots whose iteration is a multiple")
    parser.add_argument("--start", type=int, default=0, help="skip snapshots before this iteration")
    parser.add_argument("--experiment", help="judge as this experiment (default: the run's)")
    parser.add_argument("--once", action="store_true", help="evaluate what is there now, then stop")
    parser.add_argument("--poll", type=float, default=30.0, help="seconds between looks for new snapshots")
    args = parser.parse_args(argv)
    run_dir = args.run_dir
    if not (run_dir / "run.json").is_file():
        parser.error(f"{run_dir} is not a training run (no run.json); pass the folder given to `nca-zoo train --out`")
    if args.every < 1:
        parser.error("--every must be a positive integer")
    target, experiment = run_settings(run_dir)
    experiment = args.experiment or experiment
    original = original_metrics().get((target, experiment))
    print(f"{run_dir}: {target} {experiment}; " + " / ".join(EXPERIMENT_METRICS[experiment]) + f"; bar {BAR}×")
    done = read_evals(run_dir)
    for iteration in sorted(i for i in done if i % args.every == 0 and i >= args.start):
        print(describe(iteration, done[iteration], original, experiment))
    while True:
        todo = pending(run_dir, args.every, args.start, done)
        for iteration, path in todo:
            metrics = evaluate(nca_zoo.load(str(path)))
            append_eval(run_dir, iteration, metrics)
            done[iteration] = metrics
            print(describe(iteration, metrics, original, experiment), flush=True)
        if not todo and (args.once or not is_training(run_dir)):
            break
        if not todo:
            time.sleep(args.poll)
    if original is None:
        return 0
    passing = sorted(
        (worst_ratio(m, original, experiment), i) for i, m in done.items() if meets_bar(m, original, experiment)[0]
    )
    if passing:
        print("meet the bar, best first: " + ", ".join(f"{i} ({r:.2f}×)" for r, i in passing))
    else:
        print("no evaluated snapshot meets the bar yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
