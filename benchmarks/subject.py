"""What the benchmarks run on: trained weights and the grown patterns they make.

In order of preference: the zoo entry (``nca_zoo.load``), else the original authors' pretrained
regenerating model for the same target from ../shared (``ex3_<target>.json``), else random
weights on a random live blob (said in the output: speed is then measured on a pattern that does
not look like a grown one).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import nca_zoo
from nca_zoo import model
from nca_zoo.config import NCAConfig
from nca_zoo.targets import grid_target

DISTILL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "distill-growing-ca"


@dataclasses.dataclass
class Subject:
    name: str  # what the weights are, for the output
    params: Any
    config: NCAConfig
    target: jax.Array  # (72, 72, 4)
    grown: bool  # False: random weights on a random blob

    def states(self, batch: int, size: int = 72, steps: int = 96) -> jax.Array:
        """Patterns as the pool holds them in steady-state training: grown from the seed for ``steps``."""
        if not self.grown:
            return random_blob(batch, size, self.config.channels)
        x = model.seed(batch, size, self.config.channels)
        return model.rollout(self.params, x, jax.random.PRNGKey(0), steps, config=self.config)[0]


def random_blob(batch: int, size: int, channels: int, seed: int = 0) -> jax.Array:
    rng = np.random.RandomState(seed)
    state = np.zeros((batch, size, size, channels), np.float32)
    lo, hi = size // 4, size - size // 4
    state[:, lo:hi, lo:hi] = rng.uniform(-0.2, 0.8, (batch, hi - lo, hi - lo, channels))
    return jnp.asarray(state)


def load_subject(name: str = "gecko") -> Subject:
    try:
        nca = nca_zoo.load(name, local_files_only=True)
        target = jnp.asarray(grid_target(nca.entry.target))
        return Subject(f"zoo entry {nca.name}", nca.params, nca.config, target, True)
    except (nca_zoo.UnknownModelError, FileNotFoundError, OSError):
        pass
    target = jnp.asarray(grid_target(name))
    path = DISTILL / f"ex3_{name}.json"
    if path.is_file():
        from nca_zoo.convert import from_distill_webgl

        nca = from_distill_webgl(path)
        what = f"Distill authors' {path.stem} (no zoo entry '{name}' yet)"
        return Subject(what, nca.params, nca.config, target, True)
    config = NCAConfig()
    params = model.init_params(config, jax.random.PRNGKey(0))
    k = jax.random.PRNGKey(1)
    params["dense_1"]["kernel"] = jax.random.normal(k, params["dense_1"]["kernel"].shape) * 0.05
    return Subject("random weights on a random live blob (no trained model available)", params, config, target, False)
