"""Where a registry entry's weights come from: the bundled file, else the local Hugging Face cache,
else a download at the registry's pinned commit; every source is checked against the registry's
sha256 (the bundled file and the repo's ``model.safetensors`` are the same bytes, so one hash
verifies both). Deciding the source is apart from building the model (timm's ``_builder.py``).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

from nca_zoo.hub.errors import HubError
from nca_zoo.hub.files import download, evict_cached, verify
from nca_zoo.hub.layout import WEIGHTS_NAME
from nca_zoo.registry import ZooEntry
from nca_zoo.weights import sha256_file


def bundled_weights(entry: ZooEntry) -> Path | None:
    """The weights file the package ships for ``entry``, or None."""
    path = Path(str(importlib.resources.files("nca_zoo.bundled") / entry.weights_file))
    return path if path.is_file() else None


def cached_weights(entry: ZooEntry) -> Path | None:
    """``entry``'s weights in the local Hugging Face cache at its pinned commit (unverified), or None."""
    if not (entry.revision and entry.hub_repo):
        return None
    cached = try_to_load_from_cache(entry.hub_repo, WEIGHTS_NAME, revision=entry.revision)
    return Path(cached) if isinstance(cached, str) else None


def local_copies(entry: ZooEntry) -> list[Path]:
    """Local copies of ``entry``'s published weights file: bundled, and in the HF cache (unverified)."""
    return [path for path in (bundled_weights(entry), cached_weights(entry)) if path is not None]


def resolve_weights(entry: ZooEntry, *, local_files_only: bool = False) -> Path:
    """A verified local path to ``entry``'s weights: bundled, else HF cache, else downloaded (pinned)."""
    if (path := bundled_weights(entry)) is not None:
        return verify(path, entry.sha256, what=f"bundled weights of {entry.name}")
    if entry.revision is None:
        raise HubError(
            f"{entry.name} has no bundled weights and is not yet published on the Hub ({entry.hub_repo}, "
            "revision None). Reinstall nca-zoo from a wheel that bundles it."
        )
    if (cached := cached_weights(entry)) is not None:
        if sha256_file(cached) == entry.sha256:
            return cached
        evict_cached(cached)  # a corrupt cached copy is never used: fetch a fresh one below
    fix = (
        f"or fetch it with `hf download {entry.hub_repo} {WEIGHTS_NAME} --revision {entry.revision}`, "
        "or install an nca-zoo wheel that bundles it"
    )
    path = download(entry.hub_repo, WEIGHTS_NAME, revision=entry.revision, local_files_only=local_files_only, fix=fix)
    return verify(path, entry.sha256, what=f"downloaded weights of {entry.name}", evict=True)
