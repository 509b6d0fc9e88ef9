"""The wheel: weights, targets and registry are package data, and a plain install works offline."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import nca_zoo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 and "No module named" in done.stderr:
        pytest.skip(f"cannot build a wheel here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("nca_zoo-*.whl")
    return path


def test_wheel_ships_weights_targets_and_registry(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nca_zoo/registry.json" in names
    for name in nca_zoo.list_models():
        assert f"nca_zoo/bundled/{nca_zoo.get_entry(name).weights_file}" in names
    for target in ("gecko", "smiley", "boom", "eye", "fish", "butterfly", "ladybug", "web", "pretzel", "tree"):
        assert f"nca_zoo/bundled/targets/{target}.png" in names
    web = ("nca_zoo/export/web/nca.js", "nca_zoo/export/web/index.html")
    webgl = ("nca_zoo/export/webgl/nca.js", "nca_zoo/export/webgl/index.html")
    for asset in ("nca_zoo/export/README.md", *web, *webgl):
        assert asset in names
    assert not any(n.startswith(("tests/", "runs/", "benchmarks/")) for n in names)


def test_installed_wheel_loads_and_grows_offline(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    code = (  # every entry, and the alias
        "import nca_zoo, pathlib; names = [*nca_zoo.list_models(), 'gecko']; "
        "grew = all(float(nca_zoo.load(n).grow(24)[..., 3].max()) > 0.1 for n in names); "
        "print(pathlib.Path(nca_zoo.__file__).parent, grew, len(names) - 1)"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    location, grew, count = done.stdout.split()
    assert Path(location).is_relative_to(site) and grew == "True"
    assert int(count) == len(nca_zoo.list_models())
