// A headless Chromium (the system's, via playwright-core) driven over stdin/stdout, for pytest.
//
// usage: node browser.js [CHROMIUM]       (default: $CHROMIUM or /usr/bin/chromium)
// Reads one JSON command per line on stdin, answers one JSON line {id, ok, result | error} each:
//   {op: "goto", url, width?, height?, touch?, init?}  a fresh page (context) at url; `init` is a
//       script run before the page's own. Every request that is not to 127.0.0.1/localhost
//       (or file:, data:) is aborted and recorded; console errors and page errors are recorded.
//   {op: "eval", fn, arg?}       the result of the JS function source `fn` called with `arg` (awaited)
//   {op: "wait", fn, arg?, timeout?}  wait until `fn(arg)` is truthy in the page
//   {op: "mouse", actions: [[kind, ...args], ...]}  kind: move x y [steps] | down | up | dblclick x y
//   {op: "touch", points: [[x, y], ...]}  a one-finger drag through the points (CDP touch events)
//   {op: "key", keys: ["Space", ...]}     key presses
//   {op: "screenshot", path, selector?}   a PNG of the page or of one element
//   {op: "log"}                  {console: [...], errors: [...], requests: [...], blocked: [...]}
//   {op: "info"}                 the browser version and the WebGL renderer
//   {op: "close"}
"use strict";
const readline = require("readline");
const { chromium } = require("playwright-core");

const ARGS = [
  "--use-angle=swiftshader", // software WebGL2 (SwiftShader), the same on every machine
  "--enable-unsafe-swiftshader",
  "--ignore-gpu-blocklist",
  "--no-sandbox",
  "--disable-dev-shm-usage",
];

async function main() {
  const executablePath = process.argv[2] || process.env.CHROMIUM || "/usr/bin/chromium";
  const browser = await chromium.launch({ executablePath, headless: true, args: ARGS });
  let context = null;
  let page = null;
  let log = null;

  const ops = {
    async goto({ url, width = 1100, height = 900, touch = false, init = null }) {
      if (context) await context.close();
      context = await browser.newContext({ viewport: { width, height }, hasTouch: touch, deviceScaleFactor: 1 });
      log = { console: [], errors: [], requests: [], blocked: [] };
      await context.route("**/*", (route) => {
        const u = route.request().url();
        const local = /^(https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/|file:|data:|blob:|about:)/.test(u);
        if (local) {
          log.requests.push(u);
          return route.continue();
        }
        log.blocked.push(u);
        return route.abort();
      });
      page = await context.newPage();
      if (init) await page.addInitScript({ content: init });
      page.on("console", (m) => log.console.push({ type: m.type(), text: m.text() }));
      page.on("pageerror", (e) => log.errors.push(String(e && e.stack ? e.stack : e)));
      page.on("requestfailed", (r) => log.errors.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
      page.on("response", (r) => {
        if (r.status() >= 400) log.errors.push(`HTTP ${r.status()}: ${r.url()}`);
      });
      await page.goto(url, { waitUntil: "load" });
      return page.url();
    },
    async eval({ fn, arg = null }) {
      return page.evaluate(`(${fn})(${JSON.stringify(arg)})`);
    },
    async wait({ fn, arg = null, timeout = 30000 }) {
      // Polled from here with page.evaluate (CDP): page.waitForFunction would poll with an in-page
      // eval, which the exported page's Content-Security-Policy (no 'unsafe-eval') forbids.
      const deadline = Date.now() + timeout;
      for (;;) {
        if (await page.evaluate(`(${fn})(${JSON.stringify(arg)})`)) return true;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${fn}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async mouse({ actions }) {
      for (const [kind, ...a] of actions) {
        if (kind === "move") await page.mouse.move(a[0], a[1], { steps: a[2] || 1 });
        else if (kind === "down") await page.mouse.down();
        else if (kind === "up") await page.mouse.up();
        else if (kind === "dblclick") await page.mouse.dblclick(a[0], a[1]);
        else throw new Error(`unknown mouse action ${kind}`);
      }
      return true;
    },
    async touch({ points }) {
      const cdp = await context.newCDPSession(page);
      const send = (type, p) =>
        cdp.send("Input.dispatchTouchEvent", { type, touchPoints: p ? [{ x: p[0], y: p[1], id: 1 }] : [] });
      await send("touchStart", points[0]);
      for (const p of points.slice(1)) await send("touchMove", p);
      await send("touchEnd", null);
      await cdp.detach();
      return true;
    },
    async key({ keys }) {
      for (const k of keys) await page.keyboard.press(k);
      return true;
    },
    async screenshot({ path, selector = null }) {
      if (selector) await page.locator(selector).screenshot({ path });
      else await page.screenshot({ path });
      return path;
    },
    async log() {
      return log;
    },
    async info() {
      const renderer = page
        ? await page.evaluate(() => {
            const gl = document.createElement("canvas").getContext("webgl2");
            const ext = gl && gl.getExtension("WEBGL_debug_renderer_info");
            return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : null;
          })
        : null;
      return { version: browser.version(), renderer };
    },
  };

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  const reply = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
  for await (const line of rl) {
    if (!line.trim()) continue;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (err) {
      reply({ id: null, ok: false, error: `bad command: ${err}` });
      continue;
    }
    if (cmd.op === "close") break;
    try {
      if (!ops[cmd.op]) throw new Error(`unknown op ${cmd.op}`);
      reply({ id: cmd.id, ok: true, result: await ops[cmd.op](cmd) });
    } catch (err) {
      reply({ id: cmd.id, ok: false, error: String(err && err.stack ? err.stack : err) });
    }
  }
  rl.close();
  await browser.close();
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ id: null, ok: false, error: String(err && err.stack ? err.stack : err) }) + "\n");
  process.exit(1);
});
