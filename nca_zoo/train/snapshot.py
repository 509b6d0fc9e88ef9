"""A small resumable training state: everything but the sample pool, in one safetensors file.

Orbax checkpoints hold the whole train state, pool included (1024 × 72 × 72 × 16 floats, ~340 MB),
which is too big to keep in a git repository. A snapshot keeps params, optimizer state, RNG key
and iteration (~100 KB) plus the run's configs, so an unfinished run can travel between sessions
and machines; the pool restarts from seeds and refills from the trained parameters within a few
hundred iterations. Resuming from a snapshot therefore continues the run (same parameters,
optimizer moments, learning-rate schedule and iteration count) but is not bit-identical to an
uninterrupted run, unlike resuming from an orbax checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from nca_zoo.config import NCAConfig
from nca_zoo.model import init_params
from nca_zoo.train.recipe import TrainConfig
from nca_zoo.train.step import TrainState, init_state
from nca_zoo.weights import MAX_FILE_BYTES, SNAPSHOT_FORMAT, atomic_write_bytes

FORMAT = SNAPSHOT_FORMAT
FORMAT_VERSION = "1"
SNAPSHOTS_DIR = "snapshots"  # a run folder's kept snapshots, by iteration: pool-trained metrics swing between them


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: the configs of its run and its train state (pool = fresh seeds)."""

    model_config: NCAConfig
    train_config: TrainConfig
    target: str
    state: TrainState
    metadata: dict[str, str]

    @property
    def iteration(self) -> int:
        return int(self.state.iteration)


def _leaves(state: TrainState) -> dict[str, np.ndarray]:
    """The snapshot's arrays: params and optimizer leaves in tree order, key and iteration."""
    tensors: dict[str, np.ndarray] = {}
    for name in ("params", "opt_state"):
        for i, leaf in enumerate(jax.tree.leaves(getattr(state, name))):
            tensors[f"{name}/{i:04d}"] = np.asarray(leaf)
    tensors["key"] = np.asarray(jax.random.key_data(state.key) if _typed_key(state.key) else state.key)
    tensors["iteration"] = np.asarray(state.iteration, np.int64)
    return tensors


def _typed_key(key: Any) -> bool:
    return jax.dtypes.issubdtype(getattr(key, "dtype", np.float32), jax.dtypes.prng_key)


def _encode(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """Safetensors bytes, each leaf in its own dtype (Adam's count and the key are integers)."""
    return st_save(dict(sorted(tensors.items())), metadata=dict(sorted(metadata.items())))


def save_snapshot(
    path: str | os.PathLike,
    state: TrainState,
    *,
    model_config: NCAConfig,
    train_config: TrainConfig,
    target: str,
    extra_metadata: dict[str, str] | None = None,
) -> Path:
    """Write the small resumable state of a run atomically; returns the path."""
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": json.dumps(model_config.to_dict()),
        "train_config": json.dumps(train_config.to_dict()),
        "target": target,
        "iteration": str(int(state.iteration)),
        **(extra_metadata or {}),
    }
    path = Path(path)
    atomic_write_bytes(path, _encode(_leaves(jax.device_get(state._replace(pool=None))), metadata))  # no pool
    return path


def kept_snapshot(run_dir: str | os.PathLike, iteration: int) -> Path:
    """Where a run folder keeps its snapshot of ``iteration`` (``snapshot.safetensors`` is only the newest),
    so any of them can be evaluated (``nca-zoo eval FILE``) and registered (``register_entry.py --snapshot``)."""
    return Path(run_dir) / SNAPSHOTS_DIR / f"{iteration:06d}.safetensors"


