"""``nca-zoo`` command line: a thin argparse layer over the library, with no logic of its own."""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from pathlib import Path

from tqdm.auto import tqdm

import nca_zoo
from nca_zoo import evaluate
from nca_zoo.convert import load_distill_original
from nca_zoo.export import FORMATS as EXPORT_FORMATS
from nca_zoo.factory import RUN_FILE, read_run, recorded_provenance
from nca_zoo.model import DAMAGE_KINDS, HALF_SIDES
from nca_zoo.targets import EMOJI, grid_target, resolve_name
from nca_zoo.train.recipe import BATCH_LOSSES, EXPERIMENTS, RECIPES, TrainConfig


def _cmd_list(args: argparse.Namespace) -> int:
    names = nca_zoo.list_models(args.pattern)
    for name in names:
        entry = nca_zoo.get_entry(name)
        mse = entry.metrics.get("mse_grow")
        mse_text = f"mse_grow={mse:.5f}" if mse is not None else ""
        print(f"{name:28s} {entry.experiment:8s} {mse_text}")
    if not names:
        print(f"no models match {args.pattern!r}", file=sys.stderr)
        return 1
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    print(json.dumps(nca_zoo.get_entry(args.name).to_dict(), indent=2, ensure_ascii=False))
    return 0


def _cmd_grow(args: argparse.Namespace) -> int:
    from nca_zoo.render import check_count

    out = Path(args.out)
    if out.suffix.lower() not in (".gif", ".png"):
        raise ValueError(f"--out must end in .gif (an animation) or .png (the final state), got {out}")
    for option, minimum in (("steps", 0), ("every", 1), ("size", 1), ("scale", 1)):  # before loading anything
        check_count(f"--{option}", getattr(args, option), minimum)
    nca = nca_zoo.load(args.name)
    angle = math.radians(args.angle)
    grow = {"size": args.size, "seed": args.seed, "angle": angle, "scale": args.scale}
    if args.cut:  # grow, cut, regrow: the regrowth as long as the growth
        grow |= {"regenerate": True, "kind": args.cut} | ({"side": args.side} if args.cut == "half" else {})
    if out.suffix.lower() == ".gif":
        saved = nca.save_gif(out, args.steps, args.every, **grow)
    else:
        saved = nca.save_png(out, args.steps, **grow)
    note = f", MSE vs target at step {saved.steps} {saved.mse:.5f}" if saved.mse is not None else ""
    cut = f", {args.cut} cut at step {args.steps}, {args.steps} steps to regrow" if args.cut else ""
    print(f"{nca.name}: {args.steps} steps on {args.size}×{args.size}{cut} → {saved.path}{note}")
    return 0


def _stored_run(out: Path) -> tuple[nca_zoo.NCAConfig, TrainConfig, str] | None:
    """The configs and target name recorded in ``out/run.json`` (a run to resume), or None when there is none."""
    if not (out / RUN_FILE).is_file():
        return None
    model_config, train_config, target = read_run(out)
    try:
        return model_config, TrainConfig.from_dict(train_config), target
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{out / RUN_FILE}: train_config: {err}") from err


def _entry_target(init: str | None) -> str | None:
    """The target of the zoo entry ``--init`` names (``--init smiley-regen-16`` fine-tunes on smiley), or None
    where ``--init`` is absent, a path, or no entry's name."""
    if not init or Path(init).exists():
        return None
    try:
        return nca_zoo.get_entry(init).target
    except KeyError:  # UnknownModelError: nca_zoo.load names the close matches below
        return None


def _train_target(args: argparse.Namespace, recorded: str | None) -> str:
    """``--target``, or the zoo target the resumed run (or continued snapshot, or zoo entry) records."""
    if args.target is not None:
        return args.target
    if recorded is not None and resolve_name(recorded) is not None:
        return recorded
    if recorded is not None:
        raise ValueError(f"the run was trained on an image ({recorded!r}): pass --target with that image's path again")
    raise ValueError("--target is required for a new run (a zoo target name, an emoji or an RGBA image path)")


