"""The zoo's evaluation protocol: how well an NCA grows, persists and regenerates its target.

All numbers are MSE on the visible RGBA channels against the premultiplied target, averaged over
``batch`` independent rollouts (fire rate 0.5, keys from ``seed``) on the 72×72 grid:

- ``mse_96``: after 96 steps from the seed (the end of a training rollout);
- ``mse_1000``: the same rollouts continued to step 1000 (does the pattern stay?);
- ``mse_regen``: grown for 200 steps, the right half erased, then 200 more steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from nca_zoo import model

if TYPE_CHECKING:
    from nca_zoo.zoo import ZooModel


def mse(states: jax.Array, target: np.ndarray) -> np.ndarray:
    """Per-sample MSE of the RGBA channels of ``states`` (B,H,W,C) against ``target`` (H,W,4)."""
    return np.asarray(jnp.mean(jnp.square(model.to_rgba(states) - target), axis=(1, 2, 3)))


def evaluate(nca: ZooModel, *, batch: int = 8, seed: int = 0, long_steps: int = 1000) -> dict[str, float]:
    """Run the protocol above; returns ``{"mse_96", "mse_1000", "mse_regen"}`` (means over the batch)."""
    if nca.target is None:
        raise ValueError("evaluation needs the model's target; load a zoo entry or pass target=")
    target = nca.target
    size = target.shape[0]
    k_grow, k_long, k_regen, k_regrow = jax.random.split(jax.random.PRNGKey(seed), 4)
    start = model.seed(batch, size, nca.config.channels)
    grown, _ = nca.rollout(start, k_grow, 96)
    late, _ = nca.rollout(grown, k_long, long_steps - 96)
    grown_200, _ = nca.rollout(grown, k_regen, 104)
    damaged = model.damage(grown_200, kind="half", side="right")
    regrown, _ = nca.rollout(damaged, k_regrow, 200)
    return {
        "mse_96": float(mse(grown, target).mean()),
        f"mse_{long_steps}": float(mse(late, target).mean()),
        "mse_regen": float(mse(regrown, target).mean()),
    }
