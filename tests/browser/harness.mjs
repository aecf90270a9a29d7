// Shared helpers for the headless-browser tests and the browser bench.
//
// - serves dist/ in-process with scripts/static-server.mjs (WITH the production CSP) on a random port;
// - launches Debian's /usr/bin/chromium through playwright-core (never a downloaded browser);
// - opens pages and records console errors, uncaught page errors, failed requests and CSP violations;
//   `app.assertNoErrors()` fails the test on any of them;
// - waits for the page contract's readiness flags (body[data-ready="1"], body[data-busy="0"]);
// - reads canvas pixels (statistics + a hash) so tests can prove a canvas is drawn and that it changed.
import fs from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer, CSP } from "../../scripts/static-server.mjs";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const DIST = path.resolve(process.env.DIST_DIR || path.join(REPO, "dist"));
export const RESULTS = path.join(REPO, "test-results");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const CANVASES = ["#simplex-canvas", "#series-canvas", "#logits-canvas"];
export const READY_TIMEOUT = Number(process.env.READY_TIMEOUT_MS || 30_000);

/** Launch headless Chromium. Playwright's launch() gives every browser a fresh temporary user-data-dir. */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: run scripts/setup.sh (installs Debian's chromium)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** Serve `root` (default dist/) with the CSP on 127.0.0.1:<random>. */
export async function serveDist({ root = DIST, csp = true } = {}) {
  if (!fs.existsSync(path.join(root, "index.html"))) {
    throw new Error(
      `${root}/index.html missing: build first (PATH=$PWD/node_modules/.bin:$PATH trunk build --release --offline)`,
    );
  }
  return startServer({ root, port: 0, csp });
}

/**
 * One server + one browser for a whole test file.
 * Usage: const suite = await startSuite(); ... const app = await suite.open("#next-token?T=2"); ... await suite.close();
 */
export async function startSuite(opts = {}) {
  const server = await serveDist(opts);
  let browser;
  try {
    browser = await launchBrowser();
  } catch (e) {
    await server.close();
    throw e;
  }
  const contexts = new Set();
  return {
    url: server.url,
    browser,
    /** Open the app at `hash` (e.g. "#next-token?T=0.5"); see openApp for options. */
    async open(hash = "", options = {}) {
      const app = await openApp(browser, server.url + hash, options);
      contexts.add(app.context);
      app.context.on("close", () => contexts.delete(app.context));
      return app;
    },
    /**
     * Open a host page (`html`, served on the app's origin at /__host/<name>.html with the same CSP,
     * plus optional extra files) that embeds the app in iframes. Messages posted to the host window
     * are recorded in window.__messages as {frame: <iframe index or -1>, data}.
     */
    async openHost(html, { name = "host", files = {}, ...options } = {}) {
      const routes = { [`__host/${name}.html`]: { body: html, contentType: "text/html; charset=utf-8" } };
      for (const [file, body] of Object.entries(files)) {
        routes[`__host/${file}`] = { body, contentType: file.endsWith(".js") ? "text/javascript" : "text/plain" };
      }
      const app = await openApp(browser, `${server.url}__host/${name}.html`, {
        ...options,
        routes,
        waitReady: false,
        initScripts: [...(options.initScripts || []), recordHostMessages],
      });
      contexts.add(app.context);
      app.context.on("close", () => contexts.delete(app.context));
      return app;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close().catch(() => {});
      await server.close();
    },
  };
}

/** A page wrapper with error collection. */
export async function openApp(
  browser,
  url,
  {
    viewport = { width: 1280, height: 900 },
    deviceScaleFactor = 1,
    isMobile = false,
    hasTouch = false,
    reducedMotion = "no-preference",
    waitReady = true,
    timeout = READY_TIMEOUT,
    initScripts = [],
    routes = {},
    colorScheme = "light",
    acceptDownloads = true,
  } = {},
) {
  const context = await browser.newContext({
    viewport, deviceScaleFactor, isMobile, hasTouch, reducedMotion, colorScheme, acceptDownloads,
  });
  const origin = new URL(url).origin;
  for (const [route, { body, contentType }] of Object.entries(routes)) {
    await context.route(`${origin}/${route}`, (r) =>
      r.fulfill({ status: 200, body, headers: { "Content-Type": contentType, "Content-Security-Policy": CSP } }),
    );
  }
  const page = await context.newPage();
  const errors = [];
  const dialogs = [];
  /** Every URL the page requested, in order (download budgets, routing). */
  const requests = [];
  const base = new URL(url).origin;
  page.on("request", (req) => requests.push(req.url()));

  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const loc = msg.location();
    // Chromium asks for /favicon.ico on its own; a missing one is not the page's error.
    if (loc && /\/favicon\.ico$/.test(loc.url || "")) return;
    errors.push(`console.error: ${msg.text()}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ""}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.stack || err.message || err}`));
  page.on("requestfailed", (req) => {
    if (/\/favicon\.ico$/.test(req.url())) return;
    // A frame that navigates away cancels its own loads (the embed dialog's preview loads a new
    // document when an option changes): an abort in a child frame is not a failure.
    let child = false;
    try { child = req.frame() !== page.mainFrame(); } catch { child = false; }
    if (child && /ERR_ABORTED|NS_BINDING_ABORTED/.test(req.failure()?.errorText ?? "")) return;
    errors.push(`requestfailed: ${req.url()} ${req.failure()?.errorText ?? ""}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 400 && res.url().startsWith(base) && !/\/favicon\.ico$/.test(res.url())) {
      errors.push(`HTTP ${res.status()}: ${res.url()}`);
    }
  });
  page.on("crash", () => errors.push("page crashed"));
  page.on("dialog", (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });

  // Runs before any page script: record CSP violations (which also show as console errors) and every
  // <img> ever inserted (the hostile-label test), even if removed again.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    window.__imgInserted = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber}`);
    });
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType !== 1) continue;
          const imgs = n.tagName === "IMG" ? [n] : [...n.querySelectorAll("img")];
          for (const i of imgs) window.__imgInserted.push(i.outerHTML);
        }
      }
    }).observe(document, { childList: true, subtree: true });
  });
  for (const s of initScripts) await page.addInitScript(s);

  await page.goto(url, { waitUntil: waitReady ? "load" : "commit" });
  if (waitReady) await waitIdle(page, timeout);

  const app = {
    page,
    context,
    errors,
    dialogs,
    requests,
    async cspViolations() {
      return page.evaluate(() => window.__cspViolations || []).catch(() => []);
    },
    /** All problems seen so far (console errors, page errors, failed requests, CSP violations). */
    async problems() {
      const csp = await app.cspViolations();
      return [...errors, ...csp.map((v) => `CSP violation: ${v}`), ...dialogs.map((d) => `dialog: ${d}`)];
    },
    async assertNoErrors() {
      const p = await app.problems();
      assert.deepEqual(p, [], `page reported problems:\n  ${p.join("\n  ")}`);
    },
    async close() {
      await context.close().catch(() => {});
    },
  };
  return app;
}

