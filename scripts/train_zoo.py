"""Train many zoo entries in one program, in resumable chunks: ``nca-zoo train-zoo`` as a script.

    python scripts/train_zoo.py all --out runs/zoo --init ../shared/pretrain --max-minutes 9
    python scripts/train_zoo.py --out runs/zoo --max-minutes 9        # the next chunk (resume)
    python scripts/train_zoo.py gecko:regen smiley:grow --out runs/two --set iterations=200

Runs from a source checkout without installing (``PYTHONPATH=.`` is not needed: the repository
root is put on the path). See ``nca_zoo/train/zoo_trainer.py`` for the folder layout and the
resume semantics; ``python scripts/register_entry.py OUT/<name>`` registers a finished entry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nca_zoo.train import zoo_trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=zoo_trainer.CLI_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    zoo_trainer.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return zoo_trainer.run_cli(args)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"train_zoo: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
