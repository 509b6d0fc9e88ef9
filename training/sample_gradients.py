"""Which samples of a regen batch drive the gradient? (the measurement behind ``--batch-loss log``)

Draws regen batches (the zoo recipe: the worst reseeded, the 3 best damaged) from a persist run's
own mature pool (its last orbax checkpoint), rolls each sample out alone with the run's params and
prints each sample's MSE, gradient norm and cosine with the batch's summed gradient, and the damaged
samples' share of it. Session 16 on pretzel-persist-16's run: the damaged samples' MSE is 10–100×
the persisting ones', their gradient is the whole batch's (share 1.00–1.17) and the persisting
samples' gradients point against it (cosine −0.2 to −0.4).

usage: python training/sample_gradients.py PERSIST_RUN_DIR [DRAWS]
"""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

from nca_zoo.config import NCAConfig
from nca_zoo.targets import grid_target
from nca_zoo.train import loop, step
from nca_zoo.train.recipe import TrainConfig, preset


def main(run: Path, draws: int) -> None:
    record = json.loads((run / "run.json").read_text())
    model_config = NCAConfig.from_dict(record["model_config"])
    state = loop.resume_state(run, model_config, TrainConfig(**record["train_config"]))
    recipe = preset("regen")
    target = grid_target(record["target"], recipe.target_size, recipe.padding)

    # one sample alone: the trainer's own loss_and_grads on a batch of one (its mean is the sample's MSE)
    batch_of_one = jax.jit(
        lambda params, sample, key, n_steps: step.loss_and_grads(
            params, sample[None], target, key, n_steps, model_config=model_config, train_config=recipe
        )
    )

    def loss_and_grad(params, sample, key, n_steps):
        loss, _, grads = batch_of_one(params, sample, key, n_steps)
        return loss, grads

    def flat(tree):
        return jnp.concatenate([leaf.ravel() for leaf in jax.tree.leaves(tree)])

    kinds = ["seed"] + ["pool"] * (recipe.batch_size - 1 - recipe.damage_count) + ["damaged"] * recipe.damage_count
    key = jax.random.PRNGKey(1)
    for draw in range(draws):
        key, draw_key = jax.random.split(key)
        keys = step.split_keys(draw_key)
        _, batch = step.sample_batch(state.pool, target, keys, model_config=model_config, train_config=recipe)
        n_steps = step.draw_steps(keys, recipe)
        rows = [loss_and_grad(state.params, sample, keys.rollout, n_steps) for sample in batch]
        grads = [flat(g) for _, g in rows]
        total = sum(grads)
        print(f"draw {draw}: {int(n_steps)} steps")
        for kind, (loss, _), grad in zip(kinds, rows, grads, strict=True):
            cosine = float(grad @ total / jnp.linalg.norm(grad) / jnp.linalg.norm(total))
            print(f"  {kind:8s} MSE {float(loss):.5f}  |grad| {float(jnp.linalg.norm(grad)):.4f}  cos {cosine:+.2f}")
        damaged = sum(grads[-recipe.damage_count :])
        share = float(jnp.linalg.norm(damaged) / jnp.linalg.norm(total))
        print(f"  damaged samples' share of |summed grad|: {share:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 4)
