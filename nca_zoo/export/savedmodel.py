"""TF SavedModel via ``jax2tf`` (native serialization): each signature is one ``XlaCallModule`` op.

Batch, height, width (and the rollout's T) are symbolic by default: with jax 0.10 and TF 2.21 the
shape-polymorphic StableHLO saves, reloads and matches JAX, so one signature serves every grid.
``static=(B, H, W, T)`` fixes them instead, which the TFLite converter needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nca_zoo.export import require
from nca_zoo.export._graph import rollout_fn, step_fn
from nca_zoo.export._readme import write_readme
from nca_zoo.zoo import ZooModel

#: Lowered for both, so the same SavedModel runs on TF CPU and TF GPU builds.
DEFAULT_PLATFORMS = ("cpu", "cuda")


def _tf() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return require("tensorflow", "the SavedModel/TFLite exporter")


def build_savedmodel(
    nca: ZooModel,
    out: str | os.PathLike,
    *,
    static: tuple[int, int, int, int] | None = None,
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS,
) -> Path:
    """Write the SavedModel (signatures ``step`` and ``rollout``) to the directory ``out``."""
    tf = _tf()
    from jax.experimental import jax2tf

    c = nca.config.channels
    step = step_fn(nca)
    if static is None:
        b, h, w, t = None, None, None, None
        poly_step = ["(b, h, w, _)", "(b, h, w, _)", "()"]
        poly_roll = ["(b, h, w, _)", "(t, b, h, w, _)", "()"]
    else:
        b, h, w, t = static
        poly_step = poly_roll = None
    options = {"native_serialization_platforms": platforms, "with_gradient": False}
    tf_step = jax2tf.convert(step, polymorphic_shapes=poly_step, **options)
    tf_roll = jax2tf.convert(rollout_fn(step), polymorphic_shapes=poly_roll, **options)

    state = tf.TensorSpec([b, h, w, c], tf.float32, name="state")
    angle = tf.TensorSpec([], tf.float32, name="angle")
    module = tf.Module()
    module.step = tf.function(
        lambda state, update_mask, angle: {"new_state": tf_step(state, update_mask, angle)},
        input_signature=[state, tf.TensorSpec([b, h, w, 1], tf.float32, name="update_mask"), angle],
        autograph=False,
    )
    module.rollout = tf.function(
        lambda state, update_masks, angle: {"new_state": tf_roll(state, update_masks, angle)},
        input_signature=[state, tf.TensorSpec([t, b, h, w, 1], tf.float32, name="update_masks"), angle],
        autograph=False,
    )
    signatures = {"step": module.step.get_concrete_function(), "rollout": module.rollout.get_concrete_function()}
    tf.saved_model.save(module, str(out), signatures=signatures)
    return Path(out)


README = """\
A TensorFlow SavedModel made with `jax2tf` (native serialization: each signature holds one
`XlaCallModule` op with the model's StableHLO, lowered for {platforms}; nca-zoo's tests run it
on CPU). Needs TensorFlow ≥ 2.21 (tested with tensorflow-cpu 2.21); TF.js and tf2onnx cannot
read `XlaCallModule`.

Signatures: `step` (state, update_mask, angle → new_state) and `rollout` (state, update_masks,
angle → new_state). {dynamic}

```python
import numpy as np, tensorflow as tf
nca = tf.saved_model.load("{name}")
state = np.zeros((1, 72, 72, {c}), np.float32); state[:, 36, 36, 3:] = 1
mask = (np.random.rand(1, 72, 72, 1) < {fire_rate}).astype(np.float32)
state = nca.signatures["step"](state=state, update_mask=mask, angle=tf.constant(0.0))["new_state"]
```
"""


def export_savedmodel(
    nca: ZooModel,
    out: str | os.PathLike,
    *,
    static: tuple[int, int, int, int] | None = None,
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS,
) -> list[Path]:
    """Export ``nca`` as a SavedModel directory ``out`` with a README.md inside; returns [dir, readme]."""
    out = build_savedmodel(nca, out, static=static, platforms=platforms)
    if static is None:
        dynamic = "Batch B, height H, width W and the rollout's T are dynamic: one signature serves every grid."
    else:
        dynamic = f"Static shapes: B, H, W, T = {static}."
    body = README.format(
        platforms=", ".join(platforms),
        dynamic=dynamic,
        name=out.name,
        c=nca.config.channels,
        fire_rate=nca.config.fire_rate,
    )
    return [out, write_readme(out / "README.md", nca, "TF SavedModel", body)]
