// One small interface over three browser engines, for the cross-engine suite (tests/engines/).
//
//   const engine = await launchEngine("firefox");   // "chromium" | "firefox" | "webkit"
//   await engine.open(url);                          // a fresh page at url (waits for the load event)
//   await engine.evaluate(() => document.title);     // a function (+ JSON args) or an expression string
//   await engine.waitFor(() => document.body?.dataset.ready === "1", 60_000);
//   engine.driverProblems();                         // what the driver itself reported since open()
//   await engine.close();
//
// Engines (all Debian packages; nothing is downloaded at run time; scripts/setup.sh installs them):
// - chromium: /usr/bin/chromium through playwright-core, launched exactly as tests/browser/harness.mjs does
//   (its launchBrowser/openApp are reused): headless, a fresh context per open().
// - firefox:  /usr/bin/firefox-esr through puppeteer-core over WebDriver BiDi (no separate driver),
//   headless, a fresh browser context (BiDi user context) per open().
// - webkit:   WebKitGTK's MiniBrowser through WebKitWebDriver (package webkit2gtk-driver) and
//   selenium-webdriver (W3C WebDriver classic). MiniBrowser has no headless mode: the driver gets its own
//   Xvfb (a free display chosen by Xvfb -displayfd) and its own free port; close() stops both. One session;
//   open() goes through about:blank so that every link is a full load, not a same-document hash change.
//
// What each driver can observe (`engine.observes`):
// - chromium: console errors, uncaught page errors, failed requests and HTTP errors, dialogs, and CSP
//   violations (harness.mjs's init script), in the page and in its frames.
// - firefox:  console errors, uncaught page errors, failed requests and HTTP errors, dialogs (puppeteer's
//   BiDi events), in the page and in its frames. A CSP violation arrives as a page error
//   ("Content-Security-Policy: The page's settings blocked ..."), not as a console entry.
// - webkit:   nothing. WebKitGTK 2.50's WebKitWebDriver implements WebDriver classic only (a session with
//   webSocketUrl: true is refused: "Failed to match capabilities"), so there are no console/log events and
//   no init scripts; it also has no log endpoint.
// For all three alike, tests/engines/server.mjs adds an observer script served from the page's origin (the
// only script the CSP lets run before the page's own) that records console.error, uncaught errors,
// unhandled rejections, failed sub-resources and CSP violations in window.__tdObserved (read with
// `observedProblems()`, frames included), plus CSP reports (report-uri) and HTTP statuses seen by the
// server. Together these are what "no errors" means in the suite for every engine.
import fs from "node:fs";
import net from "node:net";
import { spawn } from "node:child_process";
import { launchBrowser, openApp, CHROMIUM } from "../browser/harness.mjs";

export const ENGINES = ["chromium", "firefox", "webkit"];
export const VIEWPORT = { width: 1280, height: 900 };

export const FIREFOX = process.env.FIREFOX_PATH || "/usr/bin/firefox-esr";
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH || "/usr/bin/WebKitWebDriver";
export const XVFB = process.env.XVFB_PATH || "/usr/bin/Xvfb";

/** MiniBrowser lives under the multiarch directory of libwebkit2gtk-4.1-0. */
export function miniBrowserPath() {
  if (process.env.WEBKIT_BROWSER_PATH) return process.env.WEBKIT_BROWSER_PATH;
  for (const dir of fs.existsSync("/usr/lib") ? fs.readdirSync("/usr/lib") : []) {
    const p = `/usr/lib/${dir}/webkit2gtk-4.1/MiniBrowser`;
    if (fs.existsSync(p)) return p;
  }
  return "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
}

/** The engines to run: all three, or those named in ENGINES (comma-separated). */
export function selectedEngines(spec = process.env.ENGINES) {
  if (!spec || !spec.trim()) return [...ENGINES];
  const names = spec.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) {
    if (!ENGINES.includes(n)) throw new Error(`ENGINES: unknown engine "${n}" (known: ${ENGINES.join(", ")})`);
  }
  return [...new Set(names)];
}

/** `fn` (a function expression, called with JSON-serialisable `args`) or an expression string -> expression. */
export function toExpression(fnOrExpr, args = []) {
  if (typeof fnOrExpr === "function") return `(${fnOrExpr.toString()})(...${JSON.stringify(args)})`;
  if (args.length) throw new Error("evaluate: arguments need a function, not an expression string");
  return `(${fnOrExpr})`;
}

// Every driver evaluates the same wrapped expression and returns a JSON string, so values come back the same
// way whatever each protocol's own serialisation does (-0, NaN, undefined, nested objects).
function wrap(expr) {
  return `(async () => JSON.stringify({ v: await ${expr} }))()`;
}
function unwrap(json) {
  if (typeof json !== "string") throw new Error(`evaluate: the driver returned ${typeof json}, not a JSON string`);
  return JSON.parse(json).v;
}

