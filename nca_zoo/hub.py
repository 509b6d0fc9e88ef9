"""Where a registry entry's weights come from: bundled file → local HF cache → Hub download.

Every path is verified against the registry's sha256 before use (the bundled file and the Hub
repo's ``model.safetensors`` are the same bytes). Downloads go through ``huggingface_hub`` only,
pinned to the registry's revision; tokens come from the environment or ``huggingface_hub``'s own
login and are never logged.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from nca_zoo.registry import ZooEntry
from nca_zoo.weights import WeightsError, sha256_file

WEIGHTS_FILENAME = "model.safetensors"


def bundled_weights(entry: ZooEntry) -> Path | None:
    path = Path(str(importlib.resources.files("nca_zoo.bundled") / entry.weights_file))
    return path if path.is_file() else None


def _verified(path: Path, entry: ZooEntry, where: str) -> Path:
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise WeightsError(
            f"{where} weights of {entry.name} at {path} fail the sha256 check (expected {entry.sha256}, "
            f"got {actual}): the file is corrupt or was tampered with. Delete it and reinstall/download."
        )
    return path


def resolve_weights(entry: ZooEntry, *, local_files_only: bool = False) -> Path:
    """A verified local path to ``entry``'s weights: bundled, else HF cache, else downloaded."""
    if (path := bundled_weights(entry)) is not None:
        return _verified(path, entry, "bundled")
    if entry.revision is None:
        raise FileNotFoundError(
            f"{entry.name} has no bundled weights and is not yet published on the Hub ({entry.hub_repo}, "
            "revision None). Reinstall nca-zoo from a wheel that bundles it."
        )
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(entry.hub_repo, WEIGHTS_FILENAME, revision=entry.revision)
    if isinstance(cached, str):
        return _verified(Path(cached), entry, "cached")
    path = hf_hub_download(entry.hub_repo, WEIGHTS_FILENAME, revision=entry.revision, local_files_only=local_files_only)
    return _verified(Path(path), entry, "downloaded")
