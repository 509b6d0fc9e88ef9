"""The zoo trainer: a list of entries — several targets and experiments — trained in one jitted program.

    nca-zoo train-zoo gecko:regen smiley:grow fish:persist --out runs/zoo --max-minutes 9
    nca-zoo train-zoo all --out runs/zoo --init ../shared/pretrain       # the 30-entry zoo

Every entry follows exactly the recipe ``nca_zoo.train.recipe.preset(experiment)`` gives it (with
any ``--set`` overrides): the iteration is step.py's own pieces (``sample_batch``, ``draw_steps``,
``loss_and_grads``, ``apply_update``, ``write_back``), vmapped over the entries. Entries are grouped
by recipe (the grow, persist and regen presets differ in pool and damage, which are shapes and
branches, so each group is vmapped separately), but the rollouts — where the time goes — of all
groups with the same batch shape and step range run as one vmapped rollout. One program, one
dispatch per iteration, on the default device; with several devices, each group whose size the
device count divides is sharded along its entry axis.

Output folder ``OUT``:

- ``OUT/<name>/`` per entry (``<target>-<experiment>-<channels>``): ``run.json`` (written at the
  start), ``metrics.jsonl`` (one line per iteration: loss, steps, learning rate, and ``seconds``,
  the entry's share of the zoo iteration's wall time), ``snapshots/<iteration>.safetensors`` at the end
  of every chunk (~100 KB each: a pool-trained model's quality swings, so the best may not be the
  last), and when the entry has its recipe's iterations, ``model.safetensors`` and
  ``snapshot.safetensors``: a run folder that ``scripts/register_entry.py OUT/<name>`` accepts.
- ``OUT/state/``: ``manifest.json`` and, per unfinished entry, ``<name>.safetensors`` (a
  :mod:`nca_zoo.train.snapshot`: params, optimizer, key, iteration) and ``<name>.pool.npy``.

Chunks and resumption: the program runs ``chunk_iters`` iterations at a time; after each chunk it
checks ``max_minutes`` and stops cleanly before a chunk that would not fit, writing the state
folder. Running the same command with the same ``OUT`` resumes. With ``pools="keep"`` (default)
the sample pools are saved too and the resumed run is identical to an uninterrupted one (same
arrays, same program). With ``pools="drop"`` only the small snapshots are kept (~100 KB per entry
instead of up to 340 MB for a 1024-sample 72×72 pool): the resumed run continues with the same
parameters, optimizer moments, schedule and iteration, but its pools restart from seeds and
refill from the trained parameters — a continuation, not a bit-identical one. The manifest says
which (``pool`` per entry: ``"seed"`` = the fresh pool, exact; ``"file"``; ``"dropped"``).

``init`` starts entries from earlier work: files, folders of them, or another zoo output folder (its
finished ``<name>/snapshot.safetensors`` and unfinished ``state/<name>.safetensors``), matched to entries
by name (file stem ``<name>``). A training snapshot continues that run (its pool restarts from seeds)
with its own learning-rate schedule unless ``--set`` names one;
a weights file whose metadata records ``iterations`` (as ``../shared/pretrain/*.safetensors``
do) starts the entry at that iteration, so its budget and learning-rate schedule continue
(Adam's moments start fresh). ``init_from=EXPERIMENT`` matches each entry to its target's EXPERIMENT
model instead (``<target>-EXPERIMENT-<channels>``) and fine-tunes it: its params only, a fresh optimiser,
iteration 0 and the entry's own recipe. That chains the legs of a route in separate calls — grow from
scratch, then ``persist`` from that (``--init OUT1 --init-from grow``), then ``grow`` and ``regen`` from
the persist models (``--init OUT2 --init-from persist``) — as ``nca-zoo train --init SNAPSHOT
--experiment OTHER`` does for one run.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from nca_zoo import model
from nca_zoo.config import NCAConfig
from nca_zoo.machine import MACHINE_KEYS, machine_record
from nca_zoo.targets import EMOJI, grid_target, resolve_name
from nca_zoo.train import lineage
from nca_zoo.train.loop import SNAPSHOT_NAME, learning_rate, lineage_metadata, start_lineage
from nca_zoo.train.recipe import EXPERIMENTS, TrainConfig, parse_overrides, preset, weights_provenance
from nca_zoo.train.snapshot import is_snapshot, kept_snapshot, load_snapshot, save_snapshot, snapshot_model
from nca_zoo.train.step import (
    TrainState,
    apply_update,
    draw_steps,
    init_state,
    loss_and_grads,
    rollout_settings,
    sample_batch,
    split_keys,
    write_back,
)
from nca_zoo.weights import atomic_write_bytes, load_weights, read_metadata, save_weights

FORMAT = "nca-zoo-zoo-state"
FORMAT_VERSION = "1"
STATE_DIR = "state"
MANIFEST = "manifest.json"
POOL_MODES = ("keep", "drop")
#: ``all`` (or ``zoo``) on the command line: every zoo target × every experiment.
ZOO_SPECS = tuple(f"{target}:{experiment}" for target in EMOJI for experiment in EXPERIMENTS)
#: The learning-rate schedule, which an entry continuing a training snapshot keeps (``continue_schedules``).
SCHEDULE_KEYS = ("learning_rate", "decayed_learning_rate", "decay_at")


# ---- entries ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class EntrySpec:
    """One entry to train: a target (zoo name, emoji or RGBA image path) and its full recipe."""

    target: str
    target_name: str
    train_config: TrainConfig
    #: The recipe keys ``--set`` gave explicitly (not stored: only what continuing a snapshot may not change).
    explicit: frozenset[str] = dataclasses.field(default=frozenset(), compare=False)
    #: Given as ``TARGET:EXPERIMENT@SEED``: the seed is part of the name, so seeds of one entry train side by side.
    seeded: bool = False

    def name(self, model_config: NCAConfig) -> str:
        base = f"{self.target_name}-{self.train_config.experiment}-{model_config.channels}"
        return f"{base}-seed{self.train_config.seed}" if self.seeded else base

    def to_dict(self) -> dict[str, Any]:
        data = {"target": self.target, "target_name": self.target_name, "train_config": self.train_config.to_dict()}
        return data | ({"seeded": True} if self.seeded else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EntrySpec:
        train_config = TrainConfig.from_dict(data["train_config"])
        return cls(data["target"], data["target_name"], train_config, seeded=data.get("seeded", False) is True)


def parse_entries(specs: Sequence[str], overrides: Sequence[str] = (), seed: int = 0) -> list[EntrySpec]:
    """Entries from ``TARGET:EXPERIMENT`` strings (``all`` or ``zoo``: the 30-entry zoo), each with
    ``preset(EXPERIMENT)`` plus the overrides (see :func:`parse_overrides`) and ``seed``.

    ``TARGET:EXPERIMENT@SEED`` trains that entry from seed SEED under the name ``<name>-seedSEED``, so
    several seeds of one entry share the program (one vmapped recipe: a GPU trains K of them for about the
    price of one) and the best is picked afterwards; ``register_entry.py`` registers it under its plain name."""
    scoped = parse_overrides(overrides)
    expanded = [s for spec in specs for s in (ZOO_SPECS if spec in ("all", "zoo") else (spec,))]
    if not expanded:
        raise ValueError("no entries given: pass TARGET:EXPERIMENT (e.g. gecko:regen) or 'all'")
    entries = []
    for spec in expanded:
        pair, at, entry_seed = spec.rpartition("@") if "@" in spec.rpartition(":")[2] else (spec, "", "")
        target, sep, experiment = pair.rpartition(":")
        if not sep or not target or experiment not in EXPERIMENTS or (at and not entry_seed.isdigit()):
            raise ValueError(
                f"bad entry {spec!r}: use TARGET:EXPERIMENT or TARGET:EXPERIMENT@SEED (SEED a whole number), "
                f"EXPERIMENT one of {', '.join(EXPERIMENTS)}"
            )
        explicit = {**scoped.get(None, {}), **scoped.get(experiment, {})}
        name = resolve_name(target) or Path(target).stem
        recipe = preset(experiment, seed=int(entry_seed) if at else seed, **explicit)
        entries.append(EntrySpec(target, name, recipe, frozenset(explicit), seeded=bool(at)))
    return entries


def _static_recipe(tc: TrainConfig) -> TrainConfig:
    """What one iteration depends on: the recipe without its seed (init only) and budget."""
    return dataclasses.replace(tc, seed=0, iterations=1)


# ---- starting points --------------------------------------------------------------------------
def init_files(paths: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """``--init`` arguments → ``{name: path}``: a ``.safetensors`` file (named by its stem), or a folder of
    them; a zoo output folder also gives its finished runs' ``<name>/snapshot.safetensors`` and its
    unfinished entries' ``state/<name>.safetensors`` (the newer, where both exist)."""
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"--init {path}: no such file or folder")
        if not path.is_dir():
            found[path.stem] = path
            continue
        for run_snapshot in sorted(path.glob(f"*/{SNAPSHOT_NAME}")):
            found[run_snapshot.parent.name] = run_snapshot
        for f in (*sorted((path / STATE_DIR).glob("*.safetensors")), *sorted(path.glob("*.safetensors"))):
            found[f.stem] = f
    return found


