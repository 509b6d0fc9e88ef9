"""``nca-zoo`` command line: a thin argparse layer over the library, with no logic of its own."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import nca_zoo
from nca_zoo.export import FORMATS as EXPORT_FORMATS


def _cmd_list(args: argparse.Namespace) -> int:
    names = nca_zoo.list_models(args.pattern)
    for name in names:
        entry = nca_zoo.get_entry(name)
        mse = entry.metrics.get("mse_96")
        mse_text = f"mse@96={mse:.5f}" if mse is not None else ""
        print(f"{name:28s} {entry.experiment:8s} {mse_text}")
    if not names:
        print(f"no models match {args.pattern!r}", file=sys.stderr)
        return 1
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    print(json.dumps(nca_zoo.get_entry(args.name).to_dict(), indent=2, ensure_ascii=False))
    return 0


def _cmd_grow(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".gif", ".png"):
        raise ValueError(f"--out must end in .gif (an animation) or .png (the final state), got {out}")
    nca = nca_zoo.load(args.name)
    angle = math.radians(args.angle)
    grow = {"size": args.size, "seed": args.seed, "angle": angle, "scale": args.scale}
    if out.suffix.lower() == ".gif":
        last = nca.save_gif(out, args.steps, args.every, **grow)[-1]
        last_step = args.steps - args.steps % args.every  # the last frame's step
    else:
        last, last_step = nca.save_png(out, args.steps, **grow), args.steps
    note = ""
    if args.size == 72 and args.angle == 0:
        note = f", MSE vs target at step {last_step} {float(nca.mse(last[None])[0]):.5f}"
    print(f"{nca.name}: {args.steps} steps on {args.size}×{args.size} → {out}{note}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from nca_zoo.targets import grid_target, resolve_name
    from nca_zoo.train.loop import train
    from nca_zoo.train.recipe import preset

    overrides = {"seed": args.seed}
    if args.iters is not None:
        overrides["iterations"] = args.iters
    train_config = preset(args.experiment, **overrides)
    init_params = None
    model_config = nca_zoo.NCAConfig()
    if args.init:
        base = nca_zoo.load(args.init)
        init_params, model_config = base.params, base.config
    target = grid_target(args.target, train_config.target_size, train_config.padding)
    name = resolve_name(args.target) or Path(args.target).stem
    result = train(
        target,
        args.out,
        model_config=model_config,
        train_config=train_config,
        target_name=name,
        init_params=init_params,
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
    )
    print(
        f"trained {result.iterations} iterations ({result.seconds:.0f} s this run), final loss "
        f"{result.final_loss:.5f} → {result.weights_path} (sha256 {result.sha256})"
    )
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from nca_zoo.evaluate import evaluate

    metrics = evaluate(nca_zoo.load(args.name), batch=args.batch, seed=args.seed)
    print(json.dumps(metrics, indent=2))
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from nca_zoo.hub import PushError
    from nca_zoo.hub_publish import parse_overrides, train_and_publish

    try:
        entry = train_and_publish(
            args.target,
            args.out,
            experiment=args.experiment,
            iterations=args.iters,
            overrides=parse_overrides(args.set),
            seed=args.seed,
            resume=args.resume,
            repo_id=args.repo_id,
            push=args.push,
            private=args.private or None,
            checkpoint_every=args.checkpoint_every,
            say=lambda message: print(message, file=sys.stderr),
        )
    except PushError as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(entry.to_dict(), indent=2, ensure_ascii=False))
    if entry.revision is None:
        print(
            f"dry run: repo folder {args.out} written, nothing uploaded. Inspect it, then publish with the same "
            "command plus --resume --push.",
            file=sys.stderr,
        )
    else:
        print("paste the entry above into nca_zoo/registry.json", file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from nca_zoo.export import MissingRuntimeError, export

    options: dict[str, int] = {}
    if args.format in ("onnx", "onnx-web"):
        options["opset"] = args.opset
    if args.format == "tflite":
        options.update(batch=args.batch, height=args.size, width=args.size, steps=args.steps)
    try:
        paths = export(args.name, args.format, args.out, **options)
    except MissingRuntimeError as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nca-zoo", description="Pretrained Neural Cellular Automata.")
    parser.add_argument("--version", action="version", version=f"nca-zoo {nca_zoo.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered models (wildcards allowed)")
    p.add_argument("pattern", nargs="?", default="*")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show a model's registry entry")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("grow", help="grow a pretrained NCA from its seed into a GIF or PNG")
    p.add_argument("name", nargs="?", default="gecko")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--every", type=int, default=2, help="steps between GIF frames (default 2)")
    p.add_argument("--size", type=int, default=72, help="grid side in cells (default 72)")
    p.add_argument("--angle", type=float, default=0.0, help="rotate the perception by DEG degrees")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=4, help="pixels per cell")
    p.add_argument("--out", default="gecko.gif")
    p.set_defaults(func=_cmd_grow)

    p = sub.add_parser("train", help="train a new NCA with the shared Distill trainer")
    p.add_argument("--target", required=True, help="zoo target name, emoji, or RGBA image path")
    p.add_argument("--experiment", choices=["grow", "persist", "regen"], default="regen")
    p.add_argument("--iters", type=int, default=None, help="iterations (default: the recipe's 8000)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, metrics, weights)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--init", default=None, help="start from this zoo entry's weights (fine-tuning)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="run the evaluation protocol on a model")
    p.add_argument("name")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("push", help="train a new entry, write its Hub repo folder and (with --push) publish it")
    p.add_argument("--target", required=True, help="zoo target name, emoji, or RGBA image path")
    p.add_argument("--experiment", choices=["grow", "persist", "regen"], default="regen")
    p.add_argument("--iters", type=int, default=None, help="training budget in iterations (default: the recipe's)")
    p.add_argument("--out", required=True, help="output folder: the repo files, and the training run in OUT/run")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT/run (or re-publish a finished one)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--repo-id", default=None, help="Hub repo (default: nca-zoo/<target>-<experiment>-<channels>)")
    p.add_argument("--push", action="store_true", help="upload (token: HF_TOKEN or `hf auth login`); else dry run")
    p.add_argument("--private", action="store_true", help="create the Hub repo as private")
    p.set_defaults(func=_cmd_push)

    p = sub.add_parser("export", help="export a model to run outside JAX (TF, ONNX, browser, TFLite, Distill demo)")
    p.add_argument("name", help="registry name or alias, hf-hub:org/repo or local-dir:path")
    p.add_argument("--format", required=True, choices=sorted(EXPORT_FORMATS))
    p.add_argument("--out", required=True, help="output file (onnx, tflite, distill-webgl) or folder (others)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (onnx, onnx-web; >= 17)")
    p.add_argument("--batch", type=int, default=1, help="static batch size (tflite)")
    p.add_argument("--size", type=int, default=72, help="static grid side (tflite)")
    p.add_argument("--steps", type=int, default=96, help="masks per rollout call (tflite)")
    p.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (nca_zoo.UnknownModelError, FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
