"""Exporters: each format is exported, run in its own runtime in a fresh process, and compared with JAX.

Every check feeds the same explicit update masks to JAX (``ZooModel.step``, the default sparse path)
and to the export, over 20 steps from a partly grown state on a 2×40×48 grid (non-square, so a
transposed axis shows). The model is ``gecko-regen-16`` and, where ../shared is present, the
authors' Distill gecko (same architecture) too. Runtimes from the ``export`` extra or tests/web's
node_modules that are missing skip the test locally and fail it in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import pytest

import nca_zoo
from nca_zoo import cli
from nca_zoo.zoo import ZooModel

WEB = Path(__file__).resolve().parent / "web"
STEPS, BATCH, HEIGHT, WIDTH, ANGLE = 20, 2, 40, 48, 0.25
TOL = 1e-5  # SavedModel, ONNX, TFLite
TOL_WEB = 1e-4  # onnxruntime-web and the JS Distill reader
pytestmark = pytest.mark.slow


def need(module: str) -> None:
    """Skip (fail in CI) when an optional runtime is missing."""
    try:
        __import__(module)
    except ImportError:
        message = f"needs {module} from the export extra: pip install -e '.[dev,export]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def need_node(package: str | None = "onnxruntime-web") -> None:
    if shutil.which("node") is None or (package and not (WEB / "node_modules" / package).is_dir()):
        message = f"needs node and `npm ci` in {WEB}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module", params=["gecko-regen-16", "distill-ex3-gecko"])
def nca(request: pytest.FixtureRequest) -> ZooModel:
    """The zoo's gecko-regen-16, and the authors' ex3 gecko (same architecture) where ../shared has it."""
    if request.param == "distill-ex3-gecko":
        return request.getfixturevalue("distill_gecko")
    return nca_zoo.load("gecko-regen-16")


@dataclass
class Case:
    start: np.ndarray  # (B, H, W, C)
    masks: np.ndarray  # (T, B, H, W, 1) float32 0/1
    expected: np.ndarray  # JAX after T steps with those masks

    def write(self, io: Path, **files: str) -> Path:
        """Inputs for a runner process: spec.json (+ model paths), state.bin, masks.bin."""
        io.mkdir(parents=True, exist_ok=True)
        b, h, w, c = self.start.shape
        spec = {"batch": b, "height": h, "width": w, "channels": c, "steps": len(self.masks), "angle": ANGLE}
        (io / "spec.json").write_text(json.dumps({**spec, **files}))
        self.start.tofile(io / "state.bin")
        self.masks.tofile(io / "masks.bin")
        return io

    def read(self, io: Path, name: str) -> np.ndarray:
        return np.fromfile(io / name, np.float32).reshape(self.expected.shape)

    def error(self, io: Path, name: str) -> float:
        return float(np.abs(self.read(io, name) - self.expected).max())


@pytest.fixture(scope="module")
def case(nca: ZooModel) -> Case:
    """A pattern grown 30 steps in JAX, then 20 JAX steps with fixed masks as the reference."""
    start = np.asarray(nca.rollout(nca_zoo.seed(BATCH, (HEIGHT, WIDTH), nca.config.channels), 0, 30)[0])
    rng = np.random.RandomState(1)
    masks = (rng.random_sample((STEPS, BATCH, HEIGHT, WIDTH, 1)) < nca.config.fire_rate).astype(np.float32)
    state = start
    for mask in masks:
        state = nca.step(state, update_mask=mask, angle=ANGLE)
    expected = np.asarray(state)
    assert (expected[..., 3] > 0.1).sum() > 200, "the reference pattern died: the comparison would be vacuous"
    return Case(start, masks, expected)


def run(args: list[str]) -> str:
    """Run a runtime in a fresh process; its stdout, or the failure with its stderr."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"{args[:2]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout


def report(fmt: str, nca: ZooModel, **errors: float) -> None:
    print(f"\n[export] {fmt:14s} {nca.name:16s} " + " ".join(f"max|Δ| {k}={v:.2e}" for k, v in errors.items()))


# Runner programs: each reads the case's inputs, runs T steps through the exported step and one call
# of the exported rollout, writes step.bin and rollout.bin, and proves it ran without nca_zoo.
RUNNER_HEAD = """
import json, sys
from pathlib import Path
import numpy as np
io = Path(sys.argv[1])
spec = json.loads((io / "spec.json").read_text())
B, H, W, C, T, angle = (spec[k] for k in ("batch", "height", "width", "channels", "steps", "angle"))
start = np.fromfile(io / "state.bin", np.float32).reshape(B, H, W, C)
masks = np.fromfile(io / "masks.bin", np.float32).reshape(T, B, H, W, 1)
"""
RUNNER_TAIL = """
np.asarray(x, np.float32).tofile(io / "step.bin")
np.asarray(y, np.float32).tofile(io / "rollout.bin")
assert "nca_zoo" not in sys.modules
print(json.dumps({**info, "jax_imported": "jax" in sys.modules}))
"""
RUNNERS = {
    "savedmodel": """
import tensorflow as tf
nca = tf.saved_model.load(spec["model"])
step, rollout = nca.signatures["step"], nca.signatures["rollout"]
a = tf.constant(angle, tf.float32)
x = start
for t in range(T):
    x = step(state=tf.constant(x), update_mask=tf.constant(masks[t]), angle=a)["new_state"].numpy()
y = rollout(state=tf.constant(start), update_masks=tf.constant(masks), angle=a)["new_state"].numpy()
other = step(state=tf.zeros((1, 17, 23, C)), update_mask=tf.ones((1, 17, 23, 1)), angle=a)["new_state"]
short = rollout(state=tf.constant(start[:1, :24, :32]), update_masks=tf.constant(masks[:3, :1, :24, :32]), angle=a)
info = {"other_shape": list(other.shape), "short_shape": list(short["new_state"].shape)}
info["signatures"] = sorted(nca.signatures)
""",
    "onnx": """
import onnxruntime as ort
step = ort.InferenceSession(spec["model"], providers=["CPUExecutionProvider"])
rollout = ort.InferenceSession(spec["rollout_model"], providers=["CPUExecutionProvider"])
a = np.array(angle, np.float32)
x = start
for t in range(T):
    x = step.run(None, {"state": x, "update_mask": masks[t], "angle": a})[0]
y = rollout.run(None, {"state": start, "update_masks": masks, "angle": a})[0]
zeros, ones = np.zeros((1, 17, 23, C), np.float32), np.ones((1, 17, 23, 1), np.float32)
other = step.run(None, {"state": zeros, "update_mask": ones, "angle": a})[0]
short = rollout.run(None, {"state": start[:1, :24, :32], "update_masks": masks[:3, :1, :24, :32], "angle": a})[0]
info = {"other_shape": list(other.shape), "short_shape": list(short.shape)}
""",
    "tflite": """
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_path=spec["model"])
step, rollout = interpreter.get_signature_runner("step"), interpreter.get_signature_runner("rollout")
a = np.float32(angle)
x = start
for t in range(T):
    x = step(state=x, update_mask=masks[t], angle=a)["new_state"]
y = rollout(state=start, update_masks=masks, angle=a)["new_state"]
info = {"signatures": sorted(interpreter.get_signature_list())}
""",
}


def run_python(fmt: str, io: Path) -> dict:
    return json.loads(run([sys.executable, "-c", RUNNER_HEAD + RUNNERS[fmt] + RUNNER_TAIL, str(io)]).splitlines()[-1])


def test_savedmodel(nca: ZooModel, case: Case, tmp_path: Path) -> None:
    need("tensorflow")
    from nca_zoo.export import export

    paths = export(nca, "savedmodel", tmp_path / "gecko_savedmodel")
    assert (tmp_path / "gecko_savedmodel" / "saved_model.pb").is_file()
    assert "update_mask" in paths[-1].read_text()
    info = run_python("savedmodel", case.write(tmp_path / "io", model=str(paths[0])))
    assert info["signatures"] == ["rollout", "step"]
    assert info["other_shape"] == [1, 17, 23, nca.config.channels], "batch/height/width should be dynamic"
    assert info["short_shape"] == [1, 24, 32, nca.config.channels], "the rollout's T should be dynamic"
    errors = {"step": case.error(tmp_path / "io", "step.bin"), "rollout": case.error(tmp_path / "io", "rollout.bin")}
    report("savedmodel", nca, **errors)
    assert max(errors.values()) <= TOL


def test_onnx(nca: ZooModel, case: Case, tmp_path: Path) -> None:
    need("onnxruntime")
    need("jax2onnx")
    import onnx

    from nca_zoo.export import export

    step_path, rollout_path, readme = export(nca, "onnx", tmp_path / "gecko.onnx")
    assert rollout_path.name == "gecko.rollout.onnx" and readme.name == "gecko.onnx.md"
    for path in (step_path, rollout_path):
        proto = onnx.load(path)
        onnx.checker.check_model(proto, full_check=True)
        assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
        dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input]
        assert dims[0] == ["B", "H", "W", nca.config.channels]
    assert "Loop" in {n.op_type for n in onnx.load(rollout_path).graph.node}
    io = case.write(tmp_path / "io", model=str(step_path), rollout_model=str(rollout_path))
    info = run_python("onnx", io)
    assert info["other_shape"] == [1, 17, 23, nca.config.channels]
    assert info["short_shape"] == [1, 24, 32, nca.config.channels]
    errors = {"step": case.error(io, "step.bin"), "rollout": case.error(io, "rollout.bin")}
    report("onnx", nca, **errors)
    assert max(errors.values()) <= TOL


