"""Add a trained run to the zoo: evaluate, gate on the quality bar, then bundle, register and document.

    python scripts/register_entry.py runs/gecko-regen-16 [--started-from TEXT] [--accept-miss]
    python scripts/register_entry.py runs/boom-persist-16 --snapshot runs/boom-persist-16/snapshots/000600.safetensors
    python scripts/register_entry.py runs/eye-regen-16 --snapshot runs/eye-regen-16/snapshots/00{50..60}00.safetensors
    python scripts/register_entry.py --refresh            # re-measure every entry, rewrite registry + card
    python scripts/register_entry.py --render             # render the card and grid again, measuring nothing

Takes the run's ``model.safetensors`` (or, for a run stopped before its budget, its newest
checkpoint's params, or a training snapshot; ``--snapshot`` picks an earlier one, or the mean of
several), runs the zoo's evaluation protocol (:mod:`nca_zoo.evaluate`) and compares it with the
original authors' model of the same target and experiment. An entry that is unstable or has a
non-finite metric is always refused; one that misses the bar (any metric > 1.5× the original's) is
refused unless ``--accept-miss``, and then the card says which metric missed and by how much.
Everything the entry changes — ``weights/<name>.safetensors``, ``nca_zoo/registry.json``,
``MODEL_CARD.md``, ``docs/zoo-grid.png`` and the entry's GIF — is built and checked in memory first
and then written as one transaction (:mod:`nca_zoo.transaction`): all files or none. The Hub
revision stays ``None`` until a real push answers with a commit id.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from nca_zoo import factory, model, render
from nca_zoo.config import NCAConfig
from nca_zoo.evaluate import (
    BAR,
    EXPERIMENT_METRICS,
    METRIC_TEXT,
    better_on_all,
    comparison_table,
    evaluate,
    meets_bar,
    original_metrics,
)
from nca_zoo.publish import entry_for_run
from nca_zoo.registry import ZooEntry
from nca_zoo.targets import EMOJI, grid_target
from nca_zoo.train import lineage
from nca_zoo.train.loop import resume_state
from nca_zoo.train.recipe import EXPERIMENTS, TrainConfig
from nca_zoo.train.snapshot import average_snapshots, is_snapshot, load_snapshot, snapshot_model
from nca_zoo.transaction import write_all
from nca_zoo.weights import from_bytes, load_weights, sha256_bytes, to_bytes
from nca_zoo.zoo import ZooModel

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT_TEXT = {
    "grow": "grows the target from a single seed cell (trained from the seed every iteration)",
    "persist": "grows the target and keeps it stable (sample-pool training)",
    "regen": "grows the target, keeps it, and regrows it after damage (pool + damage training)",
}
GRID_CELL = 72  # pixels per entry in the zoo grid (one cell per pixel)


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where the zoo's files live (a temporary copy in tests)."""

    root: Path

    @property
    def registry(self) -> Path:
        return self.root / "nca_zoo" / "registry.json"

    @property
    def card(self) -> Path:
        return self.root / "MODEL_CARD.md"

    @property
    def grid(self) -> Path:
        return self.root / "docs" / "zoo-grid.png"

    def weights(self, name: str) -> Path:
        return self.root / "weights" / f"{name}.safetensors"

    def gif(self, name: str) -> Path:
        return self.root / "docs" / "gifs" / f"{name}.gif"

    @property
    def rollouts(self) -> Path:
        """``scripts/eval_rollouts.py``'s measurements with more rollouts (the card shows them if present)."""
        return self.root / "docs" / "rollouts-32.json"


class NotRegistered(RuntimeError):
    """The run was evaluated and refused; nothing was written."""


# ---- reading a run ----------------------------------------------------------------------------
def read_run(run_dir: Path) -> tuple[NCAConfig, TrainConfig, str]:
    """The run's configs and target name, from its ``run.json`` (validated by the loader)."""
    model_config, train_config, target = factory.read_run(run_dir)
    try:
        return model_config, TrainConfig.from_dict(train_config), target
    except (TypeError, ValueError) as err:
        raise ValueError(f"{run_dir / 'run.json'}: train_config: {err}") from err


