"""onnxruntime-web: the ONNX export plus a self-contained page (``index.html`` + ``nca.js``) that runs it.

``nca.js`` takes the onnxruntime-web module as an argument, so the browser page (CDN script tag)
and the Node test in ``tests/web`` run the very same file.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from nca_zoo.export._readme import write_readme
from nca_zoo.export.onnx import DEFAULT_OPSET, write_models
from nca_zoo.zoo import ZooModel

#: The onnxruntime-web the page loads from the CDN; tests/web/package.json pins the same version.
ORT_WEB_VERSION = "1.30.0"
STEP_FILE = "model.onnx"

README = """\
A web page that runs the NCA in the browser with onnxruntime-web {version} (WebAssembly):

- `index.html`: grows the pattern on a canvas (click to erase part of it), with fresh random
  masks each step. Serve the folder over HTTP, e.g. `python -m http.server -d {name}`, then open
  http://localhost:8000/ (browsers do not `fetch` from `file://`).
- `nca.js`: a small runner, `NCA.load(ort, stepModel, rolloutModel, channels)`, then
  `step(state, mask, B, H, W, angle)` / `rollout(state, masks, T, B, H, W, angle)` on NHWC
  `Float32Array`s. It takes the onnxruntime-web module as an argument and runs under Node too.
- `{step}` / `{rollout}`: the ONNX models (opset {opset}, dynamic B, H, W; the rollout is an ONNX
  `Loop` over T masks), as in the `onnx` export.
- `nca.json`: the model's name, channel count, fire rate and file names, read by the page.
"""


def export_onnx_web(nca: ZooModel, out: str | os.PathLike, *, opset: int = DEFAULT_OPSET) -> list[Path]:
    """Write the directory ``out``: ONNX models, ``nca.js``, ``index.html``, ``nca.json``, README.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step, rollout = write_models(nca, out / STEP_FILE, opset)
    assets = resources.files("nca_zoo.export") / "web"
    (out / "nca.js").write_text(assets.joinpath("nca.js").read_text(encoding="utf-8"), encoding="utf-8")
    page = assets.joinpath("index.html").read_text(encoding="utf-8").replace("__ORT_WEB_VERSION__", ORT_WEB_VERSION)
    (out / "index.html").write_text(page, encoding="utf-8")
    meta = {
        "name": nca.name,
        "channels": nca.config.channels,
        "fire_rate": nca.config.fire_rate,
        "step": step.name,
        "rollout": rollout.name,
        "onnxruntime_web": ORT_WEB_VERSION,
    }
    (out / "nca.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    body = README.format(version=ORT_WEB_VERSION, name=out.name, step=step.name, rollout=rollout.name, opset=opset)
    readme = write_readme(out / "README.md", nca, "onnxruntime-web", body)
    return [step, rollout, out / "nca.js", out / "index.html", out / "nca.json", readme]