def _train_recipe(args: argparse.Namespace, stored: TrainConfig | None) -> TrainConfig:
    """The recipe from the options: the stored run's (or snapshot's) when continuing one, else the
    preset; options given on the command line change it."""
    import dataclasses

    from nca_zoo.train.recipe import plain_overrides, preset

    changes = {"iterations": args.iters, "learning_rate": args.lr, "decayed_learning_rate": args.decayed_lr}
    changes |= {"batch_loss": args.batch_loss, "reseed_count": args.reseed_count}
    changes = plain_overrides(args.set) | {key: value for key, value in changes.items() if value is not None}
    if stored is not None and args.experiment in (None, stored.experiment):
        if args.seed is not None:
            changes["seed"] = args.seed
        if args.recipe is not None:  # a continued snapshot switched to the other recipe's damage
            changes["half_cut_fraction"] = preset(stored.experiment, recipe=args.recipe).half_cut_fraction
        return dataclasses.replace(stored, **changes)
    return preset(args.experiment or "regen", recipe=args.recipe or "zoo", seed=args.seed or 0, **changes)


def _cmd_train(args: argparse.Namespace) -> int:
    from nca_zoo.train import lineage, loop
    from nca_zoo.train.snapshot import is_snapshot, load_snapshot, snapshot_model
    from nca_zoo.weights import load_weights

    out = Path(args.out)
    stored = _stored_run(out) if args.resume else None
    # a snapshot's recipe, target and params, cheaply: its train state (optimiser, pool) is built below only
    # when the run continues it
    recorded = snapshot_model(args.init) if args.init and is_snapshot(args.init) else None
    # another experiment (a persist sibling of a regen run): a fine-tune of the snapshot's params, not a
    # continuation of its optimiser, iteration and schedule
    sibling = recorded is not None and args.experiment not in (None, recorded.train_config.experiment)
    recorded_target = stored[2] if stored else recorded.target if recorded else _entry_target(args.init)
    target_spec = _train_target(args, recorded_target)
    if stored is not None:
        model_config, train_config = stored[0], _train_recipe(args, stored[1])
    else:
        model_config = nca_zoo.NCAConfig()
        train_config = _train_recipe(args, recorded.train_config if recorded else None)
    init_params = start_state = None
    before: lineage.Lineage = ()  # the runs that made the start (recorded in what this run writes)
    if args.init and Path(args.init).suffix == ".safetensors":
        before = loop.start_lineage(args.init)
    if sibling:
        init_params, model_config = recorded.params, recorded.model_config
    elif recorded is not None:  # continue its params, optimiser state, key and iteration (pool: fresh seeds)
        snapshot = load_snapshot(args.init, train_config=train_config)
        model_config, start_state = snapshot.model_config, snapshot.state
    elif args.init and Path(args.init).suffix == ".safetensors":
        init_params, model_config = load_weights(args.init)
    elif args.init:
        base = nca_zoo.load(args.init)
        init_params, model_config = base.params, base.config
        if Path(args.init, "run.json").is_file():  # a training run folder: its chain, read from the folder
            before = loop.start_lineage(Path(args.init, "model.safetensors"))
        elif base.entry is not None and base.entry.training:
            before = lineage.of_entry(base.entry.name, base.entry.training, base.entry.experiment)
    target = grid_target(target_spec, train_config.target_size, train_config.padding)
    name = resolve_name(target_spec) or Path(target_spec).stem
    try:
        result = loop.train(
            target,
            out,
            model_config=model_config,
            train_config=train_config,
            target_name=name,
            init_params=init_params,
            start_state=start_state,
            more=args.more,
            resume=args.resume,
            checkpoint_every=args.checkpoint_every,
            lineage=before,
        )
    except loop.RunDirectoryLockedError as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 2
    except loop.TrainingDivergedError as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 1
    total = result.train_config.iterations
    if result.iterations_run == 0:
        print(
            f"nothing to do: {out} already has {result.iterations} of {total} iterations (--iters is the total; "
            f"--more N trains N more) → {result.weights_path} (sha256 {result.sha256})"
        )
        return 0
    print(
        f"trained {result.iterations} iterations ({result.iterations_run} in {result.seconds:.0f} s this run), "
        f"final loss {result.final_loss:.5f} → {result.weights_path} (sha256 {result.sha256}); "
        f"resumable state: {out / loop.SNAPSHOT_NAME}"
    )
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    names = []
    for pattern in args.patterns:
        matches = nca_zoo.list_models(pattern)
        if not matches and not any(c in pattern for c in "*?["):
            matches = [pattern]  # an alias, emoji, hf-hub:/local-dir: ref or a path
        if not matches:
            print(f"nca-zoo: error: no models match {pattern!r}; see `nca-zoo list`", file=sys.stderr)
            return 2
        names += [name for name in matches if name not in names]
    if args.curve and args.originals:
        print("nca-zoo: error: --curve shows our models' rollouts; drop --originals (or --curve)", file=sys.stderr)
        return 2
    if args.curve:
        return _print_curves(names, args)
    shipped = evaluate.original_metrics() if args.originals == "shipped" else {}
    rows, results = [], {}
    bar = tqdm(names, desc="eval", unit="model", file=sys.stderr, disable=len(names) == 1 and not args.originals)
    for name in bar:
        bar.set_postfix_str(name)
        nca = nca_zoo.load(name)
        recorded = _recorded_provenance(name) if nca.entry is None else {}
        experiment = nca.entry.experiment if nca.entry else args.experiment or recorded.get("experiment") or "regen"
        target = nca.entry.target if nca.entry else recorded.get("target")
        label = nca.name if nca.entry else name
        ours = evaluate.evaluate(nca, batch=args.batch, seed=args.seed)
        original = None
        if args.originals and target in EMOJI:
            if args.originals == "shipped":
                original = shipped.get((target, experiment))
            else:
                bar.set_postfix_str(f"{name}: the original")
                reference = load_distill_original(args.originals, target, experiment)
                original = evaluate.evaluate(reference, batch=args.batch, seed=args.seed)
        results[label] = {"experiment": experiment, "metrics": ours, "original": original}
        rows.append((label, experiment, ours, original))
        tqdm.write(f"{label}: " + ", ".join(f"{k} {v:.5f}" for k, v in ours.items()), file=sys.stderr)
    print(json.dumps(results, indent=2) if args.json else evaluate.comparison_table(rows))
    return 0


