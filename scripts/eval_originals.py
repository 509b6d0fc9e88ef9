"""Run the zoo's evaluation protocol on the original authors' 30 models → nca_zoo/originals_metrics.json.

    python scripts/eval_originals.py [--originals ../shared/reference/distill-growing-ca]

Each model (Distill ``webgl_models8``, 8-bit) is run by nca-zoo's step against its own 40-px
target cut from the authors' sprite. The JSON is the comparison column of MODEL_CARD.md and of
``nca-zoo eval --originals``; rerunning resumes (finished models are kept) unless ``--force``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import jax

from nca_zoo.convert import DISTILL_EXPERIMENTS, load_distill_original
from nca_zoo.evaluate import evaluate
from nca_zoo.targets import EMOJI
from nca_zoo.weights import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT.parent / "shared" / "reference" / "distill-growing-ca"
OUT = ROOT / "nca_zoo" / "originals_metrics.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=Path, default=DEFAULT_DIR, help="folder of the authors' ex*_*.json")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--force", action="store_true", help="re-evaluate models already in --out")
    args = parser.parse_args()
    if not args.originals.is_dir():
        raise SystemExit(f"no original models at {args.originals} (see ../shared/README.md)")
    data = json.loads(args.out.read_text()) if args.out.exists() and not args.force else {}
    data.setdefault("models", {})
    data.update(
        source="distillpub/post--growing-ca public/webgl_models8 (commit a12c7ef), CC-BY-4.0",
        protocol="nca_zoo.evaluate.evaluate (batch 8, seed 0)",
        command="python scripts/eval_originals.py",
        jax_version=jax.__version__,
        machine=f"{platform.machine()} CPU, {jax.device_count()} device(s)",
    )
    for experiment, prefix in DISTILL_EXPERIMENTS.items():
        for target in EMOJI:
            name = f"{prefix}_{target}"
            if name in data["models"]:
                continue
            t0 = time.perf_counter()
            metrics = evaluate(load_distill_original(args.originals, target, experiment))
            data["models"][name] = {
                "target": target,
                "experiment": experiment,
                "metrics": {k: round(v, 7) for k, v in metrics.items()},
            }
            data["date"] = datetime.date.today().isoformat()
            atomic_write_bytes(args.out, (json.dumps(data, indent=2) + "\n").encode())
            print(f"{name:16s} {metrics}  ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
