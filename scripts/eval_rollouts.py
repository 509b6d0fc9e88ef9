"""The protocol with more rollouts, for the zoo's entries and the originals → docs/rollouts-32.json.

    python scripts/eval_rollouts.py ['*-regen-16'] [--batch 32] [--originals ../shared/reference/distill-growing-ca]

The quality bar is judged on the protocol's 8 rollouts (seed 0). The cuts' metrics vary a lot between
rollouts (a half cut heals in most and fails in a few), so 8 rollouts give them a luck of the draw:
this measures each selected entry and the original of its target and experiment again with
``--batch`` rollouts (the same protocol and seed otherwise), and MODEL_CARD.md shows the result beside
the bar's numbers (``scripts/register_entry.py`` renders it; a row whose entry has new weights since
is marked stale). Rerunning resumes: an entry already measured with its current weights is kept
unless ``--force``, and an entry with new weights keeps its original's numbers (the same model).
Written after each model, atomically.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import jax

import nca_zoo
from nca_zoo.convert import load_distill_original
from nca_zoo.evaluate import evaluate
from nca_zoo.weights import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT.parent / "shared" / "reference" / "distill-growing-ca"
OUT = ROOT / "docs" / "rollouts-32.json"


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 7) for k, v in metrics.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="*-regen-16", help="entries to measure (wildcards)")
    parser.add_argument("--batch", type=int, default=32, help="rollouts per metric (the protocol's: 8)")
    parser.add_argument("--originals", type=Path, default=DEFAULT_DIR, help="folder of the authors' ex*_*.json")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--force", action="store_true", help="measure entries already in --out again")
    args = parser.parse_args(argv)
    if not args.originals.is_dir():
        raise SystemExit(f"no original models at {args.originals} (see ../shared/README.md)")
    names = nca_zoo.list_models(args.pattern)
    if not names:
        raise SystemExit(f"no entries match {args.pattern!r}; see `nca-zoo list`")
    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    if data and data.get("batch") != args.batch:
        raise SystemExit(f"{args.out} holds {data.get('batch')} rollouts per metric; pass --out for another file")
    patterns = data.get("patterns", [])
    covered = {name for pattern in patterns for name in nca_zoo.list_models(pattern)}
    patterns += [] if set(names) <= covered else [args.pattern]  # the command stays the shortest that remeasures all
    data.update(
        protocol=f"nca_zoo.evaluate.evaluate (batch {args.batch}, seed 0)",
        batch=args.batch,
        patterns=patterns,
        command=" and ".join(f"python scripts/eval_rollouts.py '{p}' --batch {args.batch}" for p in patterns),
        jax_version=jax.__version__,
        machine=f"{platform.machine()} CPU, {jax.device_count()} device(s)",
    )
    entries = data.setdefault("entries", {})
    for name in names:
        nca = nca_zoo.load(name)
        entry = nca.entry
        if not args.force and entries.get(name, {}).get("sha256") == entry.sha256:
            continue
        t0 = time.perf_counter()
        ours = _rounded(evaluate(nca, batch=args.batch))
        # the original's model never changes: new weights of ours are measured again, not its original
        original = None if args.force else entries.get(name, {}).get("original")
        if original is None:
            model = load_distill_original(args.originals, entry.target, entry.experiment)
            original = _rounded(evaluate(model, batch=args.batch))
        entries[name] = {"sha256": entry.sha256, "metrics": ours, "original": original}
        data["date"] = datetime.date.today().isoformat()
        atomic_write_bytes(args.out, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
        print(f"{name}: ours {ours}, original {original} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
