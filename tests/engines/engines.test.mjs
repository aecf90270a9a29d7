// Cross-engine suite: the same links in Chromium, Firefox and WebKit, and their readouts bit-identical.
//
//   node --test --test-concurrency=1 tests/engines/        (scripts/test-engines.sh runs it; needs a built dist/)
//   ENGINES=chromium,firefox node --test ...                 (only these engines; default: all three)
//
// dist/ is served with the production CSP (scripts/static-server.mjs behind tests/engines/server.mjs, which
// adds an observer script and CSP reporting so that every engine is observed alike; see drivers.mjs for what
// each driver can see itself). Engines run one after the other. For every engine and link the suite asserts:
// the page becomes ready (and idle; the energy lab: trained weights loaded) within a timeout; no console error,
// uncaught error, failed request, HTTP error or CSP violation; every visible canvas is drawn; the link's own
// checks (the state it asked for, the embed layout, the routing). Then, per link, that
// JSON.stringify(tokenDynamics.readout()), the state hash and the message banner are byte-identical across
// the engines (the first difference is printed: byte offset, key path, each engine's value). Canvas pixels are
// only reported (text rasterisation differs between engines), not compared.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DIST, RESULTS, REPO } from "../browser/harness.mjs";
import { startServer } from "../../scripts/static-server.mjs";
import { launchEngine, selectedEngines } from "./drivers.mjs";
import { startObservedServer } from "./server.mjs";
import { firstDifference, countDifferences } from "./compare.mjs";

const ENGINES = selectedEngines();
const OUT = path.join(RESULTS, "engines");
const READY_MS = Number(process.env.ENGINES_READY_TIMEOUT_MS || 120_000);
const HEAVY_MS = Number(process.env.ENGINES_HEAVY_TIMEOUT_MS || 240_000);

// ------------------------------------------------------------------------------------------------ the links
/** requestChecks of a heavy link: the page's worker (www/worker.js?explorer=...) computed it. */
const computedInWorker = (explorer) => (requests) =>
  requests.some((r) => r.url.includes(`/worker.js?explorer=${explorer}`))
    ? []
    : [`the ${explorer} worker was never requested: the page computed the heavy scene itself`];

// The real-model panel's checkpoint: a fixture folder served by a second origin with CORS, as a
// static host would (its URL is known once that server runs).
const FIXTURES = path.join(REPO, "crates", "checkpoint", "tests", "fixtures");
let fixtureServer;

