"""Side-by-side peers: the Distill NCA as a user would otherwise get it, one module per peer.

Each module is written from the published model spec (Mordvintsev et al., Distill 2020) in its
framework, or drives a package installed from PyPI, and has ``make(setting) -> list[PeerRow]``:
one row per variant (e.g. TensorFlow with and without XLA). A row's ``train()`` runs one training
iteration (batch, ``setting.steps`` steps, forward + backward + per-variable gradient
normalisation where the peer allows + Adam) and ``infer()`` runs ``setting.steps`` inference steps;
both return only when the work is done. Optional ``check()`` returns the state one step after
``setting.states`` with every cell firing, in nca-zoo's channel layout: the benchmark compares it
with nca-zoo's reference step on the same weights (proof that the peer is the same model).

Peers import their framework lazily: a missing one is reported, not fatal (see benchmarks/README.md
for the install lines).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

#: peer name → module in this package; the order is the table's.
PEERS = {"tf": "tf2", "torch": "torch_nca", "cax": "cax_nca", "jaxnca": "jax_nca_pypi"}


@dataclasses.dataclass(frozen=True)
class Setting:
    """What every peer runs on: nca-zoo's weights and grown states, as NumPy."""

    params: dict[str, dict[str, np.ndarray]]  # nca-zoo layout: dense_0 (48,128)+(128,), dense_1 (128,16)+(16,)
    states: np.ndarray  # (B, H, W, 16) float32, RGBA = channels 0..3
    target: np.ndarray  # (H, W, 4) premultiplied RGBA
    steps: int
    fire_rate: float = 0.5
    learning_rate: float = 2e-3
    seed: int = 0

    @property
    def channels(self) -> int:
        return self.states.shape[-1]


@dataclasses.dataclass
class PeerRow:
    name: str
    train: Callable[[], Any] | None
    infer: Callable[[], Any] | None
    note: str = ""
    check: Callable[[], np.ndarray] | None = None
    #: minutes per training iteration on two cores (XLA:CPU's grouped-convolution gradient, or a
    #: much larger computation): timed with fewer repeats, or in a separate invocation.
    slow: bool = False


def depthwise_kernel_order(kernel: np.ndarray, channels: int) -> np.ndarray:
    """First-layer rows from nca-zoo's [identity×C, dx×C, dy×C] to a depthwise conv's [c·3 + k] order."""
    return kernel.reshape(3, channels, -1).transpose(1, 0, 2).reshape(3 * channels, -1)


def perception_kernels() -> np.ndarray:
    """The fixed (3, 3, 3) identity / Sobel-x / Sobel-y kernels, [row = y, column = x, kernel]."""
    identity = np.zeros((3, 3), np.float32)
    identity[1, 1] = 1.0
    sobel_x = (np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0]) / 8.0).astype(np.float32)
    return np.stack([identity, sobel_x, sobel_x.T], axis=-1)


def load(name: str):
    """The peer module for ``name`` (one of :data:`PEERS`)."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")
    return importlib.import_module(f"{__name__}.{PEERS[name]}")
