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

from nca_zoo import model, render
from nca_zoo.config import NCAConfig
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
class ZooModel:
    """A pretrained (or converted, or freshly trained) NCA.

    Attributes: ``config`` (architecture), ``params`` (Flax param dict), ``entry`` (its registry
    entry, or None), ``target`` ((72,72,4) premultiplied RGBA it was trained on, or None).
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
        return self.rollout(self.seed(batch, size), seed, steps, angle=angle)[0]

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
        start = self.seed(1, size) if state is None else _as_state(state, self.config.channels)[:1]
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
        from nca_zoo.evaluate import mse

        if self.target is None:
            raise ValueError(f"{self.name} has no target to compare with")
        return mse(jnp.asarray(states), self.target)

    # ---- output --------------------------------------------------------------------------
    def save_png(self, path: str | os.PathLike, steps: int = 96, *, scale: int = 4, **grow_kwargs: Any) -> np.ndarray:
        """Grow for ``steps`` steps and save the result as a PNG; returns the state saved (H, W, C)."""
        state = np.asarray(self.grow(steps, **grow_kwargs)[0])
        render.save_png(path, state, scale)
        return state

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
    ) -> np.ndarray:
        """Save a growth animation (or grow → damage → regrow with ``regenerate=True``) as a GIF;
        returns the states shown (T, H, W, C)."""
        frames = self.regenerate(steps, steps, every, **kwargs) if regenerate else self.frames(steps, every, **kwargs)
        render.save_gif(path, frames, scale, duration_ms)
        return frames

    # ---- Hugging Face Hub (ModelHubMixin layout; the logic lives in nca_zoo.hub_repo) ---------
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
        **push_to_hub_kwargs: Any,
    ) -> Any:
        """Write this model's Hub repo folder (config.json, model.safetensors, card, target, GIFs)."""
        from nca_zoo.hub_repo import save_pretrained

        return save_pretrained(
            self,
            save_directory,
            repo_id=repo_id,
            push_to_hub=push_to_hub,
            model_card_kwargs=model_card_kwargs,
            **push_to_hub_kwargs,
        )

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> Any:
        """Upload this model's repo folder to ``repo_id`` in one commit; returns the CommitInfo (``.oid``)."""
        from nca_zoo.hub_repo import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> ZooModel:
        """Load a repo folder or a Hub repo id (``revision=``, ``local_files_only=``, ...), sha256-verified."""
        from nca_zoo.hub_repo import from_pretrained

        return from_pretrained(pretrained_model_name_or_path, **kwargs)
