"""onnxruntime-web: the ONNX export plus a page (``index.html`` + ``nca.js``) that runs it, offline.

``nca.js`` takes the onnxruntime-web module as an argument, so the browser page and the Node test
in ``tests/web`` run the very same file. The page loads onnxruntime-web from the folder itself
(``ort/``), copied at export time from the pinned npm package (:data:`ORT_WEB_VERSION`): from
``runtime=`` (an unpacked ``onnxruntime-web`` package, e.g. ``node_modules/onnxruntime-web``),
``$NCA_ZOO_ORT_WEB``, the cache, or else ``npm pack`` (the npm registry, at export time only).
Without any of them the page is written anyway and says on screen what to copy where.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from importlib import resources
from pathlib import Path

from nca_zoo.export import require
from nca_zoo.export._readme import write_readme
from nca_zoo.export.onnx import DEFAULT_OPSET, write_models
from nca_zoo.zoo import ZooModel

#: The onnxruntime-web the page runs; tests/web/package.json pins the same version.
ORT_WEB_VERSION = "1.30.0"
STEP_FILE = "model.onnx"
#: The page's runtime: the WebAssembly-only build (global ``ort``) and the files it loads.
RUNTIME_DIR = "ort"
RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
RUNTIME_ENV = "NCA_ZOO_ORT_WEB"

HOW_TO_GET_RUNTIME = """\
npm pack onnxruntime-web@{version} && tar xzf onnxruntime-web-{version}.tgz
cp {files} {folder}/{runtime}/"""

README = """\
A web page that runs the NCA in the browser with onnxruntime-web {version} (WebAssembly), offline:

- `index.html`: grows the pattern on a canvas (click to erase part of it), with fresh random
  masks each step. Serve the folder over HTTP, e.g. `python -m http.server -d {name}`, then open
  http://localhost:8000/ (browsers do not `fetch` from `file://`). Load errors show on the page.
- `{runtime}/`: onnxruntime-web {version} ({files}), copied from the npm package at export time;
  nothing is loaded from the network.{missing}
- `nca.js`: a small runner, `NCA.load(ort, stepModel, rolloutModel, channels)`, then
  `step(state, mask, B, H, W, angle)` / `rollout(state, masks, T, B, H, W, angle)` on NHWC
  `Float32Array`s. It takes the onnxruntime-web module as an argument and runs under Node too.
- `{step}` / `{rollout}`: the ONNX models (opset {opset}, dynamic B, H, W; the rollout is an ONNX
  `Loop` over T masks), as in the `onnx` export.
- `nca.json`: the model's name, channel count, fire rate and file names, read by the page.

For a faster page with no third-party runtime at all, see the `web` format (WebGL2).
"""

MISSING = """

  **The runtime was not available at export time**, so `{runtime}/` is empty and the page says
  so. Fill it with:

  ```bash
{how}
  ```"""


def _dist(folder: Path) -> Path | None:
    """The folder holding :data:`RUNTIME_FILES` in an onnxruntime-web package (or its dist/)."""
    for candidate in (folder / "dist", folder):
        if all((candidate / name).is_file() for name in RUNTIME_FILES):
            package = candidate.parent / "package.json" if candidate.name == "dist" else candidate / "package.json"
            if package.is_file():
                version = json.loads(package.read_text(encoding="utf-8")).get("version")
                if version != ORT_WEB_VERSION:
                    raise ValueError(f"{folder} holds onnxruntime-web {version}; the page needs {ORT_WEB_VERSION}")
            return candidate
    return None


def _cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "nca-zoo" / f"onnxruntime-web-{ORT_WEB_VERSION}"


def _npm_pack(cache: Path) -> Path | None:
    """Download the pinned package with ``npm pack`` into ``cache``; None if npm or the registry is missing."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [npm, "pack", f"onnxruntime-web@{ORT_WEB_VERSION}", "--pack-destination", tmp, "--silent"],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        tarballs = list(Path(tmp).glob("onnxruntime-web-*.tgz"))
        if not tarballs:
            return None
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/") and m.isfile()]
            tar.extractall(tmp, members=members, filter="data")
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.move(str(Path(tmp) / "package"), cache)
    return _dist(cache)


