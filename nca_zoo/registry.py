"""The zoo's registry: one ``ZooEntry`` per pretrained NCA, named ``<target>-<experiment>-<channels>``.

Entries are data (``nca_zoo/registry.json``, shipped with the package): ``scripts/train_and_push.py``
prints new ones in that format. Names support wildcards (``list_models("gecko-*")``) and short
aliases (``gecko`` → ``gecko-regen-16``; ``🦎`` works too).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib.resources
import json
from functools import cache
from typing import Any

from nca_zoo.config import NCAConfig
from nca_zoo.targets import resolve_name

EXPERIMENT_PREFERENCE = ("regen", "persist", "grow")  # what a bare target name resolves to
HUB_ORG = "nca-zoo"


class UnknownModelError(KeyError):
    """No registry entry has this name; the message lists the closest names."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A pretrained NCA: its architecture, weights (bundled file + Hub repo), recipe and metrics."""

    name: str
    target: str
    experiment: str
    config: NCAConfig
    weights_file: str
    sha256: str
    hub_repo: str
    revision: str | None  # the Hub commit once published; None = not yet published
    license: str = "Apache-2.0"
    recipe: dict[str, Any] = dataclasses.field(default_factory=dict)  # TrainConfig fields
    training: dict[str, Any] = dataclasses.field(default_factory=dict)  # iterations, wall time, hardware
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)  # evaluation protocol results
    description: str = ""

    def __post_init__(self) -> None:
        expected = f"{self.target}-{self.experiment}-{self.config.channels}"
        if self.name != expected:
            raise ValueError(f"entry name {self.name!r} should be {expected!r} (<target>-<experiment>-<channels>)")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["config"] = self.config.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ZooEntry:
        return cls(**{**data, "config": NCAConfig.from_dict(data["config"])})


@cache
def _entries() -> dict[str, ZooEntry]:
    text = importlib.resources.files("nca_zoo").joinpath("registry.json").read_text()
    return {e["name"]: ZooEntry.from_dict(e) for e in json.loads(text)["entries"]}


def _aliases() -> dict[str, str]:
    """``<target>`` and ``<target>-<experiment>`` → the full name (regen preferred, 16 channels first)."""
    aliases: dict[str, str] = {}
    ranked = sorted(
        _entries().values(),
        key=lambda e: (EXPERIMENT_PREFERENCE.index(e.experiment), e.config.channels != 16, e.config.channels),
    )
    for entry in ranked:
        aliases.setdefault(entry.target, entry.name)
        aliases.setdefault(f"{entry.target}-{entry.experiment}", entry.name)
    return aliases


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style wildcard, e.g. ``list_models("*-regen-*")``."""
    return sorted(n for n in _entries() if fnmatch.fnmatchcase(n, pattern))


def resolve(name: str) -> str:
    """The full registry name for ``name`` (a full name, an alias or a target emoji)."""
    entries = _entries()
    if name in entries:
        return name
    aliases = _aliases()
    target = resolve_name(name)
    for candidate in (name, target):
        if candidate is not None and candidate in aliases:
            return aliases[candidate]
    close = difflib.get_close_matches(name, [*entries, *aliases], n=5, cutoff=0.4)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    known = ", ".join(list_models()) or "(none)"
    raise UnknownModelError(f"unknown model {name!r}.{hint} Available models: {known}")


def get_entry(name: str) -> ZooEntry:
    """The registry entry for ``name`` (aliases accepted); unknown names fail with close matches."""
    return _entries()[resolve(name)]