// `checks` runs in the page (no closure) and returns a list of failed expectations. `act` (optional) runs in
// the page once it is ready, and `acted` is then waited for, as the reader's next step.
const LINKS = [
  {
    id: "next-token default",
    path: "index.html",
    checks: () => {
      const f = [];
      const r = tokenDynamics.readout();
      if (document.body.dataset.explorer !== "next-token") f.push(`explorer ${document.body.dataset.explorer}`);
      if (r.done !== true) f.push("readout.done is not true");
      if (!Array.isArray(r.p) || r.p.length !== 3) f.push(`p has ${r.p?.length} entries, expected 3`);
      return f;
    },
  },
  {
    id: "next-token V=50257",
    path: "index.html#next-token?v=1&gen=zipf&V=50257&seed=7&flow=entropic&p0=uniform",
    timeout: HEAVY_MS,
    checks: () => {
      const f = [];
      const s = tokenDynamics.state();
      const r = tokenDynamics.readout();
      if (String(s.V) !== "50257") f.push(`state V = ${s.V}`);
      if (s.flow !== "entropic" || s.gen !== "zipf") f.push(`state flow/gen = ${s.flow}/${s.gen}`);
      if (r.p?.length !== 50257) f.push(`p has ${r.p?.length} entries, expected 50257`);
      if (r.done !== true) f.push("readout.done is not true");
      return f;
    },
    requestChecks: computedInWorker("next-token"),
  },
  {
    id: "next-token compare top-p",
    path: "index.html#next-token?v=1&flow=compare&T=0.5&trunc=top-p&top_p=0.8",
    checks: () => {
      const f = [];
      const s = tokenDynamics.state();
      const r = tokenDynamics.readout();
      if (s.trunc !== "top-p" || String(s.top_p) !== "0.8" || String(s.T) !== "0.5") f.push(`state ${JSON.stringify(s)}`);
      if (!r.compare) f.push("no compare readout");
      return f;
    },
  },
  {
    id: "attention n=256",
    path: "attention.html#attention?v=1&n=256",
    timeout: HEAVY_MS,
    checks: () => {
      const f = [];
      const r = tokenDynamics.readout();
      if (r.explorer !== "attention") f.push(`explorer ${r.explorer}`);
      if (r.done !== true) f.push("readout.done is not true");
      if (r.panels?.[0]?.n !== 256) f.push(`n = ${r.panels?.[0]?.n}`);
      return f;
    },
  },
  {
    // heavy enough for the worker (tests/browser/worker.test.mjs uses the same link)
    id: "attention n=300 d=3 (worker)",
    path: "attention.html#attention?v=1&n=300&d=3&steps=120",
    timeout: HEAVY_MS,
    checks: () => {
      const f = [];
      const r = tokenDynamics.readout();
      if (r.done !== true) f.push("readout.done is not true");
      if (r.panels?.[0]?.n !== 300) f.push(`n = ${r.panels?.[0]?.n}`);
      return f;
    },
    requestChecks: computedInWorker("attention"),
  },
  {
    id: "attention compare preset",
    path: "attention.html#attention?v=1&rule=compare&init=fig2-nonleader&steps=60&delta=0.3",
    checks: () => {
      const f = [];
      const s = tokenDynamics.state();
      const r = tokenDynamics.readout();
      if (s.rule !== "compare" || s.init !== "fig2-nonleader") f.push(`state ${JSON.stringify(s)}`);
      if (!(r.panels?.length >= 2)) f.push(`${r.panels?.length} panels, expected several`);
      if (r.done !== true) f.push("readout.done is not true");
      return f;
    },
  },
  {
    id: "energy default (trained)",
    path: "energy.html",
    model: true,
    timeout: HEAVY_MS,
    checks: () => {
      const f = [];
      const r = tokenDynamics.readout();
      if (document.body.dataset.model !== "loaded") f.push(`data-model = ${document.body.dataset.model}`);
      if (r.done !== true) f.push("readout.done is not true");
      if (!r.trained || !r.random) f.push("both models not analysed");
      return f;
    },
    requestChecks: computedInWorker("energy"),
  },
  {
    // keys checked against crates/energy/src/params.rs: mode, prompt, n, steer, T all exist
    id: "energy generate + steer",
    path: "energy.html#energy?v=1&mode=generate&prompt=The%20&n=32&steer=margin&T=0",
    model: true,
    timeout: HEAVY_MS,
    checks: () => {
      const f = [];
      const s = tokenDynamics.state();
      const r = tokenDynamics.readout();
      if (s.mode !== "generate" || s.steer !== "margin" || String(s.n) !== "32" || String(s.T) !== "0") {
        f.push(`state ${JSON.stringify(s)}`);
      }
      if (s.prompt !== "The ") f.push(`prompt ${JSON.stringify(s.prompt)}`);
      if (r.done !== true) f.push("readout.done is not true");
      if (!r.steering) f.push("no steering readout");
      return f;
    },
    requestChecks: computedInWorker("energy"),
  },
  {
    // The real-model panel: a link naming a checkpoint folder fills the form; the reader presses Download;
    // the report (computed by the td-real-model module in the panel's worker) is compared across engines.
    id: "energy real model (fixture URL)",
    get path() {
      const folder = `${fixtureServer.url}gpt2-hub-f32`;
      return `energy.html#energy?v=1&text=The%20fox&checkpoint=${encodeURIComponent(folder)}`;
    },
    model: true,
    timeout: HEAVY_MS,
    act: () => document.getElementById("rm-fetch").click(),
    acted: () => ["ready", "error"].includes(document.getElementById("real-model").dataset.state) && !!window.tokenDynamicsRealModel.summary,
    checks: () => {
      const f = [];
      const m = window.tokenDynamicsRealModel;
      if (m.state !== "ready") f.push(`panel state ${m.state}: ${document.getElementById("rm-error").textContent}`);
      if (m.report?.model?.architecture !== "GPT2LMHeadModel") f.push(`report of ${m.report?.model?.architecture}`);
      if (m.report?.tokens?.map((t) => t.piece).join("") !== "The fox") f.push(`tokens ${JSON.stringify(m.report?.tokens)}`);
      if (!/downloaded from http:\/\/127\.0\.0\.1:\d+\/gpt2-hub-f32|from this browser's storage/.test(m.source || "")) f.push(`source ${m.source}`);
      if (document.querySelectorAll("#rm-results table.stats").length < 3) f.push("the report's tables are not shown");
      // The figures' SVG, parsed and cut down by the panel (DOMParser in every engine).
      const figures = [...document.querySelectorAll("#rm-results figure.rm-figure svg")];
      if (figures.length !== 3 || figures.some((s) => s.querySelectorAll("polyline, circle").length < 3 || s.getBoundingClientRect().width < 200)) {
        f.push(`the report's figures: ${figures.length} drawn`);
      }
      return f;
    },
    requestChecks: (requests) =>
      requests.some((r) => r.url.includes("/model-worker.js")) && requests.some((r) => /td-real-model_bg\.wasm/.test(r.url))
        ? []
        : ["the panel's worker and module were never requested"],
  },
  {
    id: "next-token embed",
    path: "index.html#next-token?v=1&embed=1",
    checks: () => {
      const f = [];
      const shown = (sel) => {
        const el = document.querySelector(sel);
        return !!el && !el.closest("[hidden]") && el.getClientRects().length > 0;
      };
      if (!document.body.classList.contains("embed")) f.push("body lacks class embed");
      if (!shown("#embed-bar")) f.push("#embed-bar not shown");
      if (!shown("a#open-full")) f.push("a#open-full not shown");
      if (shown("#share-bar")) f.push("#share-bar shown in an embed");
      if (tokenDynamics.state().embed !== "1") f.push(`state().embed = ${tokenDynamics.state().embed}`);
      return f;
    },
  },
  {
    id: "embed example page",
    path: "embed-example.html",
    frames: ["#flow-a", "#compare"],
    checks: () => {
      const f = [];
      for (const id of ["flow-a", "compare"]) {
        const cap = document.getElementById(`${id}-status`)?.textContent || "";
        // embed-example.js writes "Live figure: ..." when the frame's token-dynamics:ready message arrives
        if (!cap.startsWith("Live figure")) f.push(`#${id}-status: ${JSON.stringify(cap)} (no ready message)`);
        const w = document.getElementById(id).contentWindow;
        if (!w.document.body.classList.contains("embed")) f.push(`#${id}: not in the embed layout`);
      }
      return f;
    },
  },
  {
    id: "routing index -> attention",
    path: "index.html#attention?v=1&n=12",
    checks: () => {
      const f = [];
      if (!location.pathname.endsWith("/attention.html")) f.push(`landed on ${location.pathname}`);
      if (!location.hash.startsWith("#attention?")) f.push(`hash ${location.hash}`);
      if (document.body.dataset.explorer !== "attention") f.push(`explorer ${document.body.dataset.explorer}`);
      if (tokenDynamics.readout().panels?.[0]?.n !== 12) f.push(`n = ${tokenDynamics.readout().panels?.[0]?.n}`);
      return f;
    },
    // (index.html modulepreloads td-next-token.js, the small glue; the wasm must not be fetched)
    requestChecks: (requests) => [
      ...(requests.some((r) => /td-next-token_bg\.wasm/.test(r.url)) ? ["the next-token wasm was requested before routing"] : []),
      ...(requests.some((r) => /td-attention_bg\.wasm/.test(r.url)) ? [] : ["the attention wasm was never requested"]),
    ],
  },
];

// ------------------------------------------------------------------------------------------------ in-page code

/** Ready and idle (and the trained weights loaded, for `model` links); frames: both iframes ready + captions. */
function readyPredicate(frames, model) {
  const ok = (doc) =>
    !!doc && !!doc.body && doc.body.dataset.ready === "1" && doc.body.dataset.busy === "0" &&
    !!doc.defaultView.tokenDynamics && (!model || doc.body.dataset.model === "loaded");
  if (!frames) return ok(document);
  return frames.every((sel) => {
    const el = document.querySelector(sel);
    const cap = document.getElementById(`${sel.slice(1)}-status`);
    return el && ok(el.contentDocument) && cap && cap.textContent.startsWith("Live figure");
  });
}

/** Whether an iframe has started loading (its document is no longer the initial about:blank), and where it is. */
function frameLoadState(sel) {
  const el = document.querySelector(sel);
  const r = el.getBoundingClientRect();
  let href = "";
  try {
    href = el.contentWindow.location.href;
  } catch {
    href = "(cross-origin)";
  }
  return { started: href !== "about:blank" && href !== "", top: Math.round(r.top), viewport: innerHeight };
}

/** location.hash equals the state's canonical link (in the page, or in every frame). */
function urlSettled(frames) {
  const ok = (win) => win.location.hash === win.tokenDynamics.state().hash;
  return frames ? frames.every((sel) => ok(document.querySelector(sel).contentWindow)) : ok(window);
}

/** The flags, for a timeout message. */
function flags(frames) {
  const one = (doc) => doc && doc.body && { ...doc.body.dataset, href: doc.location.href };
  if (!frames) return one(document);
  return frames.map((sel) => one(document.querySelector(sel)?.contentDocument));
}

/** readout JSON, state hash, messages banner of the page or of each frame. */
function collect(frames) {
  const one = (win) => {
    const doc = win.document;
    const box = doc.querySelector("#messages");
    // The real-model panel's report, when it has one, is part of what the engines must agree on.
    const report = win.tokenDynamicsRealModel?.report;
    const readout = JSON.stringify(win.tokenDynamics.readout());
    return {
      readout: report ? `{"lab":${readout},"real_model":${JSON.stringify(report)}}` : readout,
      hash: win.tokenDynamics.state().hash,
      messages: !box || box.hidden ? [] : [...doc.querySelectorAll("#message-list li")].map((li) => li.textContent),
      location: win.location.pathname + win.location.hash,
    };
  };
  if (!frames) return one(window);
  const parts = frames.map((sel) => [sel, one(document.querySelector(sel).contentWindow)]);
  // one readout string for the page: {"#flow-a": <readout>, "#compare": <readout>}
  return {
    readout: `{${parts.map(([sel, p]) => `${JSON.stringify(sel)}:${p.readout}`).join(",")}}`,
    hash: parts.map(([sel, p]) => `${sel} ${p.hash}`).join(" | "),
    messages: parts.flatMap(([sel, p]) => p.messages.map((m) => `${sel}: ${m}`)),
    location: parts.map(([sel, p]) => `${sel} ${p.location}`).join(" | "),
  };
}

/**
 * Pixel statistics of every visible canvas (of the page, or of each frame): drawn into a 2-D canvas and read
 * back. Background = the most frequent colour; nonBg = pixels differing from it by more than 8 in a channel.
 */
function canvasStats(frames) {
  const docs = frames ? frames.map((sel) => [sel, document.querySelector(sel).contentDocument]) : [["", document]];
  const out = [];
  for (const [where, doc] of docs) {
    for (const c of doc.querySelectorAll("canvas")) {
      if (c.closest("[hidden]") || c.getClientRects().length === 0) continue; // not shown on this page/layout
      const name = `${where ? where + " " : ""}#${c.id || "(canvas)"}`;
      const w = c.width | 0;
      const h = c.height | 0;
      if (!w || !h) {
        out.push({ name, width: w, height: h, nonBg: 0, nonBgFrac: 0, distinct: 0, hash: "empty" });
        continue;
      }
      const copy = doc.createElement("canvas");
      copy.width = w;
      copy.height = h;
      const ctx = copy.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(c, 0, 0);
      const data = ctx.getImageData(0, 0, w, h).data;
      const px = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
      const counts = new Map();
      let hash = 0x811c9dc5;
      for (let i = 0; i < px.length; i++) {
        counts.set(px[i], (counts.get(px[i]) || 0) + 1);
        hash = Math.imul(hash ^ px[i], 16777619) >>> 0;
      }
      let bg = 0;
      let best = -1;
      for (const [v, n] of counts) if (n > best) (bg = v), (best = n);
      const b = [bg & 255, (bg >>> 8) & 255, (bg >>> 16) & 255, bg >>> 24];
      let nonBg = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (
          Math.abs(data[i] - b[0]) > 8 || Math.abs(data[i + 1] - b[1]) > 8 ||
          Math.abs(data[i + 2] - b[2]) > 8 || Math.abs(data[i + 3] - b[3]) > 8
        ) nonBg++;
      }
      out.push({ name, width: w, height: h, nonBg, nonBgFrac: nonBg / px.length, distinct: counts.size,
        background: b, hash: hash.toString(16).padStart(8, "0") });
    }
  }
  return out;
}

