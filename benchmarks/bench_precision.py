"""What reduced-precision matrix products (a training-only option) do to the numbers and to training.

1. Drift: the zoo's gecko grown from the seed for ``--steps`` steps with the same update masks at
   ``highest`` (float32) and at each reduced precision; the largest |Δ| of the state and the MSE
   to the target at the end.
2. Training: the same small run (``--target`` grow recipe on a ``--size``-px target, fresh weights,
   ``--iterations`` iterations, same seed) once per precision with the zoo trainer; the mean loss
   of the last 20 % of iterations and the evaluation MSE of the trained weights after the
   recipe's max steps (mean of 8 rollouts).

On CPU ``tf32`` is emulated (operands rounded to TF32's 10-bit mantissa before a float32 product,
what the tensor cores consume) and ``bf16`` casts operands to bfloat16 (float32 accumulation); on
a GPU ``tf32`` runs XLA's TF32 products.

    python benchmarks/bench_precision.py                       # CPU: 150 iterations, 16-px target
    python benchmarks/bench_precision.py --iterations 400 --size 40
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subject import load_subject

from nca_zoo import model
from nca_zoo.targets import grid_target
from nca_zoo.train import zoo_trainer
from nca_zoo.weights import load_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", default="highest,tf32,bf16")
    parser.add_argument("--steps", type=int, default=200, help="drift: rollout length")
    parser.add_argument("--target", default="gecko")
    parser.add_argument("--size", type=int, default=16, help="training: target side in pixels (padding = size/2)")
    parser.add_argument("--iterations", type=int, default=150)
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    dev = jax.devices()[0]
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} jax {jax.__version__}, {dev.device_kind} ({dev.platform})")

    subject = load_subject("gecko")
    masks = jax.random.uniform(jax.random.PRNGKey(0), (args.steps, 1, 72, 72, 1)) < 0.5
    finals = {}
    for precision in precisions:
        finals[precision], _ = model.rollout(
            subject.params, model.seed(1, 72), None, args.steps, update_masks=masks, precision=precision
        )
    print(f"\n## Drift: {subject.name}, {args.steps} steps from the seed, same masks\n")
    print("| precision | max abs Δ vs highest | MSE to target |")
    print("|---|---|---|")
    for precision, final in finals.items():
        delta = float(jnp.abs(final - finals["highest"]).max()) if "highest" in finals else float("nan")
        mse = float(jnp.mean((model.to_rgba(final)[0] - subject.target) ** 2))
        print(f"| {precision} | {delta:.2e} | {mse:.5f} |")

    padding = args.size // 2
    sets = [f"iterations={args.iterations}", f"target_size={args.size}", f"padding={padding}", "seed=0"]
    (entry,) = zoo_trainer.parse_entries([f"{args.target}:grow"], sets)
    tc = entry.train_config
    target = jnp.asarray(grid_target(args.target, args.size, padding))
    print(f"\n## Training: {args.target} grow, {args.size}-px target, {args.iterations} iterations, fresh weights\n")
    print("| precision | mean loss, last 20 % | eval MSE @ max_steps (8 rollouts) | s/iteration |")
    print("|---|---|---|---|")
    for precision in precisions:
        with tempfile.TemporaryDirectory() as tmp:
            result = zoo_trainer.train_zoo([entry], tmp, precision=precision, progress=False, say=lambda _: None)
            run = Path(tmp) / entry.name(subject.config)
            losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
            params, config = load_weights(run / "model.safetensors")
        tail = float(np.mean(losses[-max(1, len(losses) // 5) :]))
        grown, _ = model.rollout(
            params, model.seed(8, tc.grid_size), jax.random.PRNGKey(1), tc.max_steps, config=config
        )
        mse = float(jnp.mean((model.to_rgba(grown) - target) ** 2))
        per = (result.seconds - result.compile_seconds) / max(result.iterations - 1, 1)
        print(f"| {precision} | {tail:.5f} | {mse:.5f} | {per:.3f} |", flush=True)


if __name__ == "__main__":
    main()
