"""Shared fixtures: paths to the original authors' models (../shared) and small NCAs for fast tests."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from nca_zoo.config import NCAConfig
from nca_zoo.model import init_params
from nca_zoo.targets import EMOJI, pad_target
from nca_zoo.zoo import ZooModel

SHARED = Path(__file__).resolve().parents[2] / "shared"
DISTILL = SHARED / "reference" / "distill-growing-ca"
NO_SHARED = "needs the original authors' Distill models in ../shared/reference/distill-growing-ca (absent here)"


def distill_target(name: str) -> np.ndarray:
    """The authors' own 40-px training target for ``name``, premultiplied and padded to 72×72."""
    sprite = np.asarray(Image.open(DISTILL / "emoji_targets_40px.png").convert("RGBA"), np.float32) / 255.0
    i = list(EMOJI).index(name)
    rgba = sprite[:, 40 * i : 40 * (i + 1)].copy()
    rgba[..., :3] *= rgba[..., 3:]
    return pad_target(rgba)


@pytest.fixture(scope="session")
def distill_gecko() -> ZooModel:
    """The authors' pretrained regenerating gecko (ex3_gecko), with their own target."""
    if not DISTILL.is_dir():
        pytest.skip(NO_SHARED)
    from nca_zoo.convert import from_distill_webgl

    return from_distill_webgl(DISTILL / "ex3_gecko.json", target=distill_target("gecko"))


def random_params(config: NCAConfig = NCAConfig(), seed: int = 0) -> dict:
    """Parameters with a non-zero output layer, so every step changes the state."""
    params = init_params(config, jax.random.PRNGKey(seed))
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed + 1))
    params["dense_1"]["kernel"] = jax.random.normal(k1, params["dense_1"]["kernel"].shape) * 0.05
    params["dense_1"]["bias"] = jax.random.normal(k2, params["dense_1"]["bias"].shape) * 0.01
    return params


def blob_state(batch: int = 2, size: int = 32, seed: int = 0) -> jnp.ndarray:
    """A random live blob in the middle of an empty grid (alive and dead cells, borders)."""
    rng = np.random.RandomState(seed)
    state = np.zeros((batch, size, size, 16), np.float32)
    lo, hi = size // 4, size - size // 4
    state[:, lo:hi, lo:hi] = rng.uniform(-0.2, 0.8, (batch, hi - lo, hi - lo, 16))
    return jnp.asarray(state)
