"""Training recipes: the three Distill experiments as presets of one frozen dataclass."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Sequence
from typing import Any

from nca_zoo.model import MAX_DISC_RADIUS

EXPERIMENTS = ("grow", "persist", "regen")
BATCH_LOSSES = ("mean", "rmse", "log")
RESEED_CHOICES = ("worst", "random")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the model architecture and the target.

    Defaults are Distill's regenerating experiment: batch 8 from a pool of 1024 sorted by loss,
    the worst reseeded, the 3 best damaged with random discs, 64–96 steps per iteration, Adam
    2e-3 → 2e-4 at iteration 2000, 8000 iterations, 40-px target padded by 16 (72×72 grid).
    ``pool_size = 0`` trains from the seed every iteration (the growing experiment).

    ``half_cut_fraction`` is the zoo's addition for regeneration: each damaged sample loses a
    random half-plane (``model.damage_mask(kind="plane")``) instead of a disc with this
    probability. Distill damages with discs only (0.0); the zoo's regen preset uses 0.5, because
    disc-trained NCAs heal discs but only partly regrow a removed half.

    ``batch_loss`` is what the gradient follows: ``"mean"`` (Distill) the batch's mean MSE;
    ``"log"`` the mean of each sample's log-MSE, so every sample pulls by its *relative* error.
    That is for regen fine-tunes of a persist model: there the damaged samples' MSE is 10–100×
    the persisting ones', their gradient is the whole mean's and points against persistence
    (training/README.md, session 16); under ``"log"`` the persisting samples keep their say.
    ``"rmse"``, the mean of each sample's root-MSE, lies between: a sample pulls by the square root
    of its error, so a cut sample 100× the others' error pulls 10× as hard, not 100× (mean) or 1× (log).

    ``reseed_count`` is how many of a pool batch's worst samples are replaced by the seed (Distill: 1).
    Only those train growth from the seed, so a persist fine-tune whose model grows too slowly can give
    growth more of the gradient with 2–4 (training/README.md, session 20); it needs no pool's turnover.

    ``reseed`` is which of them: ``"worst"`` (Distill) or ``"random"``, rows drawn at random among the
    undamaged ones. Under ``"worst"`` a cut sample that one rollout did not heal is usually its next
    batch's worst and goes back to the seed, so the pool never trains the later part of a long healing
    (smiley's eye after a half cut: training/README.md, session 28); under ``"random"`` it stays and
    heals on.

    ``detail_weight`` weighs each pixel's error in the gradient by ``1 + detail_weight · detail``, where
    ``detail`` (0…1) is how far the target's pixel is from its 5×5 neighbourhood's mean (:func:`nca_zoo.train.step.
    detail_weights`): small features — smiley's eyes, the ladybug's spots — and outlines count more. Distill
    weighs every pixel alike (0.0). An eye is ~1/250 of the grid, so a model that regrows a face without it
    loses little of the mean (training/README.md, session 31); the logged loss stays the plain MSE.

    ``aimed_disc_fraction`` is the probability that a damaging disc is centred on a feature inside the
    pattern — a cell drawn with probability ∝ the target's detail where the target is opaque all around
    (:func:`nca_zoo.train.step.feature_cells`: eyes, mouth, spots; not the outline) — instead of uniformly
    in the middle of the grid (Distill, 0.0). Uniform discs mostly cut an eye together with much of the
    face; an aimed one takes the eye and leaves the face around it to regrow it from.

    ``cut_in_rollout`` cuts the damaged samples *inside* the differentiated rollout, at a step drawn uniformly
    in ``[0, n_steps // 2]``, instead of before it (Distill: False). Cut before the rollout, a sample's state
    at the cut comes from earlier iterations, outside the gradient, so nothing teaches a grown pattern to
    keep what its regrowth needs (smiley's eye forms only while the growth front passes: training/README.md,
    session 31); cut inside it, the gradient reaches the steps before the cut.

    ``hidden_weight`` (with ``cut_in_rollout``) adds to the differentiated loss that weight times how far the
    cut cells' *hidden* channels (4…) end from where the same rollout, uncut, ends (:func:`nca_zoo.train.step.
    hidden_regrowth_error`; one more forward rollout, outside the gradient). The original smiley regrows a cut
    eye's hidden state to within 5% of the uncut one, ours to 40% and regrows no eye (training/README.md,
    session 36): the RGBA loss sees the eye's ~1/250 of the grid, this asks the whole hidden state of the cut
    region back (Distill: 0.0). Measured so far, it does what it says and not what was hoped: at 0.03–1 on
    smiley it lowered that distance but cost persistence within 300–1,000 iterations and brought no eye.

    ``disc_center_span`` and ``disc_min_radius`` narrow the damaging discs' draws: a centre uniform in
    ``[-span, span]²`` and a radius uniform in ``[disc_min_radius, 0.4]``, in grid coordinates (``[-1, 1]``
    across; Distill: 0.5 and 0.1). Large discs over the middle are a small share of Distill's draws and the
    ones a model may fail to heal (ladybug: training/README.md, session 32); a smaller span and a larger
    minimum radius give them more of the gradient. ``narrowed_disc_fraction`` is the share of uniform discs
    drawn so (1.0 by default: all of them); the rest, per sample, keep Distill's draws, so one regen leg can
    train on large middle holes and on the article's discs together (training/README.md, session 35).
    """

    experiment: str = "regen"
    iterations: int = 8000
    batch_size: int = 8
    pool_size: int = 1024
    damage_count: int = 3
    half_cut_fraction: float = 0.0
    min_steps: int = 64
    max_steps: int = 96
    learning_rate: float = 2e-3
    decayed_learning_rate: float = 2e-4
    decay_at: int = 2000
    target_size: int = 40
    padding: int = 16
    seed: int = 0
    batch_loss: str = "mean"
    reseed_count: int = 1
    reseed: str = "worst"
    detail_weight: float = 0.0
    aimed_disc_fraction: float = 0.0
    cut_in_rollout: bool = False
    disc_center_span: float = 0.5
    disc_min_radius: float = 0.1
    narrowed_disc_fraction: float = 1.0
    hidden_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {self.experiment!r}; choose one of {EXPERIMENTS}")
        if self.batch_loss not in BATCH_LOSSES:
            raise ValueError(f"unknown batch_loss {self.batch_loss!r}; choose one of {BATCH_LOSSES}")
        if self.reseed not in RESEED_CHOICES:
            raise ValueError(f"unknown reseed {self.reseed!r}; choose one of {RESEED_CHOICES}")
        # Whole numbers (bool and float refused, NumPy integers made plain ints) with their minimum.
        int_minimum = {"iterations": 1, "batch_size": 1, "pool_size": 0, "damage_count": 0, "min_steps": 1}
        int_minimum |= {"max_steps": 1, "decay_at": 0, "target_size": 1, "padding": 0, "seed": 0}
        int_minimum |= {"reseed_count": 1}
        for name, minimum in int_minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
                kind = {0: "a non-negative integer", 1: "a positive integer"}[minimum]
                raise ValueError(f"TrainConfig.{name} must be {kind}, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.seed >= 2**32:
            raise ValueError(f"TrainConfig.seed must be below 2**32, got {self.seed}")
        real_numbers = ("learning_rate", "decayed_learning_rate", "half_cut_fraction", "detail_weight", "hidden_weight")
        disc_numbers = ("aimed_disc_fraction", "disc_center_span", "disc_min_radius", "narrowed_disc_fraction")
        for name in (*real_numbers, *disc_numbers):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"TrainConfig.{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("learning_rate", "decayed_learning_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"TrainConfig.{name} must be positive, got {getattr(self, name)!r}")
        if not 1 <= self.min_steps <= self.max_steps:
            raise ValueError(f"need 1 <= min_steps <= max_steps, got {self.min_steps}, {self.max_steps}")
        if self.pool_size and self.pool_size < self.batch_size:
            raise ValueError(f"pool_size ({self.pool_size}) must be 0 or >= batch_size ({self.batch_size})")
        if self.damage_count >= self.batch_size:
            raise ValueError("damage_count must leave at least one undamaged sample in the batch")
        if self.pool_size and self.reseed_count + self.damage_count > self.batch_size:
            raise ValueError(
                f"reseed_count ({self.reseed_count}) + damage_count ({self.damage_count}) must not exceed "
                f"batch_size ({self.batch_size}): a sample cannot be both reseeded and damaged"
            )
        if self.damage_count and not self.pool_size:
            raise ValueError("damage needs a sample pool (pool_size > 0)")
        if not isinstance(self.cut_in_rollout, bool):
            raise ValueError(f"TrainConfig.cut_in_rollout must be True or False, got {self.cut_in_rollout!r}")
        if self.cut_in_rollout and not self.damage_count:
            raise ValueError("cut_in_rollout needs damaged samples (damage_count > 0)")
        for name in ("detail_weight", "hidden_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be 0 or more, got {getattr(self, name)}")
        if self.hidden_weight and not self.cut_in_rollout:
            raise ValueError("hidden_weight needs cut_in_rollout=True: it compares the cut rollout with the uncut one")
        for name in ("half_cut_fraction", "aimed_disc_fraction", "disc_center_span", "narrowed_disc_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.disc_min_radius <= MAX_DISC_RADIUS:
            raise ValueError(f"disc_min_radius must be in (0, {MAX_DISC_RADIUS}], got {self.disc_min_radius}")

    @property
    def grid_size(self) -> int:
        return self.target_size + 2 * self.padding

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**data)


