"""The README written beside every export, so the file documents its own interface wherever it goes."""

from __future__ import annotations

from pathlib import Path

from nca_zoo.zoo import ZooModel

INTERFACE = """\
## Interface

One NCA step, with the randomness as an input:

| name | dtype | shape | meaning |
| --- | --- | --- | --- |
| `state` | float32 | [B, H, W, {c}] | NHWC cell states; channels 0–3 are premultiplied RGBA (alpha = 3) |
| `update_mask` | float32 | [B, H, W, 1] | 1 where the cell applies its update this step, 0 where it keeps its state |
| `angle` | float32 | scalar | rotation of the perception in radians (0 = as trained) |
| → `new_state` | float32 | [B, H, W, {c}] | the state after one step (first output) |

The rollout variant takes `update_masks` [T, B, H, W, 1] instead of `update_mask` and returns the
state after T steps. In training, each mask cell is 1 with probability {fire_rate} (the fire rate),
drawn independently per cell and step. The seed is a zero grid with channels 3.. set to 1 in the
centre cell. Feeding the same masks to JAX (`nca.step(state, update_mask=mask, angle=angle)`)
gives the same states.
"""


def write_readme(path: Path, nca: ZooModel, title: str, body: str, *, interface: bool = True) -> Path:
    """Write ``path``: a title naming the model, format-specific ``body`` and the shared interface."""
    c = nca.config
    header = (
        f"# {nca.name} — {title}\n\nExported by nca-zoo from `{nca.name}` "
        f"({c.channels} channels, {c.perception_size}→{c.hidden}→{c.channels} update MLP, "
        f"alive threshold {c.alive_threshold}, step size {c.step_size}).\n\n"
    )
    text = header + body.strip() + "\n"
    if interface:
        text += "\n" + INTERFACE.format(c=c.channels, fire_rate=c.fire_rate)
    path.write_text(text, encoding="utf-8")
    return path
