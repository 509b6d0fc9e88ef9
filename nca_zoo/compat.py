"""Drop-in replacement for the seed project ``jax-nca`` (0.1.2): change the import, keep the code.

>>> from nca_zoo.compat import NCA, ImageDataset, EmojiTrainer

The names and arguments are jax-nca's; underneath they are thin layers over the zoo's core
(:mod:`nca_zoo.model`, :mod:`nca_zoo.train.step`, :mod:`nca_zoo.weights`, :mod:`nca_zoo.targets`).
Differences from jax-nca, all deliberate:

* The update rule is the zoo's (Distill) one: per-channel identity + Sobel perception and a
  ``3C→128→C`` MLP, not jax-nca's cross-channel Sobel convolutions and ``3C→64→64→C`` net, so a
  fixed-perception compat model *is* a core model: its params load into :func:`nca_zoo.model.step`
  and its saved file is an ordinary zoo weights file.
* ``cell_fire_rate < 1`` works (jax-nca drew one NumPy mask at trace time and applied it only when
  the rate was 1): each step fires the cells where ``uniform(rng) < cell_fire_rate``, and
  ``multi_step`` gives every step a fresh key split from ``rng``.
* ``trainable_perception=True`` learns a depthwise 3×3 kernel (3 filters per channel) that starts at
  identity/Sobel-x/Sobel-y, i.e. exactly at the fixed perception, instead of at random.
* State channels are ``num_target_channels`` colours, then alpha, then ``num_hidden_channels``
  (jax-nca hard-coded 3 colours whatever ``num_target_channels`` said); alpha — the channel the
  alive test reads — is channel ``num_target_channels`` (3 for RGB, as in the core).
* ``save``/``load`` write and read safetensors (never pickle or msgpack), at the path as given.
* Training is the core's pool recipe: ``n_damage=0`` is "persist", ``n_damage>0`` is "regen"
  with that many damaged samples; the loss is on the final state, gradients are normalised per
  variable, and the step count is uniform in ``[min_steps, max_steps]`` inclusive.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from tqdm.auto import tqdm

from nca_zoo import model, targets, weights
from nca_zoo.config import NCAConfig
from nca_zoo.train.recipe import TrainConfig, preset
from nca_zoo.train.step import TrainState, init_state, train_iteration, train_step

Params = dict[str, Any]
Array = jax.Array

#: Perception filters of the trainable kernel, in the order the core's ``perceive`` emits them.
PERCEPTION_FILTERS = np.stack([np.pad([[1.0]], 1), model.SOBEL_X, model.SOBEL_Y], axis=-1)  # (3, 3, 3)


@dataclasses.dataclass(frozen=True)
class Layout:
    """What a compat NCA computes, as a hashable value (the static argument of the jitted code)."""

    config: NCAConfig
    alpha_index: int
    trainable_perception: bool

    @property
    def uses_core_step(self) -> bool:
        """The core step runs this model unchanged: fixed Sobel perception and alpha on channel 3."""
        return self.alpha_index == 3 and not self.trainable_perception


def perception_kernel(channels: int) -> np.ndarray:
    """The trainable kernel's start, ``(3, 3, 3, C)`` = [dy, dx, filter, channel]: identity, Sobel-x, -y."""
    return np.repeat(PERCEPTION_FILTERS[..., None], channels, axis=-1).astype(np.float32)


