"""Where a model comes from: registry entry, Hub repo or local folder → verified local files; and pushes.

``nca_zoo.load`` accepts three kinds of names (``parse_spec``):

- a registry name or alias (``"gecko"``): weights resolve bundled file → local Hugging Face cache →
  ``hf_hub_download`` at the registry's pinned commit, and are checked against the registry's sha256
  (the bundled file and the repo's ``model.safetensors`` are the same bytes, so one hash verifies both);
- ``"hf-hub:org/repo"`` or ``"hf-hub:org/repo@revision"``: any nca-zoo repo on the Hub;
- ``"local-dir:/path"``: a folder written by ``save_pretrained`` / ``scripts/train_and_push.py``.

Downloads go through ``huggingface_hub`` only, so ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_OFFLINE`` and
its login apply. A downloaded or cached file that fails its sha256 check is deleted from the cache
and never used. Tokens come from the environment or ``huggingface_hub``'s login and are never logged.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from nca_zoo.registry import ZooEntry, get_entry
from nca_zoo.weights import WeightsError, sha256_file

if TYPE_CHECKING:
    from huggingface_hub import CommitInfo

    from nca_zoo.zoo import ZooModel

WEIGHTS_FILENAME = "model.safetensors"
HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"


class HubError(FileNotFoundError):
    """A Hub file could not be obtained: offline and not cached, missing repo/revision/file, or server error."""


class HubFileMissingError(HubError):
    """The repo and revision exist but hold no such file."""


class PushError(RuntimeError):
    """Creating the repo or committing to it failed (no token, no write access, server error)."""


# ---- names ---------------------------------------------------------------------------------
def parse_spec(spec: str) -> tuple[str, str, str | None]:
    """``spec`` → (kind, value, revision); kind is ``"registry"``, ``"hf-hub"`` or ``"local-dir"``."""
    if spec.startswith(HF_HUB_PREFIX):
        repo_id, _, revision = spec[len(HF_HUB_PREFIX) :].partition("@")
        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise ValueError(f"{spec!r}: expected hf-hub:<org>/<repo> or hf-hub:<org>/<repo>@<revision>")
        return "hf-hub", repo_id, revision or None
    if spec.startswith(LOCAL_DIR_PREFIX):
        path = spec[len(LOCAL_DIR_PREFIX) :]
        if not path:
            raise ValueError(f"{spec!r}: expected local-dir:<path to a folder written by save_pretrained>")
        return "local-dir", path, None
    return "registry", spec, None


def load_model(spec: str, *, revision: str | None = None, local_files_only: bool = False) -> ZooModel:
    """What ``nca_zoo.load`` returns for a registry name, ``hf-hub:`` repo or ``local-dir:`` folder."""
    from nca_zoo.hub_repo import from_pretrained
    from nca_zoo.targets import PADDING, TARGET_SIZE, grid_target
    from nca_zoo.weights import load_weights
    from nca_zoo.zoo import ZooModel

    kind, value, spec_revision = parse_spec(spec)
    if kind == "hf-hub":
        if revision is not None and spec_revision is not None and revision != spec_revision:
            raise ValueError(f"two revisions given: {spec!r} and revision={revision!r}")
        return from_pretrained(value, revision=revision or spec_revision, local_files_only=local_files_only)
    if revision is not None:
        raise ValueError(
            f"revision= applies to hf-hub: names only; {spec!r} is "
            + ("a local folder" if kind == "local-dir" else "a registry entry, pinned to its published commit")
        )
    if kind == "local-dir":
        folder = Path(value).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"{spec!r}: no such folder {folder.resolve()}")
        return from_pretrained(folder)
    entry = get_entry(value)
    path = resolve_weights(entry, local_files_only=local_files_only)
    params, config = load_weights(path, config=entry.config, sha256=entry.sha256)
    recipe = entry.recipe
    target = grid_target(entry.target, recipe.get("target_size", TARGET_SIZE), recipe.get("padding", PADDING))
    return ZooModel(config=config, params=params, entry=entry, target=target)


# ---- verification ----------------------------------------------------------------------------
def verify(path: Path, sha256: str | None, *, what: str, evict: bool = False) -> Path:
    """``path`` if its sha256 is ``sha256`` (or none is known); else delete it when ``evict`` and raise."""
    if sha256 is None:
        return path
    actual = sha256_file(path)
    if actual == sha256:
        return path
    if evict:
        evict_cached(path)
        fix = "It was deleted from the cache; loading again downloads a fresh copy. If that fails too, the Hub repo "
        fix += "does not hold the published bytes."
    else:
        fix = "Restore it from its source: reinstall nca-zoo (bundled weights) or re-save/re-download the folder."
    raise WeightsError(
        f"{what} at {path} fails the sha256 check (expected {sha256}, got {actual}): the file is corrupt, "
        f"truncated or was tampered with, and was not used. {fix}"
    )


def evict_cached(path: Path) -> None:
    """Remove a file of the Hugging Face cache: its snapshot link and the blob the link points to."""
    blob = Path(path).resolve()
    Path(path).unlink(missing_ok=True)
    if blob != Path(path).absolute():
        blob.unlink(missing_ok=True)


# ---- registry entries ------------------------------------------------------------------------
def bundled_weights(entry: ZooEntry) -> Path | None:
    path = Path(str(importlib.resources.files("nca_zoo.bundled") / entry.weights_file))
    return path if path.is_file() else None


def resolve_weights(entry: ZooEntry, *, local_files_only: bool = False) -> Path:
    """A verified local path to ``entry``'s weights: bundled, else HF cache, else downloaded (pinned)."""
    if (path := bundled_weights(entry)) is not None:
        return verify(path, entry.sha256, what=f"bundled weights of {entry.name}")
    if entry.revision is None:
        raise HubError(
            f"{entry.name} has no bundled weights and is not yet published on the Hub ({entry.hub_repo}, "
            "revision None). Reinstall nca-zoo from a wheel that bundles it."
        )
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(entry.hub_repo, WEIGHTS_FILENAME, revision=entry.revision)
    if isinstance(cached, str):
        if sha256_file(cached) == entry.sha256:
            return Path(cached)
        evict_cached(Path(cached))  # a corrupt cached copy is never used: fetch a fresh one below
    fix = (
        f"or fetch it with `hf download {entry.hub_repo} {WEIGHTS_FILENAME} --revision {entry.revision}`, "
        "or install an nca-zoo wheel that bundles it"
    )
    path = download(
        entry.hub_repo, WEIGHTS_FILENAME, revision=entry.revision, local_files_only=local_files_only, fix=fix
    )
    return verify(path, entry.sha256, what=f"downloaded weights of {entry.name}", evict=True)


