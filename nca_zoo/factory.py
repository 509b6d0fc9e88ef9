"""``nca_zoo.load``: a ready model from a registry name, a Hub repo, a folder or a weights file.

What a name means (:func:`parse_spec`), and nothing else:

- a registry name or alias (``"gecko"``, ``"gecko-regen-16"``, ``"🦎"``): weights bundled → local
  Hugging Face cache → Hub download at the registry's pinned commit, sha256-verified;
- ``"hf-hub:org/repo"`` or ``"hf-hub:org/repo@revision"``: that Hub repo, and never a local folder;
- ``"local-dir:PATH"``, or a plain path (one with a ``/``, starting with ``.`` or ``~``, ending in
  ``.safetensors``, or any existing file or folder whose name the registry does not know):
  a Hub repo folder (``config.json`` + ``model.safetensors``, as ``save_pretrained`` writes), a
  training run folder (``run.json`` + ``model.safetensors``, as ``nca-zoo train`` writes), a
  ``.safetensors`` weights file (its metadata holds the architecture) or a training snapshot
  (``OUT/snapshot.safetensors``: its params, so a run can be evaluated while it trains).

A run's target comes along when it can be rebuilt — a zoo target (``run.json``'s ``"target"``) or a
``target.png`` in the run folder — so ``mse`` and the CLI's MSE work; otherwise ``target`` is None.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from huggingface_hub.utils import HFValidationError, validate_repo_id

from nca_zoo.config import NCAConfig
from nca_zoo.hub.files import validate_revision
from nca_zoo.hub.layout import CONFIG_NAME, TARGET_NAME, WEIGHTS_NAME, read_json, read_target_png
from nca_zoo.hub.pretrained import resolve_weights
from nca_zoo.registry import UnknownModelError, ZooEntry, get_entry
from nca_zoo.targets import PADDING, TARGET_SIZE, grid_target, resolve_name
from nca_zoo.weights import SNAPSHOT_FORMAT, load_weights, read_metadata, sha256_bytes, to_bytes
from nca_zoo.zoo import ZooModel

HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"
RUN_FILE = "run.json"
EXPERIMENTS = ("grow", "persist", "regen")


# ---- names ---------------------------------------------------------------------------------------
def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or spec.startswith((".", "~")) or spec.endswith(".safetensors")


def parse_spec(spec: str | os.PathLike) -> tuple[str, str, str | None]:
    """``spec`` → (kind, value, revision); kind is ``"registry"``, ``"hf-hub"``, ``"local-dir"`` or ``"path"``.

    Hub repo ids and revisions are validated here: a revision with ``..`` or an absolute path never
    reaches the cache.
    """
    if isinstance(spec, os.PathLike):
        return "path", os.fspath(spec), None
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"expected a model name, hf-hub:<org>/<repo>, local-dir:<path> or a path, got {spec!r}")
    if spec.startswith(HF_HUB_PREFIX):
        repo_id, _, revision = spec[len(HF_HUB_PREFIX) :].partition("@")
        try:
            if repo_id.count("/") != 1 or not all(repo_id.split("/")):
                raise HFValidationError("not <org>/<repo>")
            validate_repo_id(repo_id)
        except HFValidationError as err:
            raise ValueError(
                f"{spec!r}: expected hf-hub:<org>/<repo> or hf-hub:<org>/<repo>@<revision> ({err})"
            ) from None
        if revision:
            try:
                validate_revision(revision)
            except ValueError as err:
                raise ValueError(f"{spec!r}: {err}") from None
        return "hf-hub", repo_id, revision or None
    if spec.startswith(LOCAL_DIR_PREFIX):
        path = spec[len(LOCAL_DIR_PREFIX) :]
        if not path:
            raise ValueError(f"{spec!r}: expected local-dir:<a repo folder, a run folder or a .safetensors file>")
        return "local-dir", path, None
    if _looks_like_path(spec):
        return "path", spec, None
    return "registry", spec, None


def load(name: str | os.PathLike, *, revision: str | None = None, local_files_only: bool = False) -> ZooModel:
    """A ready NCA by registry name or alias (``"gecko"``, ``"gecko-regen-16"``, ``"🦎"``), by Hub repo
    (``"hf-hub:org/repo"``, optionally ``"@revision"`` or ``revision=``), or by path (``"local-dir:PATH"``
    or a plain path): a repo folder written by ``save_pretrained``, a run folder written by
    ``nca-zoo train``, or a ``.safetensors`` file.

    Registry weights resolve bundled → local Hugging Face cache → Hub download at the pinned commit and
    are verified against the registry's sha256. ``local_files_only=True`` (or ``HF_HUB_OFFLINE=1``)
    never touches the network. Unknown names fail with the closest matches.
    """
    kind, value, spec_revision = parse_spec(name)
    if kind == "hf-hub":
        if revision is not None and spec_revision is not None and revision != spec_revision:
            raise ValueError(f"two revisions given: {name!r} and revision={revision!r}")
        return ZooModel.from_hub(value, revision=revision or spec_revision, local_files_only=local_files_only)
    if revision is not None:
        what = {"local-dir": "a local folder", "path": "a local path"}
        raise ValueError(
            f"revision= applies to hf-hub: names only; {name!r} is "
            + what.get(kind, "a registry entry, pinned to its published commit")
        )
    if kind == "local-dir":
        path = Path(value).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{name!r}: no such folder or file {path.resolve()}")
        return load_path(path)
    if kind == "path":
        return load_path(Path(value).expanduser())
    try:
        entry = get_entry(value)
    except UnknownModelError as err:
        if Path(value).exists():  # a folder or file the registry does not shadow
            return load_path(Path(value))
        raise UnknownModelError(f"{err} (no file or folder of that name exists either)") from None
    return from_registry(entry, local_files_only=local_files_only)


def recorded_provenance(path: Path) -> dict[str, Any]:
    """What a bare ``.safetensors`` file says it was trained as: ``target``, ``experiment`` and ``recipe``
    (a weights file's ``"recipe"`` as the trainers write it, or a training snapshot's ``"train_config"``);
    each absent when the file does not record it or records something unusable."""
    metadata = read_metadata(path)
    try:
        recipe = json.loads(metadata.get("recipe") or metadata.get("train_config") or "{}")
    except json.JSONDecodeError:
        recipe = {}
    recipe = recipe if isinstance(recipe, dict) else {}
    experiment = metadata.get("experiment") or recipe.get("experiment")
    recorded: dict[str, Any] = {"recipe": recipe} if recipe else {}
    if metadata.get("target"):
        recorded["target"] = metadata["target"]
    if experiment in EXPERIMENTS:
        recorded["experiment"] = experiment
    return recorded


def _recorded_target(path: Path) -> Any:
    """The padded zoo target a bare weights file (or snapshot) names in its metadata, so evaluation and
    MSE work on it; None when it names none or not a zoo target."""
    recorded = recorded_provenance(path)
    name, recipe = recorded.get("target"), recorded.get("recipe", {})
    if not name or resolve_name(name) is None:
        return None
    size, padding = recipe.get("target_size", TARGET_SIZE), recipe.get("padding", PADDING)
    if not (isinstance(size, int) and isinstance(padding, int) and 0 < size <= 1024 and 0 <= padding <= 1024):
        return None
    return grid_target(name, size, padding)


# ---- sources -------------------------------------------------------------------------------------
def from_registry(entry: ZooEntry, *, local_files_only: bool = False) -> ZooModel:
    """A registry entry's model: verified weights (:func:`nca_zoo.hub.pretrained.resolve_weights`) + its target."""
    path = resolve_weights(entry, local_files_only=local_files_only)
    params, config = load_weights(path, config=entry.config, sha256=entry.sha256)
    recipe = entry.recipe
    target = grid_target(entry.target, recipe.get("target_size", TARGET_SIZE), recipe.get("padding", PADDING))
    return ZooModel(config=config, params=params, entry=entry, target=target)


