"""Steps per second of the ``web`` export's page in headless Chromium (software WebGL2, SwiftShader).

Exports an entry (default: gecko), serves it on 127.0.0.1 and opens it in the system's Chromium
through tests/web/browser.js (needs `npm ci` in tests/web and Chromium, as the browser tests do).
For each grid size the pattern first grows from the seed (200 steps), then:

- timed: ``window.nca.benchmark(n)``, n steps issued at once and waited for, no drawing (the
  engine's throughput), median of ``--repeats`` runs;
- page: the page playing as a user sees it, with drawing, at its default steps per frame (auto)
  and at 8 steps per frame: the steps/s it shows, median of one reading a second.

Prints a Markdown table (machine, date, versions, load average) to paste into BENCHMARKS.md.

    .venv/bin/python benchmarks/bench_web.py                      # 128×128 and 256×256
    .venv/bin/python benchmarks/bench_web.py --sizes 96 --repeats 3
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "web"))

import chromium  # noqa: E402  (tests/web/chromium.py)

from nca_zoo.machine import cpu_model  # noqa: E402


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def measure(browser: chromium.Browser, url: str, size: int, repeats: int, steps: int, seconds: float) -> dict:
    browser.goto(f"{url}index.html?paused=1&size={size}")
    browser.wait("() => window.nca && (window.nca.ready || window.nca.error)", timeout=180)
    error = browser.eval("() => window.nca.error || null")
    if error:
        raise SystemExit(f"the page did not start: {error}")
    browser.eval("() => nca.run(200)", timeout=600)
    browser.eval("() => nca.benchmark(20)", timeout=600)  # warm-up
    timed = [browser.eval(f"() => nca.benchmark({steps})", timeout=600)["stepsPerSecond"] for _ in range(repeats)]
    result = {"size": size, "timed": statistics.median(timed), "timed_all": timed}
    for label, speed in (("auto", 0), ("8/frame", 8)):
        browser.eval(f"() => {{ nca.setSpeed({speed}); nca.play(); }}")
        time.sleep(1.5)
        readings = []
        for _ in range(max(int(seconds), 1)):
            time.sleep(1)
            readings.append(browser.eval("() => nca.stepsPerSecond"))
        browser.eval("() => nca.pause()")
        result[label] = statistics.median(readings)
    result["region"] = browser.eval("() => nca.engine.region")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gecko", help="zoo entry (default: gecko)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size (median)")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed run")
    parser.add_argument("--seconds", type=float, default=5, help="seconds of page readings per speed")
    args = parser.parse_args(argv)
    reason = chromium.missing()
    if reason:
        print(f"bench_web: {reason}", file=sys.stderr)
        return 2
    from nca_zoo.export import export

    load_before, started = load(), datetime.datetime.now()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        export(args.model, "web", site)
        browser = chromium.Browser(timeout=900)
        try:
            with chromium.serve(site) as url:
                for size in args.sizes:
                    rows.append(measure(browser, url, size, args.repeats, args.steps, args.seconds))
                    print(f"# {size}: {rows[-1]}", file=sys.stderr, flush=True)
                info = browser.call("info")
        finally:
            browser.close()
    command = "python benchmarks/bench_web.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average {load_before} before, {load()} after.")
    print(f"Chromium {info['version']} headless, WebGL2 renderer: {info['renderer']}.")
    print(f"Date: {started:%Y-%m-%d %H:%M}. Command: `{command.strip()}` (model `{args.model}`).\n")
    print(
        "| grid | timed steps/s (no drawing, median) | page steps/s, auto steps/frame | page steps/s, 8 steps/frame |"
    )
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']}×{r['size']} | {r['timed']:.1f} | {r['auto']:.1f} | {r['8/frame']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