#: The steps a curve's table shows (the full curve is in --json).
CURVE_STEPS = (32, 48, 64, 80, 96, 128, 160, 200, 300, 500, 1000)


def _print_curves(names: list[str], args: argparse.Namespace) -> int:
    """``eval --curve``: the MSE along the protocol's undamaged rollouts, one row per model."""
    curves = {}
    for name in tqdm(names, desc="curve", unit="model", file=sys.stderr, disable=len(names) == 1):
        nca = nca_zoo.load(name)
        curves[nca.name if nca.entry else name] = evaluate.mse_curve(nca, batch=args.batch, seed=args.seed)
    if args.json:
        print(json.dumps({label: curve.tolist() for label, curve in curves.items()}))
        return 0
    print("MSE after step (the protocol's undamaged rollouts; `mse_grow` is step 96)\n")
    print("| model | " + " | ".join(str(step) for step in CURVE_STEPS) + " |")
    print("|---|" + "---|" * len(CURVE_STEPS))
    for label, curve in curves.items():
        print(f"| `{label}` | " + " | ".join(f"{curve[step - 1]:.5f}" for step in CURVE_STEPS) + " |")
    return 0


def _recorded_provenance(name: str) -> dict[str, str]:
    """A bare weights file's (or snapshot's) recorded ``target`` and ``experiment``, so its evaluation is
    judged, and compared, as what it was trained for; {} for anything else."""
    path = Path(name.removeprefix("local-dir:")).expanduser()
    if path.suffix != ".safetensors" or not path.is_file():
        return {}
    return recorded_provenance(path)