def entry_sources(
    entries: Sequence[EntrySpec], files: dict[str, Path], model_config: NCAConfig, init_from: str | None = None
) -> dict[str, Path]:
    """``{entry name: the file it starts from}``: the file of its own name, or with ``init_from`` the file of
    its target's ``init_from`` model (``<target>-<init_from>-<channels>``), which it fine-tunes."""
    if init_from is not None and init_from not in EXPERIMENTS:
        raise ValueError(f"init_from must be one of {', '.join(EXPERIMENTS)}, got {init_from!r}")
    out = {}
    for entry in entries:
        key = entry.name(model_config)
        if init_from is not None:
            key = f"{entry.target_name}-{init_from}-{model_config.channels}"
        if key in files:
            out[entry.name(model_config)] = files[key]
    return out


def continue_schedules(
    entries: Sequence[EntrySpec], sources: dict[str, Path], model_config: NCAConfig
) -> list[EntrySpec]:
    # ``sources``: :func:`entry_sources` (the entries that continue a file, not those that fine-tune one)
    """``entries``, each that continues a training snapshot keeping that run's learning-rate schedule
    (``SCHEDULE_KEYS``) unless ``--set`` names it, as ``nca-zoo train --init SNAPSHOT`` does: a run
    lowered to 5e-5 must not jump back to the preset's 2e-4 because it moved to the zoo trainer."""
    out = []
    for entry in entries:
        source = sources.get(entry.name(model_config))
        if source is None or not is_snapshot(source):
            out.append(entry)
            continue
        stored = snapshot_model(source).train_config
        kept = {key: getattr(stored, key) for key in SCHEDULE_KEYS if key not in entry.explicit}
        out.append(dataclasses.replace(entry, train_config=dataclasses.replace(entry.train_config, **kept)))
    return out