/** Two animation frames (the paint after the last state change), or 1 s if frames are throttled. */
function nextFrames() {
  return Promise.race([
    new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))),
    new Promise((r) => setTimeout(() => r(false), 1000)),
  ]);
}

// ------------------------------------------------------------------------------------------------ comparison

const sha = (s) => crypto.createHash("sha256").update(s).digest("hex").slice(0, 16);
const slug = (s) => s.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "").toLowerCase();

// ------------------------------------------------------------------------------------------------ the suite

let server;
/** link id -> engine -> { readout, hash, messages, location, readyMs, canvases, problems } */
const results = new Map(LINKS.map((l) => [l.id, new Map()]));
const timings = {}; // engine -> { launchMs, links: {id: ms}, totalMs, version }
const suiteStart = Date.now();

before(async () => {
  if (!fs.existsSync(path.join(DIST, "index.html"))) {
    throw new Error(`${DIST}/index.html missing: build first (bash scripts/build.sh)`);
  }
  server = await startObservedServer({ root: DIST });
  fixtureServer = await startServer({ root: FIXTURES, port: 0, cors: true });
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
});
after(async () => {
  await server?.close();
  await fixtureServer?.close();
});

async function visit(engine, link) {
  const label = `${engine.name} ${link.id}`;
  server.setLabel(label);
  const t0 = Date.now();
  await engine.open(server.url + link.path);
  const timeout = link.timeout || READY_MS;
  const notes = [];
  try {
    // Frames: the iframes are loading="lazy". The first is in view from the start and must become ready
    // where it is; each later one gets 3 s to start loading on its own, then is scrolled into view (what a
    // reader does). An engine that loads it only then is noted, not failed.
    if (link.frames) {
      const [first, ...rest] = link.frames;
      await engine.waitFor(readyPredicate, timeout, [first], !!link.model);
      for (const sel of rest) {
        const started = await engine.waitFor(`(${frameLoadState})(${JSON.stringify(sel)}).started`, 3_000).catch(() => false);
        if (!started) {
          const seen = await engine.evaluate(frameLoadState, sel);
          notes.push(`${sel} (top ${seen.top} px, viewport ${seen.viewport} px) did not start loading within 3 s ` +
            `(loading="lazy"); it loaded once scrolled into view`);
        }
        await engine.evaluate((sel) => document.querySelector(sel).scrollIntoView({ block: "center" }), sel);
        await engine.waitFor(readyPredicate, timeout, [sel], !!link.model);
      }
    }
    await engine.waitFor(readyPredicate, timeout, link.frames || null, !!link.model);
    if (link.act) {
      await engine.evaluate(link.act);
      await engine.waitFor(link.acted, timeout);
    }
  } catch (e) {
    const f = await engine.evaluate(flags, link.frames || null).catch((err) => `(unreadable: ${err.message})`);
    const problems = await allProblems(engine, label).catch(() => []);
    throw new Error(
      `${label}: not ready within ${timeout} ms; flags ${JSON.stringify(f)}` +
        `${problems.length ? `; problems:\n  ${problems.join("\n  ")}` : ""}\n(${e.message})`,
    );
  }
  const readyMs = Date.now() - t0;
  // The page writes its canonical link into the URL (replaceState, throttled ~150 ms): let that settle, so
  // that the locations compared across engines are not a race.
  const settled = await engine.waitFor(urlSettled, 5_000, link.frames || null).catch(() => false);
  await engine.evaluate(nextFrames);
  const data = await engine.evaluate(collect, link.frames || null);
  const canvases = await engine.evaluate(canvasStats, link.frames || null);
  const failed = await engine.evaluate(link.checks);
  if (!settled) failed.push(`the URL never settled to state().hash: ${data.location} vs ${data.hash}`);
  if (link.requestChecks) failed.push(...link.requestChecks(server.requests(label)));
  await new Promise((r) => setTimeout(r, 200)); // let CSP reports (sent asynchronously) arrive
  const problems = await allProblems(engine, label);
  return { ...data, readyMs, canvases, failed, problems, notes };
}