/** Init script for host pages: records every message the top window receives, with the sender's iframe index. */
function recordHostMessages() {
  if (window !== window.top) return;
  window.__messages = [];
  window.addEventListener("message", (e) => {
    const frames = [...document.querySelectorAll("iframe")];
    window.__messages.push({ frame: frames.findIndex((f) => f.contentWindow === e.source), data: e.data, at: performance.now() });
  });
}

/** The Playwright Frame of the `index`-th iframe of a host page, once its app is ready and idle. */
export async function embeddedFrame(page, index = 0, timeout = READY_TIMEOUT) {
  const handle = await page.waitForSelector(`iframe >> nth=${index}`, { state: "attached", timeout });
  const t0 = Date.now();
  let frame = await handle.contentFrame();
  while (!frame && Date.now() - t0 < timeout) {
    await page.waitForTimeout(50);
    frame = await handle.contentFrame();
  }
  if (!frame) throw new Error(`iframe ${index} has no frame`);
  await frame.waitForFunction(
    () => document.body && document.body.dataset.ready === "1" && document.body.dataset.busy === "0",
    null,
    { timeout, polling: 50 },
  );
  await nextFrames(frame, 2);
  return frame;
}

/** Wait until the contract says: wasm started, first scene painted, and nothing computing. */
export async function waitIdle(page, timeout = READY_TIMEOUT) {
  try {
    await page.waitForFunction(
      () => document.body && document.body.dataset.ready === "1" && document.body.dataset.busy === "0",
      null,
      { timeout, polling: 50 },
    );
  } catch (e) {
    const flags = await page
      .evaluate(() => ({ ready: document.body?.dataset.ready, busy: document.body?.dataset.busy, hash: location.hash }))
      .catch(() => ({}));
    throw new Error(`page not ready+idle within ${timeout} ms (flags: ${JSON.stringify(flags)}): ${e.message}`);
  }
  // let the frame that follows the last paint happen
  await nextFrames(page, 2);
}