def snapshot_params(
    paths: Path | Sequence[Path], model_config: NCAConfig, train_config: TrainConfig, target: str
) -> tuple[dict, int]:
    """The params of one of the run's saved snapshots (a copy of ``snapshot.safetensors`` taken at some
    iteration), or the mean of several (:func:`average_snapshots`), and the newest one's iteration; refused
    unless each was written by a run of the same target, experiment and architecture."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    snapshot = average_snapshots(paths)  # refuses snapshots of different runs' kinds; one: itself
    made_for = (snapshot.target, snapshot.train_config.experiment, snapshot.model_config)
    if made_for != (target, train_config.experiment, model_config):
        raise ValueError(
            f"{', '.join(map(str, paths))}: a snapshot of a {made_for[0]!r} {made_for[1]!r} run ({made_for[2]}), "
            f"not of this run ({target!r} {train_config.experiment!r}, {model_config}): pass a snapshot the run wrote"
        )
    return snapshot.params, snapshot.iteration


def run_params(run_dir: Path, model_config: NCAConfig, train_config: TrainConfig) -> tuple[dict, int]:
    """The run's final weights, or its newest checkpoint's (or snapshot's) params if it stopped early."""
    final = run_dir / "model.safetensors"
    snapshot = run_dir / "snapshot.safetensors"
    if (run_dir / "checkpoints").is_dir():
        state = resume_state(run_dir, model_config, train_config)
    elif snapshot.exists() and is_snapshot(snapshot):
        state = load_snapshot(snapshot).state
    else:
        raise FileNotFoundError(f"{run_dir} has no checkpoints/ or snapshot.safetensors to read the run's state from")
    params = jax.tree.map(np.asarray, state.params)
    if final.exists():
        saved, _ = load_weights(final, config=model_config)
        if all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(params), strict=True)):
            return saved, int(state.iteration)
    return params, int(state.iteration)