def _cmd_push(args: argparse.Namespace) -> int:
    from nca_zoo.hub import PushError
    from nca_zoo.publish import train_and_publish
    from nca_zoo.train.loop import RunDirectoryLockedError, TrainingDivergedError
    from nca_zoo.train.recipe import plain_overrides

    try:
        entry = train_and_publish(
            args.target,
            args.out,
            experiment=args.experiment,
            iterations=args.iters,
            overrides=plain_overrides(args.set),
            seed=args.seed,
            resume=args.resume,
            repo_id=args.repo_id,
            push=args.push,
            private=args.private or None,
            checkpoint_every=args.checkpoint_every,
            say=lambda message: print(message, file=sys.stderr),
        )
    except (PushError, RunDirectoryLockedError) as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 2
    except TrainingDivergedError as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 1
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
    if args.format == "onnx-web" and args.ort_web is not None:
        options["runtime"] = args.ort_web
    if args.format == "tflite":
        size = 72 if args.size is None else args.size
        options.update(batch=args.batch, height=size, width=size, steps=args.steps)
    if args.format == "web":
        options["size"] = args.size
    try:
        paths = export(args.name, args.format, args.out, **options)
    except MissingRuntimeError as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows every option's default, except where there is none or its help names it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


TRAIN_HELP = """Train a Growing NCA on a target with the shared Distill trainer. OUT holds run.json, metrics.jsonl,
checkpoints/ (orbax: the whole state, for an exact --resume), snapshot.safetensors (a small
resumable state, pool excluded, rewritten at every checkpoint and each kept in
snapshots/<iteration>.safetensors; continue one anywhere with --init, evaluate one with
`nca-zoo eval FILE`) and, at the end, model.safetensors. --iters is the run's total
budget, never a number of further iterations: after 20 iterations, `--resume --iters 30` and
`--resume --more 10` both train 10 more. A diverged run stops at the last good checkpoint; resume
it with a lower --lr / --decayed-lr (the only settings, with the budget, that a resume may change).
"""