async function allProblems(engine, label) {
  const driver = await engine.driverProblems();
  const observed = await engine.observedProblems();
  const http = server
    .requests(label)
    .filter((r) => r.status >= 400 && !/\/favicon\.ico$/.test(r.url))
    .map((r) => `server: HTTP ${r.status} for ${r.method} ${r.url}`);
  const csp = server.cspReports(label).map((r) => `server: CSP report: ${r}`);
  return [...driver.map((p) => `driver: ${p}`), ...observed.map((p) => `observer: ${p}`), ...http, ...csp];
}

for (const name of ENGINES) {
  test(`${name}: every link loads, draws and reports no error`, { timeout: 30 * 60_000 }, async (t) => {
    const t0 = Date.now();
    const engine = await launchEngine(name); // fails the suite (with how to fix it) if the engine cannot start
    const timing = (timings[name] = { version: engine.version, launchMs: Date.now() - t0, links: {} });
    t.diagnostic(`${engine.version}; launched in ${timing.launchMs} ms; driver observes ${JSON.stringify(engine.observes)}`);
    try {
      for (const link of LINKS) {
        await t.test(link.id, async (st) => {
          const l0 = Date.now();
          let r;
          try {
            r = await visit(engine, link);
          } finally {
            timing.links[link.id] = Date.now() - l0;
          }
          results.get(link.id).set(name, r);
          const drawn = r.canvases.map((c) => `${c.name} ${c.width}x${c.height} ${(100 * c.nonBgFrac).toFixed(1)}%`);
          st.diagnostic(`ready in ${r.readyMs} ms; readout ${r.readout.length} bytes sha256 ${sha(r.readout)}; ${r.hash}`);
          st.diagnostic(`canvases: ${drawn.join(", ")}`);
          if (r.messages.length) st.diagnostic(`banner: ${JSON.stringify(r.messages)}`);
          for (const n of r.notes) st.diagnostic(`note: ${n}`);
          assert.deepEqual(r.problems, [], `${name} ${link.id}: problems:\n  ${r.problems.join("\n  ")}`);
          assert.deepEqual(r.failed, [], `${name} ${link.id}: ${r.failed.join("; ")}`);
          assert.ok(r.canvases.length > 0, `${name} ${link.id}: no visible canvas`);
          for (const c of r.canvases) {
            assert.ok(
              c.nonBg > 0 && c.nonBgFrac > 0.005 && c.distinct >= 3,
              `${name} ${link.id}: ${c.name} looks blank: ${JSON.stringify(c)}`,
            );
          }
        });
      }
    } finally {
      await engine.close();
      timing.totalMs = Date.now() - t0;
      t.diagnostic(`${name}: ${(timing.totalMs / 1000).toFixed(1)} s in all`);
    }
  });
}