RECIPES = ("zoo", "distill")
ZOO_HALF_CUT_FRACTION = 0.5


def preset(experiment: str, recipe: str = "zoo", **overrides: Any) -> TrainConfig:
    """The recipe for ``experiment`` (grow / persist / regen), with optional overrides.

    ``recipe="distill"`` is the article's recipe exactly; ``"zoo"`` (the default, what the zoo's
    entries are trained with) is the same except that regen damages half of its damaged samples
    with a random half-plane instead of a disc (``half_cut_fraction``; see :class:`TrainConfig`).
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {EXPERIMENTS}")
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {RECIPES}")
    base = {
        "grow": {"pool_size": 0, "damage_count": 0},
        "persist": {"pool_size": 1024, "damage_count": 0},
        "regen": {"pool_size": 1024, "damage_count": 3},
    }[experiment]
    if recipe == "zoo" and experiment == "regen":
        base = {**base, "half_cut_fraction": ZOO_HALF_CUT_FRACTION}
    return TrainConfig(experiment=experiment, **{**base, **overrides})


def parse_overrides(items: Sequence[str]) -> dict[str | None, dict[str, Any]]:
    """``["iterations=100", "regen.pool_size=64"]`` → ``{None: {...}, "regen": {...}}`` (typed by
    :class:`TrainConfig`'s fields; ``EXPERIMENT.KEY`` applies to that experiment's entries only)."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    out: dict[str | None, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        scope, dot, key = key.strip().rpartition(".")
        key = key.replace("-", "_")
        if not sep or key not in fields or key == "experiment" or (dot and scope not in EXPERIMENTS):
            raise ValueError(
                f"bad recipe override {item!r}: use KEY=VALUE or EXPERIMENT.KEY=VALUE, EXPERIMENT one of "
                f"{', '.join(EXPERIMENTS)}, KEY one of {', '.join(k for k in fields if k != 'experiment')}"
            )
        kind = type(fields[key].default)
        try:
            typed = kind(value) if kind is not bool else value.lower() in ("1", "true", "yes")
        except ValueError as err:
            raise ValueError(f"bad recipe override {item!r}: {key} takes a {kind.__name__}") from err
        out.setdefault(scope or None, {})[key] = typed
    return out


