"""Write the Hugging Face Hub repo folder of registry entries (``save_pretrained`` layout).

    python scripts/write_hub_folders.py 'gecko-*' --out hub/

Each ``OUT/<name>/`` holds config.json (architecture, recipe, metrics, the weights' sha256),
model.safetensors (the bundled bytes, sha256-verified), README.md (the entry's card), target.png and
growth/regeneration GIFs: what ``push_to_hub`` uploads for that entry. The folders are built from the
registry and the bundled weights, so they are not kept in git (the GIFs alone are ~0.6 MB an entry);
publishing an entry is ``nca_zoo.load(NAME).push_to_hub(REPO)`` and then pinning the printed commit as
its ``revision`` in nca_zoo/registry.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nca_zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", nargs="?", default="*", help="registry names, wildcards allowed (default: all)")
    parser.add_argument("--out", type=Path, default=Path("hub"), help="parent folder (default: hub/)")
    args = parser.parse_args()
    names = nca_zoo.list_models(args.pattern)
    if not names:
        raise SystemExit(f"no registry entries match {args.pattern!r}")
    for name in names:
        nca_zoo.load(name).save_pretrained(args.out / name)
        print(args.out / name)


if __name__ == "__main__":
    main()
