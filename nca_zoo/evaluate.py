"""The zoo's evaluation protocol: how well an NCA grows, persists and regenerates its target.

Every number is an MSE on the premultiplied RGBA channels (state channels 0..3) against the
model's own target, a (72, 72, 4) premultiplied RGBA array, averaged over ``batch = 8``
rollouts on the 72×72 grid at the model's fire rate (0.5). All randomness comes from
``key = jax.random.PRNGKey(seed)`` (``seed = 0``), split once into seven keys
``k_grow, k_mid, k_late, k_window, k_disc, k_disc_heal, k_half_heal``; each rollout of ``n`` steps
uses ``jax.random.split(k, n)`` as its per-step keys (:func:`nca_zoo.model.rollout`).

- ``mse_grow``: from the seed (one live cell at (36, 36)), 96 steps with ``k_grow``.
- ``mse_persist``: the same rollouts continued (104 steps with ``k_mid`` to step 200, 700 with
  ``k_late`` to step 900, 100 with ``k_window`` to step 1000); the mean of the 101 MSEs at steps
  900, 901, …, 1000.
- ``mse_disc``: the step-200 states, each with a disc erased (:func:`nca_zoo.model.damage_mask`
  ``kind="disc"`` with ``k_disc``: per rollout a centre uniform in [-0.5, 0.5]² and a radius
  uniform in [0.1, 0.4], in coordinates spanning [-1, 1] across the grid — Distill's training
  damage), then 100 steps with ``k_disc_heal``; MSE at the end.
- ``mse_half``: the step-200 states with the right half erased (columns 36..71, where
  x = linspace(-1, 1, 72) > 0), then 200 steps with ``k_half_heal``; MSE at the end.
- ``stable``: 1.0 if every rollout is finite, bounded (|state| < 100) and still has live cells at
  step 1000, else 0.0 (an entry that collapses or explodes never ships).

Which metrics an entry is judged on depends on what its experiment trains for
(:data:`EXPERIMENT_METRICS`); the quality bar compares them with the original authors' model
of the same target and experiment (:func:`ratios`, :data:`BAR`).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from nca_zoo import model
from nca_zoo.config import NCAConfig

METRICS = ("mse_grow", "mse_persist", "mse_disc", "mse_half")
EXPERIMENT_METRICS = {
    "grow": ("mse_grow",),
    "persist": ("mse_grow", "mse_persist"),
    "regen": METRICS,
}
#: An entry may be at most this many times worse than the original on each of its metrics.
BAR = 1.5
METRIC_TEXT = {
    "mse_grow": "growth: 96 steps from the seed",
    "mse_persist": "persistence: mean over steps 900–1000",
    "mse_disc": "regeneration: disc cut at step 200, 100 steps to heal",
    "mse_half": "regeneration: right half cut at step 200, 200 steps to heal",
}
GROW_STEPS, CUT_AT, WINDOW = 96, 200, (900, 1000)
DISC_HEAL, HALF_HEAL = 100, 200
BOUND = 100.0


class Evaluable(Protocol):
    """What the protocol needs of a model (a :class:`nca_zoo.zoo.ZooModel` has it)."""

    config: NCAConfig
    params: Any
    target: np.ndarray | None


def mse(states: jax.Array, target: np.ndarray) -> np.ndarray:
    """Per-sample MSE of the RGBA channels of ``states`` (B,H,W,C) against ``target`` (H,W,4)."""
    return np.asarray(model.rgba_mse(jnp.asarray(states), jnp.asarray(target)))


@functools.partial(jax.jit, static_argnames=("config", "steps"))
def _mse_trace(params, state, key, target, *, config: NCAConfig, steps: int):
    """``steps`` steps; returns the final state and the batch-mean MSE after each step."""

    def body(s, k):
        s = model.step(params, s, k, config=config)
        return s, jnp.mean(model.rgba_mse(s, target))

    return jax.lax.scan(body, state, jax.random.split(key, steps))


def _stable(states: np.ndarray, config: NCAConfig) -> bool:
    finite = bool(np.all(np.isfinite(states)))
    bounded = finite and float(np.abs(states).max()) < BOUND
    alive = np.asarray(model.alive_mask(jnp.asarray(states), config.alive_threshold)).reshape(len(states), -1)
    return bounded and bool(alive.any(axis=1).all())


def evaluate(nca: Evaluable, *, batch: int = 8, seed: int = 0) -> dict[str, float]:
    """Run the protocol (module docstring) → ``{"mse_grow", "mse_persist", "mse_disc", "mse_half",
    "stable"}``. Non-finite states give NaN metrics (never a passing number)."""
    config, params, target = _inputs(nca)
    size = target.shape[0]
    k_grow, k_mid, k_late, k_window, k_disc, k_disc_heal, k_half_heal = _keys(seed)

    def run(state, key, steps):
        return model.rollout(params, state, key, steps, config=config)[0]

    grown = run(model.seed(batch, size, config.channels), k_grow, GROW_STEPS)
    at_cut = run(grown, k_mid, CUT_AT - GROW_STEPS)
    window_start = run(at_cut, k_late, WINDOW[0] - CUT_AT)
    final, window = _mse_trace(params, window_start, k_window, target, config=config, steps=WINDOW[1] - WINDOW[0])
    persist = np.concatenate([[np.mean(mse(window_start, target))], np.asarray(window)])
    disc = run(model.damage(at_cut, k_disc, kind="disc"), k_disc_heal, DISC_HEAL)
    half = run(model.damage(at_cut, kind="half", side="right"), k_half_heal, HALF_HEAL)
    return {
        "mse_grow": _mean(mse(grown, target)),
        "mse_persist": _mean(persist),
        "mse_disc": _mean(mse(disc, target)),
        "mse_half": _mean(mse(half, target)),
        "stable": float(_stable(np.asarray(final), config)),
    }


def cut_and_heal(
    nca: Evaluable, cut: Mapping[str, Any], *, heal_steps: int = HALF_HEAL, batch: int = 8, seed: int = 0
) -> tuple[float, np.ndarray, np.ndarray]:
    """The protocol's step-200 states (the rollouts ``mse_disc`` and ``mse_half`` cut) with another cut —
    ``cut`` is :func:`nca_zoo.model.damage`'s keywords, e.g. ``{"kind": "half", "side": "left"}`` or a
    disc at a fixed ``center`` and ``radius`` — then ``heal_steps`` steps with ``k_half_heal``:
    (MSE, healed states, erased cells (B,H,W) bool). For probing cuts the protocol does not draw, such as
    a disc over one feature. A disc without ``center`` and ``radius`` is the protocol's random discs
    (``k_disc``, healed with ``k_disc_heal``: with ``heal_steps=DISC_HEAL`` that is ``mse_disc``), so
    other seeds and batch sizes count how often a model fails to heal them."""
    config, params, target = _inputs(nca)
    k_grow, k_mid, _, _, k_disc, k_disc_heal, k_half_heal = _keys(seed)

    def run(state, key, steps):
        return model.rollout(params, state, key, steps, config=config)[0]

    grown = run(model.seed(batch, target.shape[0], config.channels), k_grow, GROW_STEPS)
    at_cut = run(grown, k_mid, CUT_AT - GROW_STEPS)
    random_disc = cut.get("kind") == "disc" and cut.get("center") is None and cut.get("radius") is None
    key, heal_key = (k_disc, k_disc_heal) if random_disc else (None, k_half_heal)
    erased = model.damage_mask(key, at_cut.shape, **cut)
    healed = run(at_cut * (1.0 - erased), heal_key, heal_steps)
    return _mean(mse(healed, target)), np.asarray(healed), np.asarray(erased[..., 0] > 0)


def mse_curve(nca: Evaluable, *, steps: int = WINDOW[1], batch: int = 8, seed: int = 0) -> np.ndarray:
    """The MSE after each of the first ``steps`` steps (at most 1000) of the protocol's own undamaged
    rollouts, from the seed, with its keys: ``curve[95]`` is ``mse_grow`` and ``curve[899:].mean()``
    ``mse_persist``. It shows what one number hides: whether a model misses at step 96 because it grows
    too slowly (the curve still falling) or settles on a wrong pattern (flat), or drifts later on."""
    if not 1 <= steps <= WINDOW[1]:
        raise ValueError(f"steps must be between 1 and {WINDOW[1]} (the protocol's rollouts), got {steps}")
    config, params, target = _inputs(nca)
    k_grow, k_mid, k_late, k_window = _keys(seed)[:4]
    segments = (
        (k_grow, GROW_STEPS),
        (k_mid, CUT_AT - GROW_STEPS),
        (k_late, WINDOW[0] - CUT_AT),
        (k_window, WINDOW[1] - WINDOW[0]),
    )
    state, curve = model.seed(batch, target.shape[0], config.channels), []
    for key, length in segments:
        if sum(map(len, curve)) >= steps:
            break
        state, trace = _mse_trace(params, state, key, target, config=config, steps=length)
        curve.append(np.asarray(trace))
    return np.concatenate(curve)[:steps]


def _keys(seed: int) -> jax.Array:
    """The protocol's seven keys (module docstring), in order."""
    return jax.random.split(jax.random.PRNGKey(seed), 7)


