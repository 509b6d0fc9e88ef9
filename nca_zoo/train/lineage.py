"""A trained model's lineage: the runs that made it, so an entry built over several runs states its whole budget.

Zoo entries are rarely one run: a regen run is continued at a lower learning rate, a persist fine-tune starts
from one of its snapshots, a regen fine-tune from that. Each run records the runs before it (read from the
snapshot, weights file or zoo entry it started from) in ``run.json``, and every snapshot and weights file it
writes carries that lineage plus its own segment, so the next run, and finally the registry, can count the
iterations and wall time of the whole chain, not only the last run's.

A segment whose ``start`` is 0 began from fresh parameters or fine-tuned the segment before it (a fresh
optimiser); one with ``start`` > 0 continued a snapshot (its optimiser, key and iteration). Its
``learning_rates`` say which rate each stretch used (the recipe drops 2e-3 to 2e-4 at 2000), so a card does
not credit a whole from-scratch run to the rate it ended at; its ``settings`` say where its recipe departed
from the zoo preset of its experiment (``{"batch_loss": "log", "damage_count": 1}``), so a chain of fine-tunes
states what each leg trained. Segments recorded before these were have none.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

from nca_zoo.train.recipe import RECIPE_SETTINGS

METADATA_KEY = "lineage"  # in snapshot and weights metadata, run.json and the registry's training record
MAX_SEGMENTS = 256  # the metadata is untrusted: a longer chain is refused, not parsed
MAX_RATES = 64  # learning-rate changes per segment (a schedule has one; resumes at other rates add a few)
_MAX_TEXT = 64 << 10


@dataclasses.dataclass(frozen=True)
class Segment:
    """One run of a chain: where it ran, what it trained, which iterations and how long."""

    run: str  # the run folder's name, or "zoo:<entry>" for a registered entry recorded without its lineage
    experiment: str
    start: int  # the iteration it started from (0: new, or a fine-tune of the segment before)
    end: int
    wall_time_s: float
    learning_rate: float  # at its end
    #: ``(first iteration, rate)`` of each stretch at one learning rate, in order (``()``: not recorded).
    learning_rates: tuple[tuple[int, float], ...] = ()
    #: ``(name, value)`` of each recipe setting that departed from the experiment's zoo preset, sorted.
    settings: tuple[tuple[str, str | int | float | bool], ...] = ()
    #: The machine it trained on (``nca_zoo.machine.hardware()``; "": not recorded).
    hardware: str = ""

    @property
    def iterations(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["settings"] = dict(self.settings)
        for optional in _OPTIONAL:  # a segment without them is written as before they were recorded
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Segment:
        required = {f.name for f in dataclasses.fields(cls)} - set(_OPTIONAL)
        if not isinstance(data, dict) or not required <= set(data) <= required | set(_OPTIONAL):
            raise ValueError(f"a segment needs the keys {sorted(required)} (and may have {' and '.join(_OPTIONAL)})")
        run, experiment = data["run"], data["experiment"]
        start, end, wall, lr = data["start"], data["end"], data["wall_time_s"], data["learning_rate"]
        if not (isinstance(run, str) and isinstance(experiment, str) and 0 < len(run) <= 200 and len(experiment) <= 20):
            raise ValueError(f"run {run!r:.60} / experiment {experiment!r:.30} must be short strings")
        if not (_is_int(start) and _is_int(end)) or not 0 <= start <= end:
            raise ValueError(f"iterations {start!r:.20} → {end!r:.20} must be integers with 0 <= start <= end")
        if not all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in (wall, lr)):
            raise ValueError(f"wall_time_s {wall!r:.20} and learning_rate {lr!r:.20} must be finite and >= 0")
        rates = _rates(data.get("learning_rates", []), start, end)
        hardware = data.get("hardware", "")
        if not (isinstance(hardware, str) and len(hardware) <= 120 and hardware.isprintable()):
            raise ValueError(f"hardware {hardware!r:.40} must be a short printable string")
        settings = _settings(data.get("settings", {}))
        return cls(run, experiment, start, end, float(wall), float(lr), rates, settings, hardware)


_OPTIONAL = ("learning_rates", "settings", "hardware")


def _settings(data: Any) -> tuple[tuple[str, str | int | float | bool], ...]:
    """A segment's recorded recipe ``settings``, validated: known names, short strings, finite numbers or
    switches (``cut_in_rollout``)."""
    if not isinstance(data, dict):
        raise ValueError("settings must be a mapping of recipe settings to values")
    for name, value in data.items():
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        plain = number or isinstance(value, bool) or (isinstance(value, str) and len(value) <= 20)
        if name not in RECIPE_SETTINGS or not plain:
            raise ValueError(f"settings entry {name!r:.30}: {value!r:.30} is not a recipe setting ({RECIPE_SETTINGS})")
    return tuple(sorted(data.items()))


def _rates(data: Any, start: int, end: int) -> tuple[tuple[int, float], ...]:
    """A segment's recorded ``learning_rates``, validated: [iteration inside it, increasing; finite rate >= 0]."""
    if not isinstance(data, list) or len(data) > MAX_RATES:
        raise ValueError(f"learning_rates must be a list of at most {MAX_RATES} [iteration, rate] pairs")
    out: list[tuple[int, float]] = []
    for pair in data:
        first, rate = pair if isinstance(pair, list) and len(pair) == 2 else (None, None)
        first_ok = _is_int(first) and start <= first <= end and (not out or first > out[-1][0])
        rate_ok = isinstance(rate, int | float) and not isinstance(rate, bool) and math.isfinite(rate) and rate >= 0
        if not (first_ok and rate_ok):
            raise ValueError(f"learning_rates entry {pair!r:.40} needs [iteration in {start}..{end}, increasing; rate]")
        out.append((first, float(rate)))
    return tuple(out)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def rate_changes(iterations_and_rates: Sequence[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """``(first iteration, rate)`` of each stretch of ``(iteration, rate)`` rows at one rate: what a segment records."""
    out: list[tuple[int, float]] = []
    for iteration, rate in iterations_and_rates:
        if not out or rate != out[-1][1]:
            out.append((iteration, rate))
    return tuple(out)


Lineage = tuple[Segment, ...]


def dumps(lineage: Sequence[Segment]) -> str:
    return json.dumps([segment.to_dict() for segment in lineage], separators=(",", ":"))


def loads(text: str | None, source: str) -> Lineage:
    """The lineage a file recorded ('' / None: none), validated: it comes from a file, so it is untrusted."""
    if not text:
        return ()
    try:
        if len(text) > _MAX_TEXT:
            raise ValueError(f"{len(text):,} characters")
        data = json.loads(text)
        if not isinstance(data, list) or len(data) > MAX_SEGMENTS:
            raise ValueError(f"not a list of at most {MAX_SEGMENTS} segments")
        return tuple(Segment.from_dict(item) for item in data)
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{source}: its recorded training lineage is unreadable ({err})") from err


def of_entry(name: str, training: dict[str, Any], experiment: str) -> Lineage:
    """A registered entry's lineage: the one it records, else one segment of what its record counts
    (entries registered before lineages were recorded count only their last run)."""
    if METADATA_KEY in training:  # a Hub repo's config is untrusted too: validated like a file's
        return loads(json.dumps(training[METADATA_KEY]), f"entry {name}")
    segment = {
        "run": f"zoo:{name}",
        "experiment": experiment,
        "start": 0,
        "end": training.get("iterations", 0),
        "wall_time_s": training.get("wall_time_s", 0.0),
        "learning_rate": 0.0,  # not recorded
    }
    return loads(json.dumps([segment]), f"entry {name}")


def totals(lineage: Sequence[Segment]) -> tuple[int, float]:
    """(iterations, wall seconds) of the whole chain. A chain whose first run continued a snapshot made
    before lineages were recorded counts the iterations before it too; their wall time is not known."""
    before = lineage[0].start if lineage else 0
    return before + sum(s.iterations for s in lineage), sum(s.wall_time_s for s in lineage)


def complete(lineage: Sequence[Segment]) -> bool:
    """Whether the chain records every run that made it (with wall times), back to fresh parameters."""
    return bool(lineage) and lineage[0].start == 0 and not any(s.run.startswith("zoo:") for s in lineage)


def describe(lineage: Sequence[Segment]) -> str:
    """One line for a model card: each run, its experiment, iterations, learning rates and recipe departures,
    in order ("a (regen, 0→700 at 2e-5; batch_loss log, damage_count 1)"; a segment recorded without its
    rates gives the last one). A run's machine is named where it differs from the last run's, which the
    card's training line names ("…; on 1× NVIDIA H200 (gpu)")."""
    last_machine = lineage[-1].hardware if lineage else ""

    def rate(value: float) -> str:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"  # 2e-4, not 0.0002

    def one(s: Segment) -> str:
        stretches = s.learning_rates or ((s.start, s.learning_rate),)
        parts = [rate(lr) if i == 0 else f"{rate(lr)} from {first}" for i, (first, lr) in enumerate(stretches)]
        lr = f" at {', '.join(parts)}" if any(lr for _, lr in stretches) else ""
        settings = "; " + ", ".join(f"{name} {value}" for name, value in s.settings) if s.settings else ""
        on = f"; on {s.hardware}" if s.hardware and s.hardware != last_machine else ""
        return f"{s.run} ({s.experiment}, {s.start}→{s.end}{lr}{settings}{on})"

    return " → ".join(one(s) for s in lineage)
