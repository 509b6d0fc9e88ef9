"""Take an NCA out of JAX: TF SavedModel, ONNX (+ an onnxruntime-web runner), TFLite, Distill WebGL JSON,
and a self-contained WebGL2 web page (``web``).

Every exported step is deterministic: randomness is an input. It takes ``state`` (float32 NHWC,
(B,H,W,C)), ``update_mask`` (float32 (B,H,W,1), 1 = the cell updates) and ``angle`` (float32
scalar, radians) and returns ``new_state``; the rollout variant takes ``update_masks`` (T,B,H,W,1).
Feeding the same masks to JAX (``nca.step(state, update_mask=mask)``) gives the same states.

>>> from nca_zoo import export
>>> export.export("gecko", "onnx", "gecko.onnx")  # doctest: +SKIP

Optional runtimes (TensorFlow, jax2onnx, onnx, LiteRT) come with ``pip install 'nca-zoo[export]'``
(from a checkout: ``pip install -e '.[export]'``); the Distill WebGL and web-page exporters work without them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
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
    "web": ("nca_zoo.export.web", "export_web"),
}
#: Formats whose exporter takes a list of models (a registry wildcard such as ``'*-regen-16'``).
MULTI_MODEL_FORMATS = frozenset({"web"})
WILDCARDS = "*?["


def is_pattern(name: object) -> bool:
    """A registry wildcard such as ``'*-regen-16'`` (Hub and folder specs never are)."""
    return (
        isinstance(name, str) and not name.startswith(("hf-hub:", "local-dir:")) and any(ch in name for ch in WILDCARDS)
    )


EXTRA_HINT = "pip install 'nca-zoo[export]', or from a checkout pip install -e '.[export]'"


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


def resolve_many(models: ZooModel | str | Sequence[ZooModel | str]) -> list[ZooModel]:
    """Models from a ``ZooModel``, a name, a registry wildcard (``'*-regen-16'``) or a list of those."""
    if isinstance(models, ZooModel):
        return [models]
    if isinstance(models, str):
        if not is_pattern(models):
            return [resolve(models)]
        from nca_zoo.registry import UnknownModelError, list_models

        names = list_models(models)
        if not names:
            raise UnknownModelError(f"no registered model matches {models!r}; see `nca-zoo list`")
        return [resolve(name) for name in names]
    return [m for item in models for m in resolve_many(item)]


def export(
    nca: ZooModel | str | Sequence[ZooModel | str], format: str, out: str | os.PathLike, **options: Any
) -> list[Path]:
    """Export ``nca`` as ``format`` (one of :data:`FORMATS`) to ``out``; returns the files written.

    Formats in :data:`MULTI_MODEL_FORMATS` (``web``) also take several models: a list, or a
    registry wildcard such as ``'*-regen-16'``.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {sorted(FORMATS)}")
    module, function = FORMATS[format]
    if format in MULTI_MODEL_FORMATS:
        target: ZooModel | list[ZooModel] = resolve_many(nca)
    elif isinstance(nca, ZooModel) or (isinstance(nca, str) and not is_pattern(nca)):
        target = resolve(nca)
    else:
        raise ValueError(f"the {format!r} format exports one model; only {sorted(MULTI_MODEL_FORMATS)} take several")
    return getattr(importlib.import_module(module), function)(target, out, **options)


__all__ = [
    "EXTRA_HINT",
    "FORMATS",
    "MULTI_MODEL_FORMATS",
    "MissingRuntimeError",
    "export",
    "require",
    "resolve",
    "resolve_many",
]