def _inputs(nca: Evaluable) -> tuple[NCAConfig, Any, jax.Array]:
    if nca.target is None:
        raise ValueError("evaluation needs the model's target; load a zoo entry or pass target=")
    return nca.config, jax.tree.map(jnp.asarray, nca.params), jnp.asarray(nca.target, jnp.float32)


def _mean(values: np.ndarray) -> float:
    value = float(np.mean(values))
    return value if math.isfinite(value) else float("nan")


def ratios(ours: Mapping[str, float], original: Mapping[str, float], experiment: str) -> dict[str, float]:
    """Ours / original for each metric the experiment trains for (NaN where either is missing or NaN)."""
    out = {}
    for name in EXPERIMENT_METRICS[experiment]:
        a, b = ours.get(name), original.get(name)
        ok = a is not None and b is not None and math.isfinite(a) and math.isfinite(b) and b > 0
        out[name] = a / b if ok else float("nan")
    return out


def meets_bar(ours: Mapping[str, float], original: Mapping[str, float], experiment: str) -> tuple[bool, list[str]]:
    """Whether an entry may ship: stable, and each of its experiment's metrics ≤ BAR × the original's.

    Returns ``(ok, problems)``; written so that NaN never passes (``not ratio <= BAR``).
    """
    problems = []
    if ours.get("stable") != 1.0:
        problems.append("collapses, explodes or is non-finite by step 1000")
    for name, ratio in ratios(ours, original, experiment).items():
        if not ratio <= BAR:
            problems.append(f"{name} {ours.get(name)} is {ratio:.2f}× the original's {original.get(name)} (bar {BAR}×)")
    return not problems, problems


