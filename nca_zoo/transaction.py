"""Write several files as one update: all of them, or (on any failure) none of them.

A zoo entry spans files — weights, ``registry.json``, ``MODEL_CARD.md``, pictures — that must
agree (the registry pins the weights' sha256). :func:`write_all` stages every file next to its
destination first (fully written and fsynced), then renames them into place, keeping the old
contents; if anything fails before the last rename, every file already replaced is restored and
every new one removed, so readers see the old set or the new set, never a mix that cannot load.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def stage(path: Path, data: bytes) -> Path:
    """``data`` fully written and fsynced to a temporary file beside ``path`` (mode 0644); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".staged")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_all(files: Mapping[str | os.PathLike, bytes]) -> None:
    """Replace every ``path → bytes`` in ``files`` together (see the module docstring)."""
    targets = {Path(p).absolute(): data for p, data in files.items()}
    staged: dict[Path, Path] = {}
    old: dict[Path, bytes | None] = {}
    replaced: list[Path] = []
    try:
        for path, data in targets.items():
            staged[path] = stage(path, data)
            old[path] = path.read_bytes() if path.exists() else None
        for path, tmp in staged.items():
            os.replace(tmp, path)
            replaced.append(path)
    except BaseException:
        for path in reversed(replaced):
            if old[path] is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(stage(path, old[path]), path)
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