def test_onnx_web_under_node(nca: ZooModel, case: Case, tmp_path: Path) -> None:
    """The export steps like JAX under Node; its page runs offline in headless Chromium (runtime copied in)."""
    need("jax2onnx")
    need_node()
    from nca_zoo.export import export
    from nca_zoo.export.onnx_web import RUNTIME_DIR, RUNTIME_FILES

    out = tmp_path / "gecko_web"
    paths = export(nca, "onnx-web", out, runtime=WEB / "node_modules" / "onnxruntime-web")
    names = {"model.onnx", "model.rollout.onnx", "nca.js", "index.html", "README.md", *RUNTIME_FILES}
    assert {p.name for p in paths} >= names
    page = (out / "index.html").read_text()
    assert "__ORT_WEB_VERSION__" not in page and "cdn." not in page and f'src="{RUNTIME_DIR}/ort.wasm.min.js"' in page
    io = case.write(tmp_path / "io")
    stdout = run(["node", str(WEB / "run_nca.js"), str(out), str(io)])
    assert "onnxruntime-web" in stdout
    errors = {"step": case.error(io, "step.bin"), "rollout": case.error(io, "rollout.bin")}
    report("onnx-web", nca, **errors)
    assert max(errors.values()) <= TOL_WEB
    if nca.entry is not None:  # the page, once
        check_onnx_web_page(out, tmp_path / "no_runtime")