export function nextFrames(page, n = 1) {
  return page.evaluate(
    (n) =>
      new Promise((resolve) => {
        const step = (k) => (k <= 0 ? resolve() : requestAnimationFrame(() => step(k - 1)));
        step(n);
      }),
    n,
  );
}

/**
 * Pixel statistics of a canvas, read by copying it into an OffscreenCanvas (works whatever context the
 * page uses). Background = the most frequent colour; `nonBgFrac` = share of pixels differing from it by
 * more than `tol` in any channel; `hash` = FNV-1a of all RGBA bytes (changes when anything is redrawn
 * differently). Returns null when the element does not exist.
 */
export async function canvasStats(page, selector, tol = 8) {
  return page.evaluate(
    ({ selector, tol }) => {
      const c = document.querySelector(selector);
      if (!c) return null;
      const w = c.width | 0;
      const h = c.height | 0;
      const rect = c.getBoundingClientRect();
      const base = { selector, width: w, height: h, cssWidth: rect.width, cssHeight: rect.height };
      if (!w || !h) return { ...base, total: 0, nonBg: 0, nonBgFrac: 0, distinct: 0, hash: "empty" };
      const off = new OffscreenCanvas(w, h);
      const ctx = off.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(c, 0, 0);
      const data = ctx.getImageData(0, 0, w, h).data;
      const px = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
      const counts = new Map();
      let hash = 0x811c9dc5;
      for (let i = 0; i < px.length; i++) {
        const v = px[i];
        counts.set(v, (counts.get(v) || 0) + 1);
        hash ^= v;
        hash = Math.imul(hash, 16777619) >>> 0;
      }
      let bg = 0;
      let bgCount = -1;
      for (const [v, n] of counts) if (n > bgCount) (bg = v), (bgCount = n);
      const br = bg & 255, bgG = (bg >>> 8) & 255, bb = (bg >>> 16) & 255, ba = bg >>> 24;
      let nonBg = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (
          Math.abs(data[i] - br) > tol ||
          Math.abs(data[i + 1] - bgG) > tol ||
          Math.abs(data[i + 2] - bb) > tol ||
          Math.abs(data[i + 3] - ba) > tol
        ) nonBg++;
      }
      return {
        ...base,
        total: px.length,
        nonBg,
        nonBgFrac: nonBg / px.length,
        distinct: counts.size,
        background: [br, bgG, bb, ba],
        hash: hash.toString(16).padStart(8, "0"),
      };
    },
    { selector, tol },
  );
}

/** Assert that a canvas exists, has a size, and more than `minFrac` of its pixels are not background. */
export async function assertCanvasDrawn(page, selector, minFrac = 0.02) {
  const s = await canvasStats(page, selector);
  assert.ok(s, `${selector} does not exist`);
  assert.ok(s.width > 0 && s.height > 0, `${selector} has no size: ${JSON.stringify(s)}`);
  assert.ok(s.cssWidth > 0 && s.cssHeight > 0, `${selector} is not laid out: ${JSON.stringify(s)}`);
  assert.ok(
    s.nonBgFrac > minFrac,
    `${selector}: only ${(100 * s.nonBgFrac).toFixed(2)}% non-background pixels (need > ${100 * minFrac}%): ${JSON.stringify(s)}`,
  );
  assert.ok(s.distinct >= 3, `${selector}: only ${s.distinct} distinct colours`);
  return s;
}

/** Poll until the canvas hash differs from `prevHash`; returns the new stats or throws after `timeout`. */
export async function waitCanvasChange(page, selector, prevHash, timeout = 5_000) {
  const t0 = Date.now();
  let s;
  while (Date.now() - t0 < timeout) {
    s = await canvasStats(page, selector);
    if (s && s.hash !== prevHash) return s;
    await page.waitForTimeout(50);
  }
  throw new Error(`${selector} did not change within ${timeout} ms (hash still ${prevHash})`);
}