def better_on_all(ours: Mapping[str, float], original: Mapping[str, float], experiment: str) -> bool:
    """Whether ours beats the original on every metric its experiment trains for."""
    return all(r < 1.0 for r in ratios(ours, original, experiment).values())


ORIGINALS_FILE = "originals_metrics.json"


def original_metrics() -> dict[tuple[str, str], dict[str, float]]:
    """The protocol's results for the original authors' 30 models, as shipped with the package
    (measured by ``scripts/eval_originals.py``): ``{(target, experiment): metrics}``."""
    text = importlib.resources.files("nca_zoo").joinpath(ORIGINALS_FILE).read_text()
    models = json.loads(text)["models"].values()
    return {(m["target"], m["experiment"]): m["metrics"] for m in models}


def comparison_table(rows: Sequence[tuple[str, str, Mapping[str, float], Mapping[str, float] | None]]) -> str:
    """A Markdown table, one line per entry: each metric as ours / original's (ratio).

    ``rows``: ``(name, experiment, ours, original or None)``. Metrics an experiment does not train
    for are shown in parentheses, without a ratio; ``better`` marks entries better than the original
    on all of their experiment's metrics, ``bar`` whether the entry meets :func:`meets_bar`.
    """
    head = "| entry | " + " | ".join(f"`{m}` ours / original (ratio)" for m in METRICS) + " | stable | bar | better |"
    lines = [head, "|" + "---|" * (len(METRICS) + 4)]
    for name, experiment, ours, original in rows:
        cells = []
        ratio = ratios(ours, original or {}, experiment)
        for metric in METRICS:
            value = ours.get(metric)
            text = "–" if value is None else f"{value:.5f}"
            if original is not None and original.get(metric) is not None:
                text += f" / {original[metric]:.5f}"
                if metric in ratio:
                    text += f" ({ratio[metric]:.2f}×)"
            cells.append(text if metric in EXPERIMENT_METRICS[experiment] else f"({text})")
        stable = "yes" if ours.get("stable") == 1.0 else "**no**"
        if original is None:
            bar, better = "–", "–"
        else:
            ok = meets_bar(ours, original, experiment)[0]
            bar = "pass" if ok else "**fail**"
            better = "yes" if better_on_all(ours, original, experiment) else "no"
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {stable} | {bar} | {better} |")
    return "\n".join(lines)