# ---- downloads ---------------------------------------------------------------------------------
def download(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    fix: str = "",
) -> Path:
    """``hf_hub_download`` with errors that say what is missing and how to get it (``fix``: other ways)."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from nca_zoo import __version__

    where = f"{filename} of {repo_id}@{revision or 'main'}"
    also = f", {fix}" if fix else ""
    endpoint = constants.ENDPOINT
    try:
        return Path(
            hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                local_files_only=local_files_only,
                force_download=force_download,
                token=token,
                cache_dir=cache_dir,
                library_name="nca-zoo",
                library_version=__version__,
            )
        )
    except LocalEntryNotFoundError as err:
        if local_files_only or constants.is_offline_mode():
            switch = "local_files_only=True" if local_files_only else "HF_HUB_OFFLINE=1"
            cache = cache_dir or constants.HF_HUB_CACHE
            raise HubError(
                f"{where} is not in the local Hugging Face cache ({cache}) and downloads are disabled ({switch}). "
                f"Run once with network access to cache it{also}."
            ) from err
        raise HubError(
            f"could not download {where} from {endpoint}: {_first_line(err.__cause__ or err)}. Retry later{also}."
        ) from err
    except RepositoryNotFoundError as err:
        raise HubError(
            f"no Hub repo {repo_id} at {endpoint} (or it is private/gated and your token has no access): "
            "check the repo id, or log in with `hf auth login`"
        ) from err
    except RevisionNotFoundError as err:
        raise HubError(f"{repo_id} at {endpoint} has no revision {revision!r}") from err
    except RemoteEntryNotFoundError as err:
        raise HubFileMissingError(f"{repo_id}@{revision or 'main'} at {endpoint} has no file {filename}") from err
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        raise HubError(
            f"the Hub at {endpoint} answered HTTP {status} while downloading {where}. Retry later{also}."
        ) from err
    except OSError as err:  # interrupted or inconsistent transfer (huggingface_hub deletes the partial file)
        raise HubError(f"download of {where} from {endpoint} failed: {err}") from err


def snapshot_commit(path: Path) -> str | None:
    """The commit a cached file belongs to (``.../snapshots/<commit>/<file>``), or None."""
    from huggingface_hub.file_download import REGEX_COMMIT_HASH

    parent = Path(path).parent
    if parent.parent.name == "snapshots" and REGEX_COMMIT_HASH.fullmatch(parent.name):
        return parent.name
    return None


# ---- pushes ------------------------------------------------------------------------------------
def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    files: list[str],
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload nca-zoo model",
    branch: str | None = None,
    create_pr: bool | None = None,
    progress: bool = True,
) -> CommitInfo:
    """Create ``repo_id`` if needed and upload ``files`` of ``folder`` in one commit; returns its CommitInfo.

    The token is ``token``, else ``HF_TOKEN``, else ``huggingface_hub``'s login; it is never printed.
    """
    from huggingface_hub import CommitOperationAdd, HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    from nca_zoo import __version__

    token = token or get_token()
    if not token:
        raise PushError(
            f"pushing to {repo_id} needs a Hugging Face token with write access: set HF_TOKEN or run `hf auth login`"
        )
    folder = Path(folder)
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"cannot push {folder}: missing {missing}")
    api = HfApi(token=token, library_name="nca-zoo", library_version=__version__)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name)) for name in files]
    sizes = [(folder / name).stat().st_size for name in files]
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        with tqdm(total=sum(sizes), unit="B", unit_scale=True, desc=f"upload {repo_id}", disable=not progress) as bar:
            for operation, size in zip(operations, sizes, strict=True):  # LFS/Xet files go up here, one by one
                bar.set_postfix_str(operation.path_in_repo)
                api.preupload_lfs_files(
                    repo_id, additions=[operation], revision=branch, create_pr=create_pr, free_memory=False
                )
                bar.update(size)
            bar.set_postfix_str("commit")
            return api.create_commit(
                repo_id,
                operations=operations,
                commit_message=commit_message,
                revision=branch,
                create_pr=create_pr,
            )
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        hint = (
            f": the token was rejected or has no write access to {repo_id.split('/')[0]!r}"
            if status in (401, 403)
            else ""
        )
        raise PushError(f"pushing {folder} to {repo_id} failed with HTTP {status}{hint} ({_first_line(err)})") from err


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
