"""One Hub model repo per zoo entry (like timm), written and read with the ``ModelHubMixin`` contract.

A repo folder holds:

- ``config.json``: ``architecture``, ``nca_zoo_version``, ``model_args`` (the ``NCAConfig``) and
  ``pretrained_cfg`` (the registry entry's other fields and the weights' sha256; not the revision,
  which a commit cannot know about itself);
- ``model.safetensors``: the weights, byte-identical to the bundled file (one sha256 verifies both);
- ``README.md``: the model card (:mod:`nca_zoo.hub_card`);
- ``target.png``: the padded training target as straight-alpha RGBA; it reloads to exactly the
  premultiplied floats it was saved from, since every target starts as an 8-bit image;
- ``growth.gif`` and, for regenerating entries, ``regeneration.gif``.

``save_pretrained`` / ``push_to_hub`` / ``from_pretrained`` follow ``huggingface_hub.ModelHubMixin``:
same arguments, ``config.json`` rewritten on every save, an existing ``README.md`` kept, one commit
per push, ``from_pretrained`` taking a local folder or a repo id (+ ``revision``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from nca_zoo import hub
from nca_zoo.config import NCAConfig
from nca_zoo.registry import ZooEntry
from nca_zoo.weights import (
    WeightsError,
    atomic_write_bytes,
    flatten_params,
    from_bytes,
    load_weights,
    sha256_bytes,
    to_bytes,
)

if TYPE_CHECKING:
    from huggingface_hub import CommitInfo

    from nca_zoo.zoo import ZooModel

CONFIG_NAME = "config.json"
WEIGHTS_NAME = hub.WEIGHTS_FILENAME
CARD_NAME = "README.md"
TARGET_NAME = "target.png"
GROWTH_GIF = "growth.gif"
REGENERATION_GIF = "regeneration.gif"
REPO_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, TARGET_NAME, GROWTH_GIF, REGENERATION_GIF)
ARCHITECTURE = "growing-nca"
GIF_STEPS = 200


# ---- config.json -----------------------------------------------------------------------------------
def pretrained_cfg(entry: ZooEntry | None, sha256: str) -> dict[str, Any]:
    """The entry's fields for ``config.json`` (its config is ``model_args``; its revision is not known yet)."""
    data = entry.to_dict() if entry is not None else {}
    data.pop("config", None)
    data.pop("revision", None)
    data["sha256"] = sha256
    return data


def config_dict(model: ZooModel, sha256: str) -> dict[str, Any]:
    from nca_zoo import __version__

    return {
        "architecture": ARCHITECTURE,
        "nca_zoo_version": __version__,
        "model_args": model.config.to_dict(),
        "pretrained_cfg": pretrained_cfg(model.entry, sha256),
    }


def entry_from_config(
    model_args: dict[str, Any], pretrained: dict[str, Any], *, hub_repo: str | None, revision: str | None
) -> ZooEntry | None:
    """A ZooEntry describing where these weights came from, or None for a model saved without one."""
    fields = {f.name for f in dataclasses.fields(ZooEntry)}
    data = {k: v for k, v in pretrained.items() if k in fields}
    if not {"name", "target", "experiment", "weights_file", "sha256"} <= set(data):
        return None
    data["hub_repo"] = hub_repo or data.get("hub_repo") or ""
    return ZooEntry.from_dict({**data, "config": model_args, "revision": revision})


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


def read_target_png(path: str | os.PathLike) -> np.ndarray:
    """``target.png`` → premultiplied float32 RGBA, computed exactly as :mod:`nca_zoo.targets` does."""
    with Image.open(path) as img:
        rgba = np.asarray(img.convert("RGBA"), np.float32) / 255.0
    rgba[..., :3] *= rgba[..., 3:]
    return rgba