def check_onnx_web_page(out: Path, broken: Path) -> None:
    """In headless Chromium with every non-local request blocked: the page steps with no console error;
    without its runtime folder it says what is missing, on the page."""
    sys.path.insert(0, str(WEB))
    import chromium

    reason = chromium.missing()
    if reason:
        message = f"the onnx-web page check: {reason}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    shutil.copytree(out, broken, ignore=shutil.ignore_patterns("ort*"))
    browser = chromium.Browser()
    try:
        with chromium.serve(out) as url:
            browser.goto(f"{url}index.html")
            browser.wait("() => /step [1-9]/.test(document.getElementById('status').textContent)", timeout=60)
            log = browser.call("log")
            assert not log["blocked"] and not log["errors"], log
            assert not [m for m in log["console"] if m["type"] == "error"], log
        with chromium.serve(broken) as url:
            browser.goto(f"{url}index.html")
            browser.wait("() => !document.getElementById('error').hidden", timeout=30)
            text = browser.eval("() => document.getElementById('error').textContent")
            assert "onnxruntime-web" in text and "npm pack" in text, text
    finally:
        browser.close()


def test_tflite(nca: ZooModel, case: Case, tmp_path: Path) -> None:
    need("tensorflow")
    need("ai_edge_litert")
    from nca_zoo.export import export

    model, readme = export(
        nca, "tflite", tmp_path / "gecko.tflite", batch=BATCH, height=HEIGHT, width=WIDTH, steps=STEPS
    )
    assert f"B = {BATCH}, H = {HEIGHT}, W = {WIDTH}" in readme.read_text()
    io = case.write(tmp_path / "io", model=str(model))
    assert run_python("tflite", io)["signatures"] == ["rollout", "step"]
    errors = {"step": case.error(io, "step.bin"), "rollout": case.error(io, "rollout.bin")}
    report("tflite", nca, **errors)
    assert max(errors.values()) <= TOL


def test_distill_webgl_under_node(nca: ZooModel, case: Case, tmp_path: Path) -> None:
    """The exported JSON, decoded by an independent JS reader, steps like JAX on the 8-bit weights."""
    need_node(package=None)
    from nca_zoo.convert import from_distill_webgl
    from nca_zoo.export import export

    path, _ = export(nca, "distill-webgl", tmp_path / "gecko.json")
    quantised = from_distill_webgl(path)
    state = case.start
    for mask in case.masks:
        state = quantised.step(state, update_mask=mask, angle=ANGLE)
    reference = Case(case.start, case.masks, np.asarray(state))
    io = reference.write(tmp_path / "io")
    run(["node", str(WEB / "run_distill_webgl.js"), str(path), str(io)])
    error = reference.error(io, "step.bin")
    report(
        "distill-webgl", nca, step=error, vs_float=float(np.abs(reference.read(io, "step.bin") - case.expected).max())
    )
    assert error <= TOL_WEB


