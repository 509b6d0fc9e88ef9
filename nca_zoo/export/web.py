"""A self-contained, offline web page that runs one or several NCAs in real time with WebGL2.

``index.html`` holds everything it runs: the page's own ES module (``nca.js``, inlined) and, per
model, the float32 weights and the target image (base64), so it works from ``file://`` as well as
from any static server, with no third-party runtime and no network at view time (its
Content-Security-Policy forbids any). The same pieces are written beside it as plain files for
reuse: ``nca.js``, ``models.json`` and ``models/<name>/{weights.f32,target.png}``.

The step in ``nca.js`` is ``nca_zoo.model.step`` in float32 fragment shaders; the browser test
(tests/test_web_page.py) compares it with JAX on the same update masks.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nca_zoo.export._readme import write_readme
from nca_zoo.zoo import ZooModel

#: Grid side the page starts with (its menu offers 48 … 256; ``?size=N`` in the URL overrides).
DEFAULT_SIZE = 96
MAX_SIZE = 256
#: Steps per animation frame the page starts with (``?speed=N`` overrides; keys + / −). 0 = auto:
#: about 60 steps per second whatever the frame rate (1 a frame at 60 Hz; more, up to 8, on a slow
#: software renderer).
DEFAULT_SPEED = 0
#: The order of the float32 values in ``weights.f32`` (row-major kernels, Flax's (in, out) layout).
WEIGHTS_LAYOUT = ["dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"]
HUB_URL = "https://huggingface.co/{repo}"

README = """\
A self-contained web page that runs {what} in real time with WebGL2, as in the Distill article.

- `index.html`: open it, or serve the folder (`python -m http.server -d {folder}`, then
  http://localhost:8000/). It embeds everything it runs (the script and, per model, the float32
  weights and target) and loads nothing from the network. It starts growing from the seed at
  once. Drag on the canvas to erase, double-click (double-tap) to plant a seed; buttons and
  sliders for play/pause, one step, reset to seed, steps per frame (0 = auto, about 60 steps/s),
  rotation, fire rate, eraser radius and grid size (48…256); keys: space, N, R, + / −, [ ], 0.
  The status line shows steps/s. URL options: `?model=NAME&size=N&speed=N&angle=DEG&paused=1`.
- `nca.js`: the page's ES module (no dependencies). `new NCA(canvas, model, {{height, width}})`
  runs the NCA: `step(n, masks?)`, `erase(x, y, r)`, `plant(x, y)`, `render()`,
  `readState()` / `writeState(state)` (Float32Array, H×W×C); `mountPage(models)` builds the page.
- `models.json`: per model its name, config, metrics, card link and file names;
  `models/<name>/weights.f32`: the float32 weights, little-endian, in the order {layout};
  `models/<name>/target.png`: the target it was trained on.

