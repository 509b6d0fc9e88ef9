"""TFLite (LiteRT) flatbuffer, converted from a static-shape jax2tf SavedModel.

The TF 2.21 converter lowers a *static* ``XlaCallModule`` to builtin ops (the rollout's scan
becomes a WHILE); shape-polymorphic modules do not convert, so B, H, W and T are fixed here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nca_zoo.export._readme import write_readme
from nca_zoo.export.savedmodel import _tf, build_savedmodel
from nca_zoo.zoo import ZooModel

README = """\
A TFLite flatbuffer (`{name}`) for the LiteRT interpreter (`pip install ai-edge-litert`), converted
from a jax2tf SavedModel with static shapes: B = {b}, H = {h}, W = {w}, and the rollout takes
T = {t} masks. Export again with other `--batch/--size/--steps` for other shapes.

Signatures: `step` and `rollout`, builtin ops only (no Flex/TF ops needed).

```python
import numpy as np
from ai_edge_litert.interpreter import Interpreter
step = Interpreter(model_path="{name}").get_signature_runner("step")
state = np.zeros(({b}, {h}, {w}, {c}), np.float32); state[:, {h2}, {w2}, 3:] = 1
mask = (np.random.rand({b}, {h}, {w}, 1) < {fire_rate}).astype(np.float32)
state = step(state=state, update_mask=mask, angle=np.float32(0))["new_state"]
```
"""


def export_tflite(
    nca: ZooModel,
    out: str | os.PathLike,
    *,
    batch: int = 1,
    height: int = 72,
    width: int = 72,
    steps: int = 96,
) -> list[Path]:
    """Write ``out`` (.tflite) for fixed (batch, height, width) and a ``steps``-mask rollout, plus ``out``.md."""
    tf = _tf()
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="nca-tflite-") as tmp:
        saved = build_savedmodel(
            nca, Path(tmp) / "savedmodel", static=(batch, height, width, steps), platforms=("cpu",)
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["step", "rollout"])
        out.write_bytes(converter.convert())
    body = README.format(
        name=out.name,
        b=batch,
        h=height,
        w=width,
        t=steps,
        h2=height // 2,
        w2=width // 2,
        c=nca.config.channels,
        fire_rate=nca.config.fire_rate,
    )
    readme = write_readme(out.with_name(out.name + ".md"), nca, "TFLite (LiteRT)", body)
    return [out, readme]