def load_path(path: Path) -> ZooModel:
    """A repo folder, a run folder, a ``.safetensors`` weights file or a training snapshot (a run's or a
    repo's own weights file loads as its folder, so its target and description come along)."""
    if path.is_file():
        if path.suffix != ".safetensors":
            raise ValueError(
                f"{path} is not a .safetensors weights file; nca_zoo.load takes a registry name, hf-hub:<org>/<repo>, "
                "a repo folder, a training run folder or a .safetensors file"
            )
        folder = path.parent
        if path.name == WEIGHTS_NAME and (folder / CONFIG_NAME).is_file():
            return ZooModel.from_folder(folder)
        if path.name == WEIGHTS_NAME and (folder / RUN_FILE).is_file():
            return from_run(folder)
        if read_metadata(path).get("format") == SNAPSHOT_FORMAT:  # a training snapshot: its params
            from nca_zoo.train.snapshot import snapshot_model

            snapshot = snapshot_model(path)
            params, config = snapshot.params, snapshot.model_config
        else:
            params, config = load_weights(path)
        return ZooModel(config=config, params=params, target=_recorded_target(path))
    if path.is_dir():
        if (path / CONFIG_NAME).is_file():
            return ZooModel.from_folder(path)
        if (path / RUN_FILE).is_file():
            return from_run(path)
        raise FileNotFoundError(
            f"{path} has no config.json (a Hub repo folder, written by save_pretrained or nca-zoo push) and no "
            "run.json (a training run, written by nca-zoo train): nothing to load there"
        )
    raise FileNotFoundError(
        f"no such file or folder: {path} (for the Hub repo {path}, write hf-hub:{path})"
        if str(path).count("/") == 1 and not str(path).startswith((".", "/", "~"))
        else f"no such file or folder: {path}"
    )


