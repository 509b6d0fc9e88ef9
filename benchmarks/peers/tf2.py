"""The Distill NCA in TensorFlow 2, the original authors' stack, written from the published spec.

Perception is ``tf.nn.depthwise_conv2d`` with the identity and Sobel kernels, the update rule two
1×1 convolutions (48→128, ReLU, →16, as Keras ``Conv2D(…, 1)`` layers compute them), the
stochastic update ``uniform < fire_rate``, alive masking with a 3×3 max-pool on alpha > 0.1.
Training: a 96-step rollout under ``tf.GradientTape``, MSE on RGBA, each variable's gradient
divided by its norm, Adam (eps 1e-7, written out in TF ops so no Keras optimizer is involved).
Two rows: ``tf.function`` graphs, and the same with XLA (``jit_compile=True``).

Install: ``pip install tensorflow-cpu==2.21.*``.
"""

from __future__ import annotations

import os

import numpy as np

from . import PeerRow, Setting, depthwise_kernel_order, perception_kernels


def make(setting: Setting) -> list[PeerRow]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.random.set_seed(setting.seed)
    return [_row(tf, setting, xla) for xla in (False, True)]


def _row(tf, setting: Setting, xla: bool) -> PeerRow:
    """One variant with its own variables (training one row must not move another's weights)."""
    c = setting.channels
    p = setting.params
    perception = tf.constant(np.repeat(perception_kernels()[:, :, None, :], c, axis=2))  # (3,3,C,3)
    w0 = tf.Variable(depthwise_kernel_order(np.asarray(p["dense_0"]["kernel"]), c)[None, None])
    b0 = tf.Variable(np.asarray(p["dense_0"]["bias"]))
    w1 = tf.Variable(np.asarray(p["dense_1"]["kernel"])[None, None])
    b1 = tf.Variable(np.asarray(p["dense_1"]["bias"]))
    variables = [w0, b0, w1, b1]
    moments = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in variables]
    t = tf.Variable(0.0)
    states = tf.constant(setting.states)
    target = tf.constant(setting.target)

    def alive(x):
        return tf.nn.max_pool2d(x[..., 3:4], 3, 1, "SAME") > 0.1

    def step(x, fire_rate):
        pre = alive(x)
        y = tf.nn.depthwise_conv2d(x, perception, [1, 1, 1, 1], "SAME")
        h = tf.nn.relu(tf.nn.conv2d(y, w0, 1, "VALID") + b0)
        dx = tf.nn.conv2d(h, w1, 1, "VALID") + b1
        fire = tf.cast(tf.random.uniform(tf.shape(x[..., :1])) < fire_rate, tf.float32)
        x = x + dx * fire
        return x * tf.cast(pre & alive(x), tf.float32)

    def rollout(x):
        for _ in tf.range(setting.steps):
            x = step(x, setting.fire_rate)
        return x

    def train_iteration():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(rollout(states)[..., :4] - target))
        grads = tape.gradient(loss, variables)
        t.assign_add(1.0)
        # Adam as optax / Keras compute it, with bias correction folded into the step size.
        lr = setting.learning_rate * tf.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t)
        for v, g, (m, s) in zip(variables, grads, moments, strict=True):
            g = g / (tf.norm(g) + 1e-8)
            m.assign(0.9 * m + 0.1 * g)
            s.assign(0.999 * s + 0.001 * g * g)
            v.assign_sub(lr * m / (tf.sqrt(s) + 1e-7 * tf.sqrt(1.0 - 0.999**t)))
        return loss

    train = tf.function(train_iteration, jit_compile=xla)
    infer = tf.function(lambda: rollout(states), jit_compile=xla)
    check = tf.function(lambda: step(states, 2.0), jit_compile=xla)  # uniform < 2: every cell fires
    return PeerRow(
        name=f"TensorFlow {tf.__version__} tf.function" + (" + XLA" if xla else ""),
        train=lambda: train().numpy(),
        infer=lambda: infer().numpy(),
        check=lambda: check().numpy(),
        note="authors' stack: depthwise conv + 1×1 convs",
        slow=xla,
    )
