"""nca-zoo: pretrained Neural Cellular Automata (Growing NCA, Distill 2020) in JAX/Flax.

>>> import nca_zoo
>>> gecko = nca_zoo.load("gecko")
>>> gecko.save_gif("gecko.gif")
"""

from __future__ import annotations

from nca_zoo.config import NCAConfig
from nca_zoo.model import damage, rollout, seed, step, to_rgb, to_rgba
from nca_zoo.registry import UnknownModelError, ZooEntry, get_entry, list_models
from nca_zoo.zoo import ZooModel

__version__ = "0.1.0"


def load(name: str, *, local_files_only: bool = False) -> ZooModel:
    """A ready pretrained NCA by registry name or alias (``"gecko"``, ``"gecko-regen-16"``, ``"🦎"``).

    Weights resolve bundled → local Hugging Face cache → Hub download (pinned revision) and are
    verified against the registry's sha256. Unknown names fail with the closest matches.
    """
    from nca_zoo.hub import resolve_weights
    from nca_zoo.targets import grid_target
    from nca_zoo.weights import load_weights

    entry = get_entry(name)
    path = resolve_weights(entry, local_files_only=local_files_only)
    params, config = load_weights(path, config=entry.config, sha256=entry.sha256)
    return ZooModel(config=config, params=params, entry=entry, target=grid_target(entry.target))


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