def with_schedule_count(opt_state: Any, count: int) -> Any:
    """``opt_state`` with the learning-rate schedule's step counter set to ``count`` (Adam's own
    counter, which drives its bias correction, is left alone: fresh moments start fresh)."""

    def reset(node: Any) -> Any:
        if isinstance(node, optax.ScaleByScheduleState):
            return node._replace(count=jnp.asarray(count, node.count.dtype))
        return node

    return jax.tree.map(reset, opt_state, is_leaf=lambda n: isinstance(n, optax.ScaleByScheduleState))


def _require_zoo_model(source: Path, kind: str, config: NCAConfig, model_config: NCAConfig) -> None:
    """Refuse a start whose model differs from the zoo's: its params would not fit (or, worse, would)."""
    if config != model_config:
        raise ValueError(
            f"{source}: {kind} of a {config} model, but the zoo trains {model_config}; "
            "start from a file of a zoo-shaped model, or leave it out of --init"
        )


def initial_state(
    entry: EntrySpec, model_config: NCAConfig, source: Path | None, *, fine_tune: bool = False
) -> tuple[TrainState, str]:
    """The entry's starting state and a description of where it came from (``fine_tune``: the source's
    params only, with a fresh optimiser at iteration 0)."""
    tc = entry.train_config
    if source is None:
        return init_state(model_config, tc), f"fresh weights (seed {tc.seed})"
    if fine_tune:
        if is_snapshot(source):
            recorded = snapshot_model(source)
            params, config, kind = recorded.params, recorded.model_config, "snapshot"
        else:
            (params, config), kind = load_weights(source), "weights"
        _require_zoo_model(source, kind, config, model_config)
        return init_state(model_config, tc, params), f"fine-tune of {source} (fresh optimiser, iteration 0)"
    if is_snapshot(source):
        snap = load_snapshot(source, train_config=tc)
        _require_zoo_model(source, "snapshot", snap.model_config, model_config)
        schedule = f"learning rate {tc.learning_rate:g}, {tc.decayed_learning_rate:g} from iteration {tc.decay_at}"
        return snap.state, f"snapshot {source} at iteration {snap.iteration} (pool from seeds; {schedule})"
    params, config = load_weights(source)
    _require_zoo_model(source, "weights", config, model_config)
    recorded = read_metadata(source).get("iterations", "0")
    iteration = int(recorded) if recorded.isdigit() else 0
    state = init_state(model_config, tc, params)
    state = state._replace(
        iteration=jnp.asarray(iteration, state.iteration.dtype),
        opt_state=with_schedule_count(state.opt_state, iteration),
    )
    return state, f"weights {source} at iteration {iteration}"


# ---- the program ------------------------------------------------------------------------------
def _vmapped(fn: Callable, **static: Any) -> Callable:
    return jax.vmap(functools.partial(fn, **static))