def is_snapshot(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a snapshot file (by its metadata), without loading its arrays."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 1 << 20:
                return False
            header = json.loads(f.read(n))
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and (header.get("__metadata__") or {}).get("format") == FORMAT


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str], NCAConfig, TrainConfig, str]:
    """A snapshot file's tensors, metadata, model config, stored recipe and target (validated)."""
    if not path.is_file():
        raise FileNotFoundError(f"snapshot not found: {path}")
    if (size := path.stat().st_size) > MAX_FILE_BYTES:  # params + two Adam moments of the largest config fit
        raise ValueError(f"{path} is {size:,} bytes, more than any nca-zoo training snapshot takes; not used")
    data = path.read_bytes()
    try:
        tensors = st_load(data)
        n = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
        if metadata.get("format") != FORMAT:
            raise ValueError(f"format is {metadata.get('format')!r}, not {FORMAT!r}")
        model_config = NCAConfig.from_dict(json.loads(metadata["model_config"]))
        stored_recipe = TrainConfig.from_dict(json.loads(metadata["train_config"]))
        target = metadata["target"]
        int(tensors["iteration"])
        if not isinstance(target, str):
            raise ValueError(f"target is {target!r:.60}, not a name")
    except (SafetensorError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a readable nca-zoo training snapshot ({err})") from err
    return tensors, metadata, model_config, stored_recipe, target


def _restore(path: Path, tensors: dict[str, np.ndarray], name: str, like: Any) -> Any:
    """The tree ``name`` (params / opt_state) shaped like ``like``, from the snapshot's leaves."""
    leaves, treedef = jax.tree.flatten(like)
    stored = [tensors.get(f"{name}/{i:04d}") for i in range(len(leaves))]
    for i, (want, got) in enumerate(zip(leaves, stored, strict=True)):
        if got is None or got.shape != want.shape or got.dtype != np.asarray(want).dtype:
            raise ValueError(
                f"{path}: {name} leaf {i} is {None if got is None else (got.shape, got.dtype)}, "
                f"expected {(want.shape, np.asarray(want).dtype)}: the snapshot was made for another recipe"
            )
    return jax.tree.unflatten(treedef, [jax.numpy.asarray(a) for a in stored])


@dataclasses.dataclass(frozen=True)
class SnapshotModel:
    """Only the model of a snapshot: its params (NumPy), configs, target and iteration."""

    params: dict[str, Any]
    model_config: NCAConfig
    train_config: TrainConfig
    target: str
    iteration: int


def snapshot_model(path: str | os.PathLike) -> SnapshotModel:
    """The params of a snapshot, cheaply (no optimiser state, no pool), so a snapshot can be evaluated,
    grown or registered like a weights file while its run goes on."""
    path = Path(path)
    tensors, _, model_config, train_config, target = _read(path)
    like = init_params(model_config, jax.random.PRNGKey(0))
    params = jax.tree.map(np.asarray, _restore(path, tensors, "params", like))
    return SnapshotModel(params, model_config, train_config, target, int(tensors["iteration"]))


def average_snapshots(paths: Sequence[str | os.PathLike]) -> SnapshotModel:
    """The mean of several snapshots' params (stochastic weight averaging, taken after the fact).

    A pool-trained NCA's persistence swings up to 10× between snapshots 100 iterations apart, while
    the mean of a stretch of them persists like the best of them and keeps their growth and healing
    (training/README.md, session 19). The snapshots must come from runs of one target, experiment and
    architecture; the result carries the newest one's configs and iteration.
    """
    if not paths:
        raise ValueError("average_snapshots needs at least one snapshot")
    models = sorted((snapshot_model(path) for path in paths), key=lambda m: m.iteration)
    kinds = {(m.target, m.train_config.experiment, m.model_config) for m in models}
    if len(kinds) > 1:
        raise ValueError(f"snapshots of different targets, experiments or architectures cannot be averaged: {kinds}")
    mean = jax.tree.map(lambda *leaves: np.mean(np.stack(leaves), axis=0), *(m.params for m in models))
    return dataclasses.replace(models[-1], params=mean)


def load_snapshot(path: str | os.PathLike, *, train_config: TrainConfig | None = None) -> Snapshot:
    """Read a snapshot into a train state (pool reset to seeds).

    ``train_config`` overrides the stored recipe (e.g. a longer budget or a new learning rate);
    it must keep the shapes the optimizer state was made for.
    """
    path = Path(path)
    tensors, metadata, model_config, stored_recipe, target = _read(path)
    train_config = train_config or stored_recipe
    like = init_state(model_config, train_config)
    restored = {name: _restore(path, tensors, name, getattr(like, name)) for name in ("params", "opt_state")}
    key = jax.numpy.asarray(tensors["key"])
    if _typed_key(like.key):
        key = jax.random.wrap_key_data(key)
    state = like._replace(
        **restored, key=key, iteration=jax.numpy.asarray(int(tensors["iteration"]), like.iteration.dtype)
    )
    return Snapshot(model_config, train_config, target, state, metadata)
