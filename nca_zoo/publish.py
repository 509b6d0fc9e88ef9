"""Making a new zoo entry: train → evaluate → write its Hub repo folder → (push) → its registry entry.

``scripts/train_and_push.py`` and ``nca-zoo push`` are thin layers over :func:`train_and_publish`.
The output folder holds the repo files at its top level and the (resumable) training run in
``run/``; only the repo files are ever uploaded. Without ``push`` nothing leaves the machine.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
from huggingface_hub import get_token

from nca_zoo.config import NCAConfig
from nca_zoo.evaluate import evaluate
from nca_zoo.hub.errors import PushError
from nca_zoo.hub.files import push_folder
from nca_zoo.hub.layout import CARD_NAME, repo_files
from nca_zoo.machine import hardware
from nca_zoo.registry import HUB_ORG, ZooEntry
from nca_zoo.targets import grid_target, resolve_name
from nca_zoo.train import lineage
from nca_zoo.train.loop import chain_of_run, train
from nca_zoo.train.recipe import TrainConfig, preset
from nca_zoo.version import __version__
from nca_zoo.zoo import ZooModel

RUN_DIR = "run"


def target_name(spec: str) -> str:
    """A registry-friendly name for a target: zoo name, emoji name (🐙 → octopus) or image file stem."""
    if (name := resolve_name(spec)) is not None:
        return name
    if Path(spec).suffix or os.sep in spec or Path(spec).exists():
        stem = Path(spec).stem
    else:
        chars = [ch for ch in spec if unicodedata.category(ch) != "Mn" and ch not in "\ufe0f\u200d"]
        stem = "-".join(unicodedata.name(ch, "emoji") for ch in chars)
    slug = "".join(ch if ch.isalnum() else "-" for ch in stem.lower())
    return "-".join(part for part in slug.split("-") if part) or "custom"


def _finite(value: float) -> float | None:
    """Metrics as JSON can carry them: a diverged (inf/NaN) value becomes None."""
    return float(value) if math.isfinite(value) else None


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 40 and value.isprintable()


def _final_loss(run_dir: Path, iterations: int) -> float | None:
    """Mean loss of the last 100 iterations up to ``iterations`` (a run stopped after its last checkpoint
    logged iterations the weights do not include, which are left out)."""
    path = run_dir / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    recent = [r["loss"] for r in records if r["iteration"] <= iterations][-100:]
    return _finite(sum(recent) / len(recent)) if recent else None


def entry_for_run(
    run_dir: Path,
    *,
    target: str,
    model_config: NCAConfig,
    train_config: TrainConfig,
    iterations: int,
    sha256: str,
    metrics: dict[str, float],
    repo_id: str | None = None,
) -> ZooEntry:
    """The registry entry of a trained run (revision None: only a real push gives it a commit).

    ``iterations`` and ``wall_time_s`` are this run's; ``lineage`` lists every run that made the weights
    (the runs before this one, as its run.json records them, then this one) and ``total_*`` sum them.
    """
    name = f"{target}-{train_config.experiment}-{model_config.channels}"
    chain = chain_of_run(run_dir, iterations)  # this run (every session of it, if resumed) is the last
    this_run = chain[-1]
    total_iterations, total_wall_time = lineage.totals(chain)
    recorded_jax = json.loads((run_dir / "run.json").read_text()).get("jax_version")
    return ZooEntry(
        name=name,
        target=target,
        experiment=train_config.experiment,
        config=model_config,
        weights_file=f"{name}.safetensors",
        sha256=sha256,
        hub_repo=repo_id or f"{HUB_ORG}/{name}",
        revision=None,
        recipe=train_config.to_dict(),
        training={
            "iterations": iterations,
            "wall_time_s": this_run.wall_time_s,
            "total_iterations": total_iterations,
            "total_wall_time_s": round(total_wall_time, 1),
            lineage.METADATA_KEY: [segment.to_dict() for segment in chain],
            "hardware": this_run.hardware or hardware(),  # where it trained; else (not recorded) this machine
            "final_loss": _final_loss(run_dir, iterations),
            "nca_zoo_version": __version__,
            "jax_version": recorded_jax if _short_text(recorded_jax) else jax.__version__,  # where it trained
            "date": datetime.date.today().isoformat(),
        },
        metrics={key: _finite(value) for key, value in metrics.items()},
        description=f"Growing NCA ({train_config.experiment}) trained on the {target} target.",
    )


def train_and_publish(
    target: str,
    out: str | os.PathLike,
    *,
    experiment: str = "regen",
    iterations: int | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    resume: bool = False,
    repo_id: str | None = None,
    push: bool = False,
    token: str | None = None,
    private: bool | None = None,
    checkpoint_every: int | None = None,
    eval_batch: int = 8,
    progress: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> ZooEntry:
    """Train on ``target`` (zoo name, emoji or RGBA image path), evaluate, write the repo folder ``out``.

    With ``push=True`` the folder is uploaded to ``repo_id`` (default ``nca-zoo/<name>``) in one
    commit and the returned entry carries that commit as its ``revision``; otherwise revision is None.
    """
    train_config = preset(experiment, **{"seed": seed, **(overrides or {})})
    if iterations is not None:
        train_config = dataclasses.replace(train_config, iterations=iterations)
    model_config = NCAConfig()
    name = f"{target_name(target)}-{experiment}-{model_config.channels}"
    repo_id = repo_id or f"{HUB_ORG}/{name}"
    if push and not (token or get_token()):  # fail before hours of training, not after
        raise PushError(
            f"--push to {repo_id} needs a Hugging Face token with write access: set HF_TOKEN or run `hf auth login`"
        )
    out = Path(out)
    grid = grid_target(target, train_config.target_size, train_config.padding)
    result = train(
        grid,
        out / RUN_DIR,
        model_config=model_config,
        train_config=train_config,
        target_name=target_name(target),
        resume=resume,
        checkpoint_every=checkpoint_every,
        progress=progress,
    )
    say(f"evaluating {name} (nca-zoo protocol, batch {eval_batch}) …")
    metrics = evaluate(ZooModel(model_config, result.params, target=grid), batch=eval_batch)
    entry = entry_for_run(
        out / RUN_DIR,
        target=target_name(target),
        model_config=model_config,
        train_config=train_config,
        iterations=result.iterations,
        sha256=result.sha256,
        metrics=metrics,
        repo_id=repo_id,
    )
    say(f"writing the repo folder {out} …")
    (out / CARD_NAME).unlink(missing_ok=True)  # this folder's card is ours: re-render it
    model = ZooModel(model_config, result.params, entry=entry, target=grid)
    model.save_pretrained(out, model_card_kwargs={"repo_id": repo_id}, weights_file=result.weights_path)
    if not push:
        return entry
    commit = push_folder(out, repo_id, repo_files(out), token=token, private=private, progress=progress)
    say(f"pushed {repo_id} at commit {commit.oid}: {commit.commit_url}")
    return dataclasses.replace(entry, revision=commit.oid)
