"""A small in-memory Hugging Face Hub for tests: the endpoints ``huggingface_hub`` 2.x calls, on 127.0.0.1.

Served (what ``hf_hub_download``, ``HfApi.create_repo``, ``preupload_lfs_files`` and ``create_commit``
use, checked against huggingface_hub's source):

- ``HEAD/GET /{repo}/resolve/{revision}/{path}`` with ``X-Repo-Commit``, ``ETag`` (the git blob
  sha1, as the Hub sends for regular files), ``Content-Length``; 404s carry the Hub's ``X-Error-Code``
  (``RepoNotFound`` / ``RevisionNotFound`` / ``EntryNotFound``) so the client raises the right error;
- ``POST /api/repos/create`` (409 if it exists), ``POST /api/validate-yaml`` (parses the card's YAML),
  ``POST /api/models/{repo}/preupload/{revision}`` (always the "regular" upload mode, no Xet/LFS),
  ``POST /api/models/{repo}/commit/{revision}`` (ndjson; returns ``commitOid``),
  ``GET /api/models/{repo}/revision/{revision}`` (repo info, used for no-op commits).

Writes need ``Authorization: Bearer <token>``. Tests can make files fail (``fail``), serve other
bytes than were committed (``tamper``), act as a hostile or broken mirror (``etags``: a chosen ETag
header; ``any_revision``: answer every revision with main; ``delay``: answer only after a while),
and read the request log (``requests``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

TOKEN = "hf_nca_zoo_test_token_do_not_print"
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # oid → {path: content}
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str, *, any_revision: bool = False) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.commits:
            return revision
        return self.branches.get("main") if any_revision else None


class HubServer:
    """The server; use as a context manager. ``endpoint`` is its base URL."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.fail: dict[tuple[str, str], int] = {}  # (HEAD|GET, file name) → HTTP status to answer instead
        self.tampered: dict[tuple[str, str], bytes] = {}  # (repo, file name) → bytes served instead
        self.etags: dict[tuple[str, str], str] = {}  # (repo, file name) → ETag header sent instead of the blob sha1
        self.delay: dict[tuple[str, str], float] = {}  # (HEAD|GET, file name) → seconds before answering
        self.any_revision = False  # resolve every unknown revision to main, as a hostile mirror may
        self.stopping = threading.Event()  # wakes delayed answers when the server shuts down
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def tamper(self, repo_id: str, filename: str, data: bytes) -> None:
        """Serve ``data`` for ``filename`` at every revision of ``repo_id`` (a compromised mirror)."""
        self.tampered[(repo_id, filename)] = data

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo.commits[repo.resolve(revision)]

    def downloads(self) -> list[str]:
        return [path for method, path in self.requests if "/resolve/" in path and method == "GET"]

    # ---- repo operations (called with the lock held) ------------------------------------------
    def create(self, repo_id: str) -> None:
        repo = Repo()
        oid = self._commit(repo, None, {".gitattributes": GITATTRIBUTES}, "initial commit")
        repo.branches["main"] = oid
        self.repos[repo_id] = repo

    def _commit(self, repo: Repo, parent: str | None, files: dict[str, bytes], message: str) -> str:
        digest = hashlib.sha1(json.dumps([parent, message, len(repo.commits)]).encode())
        for path in sorted(files):
            digest.update(path.encode() + git_blob_sha1(files[path]).encode())
        oid = digest.hexdigest()
        repo.commits[oid] = dict(files)
        return oid


