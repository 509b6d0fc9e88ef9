"""Data-parallel training over 2 (forced) CPU devices equals the single-device run for the same seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from nca_zoo.train.parallel import check_divisible, make_mesh
from nca_zoo.train.recipe import preset

# Runs in a fresh interpreter: the device count must be fixed before JAX initialises.
SCRIPT = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    from nca_zoo.config import NCAConfig
    from nca_zoo.targets import grid_target
    from nca_zoo.train import parallel
    from nca_zoo.train.recipe import preset
    from nca_zoo.train.step import init_state, train_step

    mc = NCAConfig()
    tc = preset("regen", iterations=3, batch_size=4, pool_size=8, damage_count=1, min_steps=4, max_steps=6,
                target_size=8, padding=4)
    target = jnp.asarray(grid_target("gecko", 8, 4))
    mesh = parallel.make_mesh()
    single = init_state(mc, tc)
    sharded = parallel.init_sharded_state(mc, tc, mesh)
    target_r = parallel.replicate(target, mesh)
    report = {"devices": mesh.size, "loss": [], "steps": []}
    for _ in range(tc.iterations):
        single, a = train_step(single, target, model_config=mc, train_config=tc)
        sharded, b = parallel.parallel_train_step(sharded, target_r, model_config=mc, train_config=tc, mesh=mesh)
        report["loss"].append([float(a["loss"]), float(b["loss"])])
        report["steps"].append([int(a["steps"]), int(b["steps"])])
    report["pool_spec"] = list(sharded.pool.sharding.spec)
    report["pool_shard_rows"] = sorted(s.data.shape[0] for s in sharded.pool.addressable_shards)
    report["max_diff"] = {
        name: max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y)))) for x, y in
                  zip(jax.tree.leaves(getattr(single, name)), jax.tree.leaves(getattr(sharded, name))))
        for name in ("params", "opt_state", "pool", "key", "iteration")
    }
    report["pool_changed"] = float(np.abs(np.asarray(single.pool) - np.asarray(init_state(mc, tc).pool)).max())
    print("REPORT" + json.dumps(report))
    """
)


def run_forced_devices(script: str, devices: int) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line[len("REPORT") :])


def test_two_devices_give_the_single_device_run():
    report = run_forced_devices(SCRIPT, 2)
    assert report["devices"] == 2
    assert report["pool_spec"] == ["data"]
    assert report["pool_shard_rows"] == [4, 4]  # the pool of 8 is split, not replicated
    for single, sharded in report["steps"]:
        assert single == sharded
    for single, sharded in report["loss"]:
        assert abs(single - sharded) <= 1e-5 * max(1.0, abs(single))
    assert report["pool_changed"] > 0  # the comparison covers a pool that the runs wrote to
    for name, diff in report["max_diff"].items():
        assert diff <= 1e-5, f"{name} differs by {diff}"


def test_batch_and_pool_must_split_over_the_devices():
    class TwoDevices:
        size = 2

    check_divisible(preset("regen", batch_size=4, pool_size=8, damage_count=1), TwoDevices())
    with pytest.raises(ValueError, match="batch_size 3 does not split over 2 devices"):
        check_divisible(preset("regen", batch_size=3, pool_size=8, damage_count=1), TwoDevices())
    with pytest.raises(ValueError, match="pool_size 9 does not split"):
        check_divisible(preset("regen", batch_size=4, pool_size=9, damage_count=1), TwoDevices())
    assert make_mesh().axis_names == ("data",)
