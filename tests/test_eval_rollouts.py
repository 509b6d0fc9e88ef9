"""scripts/eval_rollouts.py: measures each entry once per weights and its original once, resumes, and never
mixes numbers of different rollout counts in one file."""

from __future__ import annotations

import json

import pytest
from conftest import load_script

eval_rollouts = load_script("eval_rollouts")


@pytest.fixture
def measured(monkeypatch, tmp_path):
    """The script with the protocol replaced by a recorder (what was evaluated, with how many rollouts)."""
    calls = []

    def fake_evaluate(nca, *, batch):
        calls.append((getattr(nca, "name", nca), batch))
        return {"mse_grow": 0.001, "mse_persist": 0.002, "mse_disc": 0.003, "mse_half": 0.004, "stable": 1.0}

    monkeypatch.setattr(eval_rollouts, "evaluate", fake_evaluate)
    monkeypatch.setattr(eval_rollouts, "load_distill_original", lambda folder, target, experiment: f"ex_{target}")
    (tmp_path / "originals").mkdir()
    return calls, tmp_path


def test_each_entry_is_measured_once_per_weights_with_its_original(measured):
    calls, tmp = measured
    out = tmp / "rollouts.json"
    argv = ["gecko-*-16", "--batch", "4", "--out", str(out), "--originals", str(tmp / "originals")]
    assert eval_rollouts.main(argv) == 0
    data = json.loads(out.read_text())
    assert sorted(data["entries"]) == ["gecko-grow-16", "gecko-persist-16", "gecko-regen-16"]
    assert ("gecko-regen-16", 4) in calls and ("ex_gecko", 4) in calls and len(calls) == 6
    assert data["batch"] == 4 and data["entries"]["gecko-regen-16"]["original"]["mse_half"] == 0.004

    calls.clear()
    data["entries"]["gecko-grow-16"]["sha256"] = "0" * 64  # measured with other weights: measured again
    out.write_text(json.dumps(data))
    assert eval_rollouts.main(argv) == 0
    assert calls == [("gecko-grow-16", 4)]  # not its original again: that model never changes
    calls.clear()
    assert eval_rollouts.main([*argv, "--force"]) == 0
    assert len(calls) == 6 and ("ex_gecko", 4) in calls
    assert eval_rollouts.main(["eye-regen-16", *argv[1:]]) == 0  # another selection joins the file
    data = json.loads(out.read_text())
    assert len(data["entries"]) == 4 and data["patterns"] == ["gecko-*-16", "eye-regen-16"]
    assert "'gecko-*-16' --batch 4 and python scripts/eval_rollouts.py 'eye-regen-16'" in data["command"]
    data["entries"]["gecko-regen-16"]["sha256"] = "0" * 64
    out.write_text(json.dumps(data))
    assert eval_rollouts.main(["gecko-regen-16", *argv[1:]]) == 0  # covered by 'gecko-*-16': the command stays
    assert json.loads(out.read_text())["patterns"] == ["gecko-*-16", "eye-regen-16"]

    with pytest.raises(SystemExit, match="holds 4 rollouts"):
        eval_rollouts.main(["gecko-*-16", "--batch", "32", "--out", str(out), "--originals", str(tmp / "originals")])


def test_unknown_patterns_and_missing_originals_are_named(measured):
    _, tmp = measured
    with pytest.raises(SystemExit, match="no entries match"):
        eval_rollouts.main(["nothing-*", "--out", str(tmp / "x.json"), "--originals", str(tmp / "originals")])
    with pytest.raises(SystemExit, match="no original models"):
        eval_rollouts.main(["gecko-*", "--out", str(tmp / "x.json"), "--originals", str(tmp / "absent")])