test("the readouts of every link are byte-identical across the engines", async (t) => {
  if (ENGINES.length < 2) {
    t.skip(`only ${ENGINES.join("")} selected (ENGINES=${process.env.ENGINES}): nothing to compare`);
    return;
  }
  for (const link of LINKS) {
    await t.test(link.id, (st) => {
      const byEngine = results.get(link.id);
      const missing = ENGINES.filter((e) => !byEngine.has(e));
      assert.deepEqual(missing, [], `${link.id}: no readout from ${missing.join(", ")} (see that engine's failure above)`);
      const [ref, ...others] = ENGINES;
      const a = byEngine.get(ref);
      const lines = [];
      for (const other of others) {
        const b = byEngine.get(other);
        if (a.readout !== b.readout) {
          const d = firstDifference(a.readout, b.readout);
          const c = countDifferences(a.readout, b.readout);
          lines.push(
            `readout ${ref} vs ${other}: first difference at ${d.path} (byte ${d.offset}): ` +
              `${ref} ${JSON.stringify(d.values?.[0])} / ${other} ${JSON.stringify(d.values?.[1])}; ` +
              `${c ? `${c.n} values differ, largest relative difference ${c.maxRel.toExponential(2)}; ` : ""}` +
              `lengths ${d.lengths.join(" / ")}`,
          );
        }
        if (a.hash !== b.hash) lines.push(`state().hash ${ref} ${a.hash} / ${other} ${b.hash}`);
        if (a.location !== b.location) lines.push(`location ${ref} ${a.location} / ${other} ${b.location}`);
        if (JSON.stringify(a.messages) !== JSON.stringify(b.messages)) {
          lines.push(`banner ${ref} ${JSON.stringify(a.messages)} / ${other} ${JSON.stringify(b.messages)}`);
        }
      }
      const pixels = ENGINES.map((e) => `${e} ${byEngine.get(e).canvases.map((c) => c.hash).join(",")}`);
      st.diagnostic(`readout sha256 ${sha(a.readout)} (${a.readout.length} bytes); canvas pixel hashes: ${pixels.join("; ")}`);
      if (lines.length) {
        for (const e of ENGINES) {
          fs.writeFileSync(path.join(OUT, `${slug(link.id)}.${e}.json`), byEngine.get(e).readout);
        }
        assert.fail(`${link.id}: the engines disagree (readouts saved in ${OUT}):\n  ${lines.join("\n  ")}`);
      }
    });
  }
});

test("timings", (t) => {
  const summary = { engines: ENGINES, suiteMs: Date.now() - suiteStart, timings };
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, "summary.json"), JSON.stringify(summary, null, 2));
  for (const e of ENGINES) {
    const tm = timings[e];
    if (!tm) {
      t.diagnostic(`${e}: did not start`);
      continue;
    }
    const links = Object.entries(tm.links).map(([id, ms]) => `${id} ${(ms / 1000).toFixed(1)} s`);
    t.diagnostic(`${e}: launch ${(tm.launchMs / 1000).toFixed(1)} s, total ${((tm.totalMs || 0) / 1000).toFixed(1)} s; ${links.join(", ")}`);
  }
  t.diagnostic(`suite so far: ${(summary.suiteMs / 1000).toFixed(1)} s (written to ${path.relative(process.cwd(), OUT)}/summary.json)`);
});