@functools.partial(jax.jit, static_argnames=("model_config", "recipes", "path", "precision"), donate_argnums=(0,))
def zoo_step(
    groups: tuple[TrainState, ...],
    targets: tuple[jax.Array, ...],
    *,
    model_config: NCAConfig,
    recipes: tuple[TrainConfig, ...],
    path: str = "auto",
    precision: str = "highest",
) -> tuple[tuple[TrainState, ...], tuple[dict[str, jax.Array], ...]]:
    """One training iteration of every entry. ``groups[g]`` stacks the states of the entries with
    recipe ``recipes[g]`` (leading entry axis), ``targets[g]`` their targets (K_g, G, G, 4).

    Per group: keys, pool sampling, damage and step counts (``sample_batch``, ``draw_steps``) under
    ``vmap``; then one vmapped ``loss_and_grads`` over the entries of all groups that share batch
    shape and step range; then Adam and the pool write-back per group. Entry k's numbers are those
    of ``train_step`` on its own (to float rounding: vmapped products may sum in another order).
    Returns the new groups and, per group, ``{"loss", "steps"}`` (K_g,).
    """
    sampled = []
    for state, target, tc in zip(groups, targets, recipes, strict=True):
        keys = jax.vmap(split_keys)(state.key)
        idx, batch = _vmapped(sample_batch, model_config=model_config, train_config=tc)(state.pool, target, keys)
        n_steps = _vmapped(draw_steps, train_config=tc)(keys)
        sampled.append((keys, idx, batch, n_steps))

    # One rollout per (batch shape, rollout settings): the three presets share it.
    rollout_groups: dict[tuple, list[int]] = {}
    for g, tc in enumerate(recipes):
        rollout_groups.setdefault((sampled[g][2].shape[1:], *rollout_settings(tc)), []).append(g)
    results: dict[int, tuple[jax.Array, jax.Array, Any]] = {}

    def cat(arrays: Sequence[jax.Array]) -> jax.Array:
        return jnp.concatenate(arrays, axis=0)

    for members in rollout_groups.values():
        params = jax.tree.map(lambda *a: cat(a), *(groups[g].params for g in members))
        batch = cat([sampled[g][2] for g in members])
        target = cat([targets[g] for g in members])
        key = cat([sampled[g][0].rollout for g in members])
        n_steps = cat([sampled[g][3] for g in members])
        grad_fn = _vmapped(
            loss_and_grads, model_config=model_config, train_config=recipes[members[0]], path=path, precision=precision
        )
        loss, final, grads = grad_fn(params, batch, target, key, n_steps)
        start = 0
        for g in members:
            k = sampled[g][2].shape[0]
            part = slice(start, start + k)
            results[g] = (loss[part], final[part], jax.tree.map(lambda a, part=part: a[part], grads))
            start += k

    new_groups, outs = [], []
    for g, (state, tc) in enumerate(zip(groups, recipes, strict=True)):
        keys, idx, _, n_steps = sampled[g]
        loss, final, grads = results[g]
        params, opt_state = _vmapped(apply_update, train_config=tc)(state.params, state.opt_state, grads)
        pool = state.pool if idx is None else jax.vmap(write_back)(state.pool, idx, final)
        new_groups.append(TrainState(params, opt_state, pool, keys.next, state.iteration + 1))
        outs.append({"loss": loss, "steps": n_steps})
    return tuple(new_groups), tuple(outs)


# ---- the driver -------------------------------------------------------------------------------
@dataclasses.dataclass
class _Live:
    """An entry being trained: where its state sits in the program's groups."""

    spec: EntrySpec
    name: str
    target: np.ndarray
    budget: int
    iteration: int
    group: int = -1
    row: int = -1


@dataclasses.dataclass
class ZooResult:
    finished: list[str]  # entries that have their recipe's iterations (run folders complete)
    unfinished: list[str]  # entries still training (state saved in OUT/state)
    diverged: list[str]  # entries stopped by a non-finite loss (not written as runs)
    iterations: int  # zoo iterations run in this call
    seconds: float  # wall time of this call (compilation included)
    compile_seconds: float  # of that, the first iteration (compilation + one iteration)
    stopped: bool  # True when stopped by max_minutes / max_chunks before every entry finished
    out_dir: Path


def _run_record(entry: EntrySpec, model_config: NCAConfig, path: str, precision: str) -> dict[str, Any]:
    return {
        "model_config": model_config.to_dict(),
        "train_config": entry.train_config.to_dict(),
        "target": entry.target_name,
        "trainer": {"program": "nca-zoo train-zoo", "path": path, "precision": precision},
        **machine_record(),
    }


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _truncate_metrics(path: Path, iteration: int) -> None:
    """Keep the log lines up to ``iteration`` (later ones are recomputed after a resume)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line)["iteration"]) <= iteration:
                kept.append(line + "\n")
        except (ValueError, KeyError, TypeError):
            break  # a torn last line (killed mid-write)
    atomic_write_bytes(path, "".join(kept).encode())


def _shard(group: TrainState, target: jax.Array) -> tuple[TrainState, jax.Array]:
    """Spread a group's entries over the devices when their count divides it (else: one device)."""
    devices = jax.devices()
    if len(devices) < 2 or target.shape[0] % len(devices):
        return group, target
    mesh = jax.sharding.Mesh(np.asarray(devices), ("entries",))
    return jax.device_put((group, target), jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("entries")))


