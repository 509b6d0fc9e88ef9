"""Running from a source checkout without installing (``PYTHONPATH=.``): find the bundled files.

An installed nca-zoo (wheel or ``pip install -e .``) maps the package ``nca_zoo.bundled`` to the
repository's ``weights/`` folder (``[tool.setuptools.package-dir]`` in pyproject.toml). A plain
source tree on ``sys.path`` has no such package, so ``nca_zoo`` registers ``weights/`` under that
name itself (on import of this module) when it is importable no other way; installed copies
are left alone.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BUNDLED = "nca_zoo.bundled"


def register_bundled() -> None:
    """Make ``nca_zoo.bundled`` the checkout's ``weights/`` if nothing else provides it."""
    if BUNDLED in sys.modules:
        return
    try:
        if importlib.util.find_spec(BUNDLED) is not None:
            return
    except (ImportError, ValueError):
        pass
    weights = Path(__file__).resolve().parents[1] / "weights"
    init = weights / "__init__.py"
    if not init.is_file():
        return
    spec = importlib.util.spec_from_file_location(BUNDLED, init, submodule_search_locations=[str(weights)])
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[BUNDLED] = module
    spec.loader.exec_module(module)


register_bundled()
