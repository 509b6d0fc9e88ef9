"""Training recipes: the three Distill experiments as presets of one frozen dataclass."""

from __future__ import annotations

import dataclasses
from typing import Any

EXPERIMENTS = ("grow", "persist", "regen")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the model architecture and the target.

    Defaults are Distill's regenerating experiment: batch 8 from a pool of 1024 sorted by loss,
    the worst reseeded, the 3 best damaged with random discs, 64–96 steps per iteration, Adam
    2e-3 → 2e-4 at iteration 2000, 8000 iterations, 40-px target padded by 16 (72×72 grid).
    ``pool_size = 0`` trains from the seed every iteration (the growing experiment).
    """

    experiment: str = "regen"
    iterations: int = 8000
    batch_size: int = 8
    pool_size: int = 1024
    damage_count: int = 3
    min_steps: int = 64
    max_steps: int = 96
    learning_rate: float = 2e-3
    decayed_learning_rate: float = 2e-4
    decay_at: int = 2000
    target_size: int = 40
    padding: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {self.experiment!r}; choose one of {EXPERIMENTS}")
        if not 1 <= self.min_steps <= self.max_steps:
            raise ValueError(f"need 1 <= min_steps <= max_steps, got {self.min_steps}, {self.max_steps}")
        if self.pool_size and self.pool_size < self.batch_size:
            raise ValueError(f"pool_size ({self.pool_size}) must be 0 or >= batch_size ({self.batch_size})")
        if self.damage_count >= self.batch_size:
            raise ValueError("damage_count must leave at least one undamaged sample in the batch")
        if self.damage_count and not self.pool_size:
            raise ValueError("damage needs a sample pool (pool_size > 0)")

    @property
    def grid_size(self) -> int:
        return self.target_size + 2 * self.padding

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**data)


def preset(experiment: str, **overrides: Any) -> TrainConfig:
    """The Distill recipe for ``experiment`` (grow / persist / regen), with optional overrides."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {EXPERIMENTS}")
    base = {
        "grow": {"pool_size": 0, "damage_count": 0},
        "persist": {"pool_size": 1024, "damage_count": 0},
        "regen": {"pool_size": 1024, "damage_count": 3},
    }[experiment]
    return TrainConfig(experiment=experiment, **{**base, **overrides})
