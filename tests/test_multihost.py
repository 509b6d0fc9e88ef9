"""Two processes on 127.0.0.1 (jax.distributed + gloo CPU collectives) run one training job."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from nca_zoo.config import NCAConfig
from nca_zoo.targets import grid_target
from nca_zoo.train.recipe import preset
from nca_zoo.train.step import init_state, train_step
from nca_zoo.weights import load_weights

RECIPE = {
    "iterations": 3,
    "batch_size": 4,
    "pool_size": 8,
    "damage_count": 1,
    "min_steps": 4,
    "max_steps": 6,
    "target_size": 8,
    "padding": 4,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_agree_with_each_other_and_with_one_device(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nca_zoo.train.multihost",
                f"--coordinator=127.0.0.1:{port}",
                "--num-processes=2",
                f"--process-id={rank}",
                "--target=gecko",
                "--experiment=regen",
                f"--recipe={json.dumps(RECIPE)}",
                f"--out={tmp_path}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    try:
        logs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-4000:]

    summaries = [json.loads((tmp_path / f"process-{rank}.json").read_text()) for rank in (0, 1)]
    assert [s["process"] for s in summaries] == [0, 1]
    assert all(s["processes"] == 2 and s["devices"] == 2 and s["iterations"] == 3 for s in summaries)
    assert summaries[0]["losses"] == summaries[1]["losses"]
    assert summaries[0]["params_sha256"] == summaries[1]["params_sha256"]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3

    # The job is the single-device run of the same recipe and seed.
    tc = preset("regen", **RECIPE)
    target = jnp.asarray(grid_target("gecko", tc.target_size, tc.padding))
    state, losses = init_state(NCAConfig(), tc), []
    for _ in range(tc.iterations):
        state, out = train_step(state, target, model_config=NCAConfig(), train_config=tc)
        losses.append(float(out["loss"]))
    np.testing.assert_allclose(summaries[0]["losses"], losses, rtol=1e-5)
    params, _ = load_weights(tmp_path / "model.safetensors")
    for name in ("dense_0", "dense_1"):
        for leaf in ("kernel", "bias"):
            np.testing.assert_allclose(params[name][leaf], np.asarray(state.params[name][leaf]), rtol=0, atol=1e-5)
