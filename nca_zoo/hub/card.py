"""The model card (``README.md``) of an entry's Hub repo: YAML metadata + what a visitor needs to know.

Rendered from the same fields as the registry entry, so the card, ``config.json`` and
``registry.json`` cannot disagree. Sections: the target, what the entry does, how it was trained,
its measured metrics, usage in three lines, and the citation of the Distill article.
"""

from __future__ import annotations

import math
from typing import Any

from huggingface_hub import ModelCardData

from nca_zoo import evaluate

LIBRARY_NAME = "nca-zoo"
BASE_TAGS = ("jax", "flax", "neural-cellular-automata", "cellular-automata", "growing-nca", "self-organization")

# A Growing NCA takes no input and always grows the same picture: none of the Hub's pipeline tags
# (e.g. unconditional-image-generation, which promises varied samples) describes it, so none is set.
PIPELINE_TAG = None

EXPERIMENT_TEXT = {
    "grow": (
        "**Growing** (Distill experiment 1): trained from the single-cell seed every iteration, so it "
        "grows the target in about 96 steps; what happens after that is not trained and the pattern may "
        "keep growing or decay."
    ),
    "persist": (
        "**Persistent** (Distill experiment 2): trained from a pool of its own earlier states, so once "
        "grown the pattern stays stable for hundreds of steps."
    ),
    "regen": (
        "**Regenerating** (Distill experiment 3): trained from a pool of its own states, some of them "
        "damaged, so it grows the target, keeps it, and regrows parts that are erased."
    ),
}

METRIC_TEXT = {
    **evaluate.METRIC_TEXT,
    "stable": "finite, bounded and alive in every rollout at step 1000 (1.0 = yes)",
    # the first protocol's names, for repos written before it changed
    "mse_96": "after 96 steps from the seed",
    "mse_1000": "after 1000 steps (does the pattern persist?)",
    "mse_regen": "grown 200 steps, right half erased, then 200 more steps",
}

CITATION = """\
@article{mordvintsev2020growing,
  author = {Mordvintsev, Alexander and Randazzo, Ettore and Niklasson, Eyvind and Levin, Michael},
  title = {Growing Neural Cellular Automata},
  journal = {Distill},
  year = {2020},
  note = {https://distill.pub/2020/growing-ca},
  doi = {10.23915/distill.00023}
}"""

RECIPE_ROWS = (
    ("experiment", "experiment"),
    ("batch_size", "batch size"),
    ("pool_size", "sample pool"),
    ("damage_count", "damaged samples per batch"),
    ("min_steps", "min steps per iteration"),
    ("max_steps", "max steps per iteration"),
    ("learning_rate", "learning rate"),
    ("decayed_learning_rate", "learning rate after decay"),
    ("decay_at", "decay at iteration"),
    ("target_size", "target size (px)"),
    ("padding", "padding (cells)"),
    ("seed", "seed"),
)


def _number(value: Any) -> str:
    if value is None:
        return "— (not finite: the rollout diverged)"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "— (not finite: the rollout diverged)"
        return f"{value:.6f}" if abs(value) < 10 else f"{value:.4g}"
    return str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def card_metadata(pretrained: dict[str, Any]) -> ModelCardData:
    """The card's YAML header: what the Hub indexes (library, license, tags)."""
    tags = [*BASE_TAGS]
    for extra in (pretrained.get("experiment"), pretrained.get("target")):
        if extra and extra not in tags:
            tags.append(str(extra))
    return ModelCardData(
        library_name=LIBRARY_NAME,
        license=str(pretrained.get("license", "Apache-2.0")).lower(),
        tags=tags,
        pipeline_tag=PIPELINE_TAG,
    )


def render_card(
    model_args: dict[str, Any],
    pretrained: dict[str, Any],
    *,
    repo_id: str | None = None,
    files: tuple[str, ...] = (),
) -> str:
    """README.md text for a repo holding ``files``; ``pretrained`` is the entry's ``pretrained_cfg``."""
    name = pretrained.get("name", "custom NCA")
    target = pretrained.get("target", "unknown")
    experiment = pretrained.get("experiment")
    repo_id = repo_id or pretrained.get("hub_repo")
    recipe: dict[str, Any] = pretrained.get("recipe") or {}
    training: dict[str, Any] = pretrained.get("training") or {}
    metrics: dict[str, Any] = pretrained.get("metrics") or {}

    lines = [f"# {name}", ""]
    if pretrained.get("description"):
        lines += [pretrained["description"], ""]
    lines += [
        "A Growing Neural Cellular Automaton (Mordvintsev et al., Distill 2020) from the nca-zoo "
        f"model zoo: one tiny update rule "
        f"({model_args.get('channels')} channels, {model_args.get('hidden')} hidden units) applied by every "
        "cell to its 3×3 neighbourhood grows the target from a single seed cell.",
        "",
        "## Target",
        "",
    ]
    if "target.png" in files:
        lines += [f'<img src="target.png" alt="target: {target}" width="216" style="image-rendering: pixelated">', ""]
    lines += [f"Target: **{target}** (premultiplied RGBA on the training grid, as in `target.png`).", ""]
    if "growth.gif" in files:
        lines += [f'<img src="growth.gif" alt="{name} growing from one cell" width="288">', ""]

    lines += ["## What it does", "", EXPERIMENT_TEXT.get(experiment or "", "Experiment: unknown."), ""]
    if "regeneration.gif" in files:
        lines += [f'<img src="regeneration.gif" alt="{name} regrowing after damage" width="288">', ""]

    lines += ["## Training", ""]
    if recipe or training:
        lines += [
            f"Trained with nca-zoo's Distill recipe for **{training.get('iterations', '?')} iterations** in "
            f"{_duration(training.get('wall_time_s'))} of wall time on {training.get('hardware', 'unknown hardware')}"
            f" (nca-zoo {training.get('nca_zoo_version', '?')}, JAX {training.get('jax_version', '?')}).",
            "",
        ]
        if "final_loss" in training:
            lines += [f"Final training loss: {_number(training['final_loss'])}.", ""]
        if recipe:
            lines += ["| recipe | value |", "|---|---|"]
            lines += [f"| {label} | {recipe[key]} |" for key, label in RECIPE_ROWS if key in recipe]
            lines.append("")
    else:
        lines += ["No training record was saved with this model.", ""]

    lines += ["## Metrics", ""]
    if metrics:
        lines += [
            "nca-zoo's evaluation protocol: RGBA mean squared error against the target, averaged over 8 "
            "rollouts (fire rate 0.5) on the training grid. Lower is better.",
            "",
            "| metric | protocol | value |",
            "|---|---|---|",
        ]
        lines += [f"| `{key}` | {METRIC_TEXT.get(key, '')} | {_number(value)} |" for key, value in metrics.items()]
        lines.append("")
    else:
        lines += ["Not measured.", ""]

    spec = f"hf-hub:{repo_id}" if repo_id else "local-dir:path/to/this/folder"
    lines += [
        "## Usage",
        "",
        "```python",
        "import nca_zoo",
        f'nca = nca_zoo.load("{spec}")',
        'nca.save_gif("growth.gif")',
        "```",
        "",
        f"Once listed in the nca-zoo registry it also loads by name (`nca_zoo.load({name!r})`), pinned to a "
        "commit and sha256-verified. `pip install nca-zoo` first.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return f"---\n{card_metadata(pretrained).to_yaml()}\n---\n\n" + "\n".join(lines)
