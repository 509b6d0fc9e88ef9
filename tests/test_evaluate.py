"""The evaluation protocol, the quality bar, and the zoo regen recipe's half-plane damage."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DISTILL, NO_SHARED, load_script

import nca_zoo
from nca_zoo import cli, evaluate, model
from nca_zoo.targets import grid_target
from nca_zoo.train.recipe import preset
from nca_zoo.train.snapshot import save_snapshot
from nca_zoo.train.step import damage_samples, init_state
from nca_zoo.weights import save_weights


@pytest.fixture(scope="module")
def gecko_metrics() -> dict[str, float]:
    return evaluate.evaluate(nca_zoo.load("gecko"), batch=2)


def test_protocol_measures_growth_persistence_and_both_cuts(gecko_metrics):
    assert set(gecko_metrics) == {*evaluate.METRICS, "stable"}
    assert gecko_metrics["stable"] == 1.0
    assert all(math.isfinite(v) for v in gecko_metrics.values())
    assert gecko_metrics["mse_grow"] < 0.005 and gecko_metrics["mse_persist"] < 0.005
    # cuts are measured after healing: worse than an intact pattern, far better than the cut itself
    grown = nca_zoo.load("gecko").grow(200, batch=2)
    cut = evaluate.mse(model.damage(grown, kind="half", side="right"), nca_zoo.load("gecko").target).mean()
    assert gecko_metrics["mse_half"] < cut / 2


def test_protocol_is_reproducible_and_depends_on_the_seed():
    gecko = nca_zoo.load("gecko")
    a = evaluate.evaluate(gecko, batch=1, seed=3)
    assert a == evaluate.evaluate(gecko, batch=1, seed=3)
    assert a != evaluate.evaluate(gecko, batch=1, seed=4)


def test_a_diverging_model_is_unstable_and_has_nan_metrics():
    gecko = nca_zoo.load("gecko")
    params = jax.tree.map(lambda a: a * 100.0, gecko.params)
    metrics = evaluate.evaluate(nca_zoo.ZooModel(gecko.config, params, target=gecko.target), batch=1)
    assert metrics["stable"] == 0.0
    original = dict.fromkeys(evaluate.METRICS, 0.001)
    ok, problems = evaluate.meets_bar(metrics, original, "regen")
    assert not ok and any("collapses" in p for p in problems)


def test_the_bar_never_passes_nan_and_judges_only_the_experiments_metrics():
    original = {"mse_grow": 0.001, "mse_persist": 0.001, "mse_disc": 0.001, "mse_half": 0.01}
    good = {"mse_grow": 0.0005, "mse_persist": 0.0014, "mse_disc": 0.0009, "mse_half": 0.002, "stable": 1.0}
    assert evaluate.meets_bar(good, original, "regen") == (True, [])
    assert not evaluate.better_on_all(good, original, "regen")  # persistence is 1.4×
    assert evaluate.better_on_all(good, original, "grow")
    for metric in evaluate.METRICS:
        ok, problems = evaluate.meets_bar(good | {metric: float("nan")}, original, "regen")
        assert not ok and metric in problems[0]
    worse = good | {"mse_half": 0.016}
    ok, problems = evaluate.meets_bar(worse, original, "regen")
    assert not ok and "1.60×" in problems[0]
    assert evaluate.meets_bar(worse, original, "persist")[0]  # persist entries are not judged on cuts


def test_comparison_table_shows_ratios():
    table = evaluate.comparison_table(
        [("a-regen-16", "regen", {"mse_grow": 0.002, "stable": 1.0}, {"mse_grow": 0.001}), ("b", "grow", {}, None)]
    )
    assert "0.00200 / 0.00100 (2.00×)" in table and "**fail**" in table


def test_shipped_original_metrics_cover_all_thirty():
    originals = evaluate.original_metrics()
    assert len(originals) == 30
    assert {x for _, x in originals} == {"grow", "persist", "regen"}
    assert all(set(evaluate.METRICS) <= set(m) for m in originals.values())


@pytest.mark.skipif(not DISTILL.is_dir(), reason=NO_SHARED)
def test_shipped_original_metrics_are_what_the_protocol_measures(distill_gecko):
    measured = evaluate.evaluate(distill_gecko)
    shipped = evaluate.original_metrics()[("gecko", "regen")]
    for name in evaluate.METRICS:
        assert measured[name] == pytest.approx(shipped[name], rel=1e-3), name


def test_plane_damage_cuts_a_random_half_plane_per_sample():
    mask = np.asarray(model.damage_mask(jax.random.PRNGKey(0), (64, 72, 72, 16), kind="plane"))[..., 0]
    cut = mask.mean(axis=(1, 2))
    assert np.all((cut > 0.25) & (cut < 0.75))  # offset ≤ 0.2 of the half-width from the centre
    assert len({m.tobytes() for m in mask}) == 64  # every sample its own orientation
    # a half-plane: along any line the erased cells are one contiguous run
    for m in mask[:8]:
        runs = np.abs(np.diff(m[36])).sum()
        assert runs <= 1


def test_recipe_damage_mixes_discs_and_half_planes():
    states = jnp.ones((400, 72, 72, 16))
    key = jax.random.PRNGKey(1)
    # fraction 0: the article's disc damage, draw for draw
    assert jnp.array_equal(damage_samples(states, key, 0.0), model.damage(states, key, kind="disc"))
    erased = 1.0 - np.asarray(damage_samples(states, key, 0.5))[..., 0].mean(axis=(1, 2))
    planes = erased > 0.2  # a disc of radius ≤ 0.4 erases at most ~13% of the grid
    assert 0.4 < planes.mean() < 0.6
    assert (1.0 - np.asarray(damage_samples(states, key, 1.0))[..., 0].mean(axis=(1, 2)) > 0.2).all()


def test_zoo_regen_recipe_differs_from_distill_only_in_half_cuts():
    zoo, distill = preset("regen"), preset("regen", recipe="distill")
    assert zoo.half_cut_fraction == 0.5 and distill.half_cut_fraction == 0.0
    assert {k for k, v in zoo.to_dict().items() if distill.to_dict()[k] != v} == {"half_cut_fraction"}
    assert preset("persist") == preset("persist", recipe="distill")
    with pytest.raises(ValueError, match="unknown recipe"):
        preset("regen", recipe="mine")


def test_eval_cli_prints_the_comparison_table(capsys):
    assert cli.main(["eval", "gecko-regen-16", "--originals", "--batch", "1"]) == 0
    out = capsys.readouterr().out
    assert "`gecko-regen-16`" in out and "×)" in out
    assert cli.main(["eval", "nothing-*"]) == 2


def test_eval_cli_judges_a_weights_file_by_the_target_and_experiment_it_records(tmp_path, capsys):
    persist = nca_zoo.load("gecko-persist-16")
    path = tmp_path / "run-end.safetensors"
    save_weights(path, persist.params, persist.config, {"target": "gecko", "experiment": "persist"})
    assert cli.main(["eval", str(path), "--originals", "--batch", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[str(path)]
    assert result["experiment"] == "persist"
    assert result["original"] == evaluate.original_metrics()[("gecko", "persist")]


def test_mse_curve_follows_the_protocols_own_rollouts(gecko_metrics):
    gecko = nca_zoo.load("gecko")
    curve = evaluate.mse_curve(gecko, batch=2)
    assert curve.shape == (1000,) and np.all(np.isfinite(curve))
    assert curve[95] == pytest.approx(gecko_metrics["mse_grow"], rel=1e-5)
    assert curve[899:].mean() == pytest.approx(gecko_metrics["mse_persist"], rel=1e-5)
    assert curve[0] > 10 * curve[95]  # a seed is far from the target; a grown gecko is close
    assert np.array_equal(evaluate.mse_curve(gecko, steps=150, batch=2), curve[:150])
    with pytest.raises(ValueError, match="between 1 and 1000"):
        evaluate.mse_curve(gecko, steps=1001)


def test_cut_and_heal_probes_cuts_on_the_protocols_own_rollouts(gecko_metrics, tmp_path, capsys, monkeypatch):
    """The right half through cut_and_heal is the protocol's mse_half, and an unplaced disc its mse_disc (the
    same random discs); a disc at a fixed place heals too, and scripts/probe_cuts.py prints each cut's MSE,
    the error inside it and the rollouts that did not heal, and with --png (only then) one PNG row per cut."""
    gecko = nca_zoo.load("gecko")
    right, healed, erased = evaluate.cut_and_heal(gecko, {"kind": "half", "side": "right"}, batch=2)
    assert right == pytest.approx(gecko_metrics["mse_half"], rel=1e-6) and healed.shape == (2, 72, 72, 16)
    assert erased.shape == (2, 72, 72) and erased[:, :, 36:].all() and not erased[:, :, :36].any()
    left, _, _ = evaluate.cut_and_heal(gecko, {"kind": "half", "side": "left"}, batch=2)
    assert left != right
    disc, _, discs = evaluate.cut_and_heal(gecko, {"kind": "disc"}, heal_steps=evaluate.DISC_HEAL, batch=2)
    assert disc == pytest.approx(gecko_metrics["mse_disc"], rel=1e-6)
    assert discs.any(axis=(1, 2)).all() and not np.array_equal(discs[0], discs[1])  # one disc per rollout
    _, _, other_seed = evaluate.cut_and_heal(gecko, {"kind": "disc"}, heal_steps=1, batch=2, seed=1)
    assert not np.array_equal(other_seed, discs)
    probe = load_script("probe_cuts")
    disc = probe.parse_cut("disc:36,36,10")
    assert disc["kind"] == "disc" and disc["center"] == pytest.approx((0.0, 0.0), abs=0.02)
    assert probe.parse_cut("disc:random") == {"kind": "disc"}
    for bad in ("half:middle", "disc:1,2", "disc:99,2,3", "plane:1", "disc:randomly"):
        with pytest.raises(Exception, match="half:SIDE .* or disc:random"):
            probe.parse_cut(bad)
    # inside the cut: 0 for a pattern equal to its target, the patch's own error for one filled with colour
    state = np.zeros((1, 72, 72, 16), np.float32)
    state[..., :4] = np.asarray(gecko.target)
    erased = np.asarray(model.damage_mask(None, state.shape, **disc))[..., 0] > 0
    assert probe.mse_inside(state, gecko.target, erased) == pytest.approx([0.0])
    patched = state.copy()
    patched[0, erased[0], :4] = 1.0
    expected = np.square(1.0 - np.asarray(gecko.target)[erased[0]]).mean()
    assert probe.mse_inside(patched, gecko.target, erased) == pytest.approx([expected], rel=1e-5) and expected > 0.1
    png = tmp_path / "cuts.png"
    probe.main(["gecko", "--cut", "disc:36,36,10", "--cut", "half:top", "--heal", "20", "--png", str(png)])
    out = capsys.readouterr().out
    assert "disc at (0.01, 0.01)" in out and "half top" in out and "inside the cut" in out and png.exists()
    assert "above 0.005: 8 of 8" in out  # 20 steps do not heal a top half
    from PIL import Image

    width, height = Image.open(png).size
    assert height < width / 2  # two rows (cuts) of eight rollouts
    args = ["gecko", "--cut", "disc:random", "--heal", "100", "--batch", "3", "--seed", "1"]
    monkeypatch.chdir(tmp_path)
    png.unlink()
    probe.main([*args, "--worst", "2"])
    out = capsys.readouterr().out
    assert "wrote" not in out and not list(tmp_path.iterdir())  # no picture unless --png asks for one
    assert "random discs" in out and len(listed := re.findall(r"rollout (\d): MSE ([\d.]+); cut centre", out)) == 2
    assert listed[0][1] >= listed[1][1] and listed[0][0] != listed[1][0]  # worst first, two different rollouts
    (line,) = probe.worst_rollouts(np.array([0.1, 0.3]), erased[[0, 0]], 1)  # the radius-10 disc at the middle
    assert line.startswith("  rollout 1: MSE 0.30000; cut centre (36, 36), radius ")
    assert float(line.rpartition(" ")[2]) == pytest.approx(10.0, abs=0.3)
    with pytest.raises(SystemExit):
        probe.main(["gecko", "--batch", "0"])


def test_probe_cuts_hidden_compares_the_regrown_hidden_state_with_the_uncut_rollouts(capsys):
    """--hidden: the cut cells' hidden channels against the same rollout's without the cut (the outside-grid
    disc cuts nothing, so it is the protocol's rollout itself); 0 for no change, 1 for a state erased and never
    regrown; refused for random discs, whose rollouts use other keys."""
    probe = load_script("probe_cuts")
    gecko = nca_zoo.load("gecko")
    uncut, erased_nothing = evaluate.cut_and_heal(gecko, probe.NO_CUT, heal_steps=5, batch=2)[1:]
    assert not erased_nothing.any()
    cut = evaluate.cut_and_heal(gecko, probe.parse_cut("disc:36,36,8"), heal_steps=5, batch=2)
    erased = cut[2]
    assert probe.hidden_change(uncut, uncut, erased) == 0.0
    assert probe.hidden_change(uncut * 0.0, uncut, erased) == pytest.approx(1.0)
    assert 0.0 < probe.hidden_change(cut[1], uncut, erased) < 2.0
    probe.main(["gecko", "--cut", "disc:36,36,8", "--heal", "5", "--batch", "2", "--hidden"])
    assert re.search(r"hidden state \d\.\d\d off the uncut", capsys.readouterr().out)
    with pytest.raises(SystemExit):
        probe.main(["gecko", "--cut", "disc:random", "--hidden"])


def test_probe_cuts_probes_the_mean_of_several_snapshots(tmp_path):
    """Several snapshot files are probed as the mean of their params (the window mean an entry is
    registered as), judged against the snapshots' own target."""
    gecko = nca_zoo.load("gecko")
    tc = dataclasses.replace(preset("regen"), pool_size=8)
    paths = []
    for iteration, scale in ((100, 1.0), (200, 0.5)):
        state = init_state(gecko.config, tc, jax.tree.map(lambda a, s=scale: a * s, gecko.params))
        path = tmp_path / f"{iteration:06d}.safetensors"
        paths.append(
            save_snapshot(
                path,
                state._replace(iteration=state.iteration + iteration),
                model_config=gecko.config,
                train_config=tc,
                target="gecko",
            )
        )
    probe = load_script("probe_cuts")
    mean = probe.load([str(p) for p in paths], None, tmp_path)
    for a, b in zip(jax.tree.leaves(mean.params), jax.tree.leaves(gecko.params), strict=True):
        np.testing.assert_allclose(a, 0.75 * np.asarray(b), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(mean.target, grid_target("gecko"))


def test_eval_cli_curve(capsys):
    assert cli.main(["eval", "gecko", "--curve", "--batch", "1", "--json"]) == 0
    curve = json.loads(capsys.readouterr().out)["gecko-regen-16"]
    assert len(curve) == 1000
    assert cli.main(["eval", "gecko", "--curve", "--batch", "1"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| `gecko-regen-16`"))
    assert row.split(" | ")[5] == f"{curve[95]:.5f}"  # the step-96 column
    assert cli.main(["eval", "gecko", "--curve", "--originals"]) == 2


def test_train_command_picks_the_recipe():
    def recipe(*extra):
        args = cli.build_parser().parse_args(["train", "--target", "gecko", "--out", "unused", *extra])
        return cli._train_recipe(args, None)

    assert recipe().half_cut_fraction == 0.5
    assert recipe("--recipe", "distill") == preset("regen", recipe="distill")
    assert recipe().batch_loss == "mean" and recipe("--batch-loss", "log") == preset("regen", batch_loss="log")
    assert recipe("--set", "damage_count=1", "--set", "reseed=random") == preset(
        "regen", damage_count=1, reseed="random"
    )
    assert recipe("--set", "reseed_count=2", "--reseed-count", "3").reseed_count == 3  # the named option wins
    continued = cli.build_parser().parse_args(["train", "--out", "unused", "--set", "damage_count=1"])
    assert cli._train_recipe(continued, preset("regen", batch_loss="log")) == preset(
        "regen", batch_loss="log", damage_count=1
    )
    with pytest.raises(ValueError, match="a single run takes KEY=VALUE"):
        recipe("--set", "regen.damage_count=1")
