"""Distill WebGL JSON (``webgl_models8``): the 8-bit format the original Growing-CA demo loads.

The inverse of :func:`nca_zoo.convert.from_distill_webgl`. Each layer stores (in_ch + 1) × out_ch
uint8 values (rows = inputs, last row = bias) with ``value = (u8 / 255 − 0.5) · scale``, so a
layer spans [−scale/2, scale/2]. The tightest scale is ``2 · max|w|`` (what the original exporter
chose: the largest-magnitude value lands on 0 or 255); weights and bias get separate scales.
No optional dependencies: numpy only.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from nca_zoo.export._readme import write_readme
from nca_zoo.zoo import ZooModel

#: Scale for an all-zero tensor: zero is not representable (127.5 is not a u8), so keep the error tiny.
ZERO_SCALE = 1e-8


def _scale(values: np.ndarray) -> np.float32:
    peak = float(np.abs(values).max()) if values.size else 0.0
    return np.float32(2.0 * peak if peak > 0 else ZERO_SCALE)


def _quantise(values: np.ndarray, scale: np.float32) -> np.ndarray:
    return np.clip(np.round((values / scale + np.float32(0.5)) * np.float32(255.0)), 0, 255).astype(np.uint8)


def pack_layer(kernel: Any, bias: Any) -> dict[str, Any]:
    """One dense layer (kernel (in, out), bias (out,)) as a ``webgl_models8`` layer dict."""
    kernel, bias = np.asarray(kernel, np.float32), np.asarray(bias, np.float32)
    in_ch, out_ch = kernel.shape
    if bias.shape != (out_ch,):
        raise ValueError(f"bias has shape {bias.shape}, expected ({out_ch},)")
    if in_ch % 4 or out_ch % 4:
        raise ValueError(f"the demo packs 4 values per texel: in_ch {in_ch} and out_ch {out_ch} must be multiples of 4")
    weight_scale, bias_scale = _scale(kernel), _scale(bias)
    rows = np.vstack([_quantise(kernel, weight_scale), _quantise(bias, bias_scale)[None]])
    return {
        "data_b64": base64.b64encode(rows.tobytes()).decode("ascii"),
        "in_ch": int(in_ch),
        "out_ch": int(out_ch),
        "weight_scale": float(weight_scale),
        "bias_scale": float(bias_scale),
        "type": "uint8",
    }


def to_distill_webgl(nca: ZooModel) -> list[dict[str, Any]]:
    """The two ``webgl_models8`` layers of ``nca`` (first-layer rows [identity, dx, dy] × channels)."""
    c = nca.config
    if c.step_size != 1.0:
        raise ValueError(f"the Distill demo adds the update as is; step_size {c.step_size} is not representable")
    return [pack_layer(nca.params[name]["kernel"], nca.params[name]["bias"]) for name in ("dense_0", "dense_1")]


README = """\
The 8-bit `webgl_models8` JSON of the original Distill Growing-CA demo (distillpub/post--growing-ca):
a list of two layers, each `{{"data_b64", "in_ch", "out_ch", "weight_scale", "bias_scale", "type":
"uint8"}}`. `data_b64` holds (in_ch + 1) × out_ch bytes, row-major, one row per input and the bias
last; a value is `(u8 / 255 − 0.5) · scale`, with `scale = 2 · max|w|` per tensor (the tightest
the format allows). First-layer rows are [identity × {c}, Sobel-x × {c}, Sobel-y × {c}].

Weights are quantised to 8 bits: the demo draws its own per-cell update masks (fire rate 0.5).
Load it back into JAX with `nca_zoo.convert.from_distill_webgl("{name}")`.
"""


def export_distill_webgl(nca: ZooModel, out: str | os.PathLike) -> list[Path]:
    """Write the JSON to ``out`` and a README to ``out``.md; returns both paths."""
    out = Path(out)
    out.write_text(json.dumps(to_distill_webgl(nca)), encoding="utf-8")
    body = README.format(c=nca.config.channels, name=out.name)
    readme = write_readme(out.with_name(out.name + ".md"), nca, "Distill WebGL JSON", body, interface=False)
    return [out, readme]
