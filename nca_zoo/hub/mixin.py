"""``NCAHubMixin``: ``save_pretrained`` / ``push_to_hub`` / ``from_pretrained`` for the model class.

Follows ``huggingface_hub.ModelHubMixin``: same arguments, ``config.json`` rewritten on every save, an
existing ``README.md`` kept, one commit per push, ``from_pretrained`` taking a local folder or a repo
id (+ ``revision``) and building through ``cls``. The mixin never imports the model class; the class
it is mixed into has ``config``, ``params``, ``entry``, ``target``, ``name`` and ``save_gif`` and is
built as ``cls(config=..., params=..., entry=..., target=...)``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nca_zoo.hub import pretrained
from nca_zoo.hub.card import render_card
from nca_zoo.hub.errors import HubError
from nca_zoo.hub.files import download, push_folder, snapshot_commit, validate_revision, verify
from nca_zoo.hub.layout import (
    CARD_NAME,
    CONFIG_NAME,
    GROWTH_GIF,
    REGENERATION_GIF,
    REPO_FILES,
    TARGET_NAME,
    WEIGHTS_NAME,
    config_dict,
    entry_from_config,
    fallback_target,
    parse_config,
    read_target_png,
    repo_files,
    target_png_bytes,
)
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

    from nca_zoo.config import NCAConfig
    from nca_zoo.registry import ZooEntry

GIF_STEPS = 200


class NCAHubMixin:
    """Hub repo folders for a model class (see the module docstring for what the class provides)."""

    if TYPE_CHECKING:
        config: NCAConfig
        params: dict[str, Any]
        entry: ZooEntry | None
        target: np.ndarray | None
        name: str

        def save_gif(self, path: str | os.PathLike, steps: int, every: int, **kwargs: Any) -> Any: ...

    # ---- save ------------------------------------------------------------------------------------
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
        weights_file: str | os.PathLike | None = None,
        **push_to_hub_kwargs: Any,
    ) -> CommitInfo | None:
        """Write this model's repo folder (config.json, model.safetensors, card, target, GIFs); with
        ``push_to_hub=True`` also push it (returns the CommitInfo).

        ``weights_file``: a safetensors file holding exactly these parameters (e.g. the trainer's
        output), copied byte for byte so that its sha256 is the repo's.
        """
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_NAME).unlink(missing_ok=True)
        sha = self._save_pretrained(folder, weights_file)
        config = config_dict(self.config, self.entry, sha)
        atomic_write_bytes(folder / CONFIG_NAME, json.dumps(config, sort_keys=True, indent=2).encode())
        card_path = folder / CARD_NAME
        if not card_path.exists():  # like ModelHubMixin: never overwrite a card someone may have edited
            files = tuple(name for name in REPO_FILES if (folder / name).is_file())
            card_kwargs = {"repo_id": repo_id, **(model_card_kwargs or {})}
            card = render_card(config["model_args"], config["pretrained_cfg"], files=(*files, CARD_NAME), **card_kwargs)
            atomic_write_bytes(card_path, card.encode())
        if push_to_hub:
            return push_folder(folder, repo_id or folder.name, repo_files(folder), **push_to_hub_kwargs)
        return None

    def _save_pretrained(self, folder: Path, weights_file: str | os.PathLike | None) -> str:
        """Weights, target and animations (ModelHubMixin's hook); returns the weights' sha256."""
        data = _weights_bytes(self, weights_file)
        sha = sha256_bytes(data)
        if self.entry is not None and self.entry.sha256 != sha:
            warnings.warn(
                f"{self.name}: the saved weights' sha256 {sha} differs from its entry's {self.entry.sha256}; "
                "config.json records the new one",
                stacklevel=3,
            )
        atomic_write_bytes(folder / WEIGHTS_NAME, data)
        size = 72
        if self.target is not None:
            atomic_write_bytes(folder / TARGET_NAME, target_png_bytes(self.target))
            size = int(self.target.shape[0])
        scale = max(1, 288 // size)
        self.save_gif(folder / GROWTH_GIF, GIF_STEPS, 2, size=size, scale=scale)
        if self.entry is not None and self.entry.experiment == "regen":
            self.save_gif(folder / REGENERATION_GIF, GIF_STEPS, 4, size=size, scale=scale, regenerate=True)
        else:
            (folder / REGENERATION_GIF).unlink(missing_ok=True)
        return sha

    def push_to_hub(
        self,
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
        """Upload this model's repo folder to ``repo_id`` in one commit; returns the CommitInfo (``.oid``)."""
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / repo_id.split("/")[-1]
            card_kwargs = {"repo_id": repo_id, **(model_card_kwargs or {})}
            self.save_pretrained(folder, model_card_kwargs=card_kwargs)
            return push_folder(
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

    # ---- load ------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        revision: str | None = None,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
    ) -> Any:
        """A model from a repo folder, or (when no such folder exists) from a Hub repo id at
        ``revision``, like ``ModelHubMixin.from_pretrained``; weights sha256-verified.

        ``nca_zoo.load("hf-hub:org/repo")`` calls :meth:`from_hub`, which never looks at local folders.
        """
        source = str(pretrained_model_name_or_path)
        if os.path.isdir(source):
            return cls.from_folder(source)
        return cls.from_hub(
            source,
            revision=revision,
            force_download=force_download,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
        )

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> Any:
        """A model from a repo folder written by :meth:`save_pretrained`."""
        folder = Path(folder)
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(
                    f"{folder} has no {path.name}: not an nca-zoo repo folder (write one with ZooModel.save_pretrained)"
                )
        target_path = folder / TARGET_NAME if (folder / TARGET_NAME).is_file() else None
        return cls._build(config_path, weights_path, target_path, source=str(folder), repo_id=None, commit=None)

    @classmethod
    def from_hub(
        cls,
        repo_id: str,
        *,
        revision: str | None = None,
        force_download: bool = False,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
    ) -> Any:
        """A model from the Hub repo ``repo_id`` at ``revision`` (default main); never a local folder."""
        if revision is not None:
            validate_revision(revision)
        fix = f"or fetch it with `hf download {repo_id}" + (f" --revision {revision}`" if revision else "`")
        options: dict[str, Any] = {"force_download": force_download, "token": token, "cache_dir": cache_dir}
        options |= {"local_files_only": local_files_only, "fix": fix}
        config_path = download(repo_id, CONFIG_NAME, revision=revision, **options)
        # the other files come from the very commit config.json was read from, even if the branch moves
        commit = snapshot_commit(config_path) or revision
        weights_path = download(repo_id, WEIGHTS_NAME, revision=commit, **options)
        try:
            target_path: Path | None = download(repo_id, TARGET_NAME, revision=commit, **options)
        except HubError:  # optional: the target only matters for metrics
            target_path = None
        return cls._build(
            config_path, weights_path, target_path, source=repo_id, repo_id=repo_id, commit=commit, evict=True
        )

    @classmethod
    def _build(
        cls,
        config_path: Path,
        weights_path: Path,
        target_path: Path | None,
        *,
        source: str,
        repo_id: str | None,
        commit: str | None,
        evict: bool = False,
    ) -> Any:
        config = parse_config(config_path)
        verify(Path(weights_path), config.sha256, what=f"weights of {source}", evict=evict)
        params, model_config = load_weights(weights_path, config=config.model_args, sha256=config.sha256)
        if target_path is not None:
            target = read_target_png(target_path, name=f"{TARGET_NAME} of {source} ({target_path})")
        else:
            target = fallback_target(config.pretrained, source=config_path)
        entry = entry_from_config(config, hub_repo=repo_id, revision=commit, source=config_path)
        return cls(config=model_config, params=params, entry=entry, target=target)


# ---- which bytes to save -----------------------------------------------------------------------------
def _holds(data: bytes, model: NCAHubMixin) -> bool:
    """Whether safetensors ``data`` holds exactly ``model``'s parameters and architecture."""
    try:
        params, _ = from_bytes(data, source="weights", config=model.config)
    except WeightsError:
        return False
    ours, theirs = flatten_params(model.params), flatten_params(params)
    return ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)


def _weights_bytes(model: NCAHubMixin, weights_file: str | os.PathLike | None) -> bytes:
    """The bytes of ``model.safetensors``: an existing file's, byte for byte, whenever one holds these
    parameters (so the repo file, the bundled file and the registry's sha256 stay the same bytes; a
    fresh serialization need not be, as safetensors writes its metadata in no fixed order)."""
    candidates = [Path(weights_file)] if weights_file is not None else []
    if model.entry is not None:
        candidates += pretrained.local_copies(model.entry)
    for path in candidates:
        data = path.read_bytes()
        if _holds(data, model):
            return data
    if weights_file is not None:
        raise ValueError(f"{weights_file} does not hold this model's parameters; save without weights_file=")
    return to_bytes(model.params, model.config)