def perceive_with(kernel: Array, state: Array) -> Array:
    """Depthwise 3×3 perception with a learned ``kernel`` (see :func:`perception_kernel`), zero padded.

    (B,H,W,C) → (B,H,W,3C), ordered [filter 0 ×C, filter 1 ×C, filter 2 ×C] like the core's
    ``perceive`` (which it equals for the initial kernel). Shifted slices, as in the core, because a
    grouped convolution is far slower on XLA:CPU.
    """
    b, h, w, c = state.shape
    p = jnp.pad(state, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = sum(p[:, dy : dy + h, dx : dx + w, None, :] * kernel[dy, dx] for dy in range(3) for dx in range(3))
    return out.reshape(b, h, w, 3 * c)


def step(params: Params, state: Array, key: Array, layout: Layout) -> Array:
    """One step of a compat NCA. The core step when it can run the model; otherwise the same rule
    (fire mask, alive before and after, ``alpha``-scaled update) with a learned perception and/or
    alpha on channel ``num_target_channels``, computed densely."""
    if layout.uses_core_step:
        return model.step(params, state, key, config=layout.config)
    cfg = layout.config
    fire = model.update_mask_from_key(key, state.shape, cfg.fire_rate)
    if layout.trainable_perception:
        features = perceive_with(params["perception"]["kernel"], state)
    else:
        features = model.perceive(state)
    mlp = {name: params[name] for name in ("dense_0", "dense_1")}
    update = model.UpdateMLP(cfg, parent=None).apply({"params": mlp}, features)  # not a submodule
    new = state + update * fire.astype(state.dtype) * cfg.step_size
    pre = model.alive_mask(state, cfg.alive_threshold, layout.alpha_index)
    post = model.alive_mask(new, cfg.alive_threshold, layout.alpha_index)
    return new * (pre & post).astype(state.dtype)


@functools.partial(jax.jit, static_argnames=("layout", "num_steps"))
def rollout(params: Params, state: Array, rng: Array, layout: Layout, num_steps: int) -> tuple[Array, Array]:
    """``num_steps`` steps, step ``t`` with key ``split(rng, num_steps)[t]``: ``(final, all states)``."""
    if layout.uses_core_step:
        final, frames = model.rollout(params, state, rng, num_steps, config=layout.config, every=1)
        return final, frames

    def body(s: Array, k: Array) -> tuple[Array, Array]:
        s = step(params, s, k, layout)
        return s, s

    return jax.lax.scan(body, state, jax.random.split(rng, num_steps))


#: The metadata ``format`` of files only this module can run (learned perception, alpha not on 3).
COMPAT_FORMAT = "nca-zoo-compat"
#: jax-nca's ``NCA`` fields, recorded in saved files' metadata.
NCA_FIELDS = (
    "num_hidden_channels",
    "num_target_channels",
    "alpha_living_threshold",
    "cell_fire_rate",
    "trainable_perception",
    "alpha",
)


class NCA(nn.Module):
    """jax-nca's ``NCA`` (same fields, same methods) running the zoo's update rule.

    num_hidden_channels: hidden channels per cell
    num_target_channels: visible colour channels (3 = RGB); alpha is the channel after them
    alpha_living_threshold: a cell lives while some alpha in its 3×3 neighbourhood exceeds this
    cell_fire_rate: probability that a cell receives its update in a step
    trainable_perception: learn the 3×3 perception kernel instead of fixing it to Sobel
    alpha: scale of the update (the core's ``step_size``)
    """

    num_hidden_channels: int
    num_target_channels: int = 3
    alpha_living_threshold: float = 0.1
    cell_fire_rate: float = 1.0
    trainable_perception: bool = False
    alpha: float = 1.0

    @property
    def num_channels(self) -> int:
        return self.num_target_channels + 1 + self.num_hidden_channels

    @property
    def layout(self) -> Layout:
        """The core config (channels, fire rate, threshold, step size) plus what the core lacks."""
        config = NCAConfig(
            channels=self.num_channels,
            fire_rate=self.cell_fire_rate,
            alive_threshold=self.alpha_living_threshold,
            step_size=self.alpha,
        )
        return Layout(config, self.num_target_channels, self.trainable_perception)

    @classmethod
    def create_seed(
        cls,
        num_hidden_channels: int,
        num_target_channels: int = 3,
        shape: tuple[int, int] = (48, 48),
        batch_size: int = 1,
    ) -> np.ndarray:
        """An empty (B, H, W, C) grid with one live cell in the centre: alpha and hidden = 1 there."""
        seed = np.zeros((batch_size, *shape, num_target_channels + 1 + num_hidden_channels), np.float32)
        seed[:, shape[0] // 2, shape[1] // 2, num_target_channels:] = 1.0
        return seed

    @nn.compact
    def __call__(self, x: Array, rng: Array) -> Array:
        """One step from state ``x``; ``rng`` draws which cells fire."""
        layout = self.layout
        params = {
            name: self.param(name, lambda key, name=name: model.init_params(layout.config, key)[name])
            for name in ("dense_0", "dense_1")
        }
        if self.trainable_perception:
            params["perception"] = self.param(
                "perception", lambda _: {"kernel": jnp.asarray(perception_kernel(self.num_channels))}
            )
        return step(params, jnp.asarray(x, jnp.float32), rng, layout)

    @nn.nowrap
    def multi_step(self, params: Params, current_state: Array, rng: Array, num_steps: int = 2) -> tuple[Array, Array]:
        """Run ``num_steps`` steps (a fresh key each): ``(final_state, states)``, states (T, B, H, W, C)."""
        return rollout(params, jnp.asarray(current_state, jnp.float32), rng, self.layout, num_steps)

    @nn.nowrap
    def to_rgb(self, x: Array) -> Array:
        """Premultiplied colours over a white background, ``1 - alpha + rgb``, clipped."""
        a = self.num_target_channels
        alpha = jnp.clip(x[..., a : a + 1], 0.0, 1.0)
        return jnp.clip(1.0 - alpha + x[..., :a], 0.0, 1.0)

    @nn.nowrap
    def save(self, params: Params, path: str | os.PathLike) -> str:
        """Write ``params`` as safetensors at ``path`` exactly (no extension added); returns its sha256.

        A fixed-perception RGB model is saved as an ordinary zoo weights file (its core config in
        the metadata), so :func:`nca_zoo.weights.load_weights` reads it too. Other models get no
        core config, so the core refuses them rather than run them with the wrong perception or alpha.
        """
        layout = self.layout
        fields = {"jax_nca": json.dumps({f: getattr(self, f) for f in NCA_FIELDS})}
        if layout.uses_core_step:
            return weights.save_weights(path, params, layout.config, fields)
        flat = weights.flatten_params(params)
        self._check(flat, "params to save")
        metadata = {"format": COMPAT_FORMAT, "format_version": weights.FORMAT_VERSION, **fields}
        data = weights.canonical_safetensors(flat, metadata)
        weights.atomic_write_bytes(path, data)
        return weights.sha256_bytes(data)

    @nn.nowrap
    def load(self, path: str | os.PathLike) -> Params:
        """Read params saved by :meth:`save` (safetensors only), checked against this model's shapes.

        Only the shapes must fit: fire rate, threshold and ``alpha`` are this module's, as in jax-nca.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        try:
            flat = st_load(path.read_bytes())
        except (SafetensorError, ValueError) as err:
            raise weights.WeightsError(
                f"{path}: not a readable safetensors file ({err}). Files written by jax-nca itself are "
                "Flax msgpack, which this package does not read; retrain, or convert them with jax-nca."
            ) from err
        self._check(flat, str(path))
        return jax.tree.map(jnp.asarray, weights.unflatten_params(flat))

    @nn.nowrap
    def _check(self, flat: dict[str, np.ndarray], source: str) -> None:
        """The core's check for the MLP, plus the perception kernel's shape when it is trainable."""
        layout = self.layout
        mlp = {k: v for k, v in flat.items() if k.startswith(("dense_0/", "dense_1/"))}
        weights.check_params(mlp, layout.config, source)
        rest = sorted(set(flat) - set(mlp))
        want = ["perception/kernel"] if layout.trainable_perception else []
        if rest != want:
            raise weights.WeightsError(f"{source}: expected extra keys {want} for {self}, found {rest}")
        if want:
            shape = (3, 3, 3, self.num_channels)
            kernel = flat["perception/kernel"]
            if tuple(kernel.shape) != shape or not np.all(np.isfinite(kernel)):
                raise weights.WeightsError(
                    f"{source}: 'perception/kernel' must be finite with shape {shape}, got {kernel.shape}"
                )


def _repair_mojibake(text: str) -> str:
    """'ðŸ¦Ž' (UTF-8 read as cp1252, as the jax-nca README prints it) → '🦎'; anything else unchanged."""
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return text


def _rgb(img: np.ndarray, rgb: bool) -> np.ndarray:
    """jax-nca's display: RGB images clipped, RGBA ones premultiplied over white."""
    if rgb:
        return np.clip(img[..., :3], 0.0, 1.0)
    return np.asarray(model.to_rgb(jnp.asarray(img)))


class ImageDataset:
    """jax-nca's ``ImageDataset``: one target image, premultiplied RGBA, centred on the grid.

    ``emoji`` is a zoo target (name or character, from the PNGs the package ships, so no font and no
    network) or any emoji (needs Noto Color Emoji). As in jax-nca the emoji is 40 px on an
    ``img_size`` grid (64 by default); on grids under 64 px it shrinks to 5/8 of the grid, so small
    test grids keep a margin. ``img`` ((H, W, C) float array) is used as it is instead.
    """

    def __init__(
        self,
        emoji: str | None = None,
        img: np.ndarray | None = None,
        img_size: int = 64,
        target_size: int | None = None,
    ) -> None:
        if img is None:
            if emoji is None:
                raise ValueError("ImageDataset needs an emoji or an img array")
            if targets.resolve_name(emoji) is None and targets.resolve_name(_repair_mojibake(emoji)):
                emoji = _repair_mojibake(emoji)
            size = target_size or min(targets.TARGET_SIZE, img_size * 5 // 8)
            if not 0 < size <= img_size:
                raise ValueError(f"target_size must be in [1, img_size={img_size}], got {size}")
            size -= (img_size - size) % 2  # equal padding on both sides
            self.target_size, self.padding = size, (img_size - size) // 2
            img = targets.pad_target(targets.load_target(emoji, size), self.padding)
        else:
            img = np.asarray(img, np.float32)
            self.target_size, self.padding = img.shape[0], 0
        self.rgb = img.shape[-1] == 3
        self.img_shape = img.shape
        self.img = img[None]  # (1, H, W, C)
        self.rgb_img = _rgb(self.img, self.rgb)

    def get_batch(self, batch_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The target and its display image, each repeated ``batch_size`` times."""
        return np.repeat(self.img, batch_size, axis=0), np.repeat(self.rgb_img, batch_size, axis=0)


@functools.partial(jax.jit, static_argnames=("layout", "train_config"), donate_argnums=(0,))
def _learned_perception_step(
    state: TrainState, target: Array, *, layout: Layout, train_config: TrainConfig
) -> tuple[TrainState, dict[str, Array]]:
    """The core's training iteration (same keys, pool, loss and update) with the compat step, for
    models the core step cannot run (learned perception, alpha not on channel 3)."""
    return train_iteration(
        state,
        target,
        model_config=layout.config,
        train_config=train_config,
        step_fn=functools.partial(step, layout=layout),
    )


class EmojiTrainer:
    """jax-nca's ``EmojiTrainer`` on the core trainer: a pool of ``pool_size`` states, the worst of
    each batch reseeded, the last ``n_damage`` damaged with random discs (the Distill recipes).

    After :meth:`train`, ``state`` is the core ``TrainState`` (``state.params`` as in jax-nca) and
    ``losses`` the loss of every iteration.
    """

    def __init__(self, dataset: ImageDataset, nca: NCA, pool_size: int = 1024, n_damage: int = 0) -> None:
        if nca.num_target_channels != 3 or dataset.img_shape[-1] != 4:
            raise ValueError(
                "EmojiTrainer trains RGBA targets: it needs num_target_channels=3 and a 4-channel image, "
                f"got num_target_channels={nca.num_target_channels} and an image of shape {dataset.img_shape}"
            )
        if dataset.img_shape[0] != dataset.img_shape[1]:
            raise ValueError(f"the target must be square, got {dataset.img_shape[:2]}")
        self.dataset = dataset
        self.img_shape = dataset.img_shape
        self.nca = nca
        self.pool_size = pool_size
        self.n_damage = n_damage
        self.state: TrainState | None = None
        self.losses: list[float] = []

    def train_config(
        self, num_epochs: int, batch_size: int, seed: int, lr: float, min_steps: int, max_steps: int
    ) -> TrainConfig:
        """The core recipe these jax-nca arguments mean (constant learning rate ``lr``)."""
        experiment = "regen" if self.n_damage else ("persist" if self.pool_size else "grow")
        return preset(
            experiment,
            iterations=num_epochs,
            batch_size=batch_size,
            pool_size=self.pool_size,
            damage_count=self.n_damage,
            min_steps=min_steps,
            max_steps=max_steps,
            learning_rate=lr,
            decayed_learning_rate=lr,
            target_size=self.dataset.target_size,
            padding=self.dataset.padding,
            seed=seed,
        )

    def train(
        self,
        num_epochs: int,
        batch_size: int = 8,
        seed: int = 10,
        lr: float = 0.001,
        min_steps: int = 64,
        max_steps: int = 96,
        progress: bool = True,
    ) -> TrainState:
        """Train from fresh parameters for ``num_epochs`` iterations (as jax-nca: each call restarts)."""
        tc = self.train_config(num_epochs, batch_size, seed, lr, min_steps, max_steps)
        layout = self.nca.layout
        _, init_key = jax.random.split(jax.random.PRNGKey(seed))  # the key init_state would use
        seed_state = self.nca.create_seed(self.nca.num_hidden_channels, 3, self.img_shape[:2])
        params = self.nca.init(init_key, seed_state, init_key)["params"]
        state = init_state(layout.config, tc, params)
        target = jnp.asarray(self.dataset.img[0])
        self.losses = []
        bar = tqdm(range(num_epochs), disable=not progress, desc="EmojiTrainer", unit="it")
        for _ in bar:
            if layout.uses_core_step:
                state, out = train_step(state, target, model_config=layout.config, train_config=tc)
            else:
                state, out = _learned_perception_step(state, target, layout=layout, train_config=tc)
            self.losses.append(float(out["loss"]))
            bar.set_description(f"Loss: {self.losses[-1]:.6f}")
        self.state = state
        return state
