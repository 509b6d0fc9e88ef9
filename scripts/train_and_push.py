#!/usr/bin/env python
"""Train a new zoo entry and publish it on the Hugging Face Hub: ``nca-zoo push`` as a script.

    python scripts/train_and_push.py --target 🦎 --experiment regen --iters 20 --out gecko-tiny
    python scripts/train_and_push.py --target 🦎 --experiment regen --out gecko --resume --push

Trains with the shared trainer (resumable: --resume continues OUT/run), evaluates with the zoo's
protocol and writes OUT as a Hub repo folder (config.json, model.safetensors, README.md, target.png,
growth.gif, regeneration.gif). With --push (token from HF_TOKEN or `hf auth login`) it creates the
repo, uploads the folder in one commit and prints the registry entry to paste into
nca_zoo/registry.json, with the commit id the Hub answered; without --push it is a dry run.
All options: ``python scripts/train_and_push.py --help``.
"""

from __future__ import annotations

import sys

from nca_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["push", *sys.argv[1:]]))
