"""Parameters ⇄ safetensors files: "/"-joined Flax paths as keys, config + format in metadata.

Only safetensors is ever read (no pickle). Writes are atomic (temp file + rename) and every read
can be checked against a known sha256 before anything is parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load

from nca_zoo.config import NCAConfig
from nca_zoo.model import init_params
from nca_zoo.transaction import stage

FORMAT = "nca-zoo"
FORMAT_VERSION = "1"
SNAPSHOT_FORMAT = "nca-zoo-train-snapshot"  # a training snapshot (nca_zoo.train.snapshot), not weights
MAX_FILE_BYTES = 512 << 20  # the largest NCAConfig's parameters take ~140 MB


class WeightsError(ValueError):
    """A weights file that cannot be used: corrupt, tampered with, or not matching its config."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    os.replace(stage(Path(path), data), path)


def flatten_params(params: dict[str, Any]) -> dict[str, np.ndarray]:
    """``{"dense_0": {"kernel": a}}`` → ``{"dense_0/kernel": a}`` (float32 NumPy)."""
    return {key: np.asarray(leaf, np.float32) for key, leaf in sorted(_flat_leaves(params).items())}


def unflatten_params(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in flat.items():
        node = params
        *parents, leaf = key.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return params


def expected_shapes(config: NCAConfig) -> dict[str, tuple[int, ...]]:
    """Parameter shapes the architecture ``config`` needs, keyed like the safetensors file."""
    shapes = jax.eval_shape(lambda: init_params(config, jax.random.PRNGKey(0)))
    return {k: tuple(v.shape) for k, v in _flat_leaves(shapes).items()}


def _flat_leaves(tree: Any) -> dict[str, Any]:
    return {
        "/".join(str(getattr(p, "key", p)) for p in path): leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
    }


def check_params(flat: dict[str, np.ndarray], config: NCAConfig, source: str) -> None:
    """Raise a WeightsError naming the key if ``flat`` does not fit the architecture ``config``."""
    want = expected_shapes(config)
    missing = sorted(set(want) - set(flat))
    extra = sorted(set(flat) - set(want))
    if missing or extra:
        raise WeightsError(f"{source}: keys do not match {config}: missing {missing}, unexpected {extra}")
    for key, shape in want.items():
        if tuple(flat[key].shape) != shape:
            raise WeightsError(
                f"{source}: '{key}' has shape {tuple(flat[key].shape)} but {config} needs {shape}; "
                "the weights were made for another architecture"
            )
        if flat[key].dtype != np.float32:
            raise WeightsError(
                f"{source}: '{key}' holds {flat[key].dtype} values, but nca-zoo weights are float32 "
                "(safetensors dtype F32); the file was written by something else or relabelled. Convert the "
                "parameters to float32 and save them with nca_zoo.weights.save_weights"
            )
        if not np.all(np.isfinite(flat[key])):
            raise WeightsError(f"{source}: '{key}' contains NaN or infinite values")


def canonical_safetensors(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """Safetensors bytes with a canonical header (sorted keys, compact JSON, tensors in name order).

    The reference writer orders metadata keys at random, so the same weights would get a new
    sha256 on every save; this writer is byte-deterministic, and any safetensors reader reads it.
    """
    header: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))}
    chunks, offset = [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        chunks.append(array.tobytes())
        offset += array.nbytes
    encoded = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    return len(encoded).to_bytes(8, "little") + encoded + b"".join(chunks)


def to_bytes(params: dict[str, Any], config: NCAConfig, extra_metadata: dict[str, str] | None = None) -> bytes:
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": json.dumps(config.to_dict())}
    metadata.update(extra_metadata or {})
    flat = flatten_params(params)
    check_params(flat, config, "params to save")
    return canonical_safetensors(flat, metadata)


def save_weights(
    path: str | os.PathLike,
    params: dict[str, Any],
    config: NCAConfig,
    extra_metadata: dict[str, str] | None = None,
) -> str:
    """Write ``params`` atomically as safetensors; returns the file's sha256."""
    data = to_bytes(params, config, extra_metadata)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def from_bytes(
    data: bytes, *, source: str, config: NCAConfig | None = None, sha256: str | None = None
) -> tuple[dict[str, Any], NCAConfig]:
    if sha256 is not None and (actual := sha256_bytes(data)) != sha256:
        raise WeightsError(
            f"{source}: sha256 mismatch (expected {sha256}, got {actual}): the file is corrupt, truncated "
            "or was tampered with. Delete it and download it again."
        )
    try:
        flat = st_load(data)
        metadata = _read_metadata(data)
    except (SafetensorError, ValueError, json.JSONDecodeError) as err:
        raise WeightsError(f"{source}: not a readable safetensors file ({err}); it may be truncated or corrupt") from (
            err
        )
    file_config = _metadata_config(metadata.get("config"), source)
    if config is not None and file_config is not None and config != file_config:
        diffs = {k: (v, getattr(file_config, k)) for k, v in config.to_dict().items() if getattr(file_config, k) != v}
        raise WeightsError(f"{source}: config mismatch, expected vs stored: {diffs}")
    config = config or file_config
    if config is None:
        raise WeightsError(f"{source}: no config in the file's metadata; pass config= explicitly")
    check_params(flat, config, source)
    return unflatten_params(flat), config


def load_weights(
    path: str | os.PathLike, *, config: NCAConfig | None = None, sha256: str | None = None
) -> tuple[dict[str, Any], NCAConfig]:
    """Read a weights file → ``(params, config)``; verifies sha256 first when it is known."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if (size := path.stat().st_size) > MAX_FILE_BYTES:
        raise WeightsError(
            f"{path} is {size:,} bytes, more than any nca-zoo model takes ({MAX_FILE_BYTES:,}); not used"
        )
    return from_bytes(path.read_bytes(), source=str(path), config=config, sha256=sha256)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """A weights file's string metadata (provenance, target, recipe); {} when it records none."""
    with open(path, "rb") as file:
        head = file.read(8)
        if len(head) < 8:
            raise WeightsError(f"{path}: shorter than the safetensors header; it may be truncated or corrupt")
        size = int.from_bytes(head, "little")
        if size > MAX_FILE_BYTES:
            raise WeightsError(f"{path}: safetensors header of {size:,} bytes; not a weights file nca-zoo wrote")
        try:
            return _read_metadata(head + file.read(size))
        except (ValueError, json.JSONDecodeError) as err:
            raise WeightsError(f"{path}: not a readable safetensors header ({err})") from err


def _read_metadata(data: bytes) -> dict[str, str]:
    if len(data) < 8:
        raise ValueError("file shorter than the safetensors header")
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        return {}
    return {key: value for key, value in metadata.items() if isinstance(value, str)}


def _metadata_config(stored: str | None, source: str) -> NCAConfig | None:
    """The NCAConfig a file's metadata records (JSON text), None when it records none."""
    if not stored:
        return None
    try:
        return NCAConfig.from_dict(json.loads(stored))
    except ValueError as err:  # json.JSONDecodeError is a ValueError too
        raise WeightsError(
            f"{source}: the 'config' in the file's metadata is not a valid NCAConfig ({err}); the file was not "
            "written by nca-zoo or was edited. Re-save the weights with nca_zoo.weights.save_weights"
        ) from err