def from_snapshots(paths: list[str | os.PathLike], target: Any = None) -> ZooModel:
    """The mean of training snapshots' params (the window mean an entry is registered as), judged against
    ``target`` (a padded grid; default: the snapshots' own zoo target)."""
    from nca_zoo.train.snapshot import average_snapshots

    mean = average_snapshots(paths)
    return ZooModel(mean.model_config, mean.params, target=grid_target(mean.target) if target is None else target)


def read_run(folder: Path) -> tuple[NCAConfig, dict[str, Any], str]:
    """``run.json`` of a training run → (model config, train config as a dict, target name)."""
    path = folder / RUN_FILE
    data = read_json(path, what="run.json")
    shape_ok = (
        isinstance(data, dict)
        and isinstance(data.get("model_config"), dict)
        and isinstance(data.get("train_config"), dict)
        and isinstance(data.get("target"), str)
    )
    if not shape_ok:
        raise ValueError(
            f"{path} is not a training run record: expected a JSON object with model_config, train_config and "
            "target, as nca-zoo train writes"
        )
    try:
        config = NCAConfig.from_dict(data["model_config"])
    except ValueError as err:
        raise ValueError(f"{path}: model_config: {err}") from err
    experiment = data["train_config"].get("experiment")
    if experiment not in EXPERIMENTS:
        raise ValueError(f"{path}: train_config.experiment must be one of {EXPERIMENTS}, got {experiment!r:.60}")
    return config, data["train_config"], data["target"]


def run_target(folder: Path, target: str, train_config: dict[str, Any]) -> Any:
    """The run's padded target: its ``target.png`` if the run folder has one, else the zoo target
    ``target`` on the recipe's grid, else None (an image target the run does not record)."""
    if (folder / TARGET_NAME).is_file():
        return read_target_png(folder / TARGET_NAME)
    if resolve_name(target) is None:
        return None
    size, padding = train_config.get("target_size", TARGET_SIZE), train_config.get("padding", PADDING)
    try:
        return grid_target(target, size, padding)
    except ValueError as err:
        raise ValueError(f"{folder / RUN_FILE}: train_config: {err}") from err


def from_run(folder: Path) -> ZooModel:
    """A training run folder as ``nca-zoo train`` leaves it (``run.json`` + ``model.safetensors``).

    The model's entry is unpublished (``revision`` None, no Hub repo), named like a zoo entry
    (``<target>-<experiment>-<channels>``) and carries the run's recipe, so ``save_pretrained`` and
    ``push_to_hub`` write a complete card.
    """
    config, train_config, target_name = read_run(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(
            f"{folder} is a training run without {WEIGHTS_NAME}: it has not finished. Finish it with the same "
            "`nca-zoo train ... --resume` command (the trainer writes the weights at the end)"
        )
    params, config = load_weights(weights, config=config)
    experiment = train_config["experiment"]
    entry = ZooEntry(
        name=f"{target_name}-{experiment}-{config.channels}",
        target=target_name,
        experiment=experiment,
        config=config,
        weights_file=f"{target_name}-{experiment}-{config.channels}.safetensors",
        sha256=sha256_bytes(to_bytes(params, config)),  # the bytes save_pretrained / push_to_hub write
        hub_repo="",
        revision=None,
        recipe=dict(train_config),
        description=f"Growing NCA ({experiment}) trained on the {target_name} target.",
    )
    return ZooModel(config=config, params=params, entry=entry, target=run_target(folder, target_name, train_config))