def _fallback_target(pretrained: dict[str, Any]) -> np.ndarray | None:
    """A zoo target re-rendered on the recipe's grid, for repos without ``target.png``."""
    from nca_zoo.targets import PADDING, TARGET_SIZE, grid_target, resolve_name

    name = pretrained.get("target")
    if not isinstance(name, str) or resolve_name(name) is None:
        return None
    recipe = pretrained.get("recipe") or {}
    return grid_target(name, recipe.get("target_size", TARGET_SIZE), recipe.get("padding", PADDING))


# ---- save ------------------------------------------------------------------------------------------
def _holds(data: bytes, model: ZooModel) -> bool:
    """Whether safetensors ``data`` holds exactly ``model``'s parameters and architecture."""
    try:
        params, _ = from_bytes(data, source="weights", config=model.config)
    except WeightsError:
        return False
    ours, theirs = flatten_params(model.params), flatten_params(params)
    return ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)


def _entry_copies(entry: ZooEntry) -> list[Path]:
    """Local copies of a registry entry's published weights file: bundled, or in the HF cache."""
    copies = [hub.bundled_weights(entry)]
    if entry.revision and entry.hub_repo:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(entry.hub_repo, WEIGHTS_NAME, revision=entry.revision)
        copies.append(Path(cached) if isinstance(cached, str) else None)
    return [path for path in copies if path is not None]


def _weights_bytes(model: ZooModel, weights_file: str | os.PathLike | None) -> bytes:
    """The bytes of ``model.safetensors``: an existing file's, byte for byte, whenever one holds these
    parameters (so the repo file, the bundled file and the registry's sha256 stay the same bytes; a
    fresh serialization need not be, as safetensors writes its metadata in no fixed order)."""
    candidates = [Path(weights_file)] if weights_file is not None else []
    if model.entry is not None:
        candidates += _entry_copies(model.entry)
    for path in candidates:
        data = path.read_bytes()
        if _holds(data, model):
            return data
    if weights_file is not None:
        raise ValueError(f"{weights_file} does not hold this model's parameters; save without weights_file=")
    return to_bytes(model.params, model.config)


def _save_files(model: ZooModel, folder: Path, weights_file: str | os.PathLike | None) -> str:
    """Weights, target and animations (the mixin's ``_save_pretrained``); returns the weights' sha256."""
    data = _weights_bytes(model, weights_file)
    sha = sha256_bytes(data)
    if model.entry is not None and model.entry.sha256 != sha:
        warnings.warn(
            f"{model.name}: the saved weights' sha256 {sha} differs from its entry's {model.entry.sha256}; "
            "config.json records the new one",
            stacklevel=4,
        )
    atomic_write_bytes(folder / WEIGHTS_NAME, data)
    size = 72
    if model.target is not None:
        atomic_write_bytes(folder / TARGET_NAME, target_png_bytes(model.target))
        size = int(model.target.shape[0])
    scale = max(1, 288 // size)
    model.save_gif(folder / GROWTH_GIF, GIF_STEPS, 2, size=size, scale=scale)
    if model.entry is not None and model.entry.experiment == "regen":
        model.save_gif(folder / REGENERATION_GIF, GIF_STEPS, 4, size=size, scale=scale, regenerate=True)
    else:
        (folder / REGENERATION_GIF).unlink(missing_ok=True)
    return sha


def save_pretrained(
    model: ZooModel,
    save_directory: str | os.PathLike,
    *,
    repo_id: str | None = None,
    push_to_hub: bool = False,
    model_card_kwargs: dict[str, Any] | None = None,
    weights_file: str | os.PathLike | None = None,
    **push_to_hub_kwargs: Any,
) -> CommitInfo | None:
    """Write ``model``'s repo folder; with ``push_to_hub=True`` also push it (returns the CommitInfo).

    ``weights_file``: a safetensors file holding exactly ``model.params`` (e.g. the trainer's output),
    copied byte for byte so that its sha256 is the repo's.
    """
    from nca_zoo.hub_card import render_card

    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).unlink(missing_ok=True)
    sha = _save_files(model, folder, weights_file)
    config = config_dict(model, sha)
    atomic_write_bytes(folder / CONFIG_NAME, json.dumps(config, sort_keys=True, indent=2).encode())
    card_path = folder / CARD_NAME
    if not card_path.exists():  # like ModelHubMixin: never overwrite a card someone may have edited
        files = tuple(name for name in REPO_FILES if (folder / name).is_file())
        card_kwargs = {"repo_id": repo_id, **(model_card_kwargs or {})}
        card = render_card(config["model_args"], config["pretrained_cfg"], files=(*files, CARD_NAME), **card_kwargs)
        atomic_write_bytes(card_path, card.encode())
    if push_to_hub:
        repo_id = repo_id or folder.name
        return hub.push_folder(folder, repo_id, repo_files(folder), **push_to_hub_kwargs)
    return None


