"""CAX 0.3.3 (PyPI): the Growing NCA assembled from CAX's own modules, as its documentation does.

A ``cax.core.ComplexSystem`` whose step is ``ConvPerceive`` (a grouped 3×3 convolution, kernels
set to CAX's ``identity_kernel`` + ``grad_kernel``, i.e. identity / Sobel-y / Sobel-x) followed by
``NCAUpdate`` (1×1 convolutions 48→128→16, zero-initialised last layer, cell dropout 0.5 as the
stochastic update, alive masking on the last channel); ``ComplexSystem.__call__`` runs the steps
under ``nnx.jit`` + ``nnx.scan``. Training differentiates the final state's RGBA MSE with
``nnx.value_and_grad`` and steps an ``nnx.Optimizer`` (per-variable gradient normalisation +
Adam, eps 1e-7) over the update parameters, as CAX's growing-NCA example does.

Differences from Distill that are CAX's own: the alive channel is the last (RGBA = the last four
channels, so nca-zoo's states and weights are permuted channel-wise on the way in) and its cell
dropout doubles the updates it keeps (inverted dropout). With dropout off (``check``) the model is
exactly nca-zoo's.

Install: ``pip install cax==0.3.3`` (needs flax ≥ 0.12; it installs into the project's venv without
changing jax or flax).
"""

from __future__ import annotations

import numpy as np

from . import PeerRow, Setting


def make(setting: Setting) -> list[PeerRow]:
    import importlib.metadata

    import jax
    import jax.numpy as jnp
    import optax
    from cax.core import ComplexSystem
    from cax.core.perceive import ConvPerceive, grad_kernel, identity_kernel
    from cax.core.update import NCAUpdate
    from flax import nnx

    c = setting.channels
    hidden = setting.params["dense_0"]["bias"].shape[0]
    # CAX channel j holds nca-zoo channel perm[j]: hidden channels first, RGBA last.
    perm = np.r_[4:c, 0:4]

    class GrowingNCA(ComplexSystem):
        def __init__(self, rngs: nnx.Rngs):
            self.perceive = ConvPerceive(channel_size=c, perception_size=3 * c, feature_group_count=c, rngs=rngs)
            self.update = NCAUpdate(
                channel_size=c,
                perception_size=3 * c,
                hidden_layer_sizes=(hidden,),
                cell_dropout_rate=1.0 - setting.fire_rate,
                zeros_init=True,
                rngs=rngs,
            )
            kernel = jnp.concatenate([identity_kernel(ndim=2), grad_kernel(ndim=2)], axis=-1)  # (3,3,3)
            self.perceive.conv.kernel.value = jnp.tile(kernel, (1, 1, c))[:, :, None, :]

        def _step(self, state, input=None, *, sow=False):
            return self.update(state, self.perceive(state), input)

    cs = GrowingNCA(nnx.Rngs(setting.seed))
    # nca-zoo's weights in CAX's layout: first-layer row (cax channel j, kernel k') ← ours (kernel k, perm[j]).
    w0 = np.asarray(setting.params["dense_0"]["kernel"]).reshape(3, c, hidden)  # [k ∈ id,dx,dy][channel]
    w0 = w0[[0, 2, 1]][:, perm].transpose(1, 0, 2).reshape(3 * c, hidden)  # CAX kernels are id, dy, dx
    w1 = np.asarray(setting.params["dense_1"]["kernel"])[:, perm]
    layers = cs.update.layers
    layers[0].kernel.value = jnp.asarray(w0)[None, None]
    layers[0].bias.value = jnp.asarray(setting.params["dense_0"]["bias"])
    layers[1].kernel.value = jnp.asarray(w1)[None, None]
    layers[1].bias.value = jnp.asarray(np.asarray(setting.params["dense_1"]["bias"])[perm])

    states = jnp.asarray(setting.states[..., perm])
    target = jnp.asarray(setting.target)
    update_params = nnx.All(nnx.Param, nnx.PathContains("update"))
    normalize = optax.stateless(lambda g, _: jax.tree.map(lambda x: x / (jnp.linalg.norm(x) + 1e-8), g))
    optimizer = nnx.Optimizer(
        cs, optax.chain(normalize, optax.adam(setting.learning_rate, eps=1e-7)), wrt=update_params
    )

    def loss_fn(cs, x):
        final = cs(x, num_steps=setting.steps)
        return jnp.mean(jnp.square(final[..., -4:] - target))

    @nnx.jit
    def train_step(cs, optimizer, x):
        loss, grads = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, update_params))(cs, x)
        optimizer.update(cs, grads)
        return loss

    def check():
        cs.eval()  # dropout off: every cell fires, updates unscaled
        try:
            out = np.asarray(cs(states, num_steps=1))
        finally:
            cs.train()
        return out[..., np.argsort(perm)]

    return [
        PeerRow(
            name=f"CAX {importlib.metadata.version('cax')}",
            train=lambda: np.asarray(train_step(cs, optimizer, states)),
            infer=lambda: np.asarray(cs(states, num_steps=setting.steps)),
            check=check,
            note="grouped conv + 1×1 convs (nnx); cell dropout doubles kept updates",
            slow=True,
        )
    ]