def test_distill_webgl_round_trip(nca: ZooModel, tmp_path: Path) -> None:
    """import → export → import stays within half a quantisation step, and re-export is byte-identical."""
    from nca_zoo.convert import from_distill_webgl
    from nca_zoo.export.distill_webgl import export_distill_webgl, to_distill_webgl

    layers = to_distill_webgl(nca)
    path, readme = export_distill_webgl(nca, tmp_path / "gecko.json")
    assert readme.name == "gecko.json.md"
    assert [sorted(layer) for layer in layers] == [
        ["bias_scale", "data_b64", "in_ch", "out_ch", "type", "weight_scale"]
    ] * 2
    back = from_distill_webgl(path)
    for layer, name in zip(layers, ("dense_0", "dense_1"), strict=True):
        for part, scale in (("kernel", layer["weight_scale"]), ("bias", layer["bias_scale"])):
            original = np.asarray(nca.params[name][part])
            assert scale == pytest.approx(2 * np.abs(original).max(), rel=1e-6)
            step = scale / 255
            assert np.abs(np.asarray(back.params[name][part]) - original).max() <= step / 2 * (1 + 1e-4)
    assert to_distill_webgl(back) == layers


def test_distill_webgl_matches_the_originals(distill_gecko: ZooModel) -> None:
    """Importing an original demo file and exporting it again gives the same JSON, byte for byte."""
    from conftest import DISTILL

    from nca_zoo.convert import from_distill_webgl
    from nca_zoo.export.distill_webgl import to_distill_webgl

    for name in ("ex1_fish", "ex2_eye", "ex3_gecko", "ex3_planarian"):
        original = json.loads((DISTILL / f"{name}.json").read_text())
        assert to_distill_webgl(from_distill_webgl(DISTILL / f"{name}.json")) == original, name


def test_distill_webgl_still_grows(nca: ZooModel, tmp_path: Path) -> None:
    """The 8-bit export, re-imported, grows its target: step-96 MSE within 1.5× of the float model's."""
    from nca_zoo.convert import from_distill_webgl
    from nca_zoo.export import export

    path, _ = export(nca, "distill-webgl", tmp_path / "gecko.json")
    quantised = from_distill_webgl(path, target=nca.target)
    seeds = (0, 1, 2)
    float_mse = np.mean([nca.mse(nca.grow(96, batch=8, seed=s)).mean() for s in seeds])
    quant_mse = np.mean([quantised.mse(quantised.grow(96, batch=8, seed=s)).mean() for s in seeds])
    print(f"\n[export] distill-webgl  {nca.name:16s} step-96 MSE float={float_mse:.5f} 8-bit={quant_mse:.5f}")
    assert quant_mse <= 1.5 * float_mse


def test_cli_export_onnx(nca: ZooModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """`nca-zoo export gecko --format onnx --out gecko.onnx` writes the step, the rollout and the README."""
    need("jax2onnx")
    if nca.entry is None:  # the Distill stand-in: let the CLI's name resolve to it
        monkeypatch.setattr(nca_zoo, "load", lambda name, **kwargs: nca)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export", "gecko", "--format", "onnx", "--out", "gecko.onnx"]) == 0
    assert capsys.readouterr().out.split() == ["gecko.onnx", "gecko.rollout.onnx", "gecko.onnx.md"]
    assert all((tmp_path / name).is_file() for name in ("gecko.onnx", "gecko.rollout.onnx", "gecko.onnx.md"))


def test_missing_runtime_names_the_extra(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Without the optional runtimes the CLI says which extra to install, instead of a traceback."""
    import nca_zoo.export as export

    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    monkeypatch.setattr(export, "resolve", lambda nca: nca_zoo.ZooModel(nca_zoo.NCAConfig(), _params()))
    assert cli.main(["export", "gecko", "--format", "onnx", "--out", "x.onnx"]) == 2
    assert "pip install 'nca-zoo[export]'" in capsys.readouterr().err
    with pytest.raises(export.MissingRuntimeError, match=r"nca-zoo\[export\]"):
        export.require("tensorflow_is_not_here", "the test")


def test_unknown_format() -> None:
    from nca_zoo.export import export

    with pytest.raises(ValueError, match="unknown export format"):
        export(nca_zoo.ZooModel(nca_zoo.NCAConfig(), _params()), "pickle", "x")


def test_web_runner_pins_the_tested_onnxruntime_web() -> None:
    """index.html loads the onnxruntime-web version the Node test runs."""
    from nca_zoo.export.onnx_web import ORT_WEB_VERSION

    package = json.loads((WEB / "package.json").read_text())
    assert package["dependencies"]["onnxruntime-web"] == ORT_WEB_VERSION
    lock = json.loads((WEB / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/onnxruntime-web"]["version"] == ORT_WEB_VERSION


def _params() -> dict:
    from nca_zoo.model import init_params

    return init_params(nca_zoo.NCAConfig(), jax.random.PRNGKey(0))
