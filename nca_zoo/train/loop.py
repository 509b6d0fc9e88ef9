"""The training driver: runs the jitted iteration, logs, samples, checkpoints and resumes.

A run directory holds ``run.json`` (configs), ``metrics.jsonl`` (one line per iteration, with its
wall time), ``checkpoints/`` (orbax: the whole train state), ``snapshot.safetensors`` (the small
resumable state of the newest checkpoint, pool excluded: see :mod:`nca_zoo.train.snapshot`),
``samples/`` (the batch every few hundred iterations), ``.lock`` (held while a process trains
there) and, when finished, ``model.safetensors``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from nca_zoo import render
from nca_zoo.config import NCAConfig
from nca_zoo.machine import MACHINE_KEYS, machine_record
from nca_zoo.train import lineage as lineage_
from nca_zoo.train.checkpoint import Checkpoints, is_finite
from nca_zoo.train.recipe import TrainConfig, departures, weights_provenance
from nca_zoo.train.snapshot import kept_snapshot, save_snapshot
from nca_zoo.train.step import TrainState, init_state, train_step
from nca_zoo.weights import atomic_write_bytes, read_metadata, save_weights, sha256_file

try:  # POSIX; elsewhere run directories are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: Recipe fields a resumed run may change: its budget and learning-rate schedule (the optimiser
#: state does not depend on them). Everything else must match the stored run.
RESUMABLE = ("iterations", "learning_rate", "decayed_learning_rate", "decay_at")
DEFAULT_CHECKPOINT_EVERY = 200
SNAPSHOT_NAME = "snapshot.safetensors"
LOCK_NAME = ".lock"


class TrainingDivergedError(RuntimeError):
    """The loss or the parameters became NaN or infinite; the last good checkpoint is kept."""


class RunDirectoryLockedError(RuntimeError):
    """Another process is training in the same run directory."""


@dataclasses.dataclass
class TrainResult:
    params: Any
    model_config: NCAConfig
    train_config: TrainConfig
    iterations: int  # iterations completed in total
    seconds: float  # wall time of the iterations run in this call
    final_loss: float | None  # loss of the last iteration (from the log when none ran in this call)
    out_dir: Path
    weights_path: Path
    sha256: str
    iterations_run: int = 0  # iterations run in this call (0: the run was already complete)


def learning_rate(train_config: TrainConfig, iteration: int) -> float:
    tc = train_config
    return tc.learning_rate if iteration < tc.decay_at else tc.decayed_learning_rate


def _run_record(model_config: NCAConfig, train_config: TrainConfig, target_name: str) -> dict[str, Any]:
    return {
        "model_config": model_config.to_dict(),
        "train_config": train_config.to_dict(),
        "target": target_name,
        **machine_record(),
    }


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    """A run's identity: its settings except those a resumed run may change (:data:`RESUMABLE`, the
    checkpoint interval), the lineage it records (a resumed run keeps its own) and the machine (a run may
    resume on another)."""
    record = {k: v for k, v in record.items() if k not in (lineage_.METADATA_KEY, "checkpoint_every", *MACHINE_KEYS)}
    return {**record, "train_config": {k: v for k, v in record["train_config"].items() if k not in RESUMABLE}}


def _recorded(out_dir: str | os.PathLike, key: str) -> Any:
    """One field of ``out_dir/run.json`` (None when there is no run, or the run does not record it)."""
    run_file = Path(out_dir) / "run.json"
    return json.loads(run_file.read_text()).get(key) if run_file.exists() else None


def _recorded_interval(out_dir: str | os.PathLike) -> int:
    """The checkpoint interval ``out_dir/run.json`` records (runs written before it was recorded: the default)."""
    stored = _recorded(out_dir, "checkpoint_every")
    return stored if isinstance(stored, int) and not isinstance(stored, bool) else DEFAULT_CHECKPOINT_EVERY


def run_lineage(out_dir: str | os.PathLike) -> lineage_.Lineage:
    """The runs before the one in ``out_dir``, as its ``run.json`` records them."""
    stored = _recorded(out_dir, lineage_.METADATA_KEY)
    return lineage_.loads(json.dumps(stored) if stored else None, str(Path(out_dir) / "run.json"))


def chain_of_run(out_dir: str | os.PathLike, iteration: int) -> lineage_.Lineage:
    """Every run that made the state of ``out_dir`` at ``iteration``: the runs before it, then itself."""
    return (*run_lineage(out_dir), run_segment(out_dir, iteration))


def lineage_metadata(out_dir: str | os.PathLike, iteration: int) -> dict[str, str]:
    """The metadata that records, in a snapshot of ``out_dir`` at ``iteration``, every run that made it."""
    return {lineage_.METADATA_KEY: lineage_.dumps(chain_of_run(out_dir, iteration))}


def start_lineage(path: str | os.PathLike) -> lineage_.Lineage:
    """The runs that made a snapshot or weights file: what a run started from it records before itself.

    A snapshot records them; a run's ``model.safetensors`` records none (the same weights are the same
    bytes), so they are read from the run folder it sits in; a zoo entry's weights file (``weights/NAME``,
    same name and sha256 as the registry's) has the lineage its registry record keeps; other files have none.
    """
    path = Path(path)
    metadata = read_metadata(path)
    if lineage_.METADATA_KEY in metadata:
        return lineage_.loads(metadata[lineage_.METADATA_KEY], str(path))
    iterations = metadata.get("iterations", "")
    if path.name == "model.safetensors" and (path.parent / "run.json").exists() and iterations.isdigit():
        return chain_of_run(path.parent, int(iterations))
    from nca_zoo import registry  # here: the registry is a user of training's records, not a dependency

    if path.stem in registry.list_models() and sha256_file(path) == (entry := registry.get_entry(path.stem)).sha256:
        return lineage_.of_entry(entry.name, entry.training, entry.experiment)
    return ()


def run_segment(out_dir: str | os.PathLike, iteration: int) -> lineage_.Segment:
    """This run's own segment up to ``iteration``, from its ``metrics.jsonl`` (every session of a resumed run)."""
    out_dir = Path(out_dir)
    record = json.loads((out_dir / "run.json").read_text())
    metrics = out_dir / "metrics.jsonl"
    logged = [r for r in _read_metrics(metrics) if int(r["iteration"]) <= iteration] if metrics.exists() else []
    start = int(logged[0]["iteration"]) - 1 if logged else iteration
    return lineage_.Segment(
        run=out_dir.name,
        experiment=record["train_config"]["experiment"],
        start=start,
        end=iteration,
        wall_time_s=round(sum(float(r.get("seconds", 0.0)) for r in logged), 1),
        learning_rate=float(logged[-1]["lr"]) if logged else 0.0,
        learning_rates=lineage_.rate_changes([(int(r["iteration"]) - 1, float(r["lr"])) for r in logged]),
        settings=tuple(sorted(departures(TrainConfig.from_dict(record["train_config"])).items())),
        hardware=record.get("hardware", ""),
    )


