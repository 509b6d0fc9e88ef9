"""A model's Hub repo folder, one per zoo entry (like timm): file names, ``config.json``, ``target.png``.

A repo folder holds:

- ``config.json``: ``architecture``, ``nca_zoo_version``, ``model_args`` (the ``NCAConfig``) and
  ``pretrained_cfg`` (the registry entry's other fields and the weights' sha256; not the revision,
  which a commit cannot know about itself);
- ``model.safetensors``: the weights, byte-identical to the bundled file (one sha256 verifies both);
- ``README.md``: the model card (:mod:`nca_zoo.hub.card`);
- ``target.png``: the padded training target as straight-alpha RGBA; it reloads to exactly the
  premultiplied floats it was saved from, since every target starts as an 8-bit image;
- ``growth.gif`` and, for regenerating entries, ``regeneration.gif``.

Everything read here may come from a stranger's repo: :func:`parse_config` and :func:`read_target_png`
check types, values and sizes and raise a ValueError naming the file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from nca_zoo.config import NCAConfig
from nca_zoo.registry import ZooEntry
from nca_zoo.targets import MAX_GRID_SIZE, MIN_TARGET_SIZE, PADDING, TARGET_SIZE, grid_target, open_image, resolve_name
from nca_zoo.version import __version__

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
TARGET_NAME = "target.png"
GROWTH_GIF = "growth.gif"
REGENERATION_GIF = "regeneration.gif"
REPO_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, TARGET_NAME, GROWTH_GIF, REGENERATION_GIF)
ARCHITECTURE = "growing-nca"
MAX_CONFIG_BYTES = 1 << 20  # a config.json is a few kB


# ---- config.json -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RepoConfig:
    """A parsed, validated ``config.json``."""

    model_args: NCAConfig
    pretrained: dict[str, Any]  # the entry's fields and the weights' sha256; may be empty

    @property
    def sha256(self) -> str | None:
        return self.pretrained.get("sha256")


def pretrained_cfg(entry: ZooEntry | None, sha256: str) -> dict[str, Any]:
    """The entry's fields for ``config.json`` (its config is ``model_args``; its revision is not known yet)."""
    data = entry.to_dict() if entry is not None else {}
    data.pop("config", None)
    data.pop("revision", None)
    data["sha256"] = sha256
    return data


def config_dict(config: NCAConfig, entry: ZooEntry | None, sha256: str) -> dict[str, Any]:
    """The contents of ``config.json`` for a model of architecture ``config`` described by ``entry``."""
    return {
        "architecture": ARCHITECTURE,
        "nca_zoo_version": __version__,
        "model_args": config.to_dict(),
        "pretrained_cfg": pretrained_cfg(entry, sha256),
    }


def read_json(path: str | os.PathLike, *, what: str, max_bytes: int = MAX_CONFIG_BYTES) -> Any:
    """The JSON in ``path``; a ValueError naming the file if it is too big, not UTF-8 or not JSON."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{path}: {size:,} bytes is too big for {what} (at most {max_bytes:,})")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: {what} is not valid JSON ({err}); fix or re-create the file") from err


def parse_config(path: str | os.PathLike) -> RepoConfig:
    """Read and check a repo's ``config.json``; every problem is a ValueError naming the file."""
    data = read_json(path, what="config.json")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: config.json must hold a JSON object, not a {type(data).__name__}")
    if data.get("architecture") != ARCHITECTURE or "model_args" not in data:
        raise ValueError(
            f"{path} describes architecture {data.get('architecture')!r}, not an nca-zoo {ARCHITECTURE!r} model "
            '(config.json needs "architecture": "growing-nca" and "model_args")'
        )
    try:
        model_args = NCAConfig.from_dict(data["model_args"])
    except ValueError as err:
        raise ValueError(f"{path}: model_args: {err}") from err
    pretrained = data.get("pretrained_cfg") or {}
    if not isinstance(pretrained, dict):
        raise ValueError(f"{path}: pretrained_cfg must be a JSON object, not a {type(pretrained).__name__}")
    for key, kind in (("recipe", dict), ("training", dict), ("metrics", dict)):
        if key in pretrained and not isinstance(pretrained[key], kind):
            raise ValueError(f"{path}: pretrained_cfg.{key} must be a JSON object, not {pretrained[key]!r:.60}")
    sha = pretrained.get("sha256")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        raise ValueError(f"{path}: pretrained_cfg.sha256 must be 64 lowercase hex digits, got {sha!r:.80}")
    return RepoConfig(model_args, pretrained)


def entry_from_config(
    config: RepoConfig, *, hub_repo: str | None, revision: str | None, source: str | os.PathLike
) -> ZooEntry | None:
    """A ZooEntry describing where these weights came from, or None for a model saved without one."""
    fields = {f.name: f for f in dataclasses.fields(ZooEntry)}
    data = {k: v for k, v in config.pretrained.items() if k in fields}
    if not {"name", "target", "experiment", "weights_file", "sha256"} <= set(data):
        return None
    for key in ("name", "target", "experiment", "weights_file", "hub_repo", "license", "description"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{source}: pretrained_cfg.{key} must be a string, got {data[key]!r:.60}")
    data["hub_repo"] = hub_repo or data.get("hub_repo") or ""
    try:
        return ZooEntry(**{**data, "config": config.model_args, "revision": revision})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: pretrained_cfg does not describe a zoo entry ({err})") from err


# ---- target.png ------------------------------------------------------------------------------------
def target_png_bytes(target: np.ndarray) -> bytes:
    """Premultiplied float RGBA (H,W,4) → straight-alpha 8-bit PNG."""
    target = np.asarray(target, np.float32)
    alpha = target[..., 3:4]
    rgb = np.where(alpha > 0, target[..., :3] / np.maximum(alpha, np.float32(1e-12)), 0.0)
    rgba = np.round(np.clip(np.concatenate([rgb, alpha], axis=-1), 0.0, 1.0) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def read_target_png(source: str | os.PathLike | IO[bytes], *, name: str | None = None) -> np.ndarray:
    """``target.png`` → premultiplied float32 RGBA, computed exactly as :mod:`nca_zoo.targets` does.

    The image must be a square grid of at most :data:`nca_zoo.targets.MAX_GRID_SIZE` cells a side;
    the size is checked before any pixel is decoded.
    """
    name = name or str(source)
    with open_image(source, name=name, max_pixels=MAX_GRID_SIZE**2, min_side=MIN_TARGET_SIZE) as img:
        if img.width != img.height:
            raise ValueError(f"{name} is {img.width}×{img.height} pixels; a target grid is square")
        rgba = np.asarray(img.convert("RGBA"), np.float32) / 255.0
    rgba[..., :3] *= rgba[..., 3:]
    return rgba


def fallback_target(pretrained: dict[str, Any], *, source: str | os.PathLike) -> np.ndarray | None:
    """A zoo target re-rendered on the recipe's grid, for repos without ``target.png`` (None if the
    target is not a zoo target). A recipe whose grid is out of bounds is a ValueError naming ``source``."""
    name = pretrained.get("target")
    if not isinstance(name, str) or resolve_name(name) is None:
        return None
    recipe = pretrained.get("recipe") or {}
    try:
        return grid_target(name, recipe.get("target_size", TARGET_SIZE), recipe.get("padding", PADDING))
    except ValueError as err:
        raise ValueError(f"{source}: recipe: {err}") from err


def repo_files(folder: str | os.PathLike) -> list[str]:
    """The repo files present in ``folder`` (never anything else there, e.g. a training run)."""
    return [name for name in REPO_FILES if (Path(folder) / name).is_file()]
