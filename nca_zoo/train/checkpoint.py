"""Orbax checkpoints of the whole train state (params, optimiser, pool, RNG key, iteration).

Orbax writes each checkpoint to a temporary directory and renames it when complete, so a run
killed mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from nca_zoo.train.step import TrainState


@jax.jit
def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def is_finite(state: TrainState) -> bool:
    """Whether the parameters and optimiser state hold no NaN or infinity (a state worth keeping)."""
    return bool(_all_finite((state.params, state.opt_state)))


def _stored(state: TrainState) -> dict:
    """The fields written to disk: all but empty arrays (the grow recipe's (0,H,W,C) pool), which
    orbax refuses to save; :meth:`Checkpoints.restore` takes those from the fresh state."""
    return {name: value for name, value in state._asdict().items() if getattr(value, "size", 1) != 0}


class Checkpoints:
    """The checkpoints of one run directory; keeps the newest ``keep``."""

    def __init__(self, directory: str | os.PathLike, keep: int = 2) -> None:
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest(self) -> int | None:
        return self._manager.latest_step()

    def save(self, state: TrainState) -> int:
        """Write ``state`` as the checkpoint of its iteration; refuses a state with non-finite parameters
        or optimiser state, so the newest checkpoint is always one a run can continue from."""
        iteration = int(state.iteration)
        if not is_finite(state):
            raise ValueError(f"refusing to checkpoint iteration {iteration}: its parameters are not finite")
        self._manager.save(iteration, args=ocp.args.StandardSave(_stored(state)), force=True)
        self._manager.wait_until_finished()
        return iteration

    def restore(self, like: TrainState, iteration: int | None = None) -> TrainState:
        """Restore into the structure of ``like`` (a freshly initialised state of the same run)."""
        iteration = self.latest() if iteration is None else iteration
        if iteration is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory} to resume from")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _stored(like))
        restored = self._manager.restore(iteration, args=ocp.args.StandardRestore(abstract))
        return like._replace(**restored)

    def close(self) -> None:
        self._manager.close()