const children = new Set();
process.on("exit", () => {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
});
function track(child) {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}
async function stop(child, ms = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = new Promise((r) => setTimeout(r, ms, "timeout"));
  if ((await Promise.race([exited, timer])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Common parts: waitFor and observedProblems over a driver's evaluate. */
function withHelpers(engine) {
  engine.waitFor = async (predicate, timeout = 60_000, ...args) => {
    const t0 = Date.now();
    let last;
    let lastError;
    for (;;) {
      try {
        last = await engine.evaluate(predicate, ...args);
        lastError = undefined;
        if (last) return last;
      } catch (e) {
        lastError = e; // e.g. the document is being replaced (navigation): try again
      }
      if (Date.now() - t0 > timeout) {
        const why = lastError ? `last error: ${lastError.message}` : `last value: ${JSON.stringify(last)}`;
        throw new Error(`${engine.name}: condition not met within ${timeout} ms (${why})`);
      }
      await sleep(100);
    }
  };
  /** What the observer script recorded in the page and in its same-origin frames. */
  engine.observedProblems = () =>
    engine.evaluate(() => {
      const out = [];
      const visit = (win, where) => {
        let log;
        try {
          log = win.__tdObserved;
        } catch {
          out.push(`${where}: cross-origin frame, not observed`);
          return;
        }
        if (!log) out.push(`${where}: observer script did not run (${win.location?.href})`);
        else for (const p of log) out.push(`${where}: ${p}`);
        for (let i = 0; i < win.frames.length; i++) {
          let href = "";
          try {
            href = win.frames[i].location.href;
          } catch {
            /* cross-origin */
          }
          if (href === "about:blank" || href === "") continue; // an empty frame (e.g. the embed preview)
          visit(win.frames[i], `${where} > frame ${i}`);
        }
      };
      visit(window, "page");
      return out;
    });
  return engine;
}

// ---------------------------------------------------------------- chromium (playwright-core)

async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt package chromium; run scripts/setup.sh)`);
  const browser = await launchBrowser();
  let app = null;
  const engine = {
    name: "chromium",
    version: `Chromium ${browser.version()} (playwright-core)`,
    observes: { console: true, pageErrors: true, requests: true, csp: true },
    async open(url) {
      if (app) await app.close();
      app = await openApp(browser, url, { viewport: VIEWPORT, waitReady: false });
      await app.page.waitForLoadState("load");
    },
    async evaluate(fn, ...args) {
      return unwrap(await app.page.evaluate(wrap(toExpression(fn, args))));
    },
    async driverProblems() {
      return app ? app.problems() : [];
    },
    async close() {
      if (app) await app.close();
      await browser.close().catch(() => {});
    },
  };
  return withHelpers(engine);
}

// ---------------------------------------------------------------- firefox (puppeteer-core, WebDriver BiDi)

async function launchFirefox() {
  if (!fs.existsSync(FIREFOX)) throw new Error(`${FIREFOX} not found (apt package firefox-esr; run scripts/setup.sh)`);
  const { default: puppeteer } = await import("puppeteer-core");
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    protocolTimeout: 180_000,
  });
  const version = await browser.version();
  let context = null;
  let page = null;
  let problems = [];
  const engine = {
    name: "firefox",
    version: `${version} (puppeteer-core, WebDriver BiDi)`,
    observes: { console: true, pageErrors: true, requests: true, csp: true },
    async open(url) {
      if (context) await context.close().catch(() => {});
      problems = [];
      context = await browser.createBrowserContext();
      page = await context.newPage();
      await page.setViewport(VIEWPORT);
      const base = new URL(url).origin;
      page.on("console", (m) => {
        if (m.type() !== "error") return;
        const loc = m.location();
        problems.push(`console.error: ${m.text()}${loc?.url ? ` (${loc.url}:${loc.lineNumber})` : ""}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e?.stack || e?.message || e}`));
      page.on("requestfailed", (r) => {
        if (/\/favicon\.ico$/.test(r.url())) return;
        // cancelled because the document navigated away (a routing link replaces index.html): not an error
        if (r.failure()?.errorText === "NS_BINDING_ABORTED") return;
        problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ""}`);
      });
      page.on("response", (r) => {
        if (r.status() >= 400 && r.url().startsWith(base) && !/\/favicon\.ico$/.test(r.url())) {
          problems.push(`HTTP ${r.status()}: ${r.url()}`);
        }
      });
      page.on("dialog", (d) => {
        problems.push(`dialog: ${d.type()}: ${d.message()}`);
        d.dismiss().catch(() => {});
      });
      await page.goto(url, { waitUntil: "load", timeout: 120_000 });
    },
    async evaluate(fn, ...args) {
      return unwrap(await page.evaluate(wrap(toExpression(fn, args))));
    },
    async driverProblems() {
      return [...problems];
    },
    async close() {
      if (context) await context.close().catch(() => {});
      await browser.close().catch(() => {});
    },
  };
  return withHelpers(engine);
}