The step is nca-zoo's, in float32: per-channel identity + Sobel-x/y perception (zero padded,
rotated by the angle), the {c}→{hidden}→{c} MLP, the fire mask, and the alive masks before and
after. The state lives in float32 textures (4 channels each). Masks come from a hash in the
shader, or from `window.nca.run(steps, masks)`, which replays given masks (base64 float32,
steps × H × W) so that the page can be compared with `nca.step(state, update_mask=...)` in JAX.
Needs WebGL2 with float render targets (`EXT_color_buffer_float`); the page says so otherwise.
"""


def _weights(nca: ZooModel) -> np.ndarray:
    parts = [
        np.asarray(nca.params[layer][part], np.float32).ravel()
        for layer, part in (w.split("/") for w in WEIGHTS_LAYOUT)
    ]
    return np.concatenate(parts).astype("<f4")


def _target_png(target: np.ndarray) -> bytes:
    """The premultiplied RGBA target as a straight-alpha PNG."""
    rgba = np.clip(np.asarray(target, np.float32), 0.0, 1.0)
    alpha = rgba[..., 3:4]
    rgb = np.where(alpha > 0, rgba[..., :3] / np.maximum(alpha, 1e-8), 0.0)
    pixels = np.round(np.concatenate([np.clip(rgb, 0, 1), alpha], -1) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _metrics(entry: Any) -> dict[str, Any]:
    """The entry's metrics as JSON the browser parses (a non-finite number becomes its text)."""
    metrics = dict(entry.metrics) if entry else {}
    return {k: str(v) if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


def _check(nca: ZooModel) -> None:
    c = nca.config
    if c.perception != "sobel":
        raise ValueError(f"the web page implements the Sobel perception, not {c.perception!r}")
    if c.alive_threshold < 0:
        raise ValueError(f"the web page's zero border needs alive_threshold >= 0, got {c.alive_threshold}")


def _unique_names(models: Sequence[ZooModel]) -> list[str]:
    names: list[str] = []
    for nca in models:
        name, n = nca.name, 1
        while name in names:
            n += 1
            name = f"{nca.name}-{n}"
        names.append(name)
    return names


def _asset(name: str) -> str:
    return (resources.files("nca_zoo.export") / "webgl" / name).read_text(encoding="utf-8")


def _json_in_script(value: Any) -> str:
    """JSON that can sit inside a <script> element: every ``<`` escaped, so no tag can close it."""
    return json.dumps(value).replace("<", "\\u003c")


def _js_in_script(script: str) -> str:
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError("nca.js cannot be inlined: it contains '</script' or '<!--'")
    return script


def export_web(
    models: ZooModel | Sequence[ZooModel],
    out: str | os.PathLike,
    *,
    size: int | None = None,
    speed: int = DEFAULT_SPEED,
) -> list[Path]:
    """Write the folder ``out`` (``index.html``, ``nca.js``, ``models.json``, ``models/``, README.md).

    ``models``: one model, or several (the page then has a picker; the first one starts).
    ``size``: the grid side the page starts with (default 96, at most 256).
    """
    models = [models] if isinstance(models, ZooModel) else list(models)
    if not models:
        raise ValueError("export_web needs at least one model")
    size = DEFAULT_SIZE if size is None else int(size)
    if not 8 <= size <= MAX_SIZE:
        raise ValueError(f"the page's grid side must be in 8..{MAX_SIZE}, got {size}")
    for nca in models:
        _check(nca)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    catalogue: list[dict[str, Any]] = []
    embedded: list[dict[str, Any]] = []
    for nca, name in zip(models, _unique_names(models), strict=True):
        folder = out / "models" / name
        folder.mkdir(parents=True, exist_ok=True)
        weights = _weights(nca)
        (folder / "weights.f32").write_bytes(weights.tobytes())
        written.append(folder / "weights.f32")
        target = _target_png(nca.target) if nca.target is not None else None
        if target is not None:
            (folder / "target.png").write_bytes(target)
            written.append(folder / "target.png")
        entry = nca.entry
        meta = {
            "name": name,
            "description": entry.description if entry else "",
            "config": nca.config.to_dict(),
            "metrics": _metrics(entry),
            "card_url": HUB_URL.format(repo=entry.hub_repo) if entry and entry.hub_repo else None,
            "size": size,
            "weights": f"models/{name}/weights.f32",
            "weights_layout": WEIGHTS_LAYOUT,
            "target": f"models/{name}/target.png" if target is not None else None,
        }
        catalogue.append(meta)
        embedded.append(
            {
                **meta,
                "weights_b64": base64.b64encode(weights.tobytes()).decode("ascii"),
                "target_png_b64": base64.b64encode(target).decode("ascii") if target is not None else None,
            }
        )
    (out / "models.json").write_text(json.dumps(catalogue, indent=2) + "\n", encoding="utf-8")
    script = _asset("nca.js")
    (out / "nca.js").write_text(script, encoding="utf-8")
    title = catalogue[0]["name"] if len(catalogue) == 1 else f"{catalogue[0]['name']} and {len(catalogue) - 1} more"
    page = (
        _asset("index.html")
        .replace("__TITLE__", html.escape(title))
        .replace("__SPEED__", str(int(speed)))
        .replace("__MODELS__", _json_in_script(embedded))
        .replace("__NCA_JS__", _js_in_script(script))
    )
    (out / "index.html").write_text(page, encoding="utf-8")
    what = f"`{catalogue[0]['name']}`" if len(models) == 1 else ", ".join(f"`{m['name']}`" for m in catalogue)
    body = README.format(
        what=what,
        folder=out.name,
        layout=", ".join(f"`{w}`" for w in WEIGHTS_LAYOUT),
        c=models[0].config.channels,
        hidden=models[0].config.hidden,
    )
    readme = write_readme(out / "README.md", models[0], "WebGL2 page", body, interface=False)
    return [out / "index.html", out / "nca.js", out / "models.json", *written, readme]
