"""Other formats in: the original Distill demo's 8-bit ``webgl_models8`` JSON → ``ZooModel``.

Format (distillpub/post--growing-ca, ``export_ca_to_webgl_demo``): a list of two layers, each
``{"data_b64", "in_ch", "out_ch", "weight_scale", "bias_scale", "type": "uint8"}``; the data are
(in_ch + 1) rows × out_ch uint8 values, the last row the bias; a value is
``(u8 / 255 − 0.5) · scale``. First-layer rows are ordered [identity×16, dx×16, dy×16], the same
order as :func:`nca_zoo.model.perceive`.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nca_zoo.config import NCAConfig
from nca_zoo.targets import EMOJI, pad_target
from nca_zoo.zoo import ZooModel


def _unpack_layer(layer: dict[str, Any], source: str) -> tuple[np.ndarray, np.ndarray]:
    if layer.get("type", "uint8") != "uint8":
        raise ValueError(f"{source}: only 8-bit (webgl_models8) layers are supported, got {layer.get('type')!r}")
    in_ch, out_ch = int(layer["in_ch"]), int(layer["out_ch"])
    raw = np.frombuffer(base64.b64decode(layer["data_b64"]), np.uint8)
    if raw.size != (in_ch + 1) * out_ch:
        raise ValueError(f"{source}: layer has {raw.size} values, expected ({in_ch}+1)×{out_ch}")
    values = raw.reshape(in_ch + 1, out_ch).astype(np.float32) / 255.0 - 0.5
    kernel = values[:-1] * np.float32(layer["weight_scale"])
    bias = values[-1] * np.float32(layer["bias_scale"])
    return kernel, bias


def from_distill_webgl(path: str | os.PathLike, target: np.ndarray | None = None) -> ZooModel:
    """Load a Distill ``webgl_models8`` JSON as a ``ZooModel`` (``target``: optional (72,72,4))."""
    source = str(path)
    layers = json.loads(Path(path).read_text())
    if not isinstance(layers, list) or len(layers) != 2:
        raise ValueError(f"{source}: expected a list of two layers (a Distill webgl_models8 file)")
    (k0, b0), (k1, b1) = (_unpack_layer(layer, source) for layer in layers)
    channels, hidden = k1.shape[1], k0.shape[1]
    config = NCAConfig(channels=channels, hidden=hidden)
    if k0.shape[0] != config.perception_size:
        raise ValueError(f"{source}: first layer has {k0.shape[0]} inputs, expected 3×{channels}")
    params = {"dense_0": {"kernel": k0, "bias": b0}, "dense_1": {"kernel": k1, "bias": b1}}
    return ZooModel(config=config, params=params, target=target)


#: The original article's model file prefix for each experiment (``ex1_gecko.json``, …).
DISTILL_EXPERIMENTS = {"grow": "ex1", "persist": "ex2", "regen": "ex3"}
DISTILL_SPRITE = "emoji_targets_40px.png"


def distill_target(directory: str | os.PathLike, target: str) -> np.ndarray:
    """The original authors' own 40-px training target for a zoo target name, premultiplied and
    padded to 72×72, cut from their sprite ``emoji_targets_40px.png`` (ten targets, zoo order)."""
    if target not in EMOJI:
        raise ValueError(f"the original models cover {sorted(EMOJI)}, not {target!r}")
    sprite_path = Path(directory) / DISTILL_SPRITE
    sprite = np.asarray(Image.open(sprite_path).convert("RGBA"), np.float32) / 255.0
    if sprite.shape != (40, 400, 4):
        raise ValueError(f"{sprite_path}: expected a 400×40 sprite of ten targets, got {sprite.shape[1::-1]}")
    i = list(EMOJI).index(target)
    rgba = sprite[:, 40 * i : 40 * (i + 1)].copy()
    rgba[..., :3] *= rgba[..., 3:]
    return pad_target(rgba)


def load_distill_original(directory: str | os.PathLike, target: str, experiment: str) -> ZooModel:
    """The original authors' pretrained model for (target, experiment), with their own target."""
    if experiment not in DISTILL_EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {sorted(DISTILL_EXPERIMENTS)}")
    path = Path(directory) / f"{DISTILL_EXPERIMENTS[experiment]}_{target}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no original model {path.name} in {directory}")
    return from_distill_webgl(path, target=distill_target(directory, target))
