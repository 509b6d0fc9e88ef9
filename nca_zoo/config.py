"""The architecture of one NCA, as a frozen dataclass: everything needed to rebuild the model."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

PERCEPTIONS = ("sobel",)

#: Whole-number fields: (minimum, maximum), both inclusive.
INT_RANGES = {"channels": (4, 1024), "hidden": (1, 8192)}
#: Real-number fields: (low, high, whether low itself is allowed); high is always allowed.
FLOAT_RANGES = {
    "fire_rate": (0.0, 1.0, False),
    "alive_threshold": (0.0, 1.0, True),
    "step_size": (0.0, 10.0, False),
}


@dataclasses.dataclass(frozen=True)
class NCAConfig:
    """Growing-NCA architecture (Mordvintsev et al., Distill 2020).

    The defaults are the reference model: 16 channels (RGBA first, alpha = 3), identity + Sobel
    perception, a 48→128→16 update MLP, fire rate 0.5 and alive threshold 0.1.

    Every field is checked: ``channels`` and ``hidden`` are whole numbers (``16.0`` and ``True`` are
    refused; NumPy integers become ``int``), the others finite numbers (ints become ``float``) in
    the ranges of :data:`INT_RANGES` and :data:`FLOAT_RANGES`.
    """

    channels: int = 16
    hidden: int = 128
    fire_rate: float = 0.5
    alive_threshold: float = 0.1
    step_size: float = 1.0
    perception: str = "sobel"

    def __post_init__(self) -> None:
        for name, (low, high) in INT_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"NCAConfig.{name} must be a whole number (an int), got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"NCAConfig.{name} must be in [{low}, {high}], got {value}")
            object.__setattr__(self, name, int(value))
        for name, (low, high, low_ok) in FLOAT_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"NCAConfig.{name} must be a finite number, got {value!r}")
            if not (low <= value if low_ok else low < value) or value > high:
                bracket = "[" if low_ok else "("
                raise ValueError(f"NCAConfig.{name} must be in {bracket}{low}, {high}], got {value}")
            object.__setattr__(self, name, float(value))
        if not isinstance(self.perception, str) or self.perception not in PERCEPTIONS:
            raise ValueError(f"NCAConfig.perception must be one of {PERCEPTIONS}, got {self.perception!r}")

    @property
    def perception_size(self) -> int:
        """Features per cell seen by the update MLP: identity, Sobel-x and Sobel-y per channel."""
        return 3 * self.channels

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> NCAConfig:
        """The config a JSON object describes; anything else (a list, unknown or bad fields) is a ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"an NCAConfig is a JSON object of its fields, got {type(data).__name__} {data!r:.80}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in set(data) - known)
        if unknown:
            raise ValueError(f"unknown NCAConfig fields {unknown}; known fields are {sorted(known)}")
        return cls(**data)