def push_to_hub(
    model: ZooModel,
    repo_id: str,
    *,
    commit_message: str = "Push model using nca-zoo",
    private: bool | None = None,
    token: str | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
    model_card_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> CommitInfo:
    """Save ``model`` to a temporary folder and upload it to ``repo_id`` in one commit."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / repo_id.split("/")[-1]
        card_kwargs = {"repo_id": repo_id, **(model_card_kwargs or {})}
        save_pretrained(model, folder, model_card_kwargs=card_kwargs)
        return hub.push_folder(
            folder,
            repo_id,
            repo_files(folder),
            token=token,
            private=private,
            commit_message=commit_message,
            branch=branch,
            create_pr=create_pr,
            progress=progress,
        )


def repo_files(folder: str | os.PathLike) -> list[str]:
    """The repo files present in ``folder`` (never anything else there, e.g. a training run)."""
    return [name for name in REPO_FILES if (Path(folder) / name).is_file()]


# ---- load ------------------------------------------------------------------------------------------
def from_pretrained(
    pretrained_model_name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    force_download: bool = False,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
) -> ZooModel:
    """A ZooModel from a repo folder, or from a Hub repo id at ``revision`` (weights sha256-verified)."""
    from nca_zoo.zoo import ZooModel

    source = str(pretrained_model_name_or_path)
    repo_id: str | None = None
    commit: str | None = None
    if os.path.isdir(source):
        folder = Path(source)
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(
                    f"{folder} has no {path.name}: not an nca-zoo repo folder (write one with ZooModel.save_pretrained)"
                )
        target_path: Path | None = folder / TARGET_NAME if (folder / TARGET_NAME).is_file() else None
        evict = False
    else:
        repo_id = source
        fix = f"or fetch it with `hf download {source}" + (f" --revision {revision}`" if revision else "`")
        options = {"force_download": force_download, "token": token, "cache_dir": cache_dir, "fix": fix}
        options["local_files_only"] = local_files_only
        config_path = hub.download(source, CONFIG_NAME, revision=revision, **options)
        # the other files come from the very commit config.json was read from, even if the branch moves
        commit = hub.snapshot_commit(config_path) or revision
        weights_path = hub.download(source, WEIGHTS_NAME, revision=commit, **options)
        try:
            target_path = hub.download(source, TARGET_NAME, revision=commit, **options)
        except hub.HubError:  # optional: the target only matters for metrics
            target_path = None
        evict = True

    config = json.loads(Path(config_path).read_text())
    if config.get("architecture") != ARCHITECTURE or "model_args" not in config:
        raise ValueError(
            f"{config_path} describes architecture {config.get('architecture')!r}, "
            f"not an nca-zoo {ARCHITECTURE!r} model"
        )
    model_args = config["model_args"]
    pretrained = config.get("pretrained_cfg") or {}
    hub.verify(Path(weights_path), pretrained.get("sha256"), what=f"weights of {source}", evict=evict)
    sha = pretrained.get("sha256")
    params, model_config = load_weights(weights_path, config=NCAConfig.from_dict(model_args), sha256=sha)
    target = read_target_png(target_path) if target_path is not None else _fallback_target(pretrained)
    entry = entry_from_config(model_args, pretrained, hub_repo=repo_id, revision=commit)
    return ZooModel(config=model_config, params=params, entry=entry, target=target)
