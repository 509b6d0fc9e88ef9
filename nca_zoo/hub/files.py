"""Hub transport: download one file (bounded in time, errors that name the fix), verify and evict
cached files, push a folder in one commit. It knows repo ids, revisions, file names and bytes, never
the model (like timm's ``_hub.py``).

Downloads go through ``huggingface_hub`` only, so ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_OFFLINE`` and
its login apply. Whatever a server answers is untrusted: revisions are validated before they become
cache paths, a file whose cache link points outside the cache's ``blobs/`` is refused, eviction
deletes nothing outside ``blobs/``, and one download never takes longer than
``NCA_ZOO_HUB_TIMEOUT`` seconds (default 60). Tokens come from the environment or
``huggingface_hub``'s login and are never logged.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, constants, get_token, hf_hub_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import REGEX_COMMIT_HASH
from tqdm.auto import tqdm

from nca_zoo.hub.errors import HubError, HubFileMissingError, PushError
from nca_zoo.version import __version__
from nca_zoo.weights import WeightsError, sha256_file

TIMEOUT_ENV = "NCA_ZOO_HUB_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0

_REF_PART = r"[A-Za-z0-9_][A-Za-z0-9._+\-]*"
REVISION_PATTERN = re.compile(rf"{_REF_PART}(?:/{_REF_PART})*")
REVISION_HELP = (
    "a revision is a branch or tag name (letters, digits and . _ - +, parts separated by single '/', "
    "no '..'), a 40-hex commit id or refs/pr/N"
)
CACHE_KINDS = ("models--", "datasets--", "spaces--")

T = TypeVar("T")


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's own errors (huggingface_hub 2.x uses httpx2, 1.x httpx, 0.x requests)."""
    found: list[type[Exception]] = []
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()


class _DeadlinePassed(Exception):
    pass


# ---- names -------------------------------------------------------------------------------------
def validate_revision(revision: str) -> str:
    """``revision`` if it is a branch, tag, commit or ``refs/pr/N``; a ValueError for anything that
    could become a path outside the cache (``..``, absolute paths, empty parts)."""
    ok = (
        isinstance(revision, str)
        and len(revision) <= 255
        and REVISION_PATTERN.fullmatch(revision) is not None
        and ".." not in revision
        and not any(part.endswith(".lock") for part in revision.split("/"))
    )
    if not ok:
        raise ValueError(f"invalid revision {revision!r}: {REVISION_HELP}")
    return revision


def timeout_s() -> float:
    """The most seconds one download may take: ``NCA_ZOO_HUB_TIMEOUT``, default 60."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError(f"{TIMEOUT_ENV}={text!r}: expected a positive number of seconds")
    return value


# ---- verification and the cache ----------------------------------------------------------------
def verify(path: Path, sha256: str | None, *, what: str, evict: bool = False) -> Path:
    """``path`` if its sha256 is ``sha256`` (or none is known); else evict it from the cache when
    ``evict`` and raise a WeightsError."""
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


def cache_storage(path: str | os.PathLike) -> Path | None:
    """The repo folder (``.../models--org--name``) of a file in the Hugging Face cache
    (``.../models--org--name/snapshots/<commit>/<file>``), or None for any other path."""
    for parent in Path(path).absolute().parents:
        if parent.name == "snapshots":
            return parent.parent if parent.parent.name.startswith(CACHE_KINDS) else None
    return None


def _linked_blob(path: Path, storage: Path) -> Path | None:
    """The blob ``path`` links to, if it is a file directly inside ``storage/blobs``; else None."""
    blob = path.resolve()
    if blob.parent == (storage / "blobs").resolve() and blob.is_file():
        return blob
    return None


def evict_cached(path: str | os.PathLike) -> None:
    """Remove a file of the Hugging Face cache: its snapshot entry, and the blob it links to.

    Only ever deletes inside the repo's cache folder: the blob only when it lies in that folder's
    ``blobs/`` (a server-chosen ETag such as ``../../victim.txt`` makes a link that points elsewhere;
    then only the link goes). A path that is not in the cache is left alone.
    """
    path = Path(path)
    storage = cache_storage(path)
    if storage is None:
        return
    blob = _linked_blob(path, storage) if path.is_symlink() else None
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    if blob is not None:
        blob.unlink(missing_ok=True)


def _check_in_cache(path: Path, where: str, endpoint: str) -> Path:
    """Refuse a downloaded file whose cache link leads outside the repo's ``blobs/`` (a hostile ETag)."""
    storage = cache_storage(path)
    if storage is None or not path.is_symlink() or _linked_blob(path, storage) is not None:
        return path
    target = os.readlink(path)
    path.unlink(missing_ok=True)
    raise HubError(
        f"{where}: the server at {endpoint} gave the file an ETag that leads outside the cache ({target}); the file "
        "was not used and only its cache link was removed. The server is broken or hostile: check HF_ENDPOINT. "
        f"(huggingface_hub may have written the server's answer to {(path.parent / target).resolve()}; nca-zoo "
        "deleted nothing there.)"
    )


