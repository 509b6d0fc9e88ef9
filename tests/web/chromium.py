"""Drive the system's headless Chromium from Python: a static server on 127.0.0.1 and browser.js.

Used by tests/test_web_page.py and benchmarks/bench_web.py. ``browser.js`` (playwright-core from
this folder's node_modules, pinned in package-lock.json) launches Chromium with software WebGL2
(SwiftShader) and answers JSON commands on stdin; :class:`Browser` is its Python end.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import select
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

WEB = Path(__file__).resolve().parent
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """$CHROMIUM, else the first Chromium on PATH (Debian's package installs /usr/bin/chromium)."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if find_chromium() is None:
        return "needs Chromium (`apt-get install chromium`, or set $CHROMIUM)"
    if shutil.which("node") is None:
        return "needs Node.js"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return f"needs playwright-core: `npm ci` in {WEB}"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium; each method is one command to browser.js (see its header)."""

    def __init__(self, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self._id = 0
        self.proc = subprocess.Popen(
            ["node", str(WEB / "browser.js"), find_chromium() or "chromium"],
            cwd=WEB,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def call(self, op: str, _timeout: float | None = None, **kwargs: Any) -> Any:
        """Send one command; its result, or BrowserError with the JS error (or the node stderr)."""
        self._id += 1
        self.proc.stdin.write(json.dumps({"id": self._id, "op": op, **kwargs}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], _timeout or self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise BrowserError(f"browser.js gave no answer to {op!r}; stderr:\n{self.proc.stderr.read()[-4000:]}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BrowserError(f"{op} failed: {answer['error']}")
        return answer.get("result")

    def goto(self, url: str, **kwargs: Any) -> str:
        return self.call("goto", url=url, **kwargs)

    def eval(self, fn: str, arg: Any = None, timeout: float | None = None) -> Any:
        """``fn`` (JS function source) called with ``arg`` in the page; promises are awaited."""
        return self.call("eval", _timeout=timeout, fn=fn, arg=arg)

    def wait(self, fn: str, arg: Any = None, timeout: float = 60.0) -> None:
        """Wait until ``fn(arg)`` is truthy in the page."""
        self.call("wait", _timeout=timeout + 10, fn=fn, arg=arg, timeout=int(timeout * 1000))

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def floats(b64: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    array = np.frombuffer(base64.b64decode(b64), "<f4").astype(np.float32)
    return array.reshape(shape) if shape else array


def pixels(b64: str, height: int, width: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), np.uint8).reshape(height, width, 4)


def to_b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, "<f4").tobytes()).decode("ascii")