def _check_dir(out_dir: Path, record: dict[str, Any], resume: bool) -> None:
    """Refuse to overwrite a run without ``resume``, or to resume one with other settings."""
    run_file = out_dir / "run.json"
    if not run_file.exists():
        return
    if not resume:
        raise FileExistsError(
            f"{out_dir} already holds a training run; pass resume=True (CLI: --resume) to continue it "
            "or choose another output directory"
        )
    stored = json.loads(run_file.read_text())
    stored_config = stored.get("train_config", {})
    stored = {**stored, "train_config": {**TrainConfig().to_dict(), **stored_config}}  # fields added since
    if _identity(stored) != _identity(record):
        raise ValueError(
            f"{out_dir} holds a run with different settings; resume it with the same settings (only "
            f"{', '.join(RESUMABLE)} may change) or start a new directory.\n stored: {stored}\n given:  {record}"
        )


@contextlib.contextmanager
def lock_run_dir(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on ``out_dir`` (the file ``out_dir/.lock``, which records our pid).

    A second process fails at once with :class:`RunDirectoryLockedError` naming the holder's pid.
    The operating system releases the lock when the holder exits, so a killed run never blocks the
    next one; the file itself stays.
    """
    path = Path(out_dir) / LOCK_NAME
    if fcntl is None:  # pragma: no cover
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise RunDirectoryLockedError(
                f"{out_dir} is in use by another training process (pid {holder}); wait for it to finish or "
                f"stop it, then resume (the lock is released when that process exits)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def is_training(out_dir: str | os.PathLike) -> bool:
    """Whether a process holds ``out_dir``'s training lock now (for watchers: is the run still going?)."""
    path = Path(out_dir) / LOCK_NAME
    if fcntl is None or not path.exists():  # pragma: no cover - no locks here, or never trained
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's shared lock at once
    return False


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl``. A torn last line (a run killed while writing it) is dropped;
    an unreadable line elsewhere is an error."""
    lines = [(n, line) for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if line.strip()]
    records = []
    for i, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
            int(record["iteration"])
        except (ValueError, KeyError, TypeError) as err:
            if i == len(lines) - 1:
                break  # torn by a kill mid-write: this iteration is recomputed after the checkpoint
            raise ValueError(
                f"{path} line {number} is not a metrics record ({line[:80]!r}): only a torn last line is dropped "
                "automatically; fix or delete that line, then resume"
            ) from err
        records.append(record)
    return records


def _truncate_metrics(path: Path, iteration: int) -> list[dict[str, Any]]:
    """Drop log lines written after the checkpoint we resume from (they will be recomputed); returns
    the records kept."""
    if not path.exists():
        return []
    kept = [record for record in _read_metrics(path) if int(record["iteration"]) <= iteration]
    atomic_write_bytes(path, "".join(json.dumps(record) + "\n" for record in kept).encode())
    return kept


def train(
    target: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    model_config: NCAConfig = NCAConfig(),
    train_config: TrainConfig = TrainConfig(),
    target_name: str = "custom",
    init_params: Any = None,
    start_state: TrainState | None = None,
    more: int | None = None,
    resume: bool = False,
    checkpoint_every: int | None = None,
    sample_every: int = 500,
    progress: bool = True,
    on_iteration: Callable[[int, dict[str, float]], None] | None = None,
    lineage: Sequence[lineage_.Segment] = (),
) -> TrainResult:
    """Train an NCA to grow ``target`` ((G,G,4) premultiplied RGBA, G = train_config.grid_size).

    ``train_config.iterations`` is the run's total budget: a run resumed at iteration 20 with
    ``iterations=30`` trains 10 more. ``more=N`` instead trains N iterations past wherever the run
    (or ``start_state``) is, and records that total.

    With ``resume=True`` the run continues from the newest checkpoint in ``out_dir`` and ends in
    the same state as an uninterrupted run; the learning rates and the budget may differ from the
    stored run (:data:`RESUMABLE`), nothing else. ``init_params`` starts from given weights
    (fine-tuning); ``start_state`` continues a train state (e.g. a
    :func:`~nca_zoo.train.snapshot.load_snapshot` snapshot's: params, optimiser, key, iteration).
    Both are ignored when resuming from a checkpoint. ``lineage`` is the runs before this one (those that
    made ``init_params`` / ``start_state``: :mod:`nca_zoo.train.lineage`); it is kept in ``run.json`` and,
    with this run's own segment, in every snapshot (a resumed run keeps its stored one). The final weights
    record none, so that the same weights are the same bytes: :func:`start_lineage` reads it from the folder.

    Every ``checkpoint_every`` iterations (and at the end; default: a resumed run's recorded interval,
    else :data:`DEFAULT_CHECKPOINT_EVERY`) the state is checkpointed and
    ``snapshot.safetensors`` rewritten; a copy is kept as ``snapshots/<iteration>.safetensors`` (~100 KB
    each), because a pool-trained run's quality swings between checkpoints and the best may not be the
    last. A loss or update that is not finite stops the run with :class:`TrainingDivergedError`;
    non-finite states are never checkpointed. The run directory is locked while training
    (:func:`lock_run_dir`).
    """
    tc = train_config
    if checkpoint_every is None:
        checkpoint_every = _recorded_interval(out_dir) if resume else DEFAULT_CHECKPOINT_EVERY
    checkpoint_every = render.check_count("checkpoint_every", checkpoint_every)
    sample_every = render.check_count("sample_every", sample_every, 0)
    if more is not None:
        more = render.check_count("more", more)
    if init_params is not None and start_state is not None:
        raise ValueError("pass init_params (weights to fine-tune) or start_state (a state to continue), not both")
    target = jnp.asarray(target, jnp.float32)
    if target.shape != (tc.grid_size, tc.grid_size, 4):
        raise ValueError(
            f"target has shape {tuple(target.shape)}, but this recipe trains on a "
            f"{tc.grid_size}×{tc.grid_size} grid: expected ({tc.grid_size}, {tc.grid_size}, 4)"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with lock_run_dir(out_dir):
        _check_dir(out_dir, _run_record(model_config, tc, target_name), resume)
        checkpoints = Checkpoints(out_dir / "checkpoints")
        try:
            return _train_locked(
                target,
                out_dir,
                checkpoints,
                model_config=model_config,
                train_config=tc,
                target_name=target_name,
                init_params=init_params,
                start_state=start_state,
                more=more,
                resume=resume,
                checkpoint_every=checkpoint_every,
                sample_every=sample_every,
                progress=progress,
                on_iteration=on_iteration,
                lineage=tuple(lineage),
            )
        finally:
            checkpoints.close()


def _train_locked(
    target: jax.Array,
    out_dir: Path,
    checkpoints: Checkpoints,
    *,
    model_config: NCAConfig,
    train_config: TrainConfig,
    target_name: str,
    init_params: Any,
    start_state: TrainState | None,
    more: int | None,
    resume: bool,
    checkpoint_every: int,
    sample_every: int,
    progress: bool,
    on_iteration: Callable[[int, dict[str, float]], None] | None,
    lineage: lineage_.Lineage,
) -> TrainResult:
    tc = train_config
    metrics_path = out_dir / "metrics.jsonl"
    state = start_state if start_state is not None else init_state(model_config, tc, init_params)
    resumed = resume and checkpoints.latest() is not None
    if resumed:
        state = checkpoints.restore(state)
    start = int(state.iteration)
    if more is not None:
        tc = dataclasses.replace(tc, iterations=start + more)
    elif start > tc.iterations:
        where = f"{out_dir} has already run" if resumed else "the start state has already run"
        raise ValueError(
            f"{where} {start} iterations, more than the {tc.iterations} asked for: iterations (CLI: --iters) is the "
            f"run's total budget, not a number of further iterations. To train N more, pass iterations={start}+N "
            f"(CLI: --iters {start}+N, or --more N)"
        )
    if resume and (out_dir / "run.json").exists():
        lineage = run_lineage(out_dir)
    record = {
        **_run_record(model_config, tc, target_name),
        "checkpoint_every": checkpoint_every,
        lineage_.METADATA_KEY: [s.to_dict() for s in lineage],
    }
    atomic_write_bytes(out_dir / "run.json", json.dumps(record, indent=2).encode())
    if not resumed and metrics_path.exists():
        metrics_path.unlink()
    logged = _truncate_metrics(metrics_path, start)

    last_checkpoint = checkpoints.latest() if resumed else None

    bar = tqdm(total=tc.iterations, initial=start, disable=not progress, desc=f"train {target_name}", unit="it")
    run_seconds = 0.0
    loss = next((float(r["loss"]) for r in reversed(logged) if int(r["iteration"]) == start and "loss" in r), None)
    try:
        with metrics_path.open("a") as log:
            while int(state.iteration) < tc.iterations:
                t0 = time.perf_counter()
                state, out = train_step(state, target, model_config=model_config, train_config=tc)
                loss = float(out["loss"])
                seconds = time.perf_counter() - t0
                iteration = int(state.iteration)
                if not math.isfinite(loss) or not is_finite(state):
                    what = (
                        f"loss is {loss}"
                        if not math.isfinite(loss)
                        else f"the update made the parameters non-finite (loss {loss:.5g} before it)"
                    )
                    where = (
                        f"the last good checkpoint is iteration {last_checkpoint} in {checkpoints.directory}"
                        if last_checkpoint is not None
                        else "no checkpoint was written yet"
                    )
                    raise TrainingDivergedError(
                        f"training diverged: {what} at iteration {iteration}; {where}. Resume with a lower "
                        f"learning rate (now {learning_rate(tc, iteration - 1):g}; CLI: --resume --lr LR "
                        "--decayed-lr LR), or check the target."
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
                    small = state._replace(pool=state.pool[:0])  # the snapshot keeps no pool: don't copy it
                    snapshot = save_snapshot(
                        out_dir / SNAPSHOT_NAME,
                        small,
                        model_config=model_config,
                        train_config=tc,
                        target=target_name,
                        extra_metadata=lineage_metadata(out_dir, iteration),
                    )
                    atomic_write_bytes(kept_snapshot(out_dir, iteration), snapshot.read_bytes())
    finally:
        bar.close()

    params = jax.tree.map(np.asarray, state.params)
    weights_path = out_dir / "model.safetensors"
    provenance = weights_provenance(target_name, tc, int(state.iteration), "nca-zoo train")
    sha = save_weights(weights_path, params, model_config, provenance)
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
        iterations_run=int(state.iteration) - start,
    )


def resume_state(out_dir: str | os.PathLike, model_config: NCAConfig, train_config: TrainConfig) -> TrainState:
    """The newest checkpointed train state of a run directory (for inspection and tests)."""
    checkpoints = Checkpoints(Path(out_dir) / "checkpoints")
    try:
        return checkpoints.restore(init_state(model_config, train_config))
    finally:
        checkpoints.close()