def snapshot_commit(path: Path) -> str | None:
    """The commit a cached file belongs to (``.../snapshots/<commit>/<file>``), or None."""
    parent = Path(path).parent
    if parent.parent.name == "snapshots" and REGEX_COMMIT_HASH.fullmatch(parent.name):
        return parent.name
    return None


# ---- downloads -----------------------------------------------------------------------------------
def _with_deadline(call: Callable[[], T], seconds: float) -> T:
    """``call()``, or _DeadlinePassed after ``seconds`` (the call then finishes in a daemon thread,
    which writes to the cache only by atomic renames, and whose answer nobody uses)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=run, name="nca-zoo-download", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise _DeadlinePassed
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


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
    timeout: float | None = None,
) -> Path:
    """``hf_hub_download`` with errors that say what is missing and how to get it (``fix``: other ways),
    at most ``timeout`` seconds (default :func:`timeout_s`), and a result that lies inside the cache."""
    if revision is not None:
        validate_revision(revision)
    seconds = timeout_s() if timeout is None else float(timeout)
    where = f"{filename} of {repo_id}@{revision or 'main'}"
    also = f", {fix}" if fix else ""
    endpoint = constants.ENDPOINT
    try:
        path = _with_deadline(
            lambda: hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                local_files_only=local_files_only,
                force_download=force_download,
                token=token,
                cache_dir=cache_dir,
                etag_timeout=min(float(constants.HF_HUB_ETAG_TIMEOUT), seconds),
                library_name="nca-zoo",
                library_version=__version__,
            ),
            seconds,
        )
    except _DeadlinePassed:
        raise HubError(
            f"downloading {where} from {endpoint} took longer than {seconds:g} s and was given up. Retry later, "
            f"or allow more time with {TIMEOUT_ENV}=SECONDS{also}."
        ) from None
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
    except TRANSPORT_ERRORS as err:  # timeouts, refused connections, broken transfers (not wrapped by the client)
        raise HubError(
            f"could not download {where} from {endpoint}: {type(err).__name__} ({_first_line(err)}). Retry later{also}."
        ) from err
    except OSError as err:  # interrupted or inconsistent transfer (huggingface_hub deletes the partial file)
        raise HubError(f"download of {where} from {endpoint} failed: {err}") from err
    return _check_in_cache(Path(path), where, endpoint)


# ---- pushes --------------------------------------------------------------------------------------
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
    token = token or get_token()
    if not token:
        raise PushError(
            f"pushing to {repo_id} needs a Hugging Face token with write access: set HF_TOKEN or run `hf auth login`"
        )
    if branch is not None:
        validate_revision(branch)
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
    except TRANSPORT_ERRORS as err:  # timeouts, refused connections
        raise PushError(
            f"pushing {folder} to {repo_id} failed: {type(err).__name__} ({_first_line(err)}). Check the repo's "
            "history (a commit may have gone through before the connection broke), then retry"
        ) from err


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
