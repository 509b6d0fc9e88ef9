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


def load(name: str, *, revision: str | None = None, local_files_only: bool = False) -> ZooModel:
    """A ready pretrained NCA by registry name or alias (``"gecko"``, ``"gecko-regen-16"``, ``"🦎"``),
    by Hub repo (``"hf-hub:org/repo"``, optionally ``"@revision"`` or ``revision=``) or by folder
    (``"local-dir:path"``, as written by ``save_pretrained`` or ``scripts/train_and_push.py``).

    Registry weights resolve bundled → local Hugging Face cache → Hub download at the pinned commit and
    are verified against the registry's sha256. ``local_files_only=True`` (or ``HF_HUB_OFFLINE=1``)
    never touches the network. Unknown names fail with the closest matches.
    """
    from nca_zoo.hub import load_model

    return load_model(name, revision=revision, local_files_only=local_files_only)


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
