"""Take an NCA out of JAX: TF SavedModel, ONNX (+ an onnxruntime-web runner), TFLite, Distill WebGL JSON.

Every exported step is deterministic: randomness is an input. It takes ``state`` (float32 NHWC,
(B,H,W,C)), ``update_mask`` (float32 (B,H,W,1), 1 = the cell updates) and ``angle`` (float32
scalar, radians) and returns ``new_state``; the rollout variant takes ``update_masks`` (T,B,H,W,1).
Feeding the same masks to JAX (``nca.step(state, update_mask=mask)``) gives the same states.

>>> from nca_zoo import export
>>> export.export("gecko", "onnx", "gecko.onnx")  # doctest: +SKIP

Optional runtimes (TensorFlow, jax2onnx, onnx, LiteRT) come with ``pip install 'nca-zoo[export]'``;
only the Distill WebGL exporter works without them.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from nca_zoo.zoo import ZooModel

#: Format name → (module, function) that writes it.
FORMATS: dict[str, tuple[str, str]] = {
    "savedmodel": ("nca_zoo.export.savedmodel", "export_savedmodel"),
    "onnx": ("nca_zoo.export.onnx", "export_onnx"),
    "onnx-web": ("nca_zoo.export.onnx_web", "export_onnx_web"),
    "tflite": ("nca_zoo.export.tflite", "export_tflite"),
    "distill-webgl": ("nca_zoo.export.distill_webgl", "export_distill_webgl"),
}

EXTRA_HINT = "pip install 'nca-zoo[export]'"


class MissingRuntimeError(ImportError):
    """An exporter's optional dependency is not installed (it lives in the ``export`` extra)."""


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or fail with a message naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingRuntimeError(f"{purpose} needs the Python package {module!r}: {EXTRA_HINT}") from err


def resolve(nca: ZooModel | str) -> ZooModel:
    """Accept a ``ZooModel`` or a name that ``nca_zoo.load`` understands."""
    if isinstance(nca, ZooModel):
        return nca
    import nca_zoo

    return nca_zoo.load(nca)


def export(nca: ZooModel | str, format: str, out: str | os.PathLike, **options: Any) -> list[Path]:
    """Export ``nca`` as ``format`` (one of :data:`FORMATS`) to ``out``; returns the files written."""
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {sorted(FORMATS)}")
    module, function = FORMATS[format]
    return getattr(importlib.import_module(module), function)(resolve(nca), out, **options)


__all__ = ["EXTRA_HINT", "FORMATS", "MissingRuntimeError", "export", "require", "resolve"]
