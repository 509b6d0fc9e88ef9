"""Shared fixtures: paths to the original authors' models (../shared) and small NCAs for fast tests."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nca_zoo.config import NCAConfig
from nca_zoo.convert import load_distill_original
from nca_zoo.model import init_params
from nca_zoo.zoo import ZooModel

SHARED = Path(__file__).resolve().parents[2] / "shared"
DISTILL = SHARED / "reference" / "distill-growing-ca"
# JAX's persistent compilation cache, shared by the test process and every CLI subprocess it starts
# (they inherit the environment): the same programs (rollouts, training iterations) compile once.
COMPILATION_CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax-compilation-cache"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(COMPILATION_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
min_compile_s = float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)
NO_SHARED = "needs the original authors' Distill models in ../shared/reference/distill-growing-ca (absent here)"


@pytest.fixture(scope="session")
def distill_gecko() -> ZooModel:
    """The authors' pretrained regenerating gecko (ex3_gecko), with their own target."""
    if not DISTILL.is_dir():
        pytest.skip(NO_SHARED)
    return load_distill_original(DISTILL, "gecko", "regen")


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


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (the scripts are not a package), for testing its functions."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