/** Parse "#next-token?T=1&flow=entropic" into { route: "next-token", params: {T: "1", flow: "entropic"} }. */
export function parseHash(hash) {
  const h = String(hash || "").replace(/^#/, "");
  const q = h.indexOf("?");
  const route = q < 0 ? h : h.slice(0, q);
  const params = {};
  if (q >= 0) {
    for (const part of h.slice(q + 1).split("&")) {
      if (!part) continue;
      const eq = part.indexOf("=");
      const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
      const v = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, " "));
      params[k] = v;
    }
  }
  return { route, params };
}

/** Wait until location.hash satisfies `pred(params)` (the page throttles replaceState ~150 ms). */
export async function waitHash(page, pred, timeout = 3_000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeout) {
    last = await page.evaluate(() => location.hash);
    if (pred(parseHash(last).params)) return parseHash(last);
    await page.waitForTimeout(50);
  }
  throw new Error(`location.hash never satisfied the condition within ${timeout} ms; last: ${last}`);
}

export async function screenshot(page, name) {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// ---------- small maths helpers, written independently of the page ----------

export function softmax(x) {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}
export function entropy(p) {
  return -p.reduce((acc, v) => (v > 0 ? acc + v * Math.log(v) : acc), 0);
}
/** F(p) = <p,s> + T·H(p) */
export function freeEnergy(p, s, T = 1) {
  return p.reduce((acc, v, i) => acc + v * s[i], 0) + T * entropy(p);
}

export function median(xs) {
  const a = [...xs].sort((x, y) => x - y);
  const n = a.length;
  if (!n) return NaN;
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}
/** Nearest-rank percentile. */
export function percentile(xs, q) {
  const a = [...xs].sort((x, y) => x - y);
  if (!a.length) return NaN;
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))];
}

/** Sets a control through its own widget: the typed entry beside a slider, a select, or a text field. */
export async function setControl(page, key, value) {
  const id = `#ctl-${key}`;
  const kind = await page.evaluate((id) => {
    const el = document.querySelector(id);
    return el ? `${el.tagName}:${el.type}` : null;
  }, id);
  assert.ok(kind, `no control ${id}`);
  if (kind.startsWith("SELECT")) {
    await page.selectOption(id, value);
  } else if (kind.startsWith("TEXTAREA")) {
    // A multi-line box applies on change, i.e. when it loses the focus.
    await page.fill(id, value);
    await page.locator(id).blur();
  } else if (kind === "INPUT:range") {
    // Sliders carry a typed entry beside them: type there (what a keyboard user does).
    await page.fill(`${id}-num`, value);
    await page.press(`${id}-num`, "Enter");
  } else {
    await page.fill(id, value);
    await page.press(id, "Enter");
  }
}

/** Clicks `selector` (or runs `action`) and returns {name, bytes} of the download it causes. */
export async function download(page, action) {
  const [dl] = await Promise.all([
    page.waitForEvent("download", { timeout: 30_000 }),
    typeof action === "function" ? action() : page.click(action),
  ]);
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(await dl.path()) };
}

/**
 * Polls a page that is computing until it is ready and idle, asserting every probe returns within
 * 1 s (the main thread never freezes). Returns {ms, probes, worst, sawBusy} (sawBusy: the busy flag
 * was seen with the progress bar shown).
 */
export async function probeUntilReady(page, { limitMs = 120_000, everyMs = 25 } = {}) {
  const t0 = Date.now();
  let sawBusy = false;
  let worst = 0;
  let probes = 0;
  for (;;) {
    const a = Date.now();
    const flags = await Promise.race([
      page.evaluate(() => ({
        ready: document.body?.dataset.ready,
        busy: document.body?.dataset.busy,
        progress: !document.querySelector("#progress")?.hidden,
      })),
      new Promise((_, rej) => setTimeout(() => rej(new Error("page.evaluate did not return within 1 s")), 1_000)),
    ]);
    const dt = Date.now() - a;
    probes++;
    worst = Math.max(worst, dt);
    assert.ok(dt < 1_000, `main thread blocked for ${dt} ms`);
    if (flags.busy === "1" && flags.progress) sawBusy = true;
    if (flags.ready === "1" && flags.busy === "0") break;
    assert.ok(Date.now() - t0 < limitMs, `not ready within ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return { ms: Date.now() - t0, probes, worst, sawBusy };
}