class _Program:
    """The live entries as stacked groups (one per recipe), fed to :func:`zoo_step`."""

    def __init__(self, live: list[_Live], states: dict[str, TrainState]) -> None:
        by_recipe: dict[TrainConfig, list[_Live]] = {}
        for e in live:
            by_recipe.setdefault(_static_recipe(e.spec.train_config), []).append(e)
        self.recipes = tuple(by_recipe)
        groups, targets = [], []
        for g, members in enumerate(by_recipe.values()):
            for row, e in enumerate(members):
                e.group, e.row = g, row
            group = jax.tree.map(lambda *a: jnp.stack(a), *(states.pop(e.name) for e in members))
            group, target = _shard(group, jnp.stack([jnp.asarray(e.target, jnp.float32) for e in members]))
            groups.append(group)
            targets.append(target)
        self.groups, self.targets = tuple(groups), tuple(targets)
        self.live = list(live)

    def step(self, model_config: NCAConfig, path: str, precision: str) -> tuple[dict[str, jax.Array], ...]:
        self.groups, out = zoo_step(
            self.groups, self.targets, model_config=model_config, recipes=self.recipes, path=path, precision=precision
        )
        return out

    def entry_state(self, e: _Live) -> TrainState:
        """Entry ``e``'s state without its pool (all a snapshot holds), leaving the program as it is."""
        return jax.tree.map(lambda a: a[e.row], self.groups[e.group]._replace(pool=None))

    def release(self, states: dict[str, TrainState]) -> None:
        """Give every live entry's state back to ``states`` (one train state each)."""
        for e in self.live:
            states[e.name] = jax.tree.map(lambda a, e=e: a[e.row], self.groups[e.group])
        self.groups = ()