// ---------------------------------------------------------------- webkit (WebKitWebDriver + selenium-webdriver)

/** Start Xvfb on a display it picks itself (-displayfd); resolves to { display, proc }. */
async function startXvfb() {
  if (!fs.existsSync(XVFB)) throw new Error(`${XVFB} not found (apt package xvfb; run scripts/setup.sh)`);
  const proc = track(
    spawn(XVFB, ["-displayfd", "3", "-screen", "0", "1920x1200x24", "-nolisten", "tcp", "-noreset"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    }),
  );
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const display = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`Xvfb did not report a display within 10 s: ${stderr}`)), 10_000);
    proc.stdio[3].on("data", (d) => {
      out += d;
      const m = /(\d+)\s*\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`:${m[1]}`);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited (${code}): ${stderr.trim()}`));
    });
  });
  return { display, proc };
}

async function launchWebKit() {
  const binary = miniBrowserPath();
  if (!fs.existsSync(WEBKIT_DRIVER)) {
    throw new Error(`${WEBKIT_DRIVER} not found (apt package webkit2gtk-driver; run scripts/setup.sh)`);
  }
  if (!fs.existsSync(binary)) throw new Error(`${binary} not found (apt package libwebkit2gtk-4.1-0; run scripts/setup.sh)`);
  const { Builder } = await import("selenium-webdriver");
  const xvfb = await startXvfb();
  let driverProc;
  let driver;
  try {
    const port = await freePort();
    driverProc = track(
      spawn(WEBKIT_DRIVER, [`--port=${port}`], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, DISPLAY: xvfb.display },
      }),
    );
    let driverLog = "";
    driverProc.stdout.on("data", (d) => (driverLog += d));
    driverProc.stderr.on("data", (d) => (driverLog += d));
    const server = `http://127.0.0.1:${port}`;
    const t0 = Date.now();
    for (;;) {
      if (driverProc.exitCode !== null) throw new Error(`WebKitWebDriver exited (${driverProc.exitCode}): ${driverLog.trim()}`);
      try {
        const r = await fetch(`${server}/status`);
        if (r.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() - t0 > 15_000) throw new Error(`WebKitWebDriver did not answer on ${server} within 15 s: ${driverLog.trim()}`);
      await sleep(100);
    }
    driver = await new Builder()
      .usingServer(server)
      .withCapabilities({
        browserName: "MiniBrowser",
        "webkitgtk:browserOptions": { binary, args: ["--automation"] },
      })
      .build();
    await driver.manage().setTimeouts({ script: 180_000, pageLoad: 120_000 });
    // The window includes MiniBrowser's own chrome: size it so that the viewport is VIEWPORT.
    await driver.manage().window().setRect({ x: 0, y: 0, width: VIEWPORT.width, height: VIEWPORT.height });
    const inner = await driver.executeScript("return [window.innerWidth, window.innerHeight]");
    const rect = await driver.manage().window().getRect();
    await driver.manage().window().setRect({
      width: rect.width + (VIEWPORT.width - inner[0]),
      height: rect.height + (VIEWPORT.height - inner[1]),
    });
    const caps = await driver.getCapabilities();
    const engine = {
      name: "webkit",
      version: `WebKitGTK ${caps.get("browserVersion")} MiniBrowser (WebKitWebDriver + selenium-webdriver) on Xvfb ${xvfb.display}`,
      observes: { console: false, pageErrors: false, requests: false, csp: false },
      async open(url) {
        await driver.get("about:blank");
        await driver.get(url);
      },
      async evaluate(fn, ...args) {
        return unwrap(await driver.executeScript(`return ${wrap(toExpression(fn, args))};`));
      },
      async driverProblems() {
        return [];
      },
      async close() {
        await driver.quit().catch(() => {});
        await stop(driverProc);
        await stop(xvfb.proc);
      },
    };
    return withHelpers(engine);
  } catch (e) {
    if (driver) await driver.quit().catch(() => {});
    await stop(driverProc);
    await stop(xvfb.proc);
    throw e;
  }
}

const LAUNCHERS = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebKit };

/** Launch one engine; throws a clear error when it cannot start on this machine. */
export async function launchEngine(name) {
  const launch = LAUNCHERS[name];
  if (!launch) throw new Error(`unknown engine "${name}" (known: ${ENGINES.join(", ")})`);
  try {
    return await launch();
  } catch (e) {
    throw new Error(
      `${name} could not start on this machine: ${e.message}\n` +
        `  (scripts/setup.sh installs all three engines; ENGINES=${ENGINES.filter((n) => n !== name).join(",")} runs without it)`,
    );
  }
}
