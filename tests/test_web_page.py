"""The ``web`` export in a real headless Chromium (Debian's, software WebGL2 via SwiftShader).

One export (``nca-zoo export 'gecko-*' --format web``, so the page has a model picker), served on
127.0.0.1, and one browser for the whole module, driven through tests/web/browser.js
(playwright-core). Every request that is not to 127.0.0.1 is aborted and recorded. The page is
compared with JAX on the same update masks, grows the gecko, is cut with a scripted mouse drag and
heals; screenshots go to $ARTIFACTS_DIR or tests/artifacts/. Without Chromium, Node or
playwright-core (``npm ci`` in tests/web) the tests skip, and fail under CI=1.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jax
import numpy as np
import pytest

import nca_zoo
from nca_zoo import cli, model
from nca_zoo.zoo import ZooModel

sys.path.insert(0, str(Path(__file__).resolve().parent / "web"))
import chromium  # tests/web/chromium.py
from chromium import Browser, floats, pixels, serve, to_b64

pytestmark = pytest.mark.slow

NAME = "gecko-regen-16"
TOL = 1e-4  # max abs error vs JAX after 50 steps with the same masks
WHITE = 230  # a displayed pixel with every channel above this counts as background
WEIGHT_ORDER = [("dense_0", "kernel"), ("dense_0", "bias"), ("dense_1", "kernel"), ("dense_1", "bias")]
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or Path(__file__).resolve().parent / "artifacts")


def need_browser() -> None:
    """Skip (fail in CI) without Chromium, Node or playwright-core."""
    reason = chromium.missing()
    if reason:
        message = f"browser tests: {reason}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported folder, written by the command line with a wildcard (a picker of the gecko entries)."""
    need_browser()
    out = tmp_path_factory.mktemp("web") / "site"
    assert cli.main(["export", "gecko-*", "--format", "web", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def page(site: Path) -> Iterator[tuple[Browser, str]]:
    """One Chromium with the page open on the regenerating gecko (touch enabled, so touch drags work)."""
    need_browser()
    with serve(site) as url:
        browser = Browser()
        try:
            started = time.monotonic()
            browser.goto(f"{url}index.html?model={NAME}", touch=True)
            browser.wait("() => window.nca && (window.nca.ready || window.nca.error)", timeout=120)
            error = browser.eval("() => window.nca.error || null")
            assert error is None, f"the page did not start: {error}"
            print(f"\n[web] page ready in {time.monotonic() - started:.1f} s; {browser.call('info')}")
            yield browser, url
        finally:
            browser.close()


@pytest.fixture(scope="module")
def gecko() -> ZooModel:
    return nca_zoo.load(NAME)


@pytest.fixture(scope="module")
def jax_grown(gecko: ZooModel) -> np.ndarray:
    """Four geckos grown 200 steps in JAX on 72×72 grids (random masks): the reference, and start states."""
    masks = random_masks(np.random.RandomState(3), 200, 4, 72, 72)
    return jax_steps(gecko, np.asarray(nca_zoo.seed(4, 72, 16)), masks)


def start_from(browser: Browser, state: np.ndarray, size: int = 72) -> None:
    """A paused page on a ``size`` grid holding ``state`` (72×72, centred)."""
    fresh(browser, size)
    pad = (size - state.shape[0]) // 2
    grid = np.zeros((size, size, state.shape[-1]), np.float32)
    grid[pad : pad + state.shape[0], pad : pad + state.shape[1]] = state
    browser.eval("(s) => nca.setState(s)", to_b64(grid))


def artifact(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / name)


def read_state(browser: Browser) -> np.ndarray:
    h, w = browser.eval("() => nca.size")
    return floats(browser.eval("() => nca.state()"), (h, w, 16))


def read_pixels(browser: Browser) -> np.ndarray:
    h, w = browser.eval("() => nca.size")
    return pixels(browser.eval("() => nca.pixels()"), h, w)[..., :3]


def fresh(browser: Browser, height: int, width: int | None = None, angle: float = 0.0) -> None:
    """Paused, a new grid with the seed, as trained (fire rate, no rotation unless ``angle``)."""
    browser.eval(
        "([h, w, a]) => { nca.pause(); nca.resize(h, w); nca.setAngle(a); nca.setFireRate(0.5); }",
        [height, width or height, angle],
    )


def jax_steps(nca: ZooModel, state: np.ndarray, masks: np.ndarray, angle: float = 0.0) -> np.ndarray:
    """``len(masks)`` JAX steps with the given (T, B, H, W) masks (one compiled step per grid shape)."""
    for mask in masks:
        state = nca.step(state, update_mask=mask[..., None], angle=angle)
    return np.asarray(state)


def random_masks(rng: np.random.RandomState, *shape: int) -> np.ndarray:
    return (rng.random_sample(shape) < 0.5).astype(np.float32)


def covered(rgb: np.ndarray) -> np.ndarray:
    """Pixels that are not background (uint8 RGB, the Distill display)."""
    return (rgb < WHITE).any(-1)


def screen_point(browser: Browser, x: float, y: float) -> list[float]:
    """The page coordinates of grid point (x = column, y = row), through the canvas's CSS scaling."""
    return browser.eval(
        """([x, y]) => {
          const c = document.getElementById("nca-canvas"), r = c.getBoundingClientRect();
          return [r.left + c.clientLeft + (x / nca.size[1]) * c.clientWidth,
                  r.top + c.clientTop + (y / nca.size[0]) * c.clientHeight];
        }""",
        [x, y],
    )


def segment_distance(h: int, w: int, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    """Distance of every cell centre (grid coordinates) to the segment a–b, (h, w)."""
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    p = np.stack([xs, ys], -1)
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    t = np.clip(((p - a_) @ (b_ - a_)) / max(float((b_ - a_) @ (b_ - a_)), 1e-9), 0, 1)
    return np.linalg.norm(p - (a_ + t[..., None] * (b_ - a_)), axis=-1)


def check_clean_log(browser: Browser) -> dict:
    log = browser.call("log")
    errors = [m for m in log["console"] if m["type"] in ("error", "warning")]
    assert not errors and not log["errors"], f"console errors: {errors} {log['errors']}"
    assert not log["blocked"], f"the page tried to reach the network: {log['blocked']}"
    return log


# ---- the page as a user sees it ---------------------------------------------------------------


def test_page_starts_growing_offline(page: tuple[Browser, str], gecko: ZooModel) -> None:
    """Loads with no network and no console errors, starts stepping at once, shows the entry."""
    browser, url = page
    browser.wait("() => nca.stepCount > 2 && nca.stepsPerSecond > 0", timeout=60)
    info = browser.eval(
        """() => ({
          playing: nca.playing, steps: nca.stepCount, model: nca.model, models: nca.models,
          title: document.getElementById("nca-title").textContent,
          status: document.getElementById("nca-status").textContent,
          error: document.getElementById("nca-error").hidden,
          picker: [...document.getElementById("nca-model").options].map((o) => o.value),
          pickerHidden: document.getElementById("nca-model").hidden,
          metrics: [...document.querySelectorAll("#nca-metrics tr")].map((r) => r.cells[0].textContent),
          card: document.getElementById("nca-card").href,
          target: document.getElementById("nca-target").naturalWidth,
        })"""
    )
    assert info["playing"] and info["steps"] > 0, info
    assert info["model"] == info["title"] == NAME
    assert info["models"] == info["picker"] == nca_zoo.list_models("gecko-*") and not info["pickerHidden"]
    assert info["metrics"] == list(gecko.entry.metrics)
    assert info["card"] == f"https://huggingface.co/{gecko.entry.hub_repo}"
    assert info["target"] > 0, "the target image did not load"
    assert "steps/s" in info["status"] and info["error"], info
    log = check_clean_log(browser)
    assert [r.removeprefix(url).split("?")[0] for r in log["requests"]] == ["index.html"], "one self-contained file"
    browser.call("screenshot", path=artifact("web-page.png"))


def test_matches_jax_on_the_same_masks(page: tuple[Browser, str], gecko: ZooModel) -> None:
    """50 steps from the seed (and 50 rotated steps from a JAX-grown state), masks given: = JAX."""
    browser, _ = page
    h, w, steps = 40, 48, 50  # non-square: a transposed axis would show
    rng = np.random.RandomState(0)
    report = {}
    for angle, start in ((0.0, 0), (0.5, 30)):
        masks = random_masks(rng, steps, h, w)
        state = jax_steps(gecko, np.asarray(nca_zoo.seed(1, (h, w), 16)), random_masks(rng, start, 1, h, w))
        fresh(browser, h, w, angle)
        if start:
            browser.eval("(s) => nca.setState(s)", to_b64(state[0]))
        browser.eval("([m, n]) => nca.run(n, m)", [to_b64(masks), steps])
        got = read_state(browser)
        expected = jax_steps(gecko, state, masks[:, None], angle)[0]
        assert (expected[..., 3] > 0.1).sum() > 200, "the reference pattern died: the comparison would be vacuous"
        report[f"angle {angle}"] = float(np.abs(got - expected).max())
    print(f"\n[web] max |page - JAX| after {steps} steps: {report}")
    assert max(report.values()) <= TOL, report


def test_grows_the_gecko(page: tuple[Browser, str], jax_grown: np.ndarray) -> None:
    """200 free-running steps (the page's own masks) show the grown gecko: coverage and mean colour as JAX's."""
    browser, _ = page
    fresh(browser, 72)
    browser.eval("() => nca.run(200)")
    rgb = read_pixels(browser)
    browser.call("screenshot", path=artifact("web-gecko-grown.png"), selector="#nca-canvas")
    browser.call("screenshot", path=artifact("web-page-grown.png"))
    jax_rgb = np.round(np.asarray(nca_zoo.to_rgb(jax_grown)) * 255).astype(np.uint8)
    cover, jax_cover = covered(rgb).mean(), np.mean([covered(x).mean() for x in jax_rgb])
    colour = rgb[covered(rgb)].mean(0) / 255
    jax_colour = np.mean([x[covered(x)].mean(0) for x in jax_rgb], 0) / 255
    shown = {
        "page": (round(cover, 3), colour.round(3).tolist()),
        "JAX": (round(jax_cover, 3), jax_colour.round(3).tolist()),
    }
    print(f"\n[web] grown gecko, (coverage, mean colour): {shown}")
    assert abs(cover - jax_cover) <= 0.2 * jax_cover
    assert np.abs(colour - jax_colour).max() <= 0.05


def test_drag_erases_and_the_gecko_heals(page: tuple[Browser, str], jax_grown: np.ndarray) -> None:
    """A mouse drag across the CSS-scaled canvas erases exactly the swept cells; 300 steps later it has healed."""
    browser, _ = page
    start_from(browser, jax_grown[0])
    before, before_rgb = read_state(browser), read_pixels(browser)
    ys, xs = np.nonzero(before[..., 3] > 0.1)
    a, b = (xs.mean() + 4, ys.mean() - 14), (xs.mean() + 4, ys.mean() + 14)
    radius = 5
    browser.eval(
        "(r) => { const b = document.getElementById('nca-brush'); b.value = r; b.dispatchEvent(new Event('input')); }",
        radius,
    )
    start, end = screen_point(browser, *a), screen_point(browser, *b)
    browser.call("mouse", actions=[["move", *start], ["down"], ["move", *end, 12], ["up"]])
    after = read_state(browser)
    distance = segment_distance(72, 72, a, b)
    swept = distance < 0.9 * radius
    assert (before[swept][..., 3] > 0.1).sum() > 30, "the drag missed the pattern"
    assert not after[swept].any(), "cells under the drag were not erased"
    assert np.array_equal(after[distance > radius + 0.5], before[distance > radius + 0.5]), "cells away from it changed"
    browser.call("screenshot", path=artifact("web-gecko-cut.png"), selector="#nca-canvas")
    browser.eval("() => nca.run(300)")
    healed = read_pixels(browser)
    browser.call("screenshot", path=artifact("web-gecko-healed.png"), selector="#nca-canvas")
    regrown = covered(healed)[swept].mean() / max(covered(before_rgb)[swept].mean(), 1e-9)
    total = covered(healed).mean() / covered(before_rgb).mean()
    print(f"\n[web] healed: {regrown:.2f} of the cut region and {total:.2f} of the coverage are back")
    assert regrown >= 0.8 and 0.85 <= total <= 1.2


def test_touch_drag_erases(page: tuple[Browser, str], jax_grown: np.ndarray) -> None:
    """A one-finger drag (touch events) erases like the mouse."""
    browser, _ = page
    start_from(browser, jax_grown[1])
    before = read_state(browser)
    ys, xs = np.nonzero(before[..., 3] > 0.1)
    a, b = (xs.mean() - 12, ys.mean()), (xs.mean() + 12, ys.mean())
    points = [screen_point(browser, a[0] + (b[0] - a[0]) * t, a[1]) for t in np.linspace(0, 1, 8)]
    browser.call("touch", points=points)
    after = read_state(browser)
    radius = browser.eval("() => parseFloat(document.getElementById('nca-brush').value)")
    distance = segment_distance(72, 72, a, b)
    assert (before[distance < 0.9 * radius][..., 3] > 0.1).sum() > 20, "the touch missed the pattern"
    assert not after[distance < 0.9 * radius].any()
    assert np.array_equal(after[distance > radius + 0.5], before[distance > radius + 0.5])


def test_double_click_plants_a_seed(page: tuple[Browser, str]) -> None:
    browser, _ = page
    fresh(browser, 64)
    browser.eval("() => { nca.engine.clear(); }")
    x, y = browser.eval("(p) => p", screen_point(browser, 10.5, 50.5))
    browser.call("mouse", actions=[["dblclick", x, y]])
    state = read_state(browser)
    expected = np.zeros_like(state)
    expected[50, 10, 3:] = 1.0
    assert np.array_equal(state, expected)


def test_controls_and_keys(page: tuple[Browser, str]) -> None:
    """Space play/pause, N one step, R reset, + / − steps per frame, ] rotate; sliders reach the engine."""
    browser, _ = page
    fresh(browser, 72)
    browser.eval("() => { nca.setSpeed(2); document.activeElement && document.activeElement.blur(); }")
    get = "() => ({steps: nca.stepCount, playing: nca.playing, angle: nca.engine.angle, speed: +document.getElementById('nca-speed').value})"  # noqa: E501
    browser.call("key", keys=["Space"])
    on = browser.eval(get)
    browser.wait("() => nca.stepCount > 0", timeout=30)
    browser.call("key", keys=["Space"])
    paused = browser.eval(get)
    time.sleep(0.3)
    assert on["playing"] and not paused["playing"] and paused["steps"] > 0
    assert browser.eval(get)["steps"] == paused["steps"], "paused but still stepping"
    browser.call("key", keys=["n"])
    assert browser.eval(get)["steps"] == paused["steps"] + 1
    browser.call("key", keys=["+", "+", "-", "]"])
    state = browser.eval(get)
    assert state["speed"] == 3 and abs(state["angle"] - np.pi / 12) < 1e-9
    browser.call("key", keys=["r"])
    assert browser.eval(get)["steps"] == 0
    browser.eval(
        """() => { for (const [id, v] of [["nca-fire", "0.25"], ["nca-angle", "90"]]) {
          const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event("input")); } }"""
    )
    assert browser.eval("() => [nca.engine.fireRate, nca.engine.angle]") == [0.25, pytest.approx(np.pi / 2)]
    browser.eval(
        """() => { const s = document.getElementById("nca-model");
          s.value = "gecko-persist-16"; s.dispatchEvent(new Event("change")); }"""
    )
    assert (
        browser.eval("() => [nca.model, document.getElementById('nca-title').textContent]") == ["gecko-persist-16"] * 2
    )
    browser.eval(f"() => nca.select('{NAME}')")
    check_clean_log(browser)


def test_steps_per_second_at_128_and_256(page: tuple[Browser, str], jax_grown: np.ndarray) -> None:
    """The grown gecko runs on 128×128 and 256×256 grids; steps/s (page counter and timed steps) recorded."""
    browser, _ = page
    results = {}
    for size in (128, 256):
        start_from(browser, jax_grown[2], size)
        browser.eval("() => nca.run(10)")  # warm up: the first draws on new textures can compile pipelines
        timed = browser.eval("() => nca.benchmark(40)")["stepsPerSecond"]
        browser.eval("() => { nca.setSpeed(0); nca.play(); }")  # the page's default: auto steps per frame
        time.sleep(2)
        shown = browser.eval("() => nca.stepsPerSecond")
        browser.eval("() => nca.pause()")
        assert browser.eval("() => document.getElementById('nca-canvas').width") == size
        results[size] = {"timed_steps_per_s": round(timed, 1), "page_steps_per_s_auto": round(shown, 1)}
    print(f"\n[web] steps/s: {results}")
    Path(artifact("web-steps-per-second.json")).write_text(json.dumps(results, indent=2))
    assert all(r["timed_steps_per_s"] > 3 for r in results.values()), results


def test_other_architectures_match_jax(page: tuple[Browser, str]) -> None:
    """Channels and hidden units that are not multiples of 4 (zero padded in the shader), another
    threshold and step size: 20 steps with given masks on the page's engine = JAX."""
    browser, _ = page
    config = nca_zoo.NCAConfig(channels=6, hidden=10, alive_threshold=0.2, step_size=0.5)
    rng = np.random.RandomState(5)
    shapes = {"dense_0": ((18, 10), (10,)), "dense_1": ((10, 6), (6,))}
    params = {k: {"kernel": rng.normal(0, 0.3, a), "bias": rng.normal(0, 0.1, b)} for k, (a, b) in shapes.items()}
    params = jax.tree.map(lambda x: np.asarray(x, np.float32), params)
    h, w, steps = 24, 28, 20
    state = np.zeros((1, h, w, 6), np.float32)
    state[0, 6:18, 8:20] = rng.uniform(-0.2, 0.9, (12, 12, 6))
    masks = random_masks(rng, steps, h, w)
    dense = jax.jit(functools.partial(model.step, config=config, angle=0.3, path="dense"))  # compiles fastest
    expected = state
    for mask in masks:
        expected = dense(params, expected, update_mask=mask[None, ..., None])
    expected = np.asarray(expected)[0]
    assert (expected[..., 3] > 0.2).sum() > 20, "the reference pattern died: the comparison would be vacuous"
    weights = np.concatenate([params[a][b].ravel() for a, b in WEIGHT_ORDER])
    got = browser.eval(
        """([weights, state, masks, h, w, steps]) => {
          const model = {name: "custom", config: {channels: 6, hidden: 10, fire_rate: 0.5, alive_threshold: 0.2,
                         step_size: 0.5}, weights: nca.base64ToFloats(weights)};
          const engine = new nca.NCA(document.createElement("canvas"), model, {height: h, width: w});
          engine.writeState(nca.base64ToFloats(state));
          engine.angle = 0.3;
          engine.step(steps, nca.base64ToFloats(masks));
          return nca.bytesToBase64(engine.readState());
        }""",
        [to_b64(weights), to_b64(state[0]), to_b64(masks), h, w, steps],
    )
    error = float(np.abs(floats(got, (h, w, 6)) - expected).max())
    print(f"\n[web] 6 channels, 10 hidden units: max |page - JAX| after {steps} steps = {error:.2e}")
    assert error <= TOL


def test_opens_from_a_file(page: tuple[Browser, str], site: Path) -> None:
    """Opening index.html directly (file://, no server) works too: everything is inline."""
    browser, _ = page
    browser.goto((site / "index.html").as_uri() + f"?model={NAME}&size=64")
    browser.wait("() => window.nca && (window.nca.ready || window.nca.error)", timeout=120)
    assert browser.eval("() => window.nca.error || null") is None
    browser.wait("() => nca.stepCount > 5", timeout=60)
    check_clean_log(browser)


# ---- what the page says when the browser cannot run it -----------------------------------------

NO_WEBGL2 = """const get = HTMLCanvasElement.prototype.getContext;
HTMLCanvasElement.prototype.getContext = function (kind, options) {
  return kind === "webgl2" ? null : get.call(this, kind, options);
};"""
NO_FLOAT_TARGETS = """const ext = WebGL2RenderingContext.prototype.getExtension;
WebGL2RenderingContext.prototype.getExtension = function (name) {
  return name === "EXT_color_buffer_float" ? null : ext.call(this, name);
};"""


@pytest.mark.parametrize(("init", "words"), [(NO_WEBGL2, "WebGL2"), (NO_FLOAT_TARGETS, "EXT_color_buffer_float")])
def test_says_what_is_missing(page: tuple[Browser, str], init: str, words: str) -> None:
    """Without WebGL2, or without float render targets, the page says so (these run last: they leave the page)."""
    browser, url = page
    browser.goto(f"{url}index.html", init=init)
    browser.wait("() => window.nca && window.nca.error")
    box = browser.eval(
        "() => [document.getElementById('nca-error').hidden, document.getElementById('nca-error').textContent]"
    )
    assert box[0] is False and words in box[1], box