def train_zoo(
    entries: Sequence[EntrySpec] | None,
    out_dir: str | os.PathLike,
    *,
    model_config: NCAConfig = NCAConfig(),
    init: Sequence[str | os.PathLike] = (),
    init_from: str | None = None,
    path: str = "auto",
    precision: str = "highest",
    pools: str = "keep",
    chunk_iters: int = 100,
    max_minutes: float | None = None,
    max_chunks: int | None = None,
    progress: bool = True,
    say: Callable[[str], None] | None = None,
) -> ZooResult:
    """Train ``entries`` together into run folders under ``out_dir``; see the module docstring.

    ``entries=None`` resumes the run recorded in ``out_dir/state`` (so does passing the same
    entries again). ``max_minutes`` bounds this call's wall time: it stops after the last chunk that
    fits (estimated from the previous chunk) and saves the state; ``max_chunks`` stops after that
    many chunks. ``init`` / ``init_from``: where new entries start (module docstring). ``path`` /
    ``precision`` as in :func:`nca_zoo.model.step` (recorded in each ``run.json``); ``pools``: ``"keep"``
    (exact resumption) or ``"drop"`` (small state).
    """
    t_start = time.monotonic()
    model.resolve_path(path)
    model._check_precision(precision)
    if pools not in POOL_MODES:
        raise ValueError(f"pools must be one of {POOL_MODES}, got {pools!r}")
    if chunk_iters < 1:
        raise ValueError(f"chunk_iters must be >= 1, got {chunk_iters}")
    emit = say or tqdm.write
    out_dir = Path(out_dir)
    state_dir = out_dir / STATE_DIR
    manifest_path = state_dir / MANIFEST

    # -- what to train, and from where
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest is not None:
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{manifest_path}: not an nca-zoo zoo-trainer state (format {manifest.get('format')!r})")
        model_config = NCAConfig.from_dict(manifest["model_config"])
    if entries is not None and init and init_from is None:  # before the resume check: the same command
        # resumes the same recipes (a fine-tune, init_from, trains the entry's own recipe)
        entries = continue_schedules(entries, entry_sources(entries, init_files(init), model_config), model_config)
    if manifest is not None:
        stored = [EntrySpec.from_dict(e["spec"]) for e in manifest["entries"]]
        if entries is not None and list(entries) != stored:
            raise ValueError(
                f"{out_dir} holds a zoo run with other entries or recipes; resume it with the same entries "
                f"(or none), or choose another output folder. Stored: {[s.name(model_config) for s in stored]}"
            )
        entries = stored
        if (manifest.get("path"), manifest.get("precision")) != (path, precision):
            emit(f"note: this run was started with path={manifest.get('path')}, precision={manifest.get('precision')}")
    elif entries is None:
        raise FileNotFoundError(f"{manifest_path} not found: nothing to resume; give the entries to train")
    entries = list(entries)
    names = [e.name(model_config) for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"entries must have distinct names, got {names}")
    if manifest is None:  # a new zoo; a run folder may only be one this zoo started and lost (killed early)
        for spec, name in zip(entries, names, strict=True):
            run_file = out_dir / name / "run.json"
            stored = json.loads(run_file.read_text()) if run_file.exists() else None
            unchecked = (lineage.METADATA_KEY, *MACHINE_KEYS)  # a zoo may resume on another machine
            same = stored is not None and {k: v for k, v in stored.items() if k not in unchecked} == {
                k: v for k, v in _run_record(spec, model_config, path, precision).items() if k not in unchecked
            }
            if run_file.exists() and (not same or (out_dir / name / "model.safetensors").exists()):
                raise FileExistsError(f"{out_dir / name} already holds a run, and {out_dir} no zoo state to resume")
    stored_status = {e["name"]: e for e in manifest["entries"]} if manifest else {}
    files = init_files(init) if (init and manifest is None) else {}
    sources = entry_sources(entries, files, model_config, init_from)
    if init and manifest is not None:
        emit("note: resuming, so --init is not used")
    if unused := sorted(name for name, f in files.items() if f not in sources.values()):
        emit(f"note: --init files matching no entry, not used: {', '.join(unused)}")
    if init_from is not None and (missing := [name for name in names if name not in sources]) and manifest is None:
        emit(f"note: no {init_from} model in --init for {', '.join(missing)}: fresh weights")

    live: list[_Live] = []
    states: dict[str, TrainState] = {}
    finished, diverged = [], []
    for spec, name in zip(entries, names, strict=True):
        record = stored_status.get(name, {})
        if record.get("status") in ("finished", "diverged"):
            (finished if record["status"] == "finished" else diverged).append(name)
            continue
        tc = spec.train_config
        run_dir = out_dir / name
        if record:
            snap = load_snapshot(state_dir / f"{name}.safetensors", train_config=tc)
            state = snap.state
            if record.get("pool") == "file":
                state = state._replace(pool=jnp.asarray(np.load(state_dir / f"{name}.pool.npy", allow_pickle=False)))
            what = f"resumed at iteration {snap.iteration} (pool: {record.get('pool')})"
        else:
            state, what = initial_state(spec, model_config, sources.get(name), fine_tune=init_from is not None)
            before = start_lineage(sources[name]) if name in sources else ()
            run_dir.mkdir(parents=True, exist_ok=True)
            run_record = {
                **_run_record(spec, model_config, path, precision),
                lineage.METADATA_KEY: [segment.to_dict() for segment in before],
            }
            record_bytes = json.dumps(run_record, indent=2).encode()
            atomic_write_bytes(run_dir / "run.json", record_bytes)
        iteration = int(state.iteration)
        _truncate_metrics(run_dir / "metrics.jsonl", iteration)
        target = grid_target(spec.target, tc.target_size, tc.padding)
        live.append(_Live(spec, name, target, tc.iterations, iteration))
        states[name] = state
        emit(f"{name}: {what}; {max(tc.iterations - iteration, 0)} of {tc.iterations} iterations to go")

    def keep_snapshot(entry: _Live, state: TrainState) -> Path:
        """The entry's snapshot at its iteration, kept in its run folder (``snapshots/<iteration>``)."""
        return save_snapshot(
            kept_snapshot(out_dir / entry.name, entry.iteration),
            state,
            model_config=model_config,
            train_config=entry.spec.train_config,
            target=entry.spec.target_name,
            extra_metadata={"trainer": "nca-zoo train-zoo", **lineage_metadata(out_dir / entry.name, entry.iteration)},
        )

    def save_state() -> None:
        """The manifest and, per live entry, its snapshot (+ pool): what a rerun resumes from."""
        state_dir.mkdir(parents=True, exist_ok=True)
        records = []
        by_name = {e.name: e for e in live}
        for spec, name in zip(entries, names, strict=True):
            if name not in by_name:
                status = "finished" if name in finished else "diverged"
                records.append({"name": name, "spec": spec.to_dict(), "status": status})
                continue
            state = jax.device_get(states[name])
            tc = spec.train_config
            kept = keep_snapshot(by_name[name], state)
            atomic_write_bytes(state_dir / f"{name}.safetensors", kept.read_bytes())
            if not tc.pool_size:
                mode = "seed"  # no pool: the snapshot is the whole state
            elif pools == "keep":
                atomic_write_bytes(state_dir / f"{name}.pool.npy", _npy_bytes(np.asarray(state.pool)))
                mode = "file"
            else:
                (state_dir / f"{name}.pool.npy").unlink(missing_ok=True)
                mode = "dropped"
            iteration = by_name[name].iteration
            records.append(
                {"name": name, "spec": spec.to_dict(), "status": "training", "iteration": iteration, "pool": mode}
            )
        data = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_config": model_config.to_dict(),
            "path": path,
            "precision": precision,
            "pools": pools,
            "entries": records,
        }
        atomic_write_bytes(manifest_path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())

    def finish(entry: _Live) -> None:
        run_dir = out_dir / entry.name
        state = jax.device_get(states.pop(entry.name))
        sha = save_weights(
            run_dir / "model.safetensors",
            jax.tree.map(np.asarray, state.params),
            model_config,
            weights_provenance(entry.spec.target_name, entry.spec.train_config, entry.iteration, "nca-zoo train-zoo"),
        )
        atomic_write_bytes(run_dir / SNAPSHOT_NAME, keep_snapshot(entry, state).read_bytes())
        for stale in (state_dir / f"{entry.name}.safetensors", state_dir / f"{entry.name}.pool.npy"):
            stale.unlink(missing_ok=True)
        finished.append(entry.name)
        emit(f"{entry.name}: finished at iteration {entry.iteration} → {run_dir} (sha256 {sha[:12]}…)")

    for entry in [e for e in live if e.iteration >= e.budget]:  # e.g. --init at the full budget
        live.remove(entry)
        finish(entry)

    bar = tqdm(total=max((e.budget - e.iteration for e in live), default=0), disable=not progress, desc="train-zoo")
    iterations_run, chunks, stopped, compile_seconds, per_iteration = 0, 0, False, 0.0, 0.0
    interrupted = False
    program: _Program | None = None
    try:
        while live:
            n = min(chunk_iters, min(e.budget - e.iteration for e in live))
            if max_chunks is not None and chunks >= max_chunks:
                stopped = True
                break
            if max_minutes is not None and chunks:
                # the next chunk at the steady-state rate (compilation excluded) + writing the state
                size = model_config.channels * 4  # bytes per pool cell
                pool_bytes = sum(
                    e.spec.train_config.pool_size * e.target.shape[0] * e.target.shape[1] * size for e in live
                )
                save_seconds = pool_bytes / 200e6 if pools == "keep" else 1.0
                if time.monotonic() - t_start + 1.2 * per_iteration * n + save_seconds > 60 * max_minutes:
                    stopped = True
                    break
            fresh = program is None  # a new program: its first iteration may compile
            if program is None:
                program = _Program(live, states)
            t0 = time.monotonic()
            outs, first = [], 0.0
            try:
                for _ in range(n):
                    outs.append(program.step(model_config, path, precision))
                    if fresh and len(outs) == 1:
                        jax.block_until_ready(outs[0])
                        first = time.monotonic() - t0
                        if iterations_run == 0:
                            compile_seconds = first
            except KeyboardInterrupt:  # Ctrl-C or a SIGINT at the end of a lease: keep what completed
                stopped = interrupted = True
                n = len(outs)
                if not n:
                    break
            host = jax.device_get(outs)
            last_chunk = time.monotonic() - t0
            per_iteration = (last_chunk - first) / (n - 1) if fresh and n > 1 else last_chunk / n
            chunks += 1
            iterations_run += n
            share = last_chunk / n / len(live)
            lines, done, bad = [], [], set()
            for e in live:
                tc = e.spec.train_config
                losses = [float(h[e.group]["loss"][e.row]) for h in host]
                steps = [int(h[e.group]["steps"][e.row]) for h in host]
                with (out_dir / e.name / "metrics.jsonl").open("a") as log:
                    for i, (loss, s) in enumerate(zip(losses, steps, strict=True)):
                        it = e.iteration + i  # the iteration's index; the log counts completed ones
                        record = {
                            "iteration": it + 1,
                            "loss": loss,
                            "log10_loss": math.log10(loss) if loss > 0 and math.isfinite(loss) else None,
                            "steps": s,
                            "lr": learning_rate(tc, it),
                            "seconds": round(share, 6),
                        }
                        log.write(json.dumps(record) + "\n")
                e.iteration += n
                if not all(math.isfinite(v) for v in losses):
                    bad.add(e.name)
                if e.name in bad or e.iteration >= e.budget:
                    done.append(e)
                lines.append(f"{e.name} {np.mean(losses[-50:]):.5f}")
            bar.update(n)
            bar.set_postfix(entries=len(live), loss=f"{np.mean([np.mean(h['loss']) for h in host[-1]]):.4f}")
            emit(f"[{time.monotonic() - t_start:7.1f} s] +{iterations_run} it, loss (last ≤50): " + ", ".join(lines))
            for e in live:  # every chunk's end is kept, so a run's best snapshot can be chosen afterwards
                if e not in done:
                    keep_snapshot(e, program.entry_state(e))
            if done:
                program.release(states)
                program = None
                for e in done:
                    live.remove(e)
                    if e.name in bad:
                        states.pop(e.name)
                        diverged.append(e.name)
                        emit(f"{e.name}: loss not finite by iteration {e.iteration}; dropped, not written as a run")
                    else:
                        finish(e)
            if interrupted:
                break
    finally:
        bar.close()
        if program is not None:
            program.release(states)
    save_state()  # also when every entry finished: rerunning the same command then has nothing left to do
    seconds = time.monotonic() - t_start
    if stopped:
        emit(
            f"stopped after {iterations_run} iterations ({seconds:.0f} s); state saved in {state_dir}: rerun to resume"
        )
    return ZooResult(
        finished, [e.name for e in live], diverged, iterations_run, seconds, compile_seconds, stopped, out_dir
    )


