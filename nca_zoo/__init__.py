"""nca-zoo: pretrained Neural Cellular Automata (Growing NCA, Distill 2020) in JAX/Flax.

>>> import nca_zoo
>>> gecko = nca_zoo.load("gecko")
>>> gecko.save_gif("gecko.gif")
"""

from __future__ import annotations

from nca_zoo import _source_tree  # noqa: F401 - a checkout on PYTHONPATH: weights/ as nca_zoo.bundled
from nca_zoo.config import NCAConfig
from nca_zoo.factory import load
from nca_zoo.model import damage, rollout, seed, step, to_rgb, to_rgba
from nca_zoo.registry import UnknownModelError, ZooEntry, get_entry, list_models
from nca_zoo.version import __version__
from nca_zoo.zoo import ZooModel

__all__ = [
    "NCAConfig",
    "UnknownModelError",
    "ZooEntry",
    "ZooModel",
    "__version__",
    "damage",
    "get_entry",
    "list_models",
    "load",
    "rollout",
    "seed",
    "step",
    "to_rgb",
    "to_rgba",
]