def _cmd_train_zoo(args: argparse.Namespace) -> int:
    from nca_zoo.train import zoo_trainer

    return zoo_trainer.run_cli(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nca-zoo", description="Pretrained Neural Cellular Automata.", formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"nca-zoo {nca_zoo.__version__}")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=functools.partial(argparse.ArgumentParser, formatter_class=_HelpFormatter),
    )

    p = sub.add_parser("list", help="list registered models (wildcards allowed)")
    p.add_argument("pattern", nargs="?", default="*", help="name pattern with * and ? wildcards")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show a model's registry entry")
    p.add_argument("name", help="registry name or alias")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("grow", help="grow a pretrained NCA from its seed into a GIF or PNG")
    p.add_argument(
        "name",
        nargs="?",
        default="gecko",
        help="registry name or alias, hf-hub:org/repo, or a path: a training run folder, a repo folder or a "
        ".safetensors file",
    )
    p.add_argument("--steps", type=int, default=200, help="NCA steps to run from the seed")
    p.add_argument("--every", type=int, default=2, help="steps between GIF frames")
    p.add_argument("--size", type=int, default=72, help="grid side in cells")
    p.add_argument("--angle", type=float, default=0.0, help="rotate the perception by DEG degrees")
    p.add_argument("--seed", type=int, default=0, help="random seed of the stochastic updates")
    p.add_argument("--scale", type=int, default=4, help="pixels per cell")
    p.add_argument(
        "--cut",
        choices=DAMAGE_KINDS,
        help="after --steps, erase part of the pattern (a random disc or square, a half, a random half-plane) "
        "and regrow for --steps more: the GIF shows both, the PNG the regrown state",
    )
    p.add_argument("--side", choices=HALF_SIDES, default="right", help="which half --cut half erases")
    p.add_argument("--out", default="gecko.gif", help="output file: .gif (the growth) or .png (the final state)")
    p.set_defaults(func=_cmd_grow)

    p = sub.add_parser("train", help="train a new NCA with the shared Distill trainer", description=TRAIN_HELP)
    p.add_argument(
        "--target",
        help="zoo target name, emoji, or RGBA image path (required for a new run; a resumed run or continued "
        "snapshot keeps its zoo target)",
    )
    p.add_argument(
        "--experiment",
        choices=EXPERIMENTS,
        default=None,
        help="grow (from the seed every time), persist (sample pool) or regen (pool + damage) "
        "(default: regen, or the experiment of the run resumed / snapshot continued)",
    )
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default=None,
        help="zoo: the article's recipe, with half-plane cuts among regen's damage; distill: the article's "
        "exactly (default: zoo, or the snapshot's when continuing one, which this switches; a resumed run "
        "keeps its own and refuses another)",
    )
    p.add_argument(
        "--batch-loss",
        choices=BATCH_LOSSES,
        default=None,
        help="what the gradient follows: mean (the batch's mean MSE, the article's), log (the mean of each "
        "sample's log-MSE: a damaged sample's large error no longer drowns the others'; for regen fine-tunes "
        "of a persist model) or rmse (the mean of each sample's root-MSE: between the two) (default: mean, "
        "or the run's / snapshot's)",
    )
    p.add_argument(
        "--reseed-count",
        type=int,
        default=None,
        metavar="N",
        help="pool samples replaced by the seed each iteration, the worst first: more gives growth from the "
        "seed more of the gradient (default: 1, the article's, or the run's / snapshot's)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other recipe setting (repeatable; `nca_zoo.train.recipe.TrainConfig`'s fields), e.g. "
        "damage_count=1 or reseed=random; the options above take precedence",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--iters",
        type=int,
        default=None,
        metavar="N",
        help="total iterations of the run, counting those already done (default: the recipe's 8000, or the "
        "budget of the run resumed / snapshot continued)",
    )
    budget.add_argument(
        "--more", type=int, default=None, metavar="N", help="train N iterations more than the run (or snapshot) has"
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate until the decay (default: the recipe's 2e-3, or the run's when resuming)",
    )
    p.add_argument(
        "--decayed-lr",
        type=float,
        default=None,
        help="learning rate from iteration 2000 on (default: the recipe's 2e-4, or the run's when resuming)",
    )
    p.add_argument("--out", required=True, help="run directory (run.json, metrics, checkpoints, snapshot, weights)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint, exactly (settings from its run.json; only "
        "--iters/--more, --lr and --decayed-lr may change)",
    )
    p.add_argument(
        "--init",
        default=None,
        metavar="MODEL|FILE",
        help="start from a zoo name, hf-hub:/local-dir: ref or weights .safetensors file (fine-tuning: its "
        "weights, a fresh optimiser, iteration 0), or continue a training snapshot (another run's "
        "OUT/snapshot.safetensors: its params, optimiser state, key and iteration, the pool reset to seeds; "
        "the remaining budget is --iters minus its iteration; with another --experiment, a fine-tune of "
        "its params)",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="random seed of the run (default: 0, or the run's when resuming)"
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="iterations between checkpoints (and snapshots) (default: 200, or the run's when resuming)",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "eval",
        help="run the evaluation protocol (growth, persistence, disc and half-cut regeneration) on models",
        description="Evaluate models with the zoo's protocol (nca_zoo.evaluate; MODEL_CARD.md) and print a table.",
    )
    p.add_argument(
        "patterns",
        nargs="+",
        metavar="MODEL",
        help="registry name or wildcard ('*-regen-16'), alias, hf-hub:/local-dir: ref or path (a weights file, "
        "run folder or training snapshot); several allowed",
    )
    p.add_argument(
        "--originals",
        nargs="?",
        const="shipped",
        default=None,
        metavar="DIR",
        help="add the original authors' model of the same target and experiment: their numbers as shipped "
        "with nca-zoo, or re-measured from DIR (../shared/reference/distill-growing-ca) (default: no column)",
    )
    p.add_argument(
        "--experiment",
        choices=EXPERIMENTS,
        default=None,
        help="experiment to judge a model that is not a registry entry by (default: the one its weights "
        "file records, else regen)",
    )
    p.add_argument("--batch", type=int, default=8, help="rollouts per metric (default: 8, the protocol's)")
    p.add_argument("--seed", type=int, default=0, help="protocol seed (default: 0, the protocol's)")
    p.add_argument(
        "--curve",
        action="store_true",
        help="instead of the metrics, the MSE after each step of the protocol's undamaged rollouts (steps "
        "1–1000; step 96 is mse_grow): shows whether a model grows too slowly, settles wrong or drifts",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of the Markdown table")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("push", help="train a new entry, write its Hub repo folder and (with --push) publish it")
    p.add_argument("--target", required=True, help="zoo target name, emoji, or RGBA image path")
    p.add_argument(
        "--experiment", choices=EXPERIMENTS, default="regen", help="grow, persist or regen (see `nca-zoo train -h`)"
    )
    p.add_argument("--iters", type=int, default=None, help="total training iterations (default: the recipe's 8000)")
    p.add_argument("--out", required=True, help="output folder: the repo files, and the training run in OUT/run")
    p.add_argument("--resume", action="store_true", help="continue the run in OUT/run (or re-publish a finished one)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe override (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the training run")
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="iterations between checkpoints (default: 200, or the run's when resuming)",
    )
    p.add_argument("--repo-id", default=None, help="Hub repo (default: nca-zoo/<target>-<experiment>-<channels>)")
    p.add_argument("--push", action="store_true", help="upload (token: HF_TOKEN or `hf auth login`); else dry run")
    p.add_argument("--private", action="store_true", help="create the Hub repo as private")
    p.set_defaults(func=_cmd_push)

    p = sub.add_parser("export", help="export a model to run outside JAX (TF, ONNX, browser, TFLite, Distill demo)")
    p.add_argument(
        "name",
        help="registry name or alias, hf-hub:org/repo or local-dir:path; for --format web also a wildcard "
        "such as '*-regen-16' (the page gets a model picker)",
    )
    p.add_argument("--format", required=True, choices=sorted(EXPORT_FORMATS), help="what to write")
    p.add_argument("--out", required=True, help="output file (onnx, tflite, distill-webgl) or folder (others)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (onnx, onnx-web; >= 17)")
    p.add_argument("--batch", type=int, default=1, help="static batch size (tflite)")
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="grid side: static for tflite (default 72); the page's first grid for web (default 96)",
    )
    p.add_argument("--steps", type=int, default=96, help="masks per rollout call (tflite)")
    p.add_argument(
        "--ort-web",
        default=None,
        metavar="DIR",
        help="onnx-web: an unpacked onnxruntime-web package (e.g. node_modules/onnxruntime-web) to copy into the "
        "page; default: $NCA_ZOO_ORT_WEB, the cache, else `npm pack`",
    )
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("train-zoo", help="train many entries (targets × experiments) in one program, in chunks")
    _add_train_zoo_arguments(p)
    p.set_defaults(func=_cmd_train_zoo)
    return parser


def _add_train_zoo_arguments(p: argparse.ArgumentParser) -> None:
    from nca_zoo.train import zoo_trainer

    p.description = zoo_trainer.CLI_HELP
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    zoo_trainer.add_arguments(p)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (nca_zoo.UnknownModelError, FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"nca-zoo: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