# ---- command line (``nca-zoo train-zoo`` and ``scripts/train_zoo.py``) -------------------------
CLI_HELP = """Train many zoo entries — TARGET:EXPERIMENT pairs, or 'all' for the 30-entry zoo — in one
jitted program on the default device(s). Each entry follows preset(EXPERIMENT) plus --set overrides.
Finished entries become run folders OUT/<target>-<experiment>-16 (run.json, metrics.jsonl,
model.safetensors, snapshot.safetensors) that scripts/register_entry.py accepts.

--max-minutes M stops cleanly after the last chunk that fits in M minutes and saves a resumable
state in OUT/state; rerun the same command (or just `nca-zoo train-zoo --out OUT`) to continue.
With --pools keep (default) the state includes the sample pools and resuming is exact; with
--pools drop it holds ~100 KB per entry and the pools regrow from seeds after the resume.

examples:
  nca-zoo train-zoo gecko:regen smiley:grow fish:persist --out runs/zoo
  nca-zoo train-zoo smiley:regen@0 smiley:regen@1 smiley:regen@2 --out runs/seeds   # 3 seeds, one program
  nca-zoo train-zoo all --out runs/zoo --init ../shared/pretrain --max-minutes 9
  nca-zoo train-zoo --out runs/zoo --max-minutes 9          # resume
  nca-zoo train-zoo gecko:grow --out runs/tiny --set iterations=10 --set target_size=8 --set padding=4
"""


