"""ONNX via ``jax2onnx``: one step, and a rollout whose ``lax.scan`` becomes an ONNX ``Loop``.

How this differs from a plain ``to_onnx(model.step)`` (the result is checked against JAX in the tests):

- The step is :func:`nca_zoo.model.step` (dense path), whose alive test calls
  ``flax.linen.max_pool`` with keyword arguments: jax2onnx swaps in a keyword-only version while it
  traces and converts it to a 2-D MaxPool (raw ``lax.reduce_window`` would become a 4-D MaxPool
  that onnxruntime rejects).
- jax2onnx 0.17.1 keeps state between conversions that breaks every conversion after the first
  in a process (here: the rollout after the step); :func:`_reset_gather_folding` clears it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from nca_zoo.export import require
from nca_zoo.export._graph import StepFn, rollout_fn, step_fn
from nca_zoo.export._readme import write_readme
from nca_zoo.zoo import ZooModel

DEFAULT_OPSET = 17
OUTPUT = "new_state"


def _reset_gather_folding() -> None:
    """Work around a jax2onnx 0.17.1 bug: its gather plugin registers constant folders on the first
    conversion's context only (a module-level flag), so a second export in the same process sees
    non-constant slice indices and fails on symbolic H/W. Clearing the flag re-registers them."""
    gather = sys.modules.get("jax2onnx.plugins.jax.lax.gather")
    if gather is not None and getattr(gather, "_CONST_HANDLERS_REGISTERED", False):
        gather._CONST_HANDLERS_REGISTERED = False


def _convert(nca: ZooModel, fn: StepFn, kind: str, mask: tuple[str, tuple[str | int, ...]], opset: int) -> Any:
    """``fn(state, <mask>, angle)`` → a checked ``onnx.ModelProto`` with symbolic dimensions."""
    mask_name, mask_shape = mask
    onnx = require("onnx", "the ONNX exporter")
    jax2onnx = require("jax2onnx", "the ONNX exporter")
    _reset_gather_folding()
    c = nca.config.channels
    proto = jax2onnx.to_onnx(
        fn,
        [("B", "H", "W", c), mask_shape, jax.ShapeDtypeStruct((), jnp.float32)],
        model_name=f"{nca.name}-{kind}",
        opset=opset,
        input_names=["state", mask_name, "angle"],
        output_names=[OUTPUT],
    )
    proto.doc_string = f"nca-zoo {nca.name} {kind}: (state, {mask_name}, angle) -> new_state; see its README"
    onnx.checker.check_model(proto, full_check=True)
    return proto


def step_model(nca: ZooModel, opset: int = DEFAULT_OPSET) -> Any:
    """The one-step ``onnx.ModelProto`` with symbolic B, H, W."""
    return _convert(nca, step_fn(nca), "step", ("update_mask", ("B", "H", "W", 1)), opset)


def rollout_model(nca: ZooModel, opset: int = DEFAULT_OPSET) -> Any:
    """The rollout ``onnx.ModelProto``: jax2onnx turns the ``lax.scan`` over ``update_masks`` [T,B,H,W,1]
    into an ONNX ``Loop`` whose trip count is T (symbolic, like B, H, W)."""
    masks = ("update_masks", ("T", "B", "H", "W", 1))
    return _convert(nca, rollout_fn(step_fn(nca)), "rollout", masks, opset)


README = """\
ONNX models (opset {opset}) with dynamic batch B, height H and width W:

- `{step}`: one step (state, update_mask, angle → new_state), exported with jax2onnx.
- `{rollout}`: T steps in an ONNX `Loop` (state, update_masks [T,B,H,W,1], angle → new_state);
  T is dynamic too.

```python
import numpy as np, onnxruntime as ort
step = ort.InferenceSession("{step}")
state = np.zeros((1, 72, 72, {c}), np.float32); state[:, 36, 36, 3:] = 1
mask = (np.random.rand(1, 72, 72, 1) < {fire_rate}).astype(np.float32)
state = step.run(None, {{"state": state, "update_mask": mask, "angle": np.array(0, np.float32)}})[0]
```
"""


def rollout_path(out: Path) -> Path:
    """Where the rollout model goes beside ``out`` (``gecko.onnx`` → ``gecko.rollout.onnx``)."""
    return out.with_name(out.stem + ".rollout" + out.suffix)


def write_models(nca: ZooModel, out: Path, opset: int = DEFAULT_OPSET) -> list[Path]:
    """Save the step model to ``out`` and the rollout beside it; returns both paths."""
    onnx = require("onnx", "the ONNX exporter")
    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    onnx.save(step_model(nca, opset), out)
    onnx.save(rollout_model(nca, opset), rollout_path(out))
    return [out, rollout_path(out)]


def export_onnx(nca: ZooModel, out: str | os.PathLike, *, opset: int = DEFAULT_OPSET) -> list[Path]:
    """Write ``out`` (step), ``*.rollout.onnx`` and ``out``.md; returns the paths."""
    out = Path(out)
    paths = write_models(nca, out, opset)
    body = README.format(
        opset=opset, step=out.name, rollout=paths[1].name, c=nca.config.channels, fire_rate=nca.config.fire_rate
    )
    return [*paths, write_readme(out.with_name(out.name + ".md"), nca, "ONNX", body)]
