"""The architecture of one NCA, as a frozen dataclass: everything needed to rebuild the model."""

from __future__ import annotations

import dataclasses
from typing import Any

PERCEPTIONS = ("sobel",)


@dataclasses.dataclass(frozen=True)
class NCAConfig:
    """Growing-NCA architecture (Mordvintsev et al., Distill 2020).

    The defaults are the reference model: 16 channels (RGBA first, alpha = 3), identity + Sobel
    perception, a 48→128→16 update MLP, fire rate 0.5 and alive threshold 0.1.
    """

    channels: int = 16
    hidden: int = 128
    fire_rate: float = 0.5
    alive_threshold: float = 0.1
    step_size: float = 1.0
    perception: str = "sobel"

    def __post_init__(self) -> None:
        if self.channels < 4:
            raise ValueError(f"channels must be >= 4 (RGBA + hidden), got {self.channels}")
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")
        if not 0.0 < self.fire_rate <= 1.0:
            raise ValueError(f"fire_rate must be in (0, 1], got {self.fire_rate}")
        if self.perception not in PERCEPTIONS:
            raise ValueError(f"perception must be one of {PERCEPTIONS}, got {self.perception!r}")

    @property
    def perception_size(self) -> int:
        """Features per cell seen by the update MLP: identity, Sobel-x and Sobel-y per channel."""
        return 3 * self.channels

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NCAConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown NCAConfig fields {unknown}; known fields are {sorted(known)}")
        return cls(**data)