def plain_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["batch_size=2", "learning-rate=1e-3"]`` → typed overrides of one run's recipe (no ``EXPERIMENT.``
    scopes: the run has one experiment)."""
    scoped = parse_overrides(items)
    if set(scoped) - {None}:
        bad = next(item for item in items if item.partition("=")[0].strip().rpartition(".")[1])
        raise ValueError(f"bad recipe override {bad!r}: a single run takes KEY=VALUE, without an experiment")
    return scoped.get(None, {})


#: What a run's lineage segment records of its recipe (:func:`departures`): the settings that shape what is
#: learned. Budget, learning rates (recorded as the rates actually used) and seed are left to the segment.
RECIPE_SETTINGS = (
    "batch_size", "pool_size", "damage_count", "half_cut_fraction", "min_steps", "max_steps",
    "target_size", "padding", "batch_loss", "reseed_count", "reseed", "detail_weight",
    "aimed_disc_fraction", "cut_in_rollout", "disc_center_span", "disc_min_radius", "narrowed_disc_fraction",
    "hidden_weight",
)  # fmt: skip


def departures(config: TrainConfig) -> dict[str, str | int | float]:
    """Where ``config`` departs from the zoo preset of its experiment (:data:`RECIPE_SETTINGS` only), so a
    card can say that a run trained with, e.g., the log loss and one damaged sample per batch."""
    zoo = preset(config.experiment)
    return {name: getattr(config, name) for name in RECIPE_SETTINGS if getattr(config, name) != getattr(zoo, name)}


def weights_provenance(target: str, train_config: TrainConfig, iterations: int, trainer: str) -> dict[str, str]:
    """The metadata a trained weights file records, so the file alone says what it is: its target
    (``nca_zoo.load`` and ``nca-zoo eval`` pick it up), experiment, recipe and iterations done (which
    ``train-zoo --init`` continues the schedule from)."""
    return {
        "target": target,
        "experiment": train_config.experiment,
        "recipe": json.dumps(train_config.to_dict()),
        "iterations": str(int(iterations)),
        "trainer": trainer,
    }