# ---- pictures ---------------------------------------------------------------------------------
def _png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def grid_image(models: list[ZooModel], columns: int = 6) -> bytes:
    """Every entry grown 200 steps from its seed (seed 0), in name order, as one PNG."""
    rows = -(-len(models) // columns)
    canvas = np.ones((rows * GRID_CELL, columns * GRID_CELL, 3), np.float32)
    for i, nca in enumerate(models):
        state = nca.grow(200)[0]
        r, c = divmod(i, columns)
        canvas[r * GRID_CELL : (r + 1) * GRID_CELL, c * GRID_CELL : (c + 1) * GRID_CELL] = np.asarray(
            model.to_rgb(state)
        )
    return _png_bytes(np.kron(canvas, np.ones((2, 2, 1), np.float32)))


def regen_gif(nca: ZooModel) -> bytes:
    """Growth (200 steps), the right half cut, healing (200 steps), every 4th step, 2 px per cell."""
    frames = nca.regenerate(200, 200, 4, kind="half", side="right")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "regen.gif"
        render.save_gif(path, frames, 2, 60)
        return path.read_bytes()


# ---- the card ---------------------------------------------------------------------------------
def zoo_names() -> list[str]:
    """The names the zoo promises: every target × experiment, 16 channels (the card counts against them)."""
    return [f"{target}-{experiment}-16" for target in EMOJI for experiment in EXPERIMENTS]


def _missing_entries_note(entries: list[ZooEntry]) -> list[str]:
    """The zoo's names without an entry yet, so the card never reads as complete when it is not."""
    have = {e.name for e in entries}
    missing = [f"`{name}`" for name in zoo_names() if name not in have]
    if not missing:
        return []
    return [
        f"Not in the zoo yet ({len(missing)}): {', '.join(missing)}; they are in training, and",
        "`training/README.md` says where each stands.",
        "",
    ]


def model_card(
    entries: list[ZooEntry], originals: dict[tuple[str, str], dict[str, float]], rollouts: dict | None = None
) -> str:
    rows = [(e.name, e.experiment, e.metrics, originals.get((e.target, e.experiment))) for e in entries]
    judged = [(e, o) for e in entries if (o := originals.get((e.target, e.experiment))) is not None]
    passed = [e for e, o in judged if meets_bar(e.metrics, o, e.experiment)[0]]
    better = [e for e, o in judged if better_on_all(e.metrics, o, e.experiment)]
    regen = [e for e in entries if e.experiment == "regen"]
    promised = len(zoo_names())
    lines = [
        "# nca-zoo model card",
        "",
        "Pretrained Growing Neural Cellular Automata (Mordvintsev et al., Distill 2020), trained by nca-zoo's",
        "shared trainer. Generated by `scripts/register_entry.py` from `nca_zoo/registry.json` and",
        "`nca_zoo/originals_metrics.json`; every number below was measured by the evaluation protocol.",
        "",
        f"**{len(entries)} of {promised} entries** (10 targets × grow / persist / regen). Meeting the quality bar:",
        f"{len(passed)} of {len(entries)}; better than the original authors' model on every metric their experiment",
        f"trains for: {len(better)} of {len(entries)}.",
        "",
        *_missing_entries_note(entries),
        "![every entry grown 200 steps from its seed](docs/zoo-grid.png)",
        "",
        "## Evaluation protocol (`nca_zoo.evaluate`, `nca-zoo eval PATTERN --originals`)",
        "",
        "MSE on premultiplied RGBA against the entry's own target (the 40-px target padded to 72×72),",
        "mean of 8 rollouts on the 72×72 grid, fire rate 0.5, keys from `jax.random.PRNGKey(0)`",
        "(the exact key derivation is in `nca_zoo/evaluate.py`'s docstring):",
        "",
    ]
    lines += [f"- `{m}` — {text}" for m, text in METRIC_TEXT.items()]
    lines += [
        "- `stable` — finite, bounded (|state| < 100) and alive in every rollout at step 1000.",
        "",
        "An entry is judged on the metrics its experiment trains for (grow: `mse_grow`; persist: `mse_grow`,",
        f"`mse_persist`; regen: all four). **Quality bar**: stable, and each of those metrics at most {BAR}× the",
        "original authors' model of the same target and experiment, run by nca-zoo's step on their",
        "8-bit `webgl_models8` weights against their own 40-px target (their 2020 emoji artwork; ours are",
        "rendered from Noto Color Emoji, so the targets differ: `python scripts/compare_targets.py` measures",
        "how much — ours have 0.86–1.49× the total variation of theirs, butterfly, ladybug and tree the most).",
        "Reproduce: `python scripts/eval_originals.py` and `nca-zoo eval '*' --originals`.",
        "",
        "The seed matters for the cuts: with 8 rollouts, where the disc lands and the updates that fire",
        "move `mse_disc` and `mse_half` by up to 2× between evaluation seeds (the original pretzel regen's",
        "disc MSE is 0.00051, 0.00087 and 0.00048 with seeds 0, 1 and 2); growth and persistence move",
        "less (see the 32-rollout section below). The bar is judged on seed 0, so a regen entry near it on a",
        "cut may miss it with another seed (training/README.md, session 24, measures this for `pretzel-regen-16`).",
        "",
        "## Results",
        "",
        "Each cell: ours / the original's (ratio ours ÷ original; below 1 = ours is better). Values in",
        "parentheses are metrics the entry's experiment does not train for (shown for information).",
        "",
        comparison_table(rows),
        "",
        *_rollouts_lines(entries, rollouts),
    ]
    if regen:
        lines += ["## Regeneration", "", "Growth (200 steps), the right half cut, healing (200 steps):", ""]
        lines += [f"![{e.name}](docs/gifs/{e.name}.gif)" for e in regen]
        lines += [""]
    lines += [
        "## The zoo's regen recipe",
        "",
        "The article's regenerating recipe damages the 3 best of each batch of 8 with random discs only;",
        "NCAs trained that way heal discs but many only partly regrow a removed half. The zoo's regen recipe",
        "(`nca_zoo.train.recipe.preset('regen')`, `recipe='zoo'`) is the article's with one change: each",
        "damaged sample loses, with probability `half_cut_fraction = 0.5`, a random half-plane instead of a",
        "disc (`x·cos θ + y·sin θ > d`, θ uniform in [0, 2π), d uniform in [-0.2, 0.2]; `model.damage_mask`",
        "`kind='plane'`). `recipe='distill'` keeps the article's recipe exactly. What it changed, measured",
        "with the protocol above, is recorded in the entries' notes below.",
        "",
        "Regen *fine-tunes* of a model that persists but does not heal also",
        "set `batch_loss = 'log'` (`nca-zoo train --batch-loss log`): the gradient follows the batch's mean",
        "log-MSE instead of its mean MSE. Under the mean, the cut samples' errors (10–100× the others') make",
        "the whole gradient, and it points against persistence: persistence fell 30× in 200 iterations; under",
        "the log it held while the cuts healed (training/README.md, session 16, with the measurements). Such",
        "an entry's recipe line below records its batch loss, damage count and half-cut fraction.",
        "",
        "**Snapshot averaging.** A pool-trained NCA's persistence swings between snapshots of one run (eye's:",
        "0.00017–0.004 between snapshots 100 iterations apart at 5e-5), so a single snapshot that meets the",
        "bar is partly luck. The mean of the params of a stretch of low-rate snapshots does not swing: each",
        "window of 6–13 consecutive 5e-5 snapshots of eye's runs met the bar",
        "(`nca_zoo.train.snapshot.average_snapshots`; `scripts/watch_run.py --average K` evaluates the",
        "windows as a run goes, `scripts/register_entry.py --snapshot FILE...` registers one;",
        "training/README.md, session 19). An entry made so says which snapshots it averages.",
        "",
        "## Entries",
    ]
    for e in entries:
        t, original = e.training, originals.get((e.target, e.experiment))
        lines += [
            "",
            f"### `{e.name}`",
            "",
            f"{e.description}",
            "",
            f"- Architecture: `{e.config}`.",
            f"- Recipe: `{json.dumps(e.recipe)}`.",
            f"- Training: {t['iterations']} iterations (recipe budget {e.recipe['iterations']}), "
            f"{t['wall_time_s'] / 3600:.2f} h on {t['hardware']}, finished {t['date']}"
            + (f"; {t['started_from']}" if t.get("started_from") else "")
            + ".",
            *_lineage_lines(e.name, t),
            *_averaging_lines(t),
            f"- Command: `{t.get('command', '')}`.",
            f"- Weights: `weights/{e.weights_file}`, sha256 `{e.sha256}`; licence {e.license}.",
        ]
        if original is not None:
            ok, problems = meets_bar(e.metrics, original, e.experiment)
            lines.append("- Quality bar: " + ("met." if ok else "**missed**: " + "; ".join(problems) + "."))
        if t.get("note"):
            lines.append(f"- Note: {t['note']}")
    lines += [
        "",
        "## The original authors' models under this protocol",
        "",
        "For reference, all 30 (`nca_zoo/originals_metrics.json`, measured by `scripts/eval_originals.py`):",
        "",
        comparison_table(
            [(f"ex{'123'[['grow', 'persist', 'regen'].index(x)]}_{t}", x, m, None) for (t, x), m in originals.items()]
        ),
        "",
        "## Intended use and limitations",
        "",
        "Research, teaching and art: growing, damaging, rotating and rendering self-organising patterns.",
        "The models know one target each and only the 72×72-grid dynamics they were trained on; on much",
        "larger grids or after many thousands of steps patterns can drift. Targets are rendered from Noto",
        "Color Emoji (SIL OFL 1.1), whose artwork differs from the 2020 emoji the original article used.",
        "",
        "## Citation",
        "",
        'Mordvintsev, Randazzo, Niklasson, Levin, "Growing Neural Cellular Automata", Distill, 2020.',
        "doi:10.23915/distill.00023",
        "",
    ]
    return "\n".join(lines)


# ---- the transaction --------------------------------------------------------------------------
def _registry_bytes(entries: dict[str, ZooEntry]) -> bytes:
    data = {"format_version": 1, "entries": [entries[n].to_dict() for n in sorted(entries)]}
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    for item in json.loads(text)["entries"]:  # it must read back as valid entries
        ZooEntry.from_dict(item)
    return text.encode()


def read_registry(paths: Paths) -> dict[str, ZooEntry]:
    data = json.loads(paths.registry.read_text())
    return {e["name"]: ZooEntry.from_dict(e) for e in data["entries"]}


def entry_model(paths: Paths, entry: ZooEntry, weights: bytes | None = None) -> ZooModel:
    data = paths.weights(entry.name).read_bytes() if weights is None else weights
    params, config = from_bytes(data, source=entry.weights_file, config=entry.config, sha256=entry.sha256)
    return ZooModel(config, params, entry=entry, target=grid_target(entry.target))


def update_files(
    paths: Paths,
    entries: dict[str, ZooEntry],
    originals: dict[tuple[str, str], dict[str, float]],
    new_weights: dict[str, bytes],
    gifs_for: list[str],
) -> dict[Path, bytes]:
    """Every file an update writes, built and checked in memory (nothing is written here)."""
    files: dict[Path, bytes] = {paths.registry: _registry_bytes(entries)}
    for name, data in new_weights.items():
        files[paths.weights(name)] = data
    models = {n: entry_model(paths, e, new_weights.get(n)) for n, e in sorted(entries.items())}
    for name in gifs_for:
        if entries[name].experiment == "regen":
            files[paths.gif(name)] = regen_gif(models[name])
    files[paths.grid] = grid_image(list(models.values()))
    card = model_card([entries[n] for n in sorted(entries)], originals, read_rollouts(paths))
    files[paths.card] = card.encode()
    return files


def read_rollouts(paths: Paths) -> dict | None:
    return json.loads(paths.rollouts.read_text()) if paths.rollouts.exists() else None


def _rollouts_lines(entries: list[ZooEntry], rollouts: dict | None) -> list[str]:
    """The card's section on the protocol with more rollouts (``scripts/eval_rollouts.py``): the entries
    measured with their current weights, and which were measured with weights they no longer have."""
    if not rollouts:
        return []
    measured = rollouts["entries"]
    current = [e for e in entries if measured.get(e.name, {}).get("sha256") == e.sha256]
    stale = sorted(e.name for e in entries if e.name in measured and e not in current)
    if not current and not stale:
        return []
    batch = rollouts["batch"]
    rows = [(e.name, e.experiment, measured[e.name]["metrics"], measured[e.name]["original"]) for e in current]
    judged = [meets_bar(m, o, x)[0] for _, x, m, o in rows]
    lines = [
        f"## The same protocol with {batch} rollouts",
        "",
        "The cuts' metrics vary between rollouts the most (where the disc lands, which updates fire): a rare",
        "failure to heal — a pattern that falls apart after some disc cuts, or grows a second body after a",
        "half cut — can fall outside the bar's 8 rollouts altogether (training/README.md, session 25, shows",
        "such rollouts). Growth and persistence move less, but enough to carry a ratio near 1.5× across it.",
        f"Measured again with {batch} rollouts (`{rollouts['command']}`, last on {rollouts['date']},",
        f"{rollouts['machine']}; each original with the same rollouts), the selected entries beside their",
        "originals. The bar",
        f"stays judged on the protocol's 8; with {batch}, {sum(judged)} of these {len(rows)} would meet it.",
        "",
        comparison_table(rows),
        "",
    ]
    if stale:
        lines += [
            f"Measured with earlier weights, so not shown: {', '.join(f'`{n}`' for n in stale)} "
            "(`python scripts/eval_rollouts.py` measures them again).",
            "",
        ]
    return lines


def _lineage_lines(name: str, training: dict) -> list[str]:
    """The card's line on an entry made over several runs: each run, and the chain's total budget."""
    chain = lineage.of_entry(name, training, "") if lineage.METADATA_KEY in training else ()
    if len(chain) < 2:
        return []
    iterations, seconds = lineage.totals(chain)
    known = "" if lineage.complete(chain) else " (at least: some of its runs were recorded before lineages)"
    return [
        f"- Made over {len(chain)} runs, {iterations} iterations and {seconds / 3600:.2f} h in all{known}: "
        f"{lineage.describe(chain)}."
    ]


def _averaging_lines(training: dict) -> list[str]:
    """The card's line on an entry whose weights are the mean of several snapshots of its run."""
    kept = training.get("averaged_snapshots")
    if not kept:
        return []
    return [
        f"- Snapshot average: the mean of the params of {len(kept)} snapshots of the run, at iterations "
        f"{', '.join(f'{i:,}' for i in kept)} (`scripts/register_entry.py --snapshot` with several files; "
        "single pool-trained snapshots swing in persistence, their mean does not: training/README.md, session 19)."
    ]


def _finite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
    if bad:
        raise NotRegistered(f"non-finite metrics {bad}: the model diverges; nothing was written")
    return {k: round(v, 7) for k, v in metrics.items()}


def register(
    run_dir: Path,
    paths: Paths,
    *,
    accept_miss: bool = False,
    started_from: str | None = None,
    note: str | None = None,
    command: str | None = None,
    license: str = "Apache-2.0",
    eval_batch: int = 8,
    snapshot: Path | Sequence[Path] | None = None,
    say=print,
) -> ZooEntry:
    """Evaluate the run in ``run_dir`` (its newest state, or ``snapshot``: one of its saved snapshots, or
    several, whose params are averaged) and, if it may ship, add it to the zoo at ``paths`` (one transaction)."""
    model_config, train_config, target = read_run(run_dir)
    name = f"{target}-{train_config.experiment}-{model_config.channels}"
    averaged = [] if snapshot is None or isinstance(snapshot, Path) or len(snapshot) < 2 else sorted(snapshot)
    if snapshot is not None:
        params, iterations = snapshot_params(snapshot, model_config, train_config, target)
    else:
        params, iterations = run_params(run_dir, model_config, train_config)
    weights = to_bytes(params, model_config)  # refuses non-finite parameters
    nca = ZooModel(model_config, params, target=grid_target(target))
    metrics = evaluate(nca, batch=eval_batch)
    say(f"{name} after {iterations} iterations: {metrics}")
    metrics = _finite_metrics(metrics)
    originals = original_metrics()
    original = originals.get((target, train_config.experiment))
    if metrics["stable"] != 1.0:
        raise NotRegistered(f"{name} collapses or explodes within 1000 steps; not registered, nothing was written")
    if original is not None:
        ok, problems = meets_bar(metrics, original, train_config.experiment)
        if not ok and not accept_miss:
            raise NotRegistered(
                f"{name} misses the quality bar: {'; '.join(problems)}. Nothing was written; train longer, or "
                "pass --accept-miss to register it with the miss stated in the card"
            )
    entry = entry_for_run(
        run_dir,
        target=target,
        model_config=model_config,
        train_config=train_config,
        iterations=iterations,
        sha256=sha256_bytes(weights),
        metrics=metrics,
    )
    training = {**entry.training, "command": command or _command(run_dir, train_config, target)}
    if averaged:
        training["averaged_snapshots"] = sorted(snapshot_model(path).iteration for path in averaged)
    if started_from:
        training["started_from"] = started_from
    if note:
        training["note"] = note
    entry = dataclasses.replace(
        entry,
        license=license,
        description=f"{EMOJI.get(target, target)} {target}: {EXPERIMENT_TEXT[train_config.experiment]}.",
        training=training,
        metrics={k: metrics[k] for k in (*EXPERIMENT_METRICS["regen"], "stable")},
    )
    entries = read_registry(paths)
    entries[name] = entry
    write_all(update_files(paths, entries, originals, {name: weights}, [name]))
    return entry


def refresh(paths: Paths, say=print, *, measure: bool = True) -> None:
    """Re-measure every registered entry with the current protocol; rewrite registry, card and pictures.
    With ``measure=False`` only the card and grid are rendered again from the registry as it is."""
    entries = read_registry(paths)
    if measure:
        for name, entry in entries.items():
            metrics = _finite_metrics(evaluate(entry_model(paths, entry)))
            say(f"{name}: {metrics}")
            entries[name] = dataclasses.replace(entry, metrics=metrics)
    gifs_for = sorted(entries) if measure else []  # a render changes no model: its GIFs stay
    write_all(update_files(paths, entries, original_metrics(), {}, gifs_for))


def _command(run_dir: Path, train_config: TrainConfig, target: str) -> str:
    return f"nca-zoo train --target {target} --experiment {train_config.experiment} --out {run_dir}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, nargs="?", help="a training run folder (run.json, checkpoints/ …)")
    parser.add_argument(
        "--snapshot",
        type=Path,
        nargs="+",
        default=None,
        help="register this saved snapshot of the run (a copy of its snapshot.safetensors from some iteration) "
        "instead of the run's newest state, or the mean of the params of several; the budget counts the run's "
        "iterations up to the newest",
    )
    parser.add_argument("--refresh", action="store_true", help="re-measure all entries instead of adding one")
    parser.add_argument(
        "--render", action="store_true", help="only render the card and grid again from the registry (no measuring)"
    )
    parser.add_argument("--accept-miss", action="store_true", help="register even if the bar is missed (stated)")
    parser.add_argument("--started-from", default=None, help="provenance of the initial weights, for the card")
    parser.add_argument("--note", default=None, help="a note for the card (e.g. what the run showed)")
    parser.add_argument("--command", default=None, help="the exact training command, if not the plain default")
    parser.add_argument("--license", default="Apache-2.0")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project root to update (default: this checkout)")
    args = parser.parse_args(argv)
    paths = Paths(args.root)
    try:
        if args.refresh or args.render:
            refresh(paths, measure=args.refresh)
        elif args.run_dir is None:
            parser.error("give a run folder, or --refresh")
        else:
            entry = register(
                args.run_dir,
                paths,
                accept_miss=args.accept_miss,
                started_from=args.started_from,
                note=args.note,
                command=args.command,
                license=args.license,
                snapshot=args.snapshot,
            )
            print(json.dumps(entry.to_dict(), indent=2, ensure_ascii=False))
    except (NotRegistered, ValueError, FileNotFoundError) as err:
        print(f"register_entry: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