def add_arguments(p: Any) -> None:
    """The ``train-zoo`` options on an ``argparse`` parser."""
    p.add_argument(
        "entries",
        nargs="*",
        help="TARGET:EXPERIMENT (e.g. gecko:regen, 🦋:grow, my.png:persist), TARGET:EXPERIMENT@SEED, or 'all'",
    )
    p.add_argument("--out", required=True, help="output folder: one run folder per entry, and state/")
    p.add_argument(
        "--set", action="append", default=[], metavar="[EXPERIMENT.]KEY=VALUE", help="recipe override (repeatable)"
    )
    p.add_argument("--seed", type=int, default=0, help="recipe seed of every entry (default 0)")
    p.add_argument(
        "--init",
        action="append",
        default=[],
        metavar="DIR_OR_FILE",
        help="start entries from <name>.safetensors "
        "weights (metadata 'iterations' continues the schedule) or training snapshots, in files, folders or "
        "another train-zoo --out folder; repeatable",
    )
    p.add_argument(
        "--init-from",
        choices=EXPERIMENTS,
        default=None,
        metavar="EXPERIMENT",
        help="fine-tune each entry from its target's EXPERIMENT model in --init (params only, fresh optimiser, "
        "iteration 0): chains a route, e.g. gecko:persist --init OUT_OF_GROW --init-from grow",
    )
    p.add_argument("--max-minutes", type=float, default=None, help="stop cleanly (resumable) within this wall time")
    p.add_argument("--chunk-iters", type=int, default=100, help="iterations between progress lines and time checks")
    p.add_argument("--max-chunks", type=int, default=None, help="stop (resumable) after this many chunks")
    p.add_argument("--pools", choices=POOL_MODES, default="keep", help="keep pools in the state (exact resume) or drop")
    p.add_argument("--path", choices=model.PATHS, default="auto", help="step formulation (auto: sparse on CPU)")
    p.add_argument(
        "--precision", choices=model.PRECISIONS, default="highest", help="matmul precision (tf32/bf16: reduced)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")


def run_cli(args: Any) -> int:
    """Run ``train-zoo`` from parsed arguments; returns the exit status (0 also when stopped early)."""
    state_exists = (Path(args.out) / STATE_DIR / MANIFEST).exists()
    entries = parse_entries(args.entries, args.set, args.seed) if args.entries else None
    if entries is None and not state_exists:
        raise ValueError(f"no entries given and no zoo state in {args.out} to resume")
    result = train_zoo(
        entries,
        args.out,
        init=args.init,
        init_from=args.init_from,
        path=args.path,
        precision=args.precision,
        pools=args.pools,
        chunk_iters=args.chunk_iters,
        max_minutes=args.max_minutes,
        max_chunks=args.max_chunks,
        progress=not args.no_progress,
    )
    print(
        json.dumps(
            {
                "finished": result.finished,
                "unfinished": result.unfinished,
                "diverged": result.diverged,
                "iterations": result.iterations,
                "seconds": round(result.seconds, 1),
                "compile_seconds": round(result.compile_seconds, 1),
                "stopped": result.stopped,
            }
        )
    )
    return 0
