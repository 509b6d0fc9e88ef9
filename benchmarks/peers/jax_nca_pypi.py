"""The seed project ``jax-nca`` 0.1.2 from PyPI, timed as it is (its own, larger architecture).

Its NCA is not the Distill model: perception is a full 16→16 convolution per Sobel kernel (every
output channel sums all input channels) computed as NCHW ``lax.conv``, the update rule three 1×1
convolutions 48→64→64→16, and its stochastic update is a constant mask drawn with NumPy at trace
time (the project README says only ``cell_fire_rate=1.0`` works): every cell updates every step.
Its training step rolls out ``steps`` steps, takes the loss over the last 8 states (it keeps them
all), scales the gradients by their global norm (not per variable) and applies ``optax.adam``.
We build ``NCA(num_hidden_channels=12)``, i.e. 16 state channels like ours, with its own random
initialisation, and call its ``train_step`` and ``NCA.multi_step`` unchanged.

Install: ``pip install jax-nca==0.1.2 --no-deps`` (its declared dependencies include TensorFlow,
OpenCV, pandas and tensorboardX, none of which the timed code uses).

Runtime patches for jax 0.10 / a ``--no-deps`` install, applied in this process only:

1. ``jax.tree_map`` (deprecated, then removed from JAX) is set to ``jax.tree.map``; ``jax_nca.trainer``'s
   gradient clipping calls it.
2. ``jax_nca.trainer.clip_grad_norm`` passes a Python list to ``jnp.linalg.norm``, which JAX now
   rejects; it is replaced by the same computation on ``jnp.stack`` of that list (the global norm
   of the per-variable norms; gradients scaled by 1 / (norm + 1e-8)).
3. ``pandas`` and ``tensorboardX`` are imported at the top of ``jax_nca.trainer`` but used only by
   its ``EmojiTrainer`` driver and logger, which we do not run: when they are not installed,
   placeholder modules stand in for them, whose every attribute raises when called.
"""

from __future__ import annotations

import sys
import types

import numpy as np

from . import PeerRow, Setting


class _Unavailable(types.ModuleType):
    """Stands in for a missing module: any name imported from it raises when it is used."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def unavailable(*_args, **_kwargs):
            raise ImportError(f"{self.__name__}.{name}: {self.__name__} is not installed (jax-nca peer placeholder)")

        return unavailable


def _patch_runtime() -> None:
    import importlib.util

    import jax

    if not hasattr(jax, "tree_map"):
        jax.tree_map = jax.tree.map  # patch 1
    for name in ("pandas", "tensorboardX"):  # patch 3
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = _Unavailable(name)


def make(setting: Setting) -> list[PeerRow]:
    _patch_runtime()
    import jax
    import jax.numpy as jnp
    from jax_nca import trainer
    from jax_nca.nca import NCA

    def clip_grad_norm(grad):  # patch 2
        norms = jax.tree_util.tree_leaves(jax.tree.map(jnp.linalg.norm, grad))
        factor = 1.0 / (jnp.linalg.norm(jnp.stack(norms)) + 1e-8)
        return jax.tree.map(lambda x: x * factor, grad)

    trainer.clip_grad_norm = clip_grad_norm

    b, h, w, c = setting.states.shape
    nca = NCA(num_hidden_channels=c - 4, num_target_channels=3)
    rng = jax.random.PRNGKey(setting.seed)
    state = {"train": trainer.create_train_state(rng, nca, setting.learning_rate, (h, w, c))}
    states = jnp.asarray(setting.states)
    targets = jnp.repeat(jnp.asarray(setting.target)[None], b, axis=0)

    def train():
        state["train"], loss, *_ = trainer.train_step(
            nca.apply, state["train"], states, targets, num_steps=setting.steps, rng=rng
        )
        return np.asarray(loss)

    def infer():
        final, _all_states = nca.multi_step(state["train"].params, states, rng, num_steps=setting.steps)
        return np.asarray(final)

    return [
        PeerRow(
            name="jax-nca 0.1.2 (PyPI, own architecture)",
            train=train,
            infer=infer,
            note="full 16→16 Sobel convs, 48→64→64→16, all cells update, loss on last 8 steps",
            slow=True,
        )
    ]
