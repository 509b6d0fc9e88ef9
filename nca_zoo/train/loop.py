"""The training driver: runs the jitted iteration, logs, samples, checkpoints and resumes.

A run directory holds ``run.json`` (configs), ``metrics.jsonl`` (one line per iteration, with its
wall time), ``checkpoints/`` (orbax), ``samples/`` (the batch every few hundred iterations) and,
when finished, ``model.safetensors``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from nca_zoo import render
from nca_zoo.config import NCAConfig
from nca_zoo.train.checkpoint import Checkpoints
from nca_zoo.train.recipe import TrainConfig
from nca_zoo.train.step import TrainState, init_state, train_step
from nca_zoo.weights import atomic_write_bytes, save_weights


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    params: Any
    model_config: NCAConfig
    train_config: TrainConfig
    iterations: int
    seconds: float  # wall time of the iterations run in this call
    final_loss: float
    out_dir: Path
    weights_path: Path
    sha256: str


def learning_rate(train_config: TrainConfig, iteration: int) -> float:
    tc = train_config
    return tc.learning_rate if iteration < tc.decay_at else tc.decayed_learning_rate


def _run_record(model_config: NCAConfig, train_config: TrainConfig, target_name: str) -> dict[str, Any]:
    return {"model_config": model_config.to_dict(), "train_config": train_config.to_dict(), "target": target_name}


def _without_budget(record: dict[str, Any]) -> dict[str, Any]:
    """A run's identity: its settings except the iteration budget (a run may be extended)."""
    return {**record, "train_config": {k: v for k, v in record["train_config"].items() if k != "iterations"}}


def _prepare_dir(out_dir: Path, record: dict[str, Any], resume: bool) -> None:
    run_file = out_dir / "run.json"
    if run_file.exists():
        if not resume:
            raise FileExistsError(
                f"{out_dir} already holds a training run; pass resume=True (CLI: --resume) to continue it "
                "or choose another output directory"
            )
        stored = json.loads(run_file.read_text())
        if _without_budget(stored) != _without_budget(record):
            raise ValueError(
                f"{out_dir} holds a run with different settings; resume it with the same settings or start "
                f"a new directory.\n stored: {stored}\n given:  {record}"
            )
    atomic_write_bytes(run_file, json.dumps(record, indent=2).encode())


def _truncate_metrics(path: Path, iteration: int) -> None:
    """Drop log lines written after the checkpoint we resume from (they will be recomputed)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["iteration"] <= iteration]
    atomic_write_bytes(path, ("\n".join(kept) + "\n").encode() if kept else b"")


def train(
    target: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    model_config: NCAConfig = NCAConfig(),
    train_config: TrainConfig = TrainConfig(),
    target_name: str = "custom",
    init_params: Any = None,
    resume: bool = False,
    checkpoint_every: int = 200,
    sample_every: int = 500,
    progress: bool = True,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train an NCA to grow ``target`` ((G,G,4) premultiplied RGBA, G = train_config.grid_size).

    With ``resume=True`` the run continues from the newest checkpoint in ``out_dir`` and ends in
    the same state as an uninterrupted run. ``init_params`` starts from given weights
    (fine-tuning); ignored when resuming from a checkpoint.
    """
    tc = train_config
    target = jnp.asarray(target, jnp.float32)
    if target.shape != (tc.grid_size, tc.grid_size, 4):
        raise ValueError(
            f"target has shape {tuple(target.shape)}, but this recipe trains on a "
            f"{tc.grid_size}×{tc.grid_size} grid: expected ({tc.grid_size}, {tc.grid_size}, 4)"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _prepare_dir(out_dir, _run_record(model_config, tc, target_name), resume)
    checkpoints = Checkpoints(out_dir / "checkpoints")
    metrics_path = out_dir / "metrics.jsonl"

    state = init_state(model_config, tc, init_params)
    if resume and checkpoints.latest() is not None:
        state = checkpoints.restore(state)
    elif metrics_path.exists():
        metrics_path.unlink()
    start = int(state.iteration)
    _truncate_metrics(metrics_path, start)
    last_checkpoint = checkpoints.latest() if resume else None

    bar = tqdm(total=tc.iterations, initial=start, disable=not progress, desc=f"train {target_name}", unit="it")
    run_seconds, loss = 0.0, float("nan")
    try:
        with metrics_path.open("a") as log:
            while int(state.iteration) < tc.iterations:
                t0 = time.perf_counter()
                state, out = train_step(state, target, model_config=model_config, train_config=tc)
                loss = float(out["loss"])
                seconds = time.perf_counter() - t0
                iteration = int(state.iteration)
                if not math.isfinite(loss):
                    where = (
                        f"the last good checkpoint is iteration {last_checkpoint} in {checkpoints.directory}"
                        if last_checkpoint is not None
                        else "no checkpoint was written yet"
                    )
                    raise TrainingDivergedError(
                        f"training diverged: loss is {loss} at iteration {iteration}; {where}. "
                        "Resume with a lower learning rate, or check the target."
                    )
                run_seconds += seconds
                record = {
                    "iteration": iteration,
                    "loss": loss,
                    "log10_loss": math.log10(max(loss, 1e-30)),
                    "steps": int(out["steps"]),
                    "lr": learning_rate(tc, iteration - 1),
                    "seconds": round(seconds, 4),
                }
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.5f}", steps=record["steps"])
                if on_iteration is not None:
                    on_iteration(iteration, record)
                if sample_every and iteration % sample_every == 0:
                    render.save_png(out_dir / "samples" / f"iter_{iteration:06d}.png", np.asarray(out["batch"]), 2)
                if iteration % checkpoint_every == 0 or iteration == tc.iterations:
                    last_checkpoint = checkpoints.save(state)
    finally:
        bar.close()
        checkpoints.close()

    params = jax.tree.map(np.asarray, state.params)
    weights_path = out_dir / "model.safetensors"
    sha = save_weights(weights_path, params, model_config)
    return TrainResult(
        params=params,
        model_config=model_config,
        train_config=tc,
        iterations=int(state.iteration),
        seconds=run_seconds,
        final_loss=loss,
        out_dir=out_dir,
        weights_path=weights_path,
        sha256=sha,
    )


def resume_state(out_dir: str | os.PathLike, model_config: NCAConfig, train_config: TrainConfig) -> TrainState:
    """The newest checkpointed train state of a run directory (for inspection and tests)."""
    checkpoints = Checkpoints(Path(out_dir) / "checkpoints")
    try:
        return checkpoints.restore(init_state(model_config, train_config))
    finally:
        checkpoints.close()
