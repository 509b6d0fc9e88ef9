"""``ZooModel``: what ``nca_zoo.load`` returns — config + params + target, with conveniences.

The model object holds no hidden state: every method is a pure function of (config, params) and
the key or masks it is given. ``step`` is jitted once per model, so calling it in a Python loop
costs no retracing.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nca_zoo import evaluate, model, render
from nca_zoo.config import NCAConfig
from nca_zoo.hub.mixin import NCAHubMixin
from nca_zoo.registry import ZooEntry


def _key(key: jax.Array | int | None, default: int = 0) -> jax.Array:
    if key is None:
        key = default
    return jax.random.PRNGKey(key) if isinstance(key, int) else key


def _as_state(state: Any, channels: int) -> jax.Array:
    """Validate a user-supplied state: NumPy or JAX, (B,H,W,channels) → float32 JAX array."""
    state = jnp.asarray(state, jnp.float32)
    if state.ndim != 4 or state.shape[-1] != channels:
        raise ValueError(
            f"state has shape {tuple(state.shape)}; expected (batch, height, width, {channels}). "
            "Start from model.seed(batch, size), or add a batch axis with state[None]."
        )
    return state


@dataclasses.dataclass(eq=False)
class ZooModel(NCAHubMixin):
    """A pretrained (or converted, or freshly trained) NCA.

    Attributes: ``config`` (architecture), ``params`` (Flax param dict), ``entry`` (its registry
    entry, or None), ``target`` ((72,72,4) premultiplied RGBA it was trained on, or None).
    Hub repo folders: ``save_pretrained`` / ``push_to_hub`` / ``from_pretrained`` (from
    :class:`nca_zoo.hub.mixin.NCAHubMixin`).
    """

    config: NCAConfig
    params: dict[str, Any]
    entry: ZooEntry | None = None
    target: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.params = jax.tree.map(jnp.asarray, self.params)
        self._step = jax.jit(lambda p, s, k, m, a: model.step(p, s, k, config=self.config, update_mask=m, angle=a))

    @property
    def name(self) -> str:
        return self.entry.name if self.entry else "custom"

    def __repr__(self) -> str:
        return f"ZooModel({self.name!r}, {self.config})"

    # ---- dynamics -------------------------------------------------------------------------
    def step(
        self,
        state: Any,
        key: jax.Array | None = None,
        *,
        update_mask: Any = None,
        angle: float = 0.0,
    ) -> jax.Array:
        """One step (see :func:`nca_zoo.model.step`); ``state`` may be NumPy or JAX, (B,H,W,C)."""
        if key is None and update_mask is None:
            raise ValueError("step needs a PRNG key (jax.random.PRNGKey(i)) or an explicit update_mask")
        mask = None if update_mask is None else jnp.asarray(update_mask)
        return self._step(self.params, _as_state(state, self.config.channels), key, mask, jnp.float32(angle))

    def rollout(
        self,
        state: Any,
        key: jax.Array | int | None = None,
        steps: int = 96,
        *,
        angle: float = 0.0,
        every: int | None = None,
        update_masks: Any = None,
    ) -> tuple[jax.Array, jax.Array | None]:
        """``steps`` steps from ``state``; returns (final, frames every ``every`` steps or None)."""
        return model.rollout(
            self.params,
            _as_state(state, self.config.channels),
            None if update_masks is not None else _key(key),
            steps,
            config=self.config,
            angle=jnp.float32(angle),
            update_masks=update_masks,
            every=every,
        )

    def seed(self, batch: int = 1, size: int = 72) -> jax.Array:
        return model.seed(batch, size, self.config.channels)

    def grow(self, steps: int = 96, size: int = 72, seed: int = 0, angle: float = 0.0, batch: int = 1) -> jax.Array:
        """Grow from the single-cell seed for ``steps`` steps → final states (batch, size, size, C)."""
        steps = render.check_count("steps", steps, 0)
        start = self.seed(render.check_count("batch", batch), render.check_count("size", size))
        return self.rollout(start, seed, steps, angle=angle)[0]

    def frames(
        self,
        steps: int = 200,
        every: int = 2,
        *,
        size: int = 72,
        seed: int = 0,
        angle: float = 0.0,
        state: Any = None,
    ) -> np.ndarray:
        """States (T+1, H, W, C) of one rollout: the start, then every ``every`` steps."""
        steps, every = render.check_count("steps", steps, 0), render.check_count("every", every)
        if state is None:
            start = self.seed(1, render.check_count("size", size))
        else:
            start = _as_state(state, self.config.channels)[:1]
        _, frames = self.rollout(start, seed, steps, angle=angle, every=every)
        return np.concatenate([np.asarray(start), np.asarray(frames)[:, 0]], axis=0)

    def regenerate(
        self,
        grow_steps: int = 200,
        regrow_steps: int = 200,
        every: int = 2,
        *,
        kind: str = "half",
        size: int = 72,
        seed: int = 0,
        angle: float = 0.0,
        **damage_kwargs: Any,
    ) -> np.ndarray:
        """Grow, erase part of the pattern (:func:`nca_zoo.model.damage`), regrow; frames (T,H,W,C)."""
        k_grow, k_damage, k_regrow = jax.random.split(jax.random.PRNGKey(seed), 3)
        grown = self.frames(grow_steps, every, size=size, seed=k_grow, angle=angle)
        damaged = model.damage(jnp.asarray(grown[-1:]), k_damage, kind=kind, **damage_kwargs)
        regrown = self.frames(regrow_steps, every, state=damaged, seed=k_regrow, angle=angle)
        return np.concatenate([grown, regrown], axis=0)

    # ---- quality -------------------------------------------------------------------------
    def mse(self, states: Any) -> np.ndarray:
        """Per-sample RGBA MSE against the target (states (B,H,W,C) on the target's grid)."""
        if self.target is None:
            raise ValueError(f"{self.name} has no target to compare with")
        return evaluate.mse(jnp.asarray(states), self.target)

    # ---- output --------------------------------------------------------------------------
    def save_png(
        self, path: str | os.PathLike, steps: int = 96, *, scale: int = 4, regenerate: bool = False, **kwargs: Any
    ) -> render.Saved:
        """Grow for ``steps`` steps (``kwargs``: see :meth:`grow`), or grow, damage and regrow as many
        with ``regenerate=True`` (``kwargs``: see :meth:`regenerate`), and save the final state as a PNG
        (``path`` must end in .png). Returns :class:`nca_zoo.render.Saved`: the path, the step shown
        (counting the regrowth), and its MSE against the target (when there is one on this grid and the
        angle is 0)."""
        path, scale = render.check_suffix(path, ".png"), render.check_count("scale", scale)
        steps = render.check_count("steps", steps, 0)
        if regenerate:
            state, shown = self.regenerate(steps, steps, max(steps, 1), **kwargs)[-1], 2 * steps
        else:
            state, shown = np.asarray(self.grow(steps, **kwargs)[0]), steps
        render.save_png(path, state, scale)
        on_target = self.target is not None and self.target.shape[:2] == state.shape[:2]
        mse = float(self.mse(state[None])[0]) if on_target and not kwargs.get("angle") else None
        return render.Saved(path, shown, 1, mse)

    def save_gif(
        self,
        path: str | os.PathLike,
        steps: int = 200,
        every: int = 2,
        *,
        scale: int = 4,
        duration_ms: int = 40,
        regenerate: bool = False,
        **kwargs: Any,
    ) -> render.Saved:
        """Save a growth animation (``kwargs``: see :meth:`frames`), or grow → damage → regrow with
        ``regenerate=True`` (``kwargs``: see :meth:`regenerate`), as a GIF (``path`` must end in .gif).
        Returns :class:`nca_zoo.render.Saved`: the path, the step of the last frame (counting the
        regrowth after the damage), the frame count, and the last frame's MSE against the target
        (when there is one on this grid and the angle is 0). :meth:`frames` gives the states."""
        path, scale = render.check_suffix(path, ".gif"), render.check_count("scale", scale)
        duration_ms = render.check_count("duration_ms", duration_ms)
        steps, every = render.check_count("steps", steps, 0), render.check_count("every", every)
        frames = self.regenerate(steps, steps, every, **kwargs) if regenerate else self.frames(steps, every, **kwargs)
        render.save_gif(path, frames, scale, duration_ms)
        last_step = (steps - steps % every) * (2 if regenerate else 1)
        on_target = self.target is not None and self.target.shape[:2] == frames.shape[1:3]
        mse = float(self.mse(frames[-1:])[0]) if on_target and not kwargs.get("angle") else None
        return render.Saved(path, last_step, len(frames), mse)