def find_runtime(runtime: str | os.PathLike | None = None, *, download: bool = True) -> Path | None:
    """The folder with onnxruntime-web's browser files: ``runtime``, ``$NCA_ZOO_ORT_WEB``, the cache,
    else (``download``) a fresh ``npm pack`` into the cache. None when none of them works."""
    if runtime is not None:
        found = _dist(Path(runtime))
        if found is None:
            files = ", ".join(RUNTIME_FILES)
            raise FileNotFoundError(f"{runtime} holds no onnxruntime-web {ORT_WEB_VERSION} ({files})")
        return found
    for folder in (os.environ.get(RUNTIME_ENV), _cache()):
        if folder and (found := _dist(Path(folder))):
            return found
    return _npm_pack(_cache()) if download else None


def export_onnx_web(
    nca: ZooModel,
    out: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    runtime: str | os.PathLike | None = None,
    download: bool = True,
) -> list[Path]:
    """Write the directory ``out``: ONNX models, ``ort/`` (onnxruntime-web), ``nca.js``, ``index.html``,
    ``nca.json``, README.md. ``runtime``/``download``: where the runtime comes from (see :func:`find_runtime`)."""
    # Check the runtime and options before creating anything: a failure must not leave an empty folder.
    require("onnx", "the ONNX exporter")
    require("jax2onnx", "the ONNX exporter")
    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    dist = find_runtime(runtime, download=download)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step, rollout = write_models(nca, out / STEP_FILE, opset)
    (out / RUNTIME_DIR).mkdir(exist_ok=True)
    copied = [Path(shutil.copyfile(dist / name, out / RUNTIME_DIR / name)) for name in RUNTIME_FILES] if dist else []
    how = HOW_TO_GET_RUNTIME.format(
        version=ORT_WEB_VERSION,
        files=" ".join(f"package/dist/{name}" for name in RUNTIME_FILES),
        folder=out.name,
        runtime=RUNTIME_DIR,
    )
    if dist is None:
        warnings.warn(
            f"onnxruntime-web {ORT_WEB_VERSION} was not found (no npm, or no registry): {out}/{RUNTIME_DIR}/ is "
            f"empty; see {out}/README.md, or pass runtime= / set ${RUNTIME_ENV} to an unpacked package",
            stacklevel=2,
        )
    assets = resources.files("nca_zoo.export") / "web"
    (out / "nca.js").write_text(assets.joinpath("nca.js").read_text(encoding="utf-8"), encoding="utf-8")
    page = assets.joinpath("index.html").read_text(encoding="utf-8")
    page = page.replace("__ORT_WEB_VERSION__", ORT_WEB_VERSION).replace("__RUNTIME_DIR__", RUNTIME_DIR)
    page = page.replace("__HOW_TO_GET_RUNTIME__", json.dumps(how))
    (out / "index.html").write_text(page, encoding="utf-8")
    meta = {
        "name": nca.name,
        "channels": nca.config.channels,
        "fire_rate": nca.config.fire_rate,
        "step": step.name,
        "rollout": rollout.name,
        "onnxruntime_web": ORT_WEB_VERSION,
        "runtime": [f"{RUNTIME_DIR}/{name}" for name in RUNTIME_FILES],
    }
    (out / "nca.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    indented = "\n".join("  " + line for line in how.splitlines())
    missing = "" if dist else MISSING.format(runtime=RUNTIME_DIR, how=indented)
    body = README.format(
        version=ORT_WEB_VERSION,
        name=out.name,
        step=step.name,
        rollout=rollout.name,
        opset=opset,
        runtime=RUNTIME_DIR,
        files=", ".join(f"`{name}`" for name in RUNTIME_FILES),
        missing=missing,
    )
    readme = write_readme(out / "README.md", nca, "onnxruntime-web", body)
    return [step, rollout, *copied, out / "nca.js", out / "index.html", out / "nca.json", readme]
