"""The ``web`` export's files, without a browser (tests/test_web_page.py runs the page in Chromium).

The folder holds one self-contained ``index.html`` (the page's own ES module and, per model, the
float32 weights and target inlined; no script, style or runtime from anywhere else), plus the
same pieces as files; a registry wildcard gives a page with several models.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nca_zoo
from nca_zoo import cli
from nca_zoo.export import export
from nca_zoo.export.web import WEIGHTS_LAYOUT, export_web
from nca_zoo.zoo import ZooModel

ASSETS = Path(nca_zoo.__file__).parent / "export" / "webgl"


def embedded(page: str) -> list[dict]:
    """The models JSON inlined in index.html."""
    match = re.search(r'<script type="application/json" id="nca-models">(.*?)</script>', page, re.S)
    assert match, "no embedded models"
    return json.loads(match.group(1))


def test_a_self_contained_offline_page(tmp_path: Path) -> None:
    gecko = nca_zoo.load("gecko")
    paths = export(gecko, "web", tmp_path / "site")
    site = tmp_path / "site"
    assert [p.relative_to(site).as_posix() for p in paths] == [
        "index.html",
        "nca.js",
        "models.json",
        "models/gecko-regen-16/weights.f32",
        "models/gecko-regen-16/target.png",
        "README.md",
    ]
    page = (site / "index.html").read_text(encoding="utf-8")
    script = (ASSETS / "nca.js").read_text(encoding="utf-8")
    assert (site / "nca.js").read_text(encoding="utf-8") == script
    assert f'<script type="module">\n{script}' in page, "the page inlines its module, so it also opens from file://"
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=\"(?!data:)", page), "everything is inline"
    assert "default-src 'none'" in page, "the Content-Security-Policy forbids the network"
    assert not re.search(r"^\s*import\b|\bimport\(", script, re.M), "no imports: no third-party runtime"
    assert not re.search(r"https?://", script), "the script names no URL"

    (meta,) = json.loads((site / "models.json").read_text())
    assert meta["name"] == "gecko-regen-16" and meta["metrics"] == gecko.entry.metrics
    assert meta["card_url"] == "https://huggingface.co/nca-zoo/gecko-regen-16"
    assert meta["config"] == gecko.config.to_dict() and meta["weights_layout"] == WEIGHTS_LAYOUT
    weights = np.fromfile(site / meta["weights"], "<f4")
    layers = [name.split("/") for name in WEIGHTS_LAYOUT]
    expected = np.concatenate([np.asarray(gecko.params[a][b], np.float32).ravel() for a, b in layers])
    np.testing.assert_array_equal(weights, expected)
    (inline,) = embedded(page)
    assert np.frombuffer(base64.b64decode(inline["weights_b64"]), "<f4").tobytes() == weights.tobytes()
    target = np.asarray(Image.open(site / meta["target"]))
    assert target.shape[-1] == 4
    np.testing.assert_array_equal(target[..., 3], np.round(np.clip(gecko.target[..., 3], 0, 1) * 255))
    assert Image.open(io.BytesIO(base64.b64decode(inline["target_png_b64"]))).size == target.shape[1::-1]
    assert "python -m http.server" in (site / "README.md").read_text()


def test_cli_wildcard_gives_a_picker(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`nca-zoo export 'gecko-*' --format web --out site --size 128`: every match, on a 128-cell grid."""
    assert cli.main(["export", "gecko-*", "--format", "web", "--out", str(tmp_path / "site"), "--size", "128"]) == 0
    names = nca_zoo.list_models("gecko-*")
    assert len(names) >= 2
    assert [m["name"] for m in json.loads((tmp_path / "site" / "models.json").read_text())] == names
    models = embedded((tmp_path / "site" / "index.html").read_text())
    assert [m["name"] for m in models] == names and {m["size"] for m in models} == {128}
    assert str(tmp_path / "site" / "index.html") in capsys.readouterr().out.split()


def test_wildcards_are_for_the_web_format_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ValueError, match="only \\['web'\\] take several"):
        export("gecko-*", "distill-webgl", tmp_path / "x.json")
    assert cli.main(["export", "gecko-*", "--format", "distill-webgl", "--out", str(tmp_path / "x.json")]) == 2
    assert "exports one model" in capsys.readouterr().err
    assert cli.main(["export", "no-such-*", "--format", "web", "--out", str(tmp_path / "site")]) == 2
    assert "no registered model matches" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def test_grid_size_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="8..256"):
        export("gecko", "web", tmp_path / "site", size=300)


def test_a_custom_model(tmp_path: Path) -> None:
    """A model outside the registry (say, just trained): no metrics, no card, its own architecture."""
    config = nca_zoo.NCAConfig(channels=6, hidden=10)
    shapes = {"dense_0": ((18, 10), (10,)), "dense_1": ((10, 6), (6,))}
    params = {k: {"kernel": np.ones(a, np.float32), "bias": np.zeros(b, np.float32)} for k, (a, b) in shapes.items()}
    custom = ZooModel(config, params)
    export_web([custom, custom], tmp_path / "site")
    models = json.loads((tmp_path / "site" / "models.json").read_text())
    assert [m["name"] for m in models] == ["custom", "custom-2"]
    assert models[0]["metrics"] == {} and models[0]["card_url"] is None and models[0]["target"] is None
    assert (tmp_path / "site" / "models/custom/weights.f32").stat().st_size == 4 * (18 * 10 + 10 + 10 * 6 + 6)