def _split_repo_path(parts: list[str]) -> tuple[str, list[str]]:
    return f"{parts[0]}/{parts[1]}", parts[2:]


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

        # ---- plumbing -----------------------------------------------------------------------
        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

        def _error(self, status: int, message: str, code: str | None = None, commit: str | None = None) -> None:
            headers = {"X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            if commit:
                headers["X-Repo-Commit"] = commit
            self._json(status, {"error": message}, headers)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {hub.token}":
                return True
            self._error(401, "Invalid credentials in Authorization header")
            return False

        # ---- routes -------------------------------------------------------------------------
        def do_HEAD(self) -> None:
            self._route()

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def _route(self) -> None:
            path = urlsplit(self.path).path
            with hub.lock:
                hub.requests.append((self.command, path))
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if self.command == "POST" and path == "/api/repos/create":
                return self._create()
            if self.command == "POST" and path == "/api/validate-yaml":
                return self._validate_yaml()
            if parts[:2] == ["api", "models"] and len(parts) >= 6:
                repo_id, rest = _split_repo_path(parts[2:])
                if self.command == "POST" and rest[0] == "preupload":
                    return self._preupload(repo_id, "/".join(rest[1:]))
                if self.command == "POST" and rest[0] == "commit":
                    return self._commit(repo_id, "/".join(rest[1:]))
                if self.command == "GET" and rest[0] == "revision":
                    return self._info(repo_id, "/".join(rest[1:]))
            if self.command in ("HEAD", "GET") and len(parts) >= 5 and parts[2] == "resolve":
                repo_id, rest = _split_repo_path(parts)
                return self._resolve(repo_id, rest[1], "/".join(rest[2:]))
            self._error(404, f"no route for {self.command} {path}")

        def _create(self) -> None:
            if not self._authorized():
                return
            data = json.loads(self._body())
            repo_id = f"{data.get('organization') or 'test-user'}/{data['name']}"
            with hub.lock:
                if repo_id in hub.repos:  # the Hub's 409 carries the repo url too (create_repo(exist_ok=True) reads it)
                    message = "You already created this model repo"
                    body = {"error": message, "url": f"{hub.endpoint}/{repo_id}"}
                    return self._json(409, body, {"X-Error-Message": message})
                hub.create(repo_id)
            self._json(200, {"url": f"{hub.endpoint}/{repo_id}", "name": repo_id})

        def _validate_yaml(self) -> None:
            content = json.loads(self._body())["content"]
            errors = []
            if content.startswith("---\n"):
                header = content[4:].split("\n---", 1)[0]
                try:
                    if not isinstance(yaml.safe_load(header), dict):
                        errors.append({"message": "metadata must be a YAML mapping"})
                except yaml.YAMLError as err:
                    errors.append({"message": f"invalid YAML: {err}"})
            self._json(400 if errors else 200, {"errors": errors, "warnings": []})

        def _repo_at(self, repo_id: str, revision: str) -> tuple[Repo, str] | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "Repository not found", "RepoNotFound")
                return None
            oid = repo.resolve(revision, any_revision=hub.any_revision)
            if oid is None:
                self._error(404, "Invalid rev id", "RevisionNotFound")
                return None
            return repo, oid

        def _preupload(self, repo_id: str, revision: str) -> None:
            if not self._authorized():
                return
            files = json.loads(self._body())["files"]
            with hub.lock:
                found = self._repo_at(repo_id, revision)
                if found is None:
                    return
                repo, oid = found
                current = repo.commits[oid]
            answer = [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_sha1(current[f["path"]]) if f["path"] in current else None,
                }
                for f in files
            ]
            self._json(200, {"files": answer})

        def _commit(self, repo_id: str, revision: str) -> None:
            if not self._authorized():
                return
            lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
            header = lines[0]["value"]
            with hub.lock:
                found = self._repo_at(repo_id, revision)
                if found is None:
                    return
                repo, parent = found
                files = dict(repo.commits[parent])
                for item in lines[1:]:
                    value = item["value"]
                    if item["key"] == "file" and value.get("encoding") == "base64":
                        files[value["path"]] = base64.b64decode(value["content"])
                    elif item["key"] == "deletedFile":
                        files.pop(value["path"], None)
                    else:
                        return self._error(400, f"unsupported commit operation {item['key']}")
                oid = hub._commit(repo, parent, files, header["summary"])
                repo.branches[revision] = oid
            self._json(200, {"commitUrl": f"{hub.endpoint}/{repo_id}/commit/{oid}", "commitOid": oid, "success": True})

        def _info(self, repo_id: str, revision: str) -> None:
            with hub.lock:
                found = self._repo_at(repo_id, revision)
                if found is None:
                    return
                repo, oid = found
                siblings = [{"rfilename": name} for name in sorted(repo.commits[oid])]
            self._json(200, {"id": repo_id, "sha": oid, "siblings": siblings, "private": False})

        def _resolve(self, repo_id: str, revision: str, filename: str) -> None:
            delay = hub.delay.get((self.command, filename))
            if delay and hub.stopping.wait(delay):
                self.close_connection = True  # shutting down: drop the request unanswered
                return
            status = hub.fail.get((self.command, filename))
            if status:
                return self._error(status, f"injected HTTP {status}")
            with hub.lock:
                found = self._repo_at(repo_id, revision)
                if found is None:
                    return
                repo, oid = found
                data = repo.commits[oid].get(filename)
                if data is not None:
                    data = hub.tampered.get((repo_id, filename), data)
            if data is None:
                return self._error(404, "Entry not found", "EntryNotFound", commit=oid)
            etag = hub.etags.get((repo_id, filename), git_blob_sha1(data))
            headers = {
                "Content-Type": "application/octet-stream",
                "ETag": f'"{etag}"',
                "X-Repo-Commit": oid,
                "Accept-Ranges": "bytes",
            }
            self._send(200, data, headers)

    return Handler


@contextmanager
def running_hub(token: str = TOKEN) -> Iterator[HubServer]:
    with HubServer(token) as server:
        yield server


def use_hub(monkeypatch: Any, endpoint: str, hf_home: Path, *, token: str | None = TOKEN) -> None:
    """Point ``huggingface_hub`` at ``endpoint`` with an empty cache in ``hf_home``, Xet off, no real login.

    huggingface_hub reads its settings from the environment once, at import: the environment is set
    for subprocesses and the already-imported ``constants`` are patched to the same values.
    """
    from huggingface_hub import close_session, constants

    env = {
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_OIDC_RESOURCE",
        "HF_HUB_ETAG_TIMEOUT",
        "HF_HUB_DOWNLOAD_TIMEOUT",
        "HUGGINGFACE_CO_STAGING",
        "NCA_ZOO_HUB_TIMEOUT",
    ):
        monkeypatch.delenv(key, raising=False)
    if token is not None:
        monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_URL_HOSTS", constants.HF_URL_HOSTS | {"127.0.0.1"})
    monkeypatch.setattr(constants, "HF_HOME", str(hf_home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(hf_home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(hf_home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    close_session()  # a fresh HTTP client that sees NO_PROXY


def cache_files(hf_home: Path) -> list[str]:
    """Every file and link under the cache (relative paths), to check what a failed download left."""
    root = hf_home / "hub"
    return (
        sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())
        if root.exists()
        else []
    )
