// Headless-browser tests of the energy page's real-model panel (#real-model, www/real-model.js):
// a Hugging Face checkpoint loaded from files, a folder URL or a hub repo id, analysed in the
// panel's worker by the td-real-model module, must give exactly the report of the native
// `token-dynamics model <folder> --json`. Downloads show progress, are stored in the browser and
// can be cancelled; bad inputs say what is wrong; the energy lab keeps working throughout.
// Run: node --test --test-reporter=spec tests/browser/real-model.test.mjs
//      (needs dist/ built by scripts/build.sh and target/release/token-dynamics)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { startSuite, assertCanvasDrawn, REPO, RESULTS } from "./harness.mjs";
import { startServer } from "../../scripts/static-server.mjs";

const FIXTURES = path.join(REPO, "crates", "checkpoint", "tests", "fixtures");
const NATIVE = path.join(REPO, "target", "release", "token-dynamics");
const DESKTOP = { viewport: { width: 1280, height: 900 } };
const T_OPTS = { timeout: 180_000 };
// The fixtures' context is 16 tokens and their tokenizer small: a short text.
const TEXT = "The fox";
const LAB_CANVASES = ["#series-canvas", "#phase-canvas", "#scatter-canvas", "#dist-canvas"];

let suite;
let fixtures; // the fixture folders served from a second origin, with CORS, as a static host would
before(async () => {
  assert.ok(fs.existsSync(NATIVE), `${NATIVE} missing (scripts/test.sh builds it)`);
  suite = await startSuite();
  fixtures = await startServer({ root: FIXTURES, port: 0, cors: true });
});
after(async () => {
  await suite?.close();
  await fixtures?.close();
});

/** The native report of a fixture folder (a path) with `args`. */
function native(folder, args, source) {
  // The page names its checkpoint in the next-token link's `from` (a repo id, a URL or
  // file:NAME@HASH): the native command is given the same name.
  const named = source ? [...args, "--source", source] : args;
  return JSON.parse(execFileSync(NATIVE, ["model", folder, "--json", ...named], { encoding: "utf8" }));
}

/** What the native command says when it refuses a folder (its message, without the prefix). */
function nativeError(folder, args) {
  const run = spawnSync(NATIVE, ["model", folder, "--json", ...args], { encoding: "utf8" });
  assert.notEqual(run.status, 0, "the native command refuses it too");
  return run.stderr.trim().replace(/^token-dynamics model: /, "");
}

/** Same structure; numbers within 1e-9 (relative, or absolute below 1); everything else equal. */
function assertSameReport(page, nat, where = "report") {
  let worst = 0;
  const walk = (a, b, at) => {
    if (typeof b === "number" && typeof a === "number") {
      const d = Math.abs(a - b) / Math.max(1, Math.abs(b));
      worst = Math.max(worst, d);
      assert.ok(d <= 1e-9, `${where}${at}: page ${a}, native ${b}`);
    } else if (b && typeof b === "object") {
      assert.ok(a && typeof a === "object", `${where}${at}: page ${JSON.stringify(a)}, native an object`);
      assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${where}${at}: keys`);
      for (const k of Object.keys(b)) walk(a[k], b[k], `${at}.${k}`);
    } else {
      assert.deepEqual(a, b, `${where}${at}`);
    }
  };
  walk(page, nat, "");
  return worst;
}

const panel = (page) =>
  page.evaluate(() => ({
    state: document.getElementById("real-model").dataset.state,
    status: document.getElementById("rm-status").textContent,
    error: document.getElementById("rm-error").textContent,
    stored: document.getElementById("rm-stored").textContent,
    summary: window.tokenDynamicsRealModel.summary,
    report: window.tokenDynamicsRealModel.report,
    source: window.tokenDynamicsRealModel.source,
    link: window.tokenDynamicsRealModel.link,
    vocab: window.tokenDynamicsRealModel.vocab,
  }));

/** Waits until the panel is neither loading nor computing, and returns what it shows. */
async function settle(page, timeout = 60_000) {
  await page.waitForFunction(
    () => !["loading", "computing"].includes(document.getElementById("real-model").dataset.state),
    null,
    { timeout, polling: 50 },
  );
  return panel(page);
}

async function openLab(options = DESKTOP) {
  const app = await suite.open("energy.html#energy?v=1", { ...options });
  await app.page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
  return app;
}

/** Chooses the files of a fixture folder (or given files) with the panel's file input. */
async function chooseFiles(page, files) {
  await page.setInputFiles("#rm-files", files);
  return settle(page);
}
/** A picture of the panel alone, under test-results/. */
async function shoot(page, name) {
  fs.mkdirSync(RESULTS, { recursive: true });
  await page.locator("#real-model").screenshot({ path: path.join(RESULTS, name) });
}
const folderFiles = (dir) => fs.readdirSync(dir).map((f) => path.join(dir, f));

/** The report's figures (the lab's series, phase and scatter, drawn in the worker) are shown as
 *  SVG cut down to drawing elements, titled with the model and its twin, with the report's points:
 *  K lines of rows.length points, a phase dot per row and side, a scatter dot per consecutive pair. */
async function assertFigures(page, p, where) {
  const figures = await page.$$eval("#rm-results figure.rm-figure", (fs) => fs.map((f) => {
    const svg = f.querySelector("svg");
    const box = svg?.getBoundingClientRect();
    const fills = (colour) => svg ? [...svg.querySelectorAll("circle")].filter((c) => c.getAttribute("fill") === colour).length : 0;
    return {
      name: f.dataset.figure,
      label: svg?.getAttribute("aria-label"),
      role: svg?.getAttribute("role"),
      size: box ? [box.width, box.height] : null,
      tags: svg ? [...new Set([...svg.querySelectorAll("*")].map((e) => e.localName))].sort() : [],
      text: svg?.textContent ?? "",
      kLines: svg ? [...svg.querySelectorAll("polyline")].filter((l) => l.getAttribute("stroke") === "#1F77B4").map((l) => l.getAttribute("points").trim().split(/\s+/).length) : [],
      dots: fills("#1F77B4") + fills("#969696") + fills("#FFAA00"),
      download: f.querySelector("figcaption a[download]")?.getAttribute("download"),
    };
  }));
  assert.deepEqual(figures.map((f) => f.name), ["series", "phase", "scatter"], `${where}: figures`);
  const n = p.report.rows.length;
  const named = /^file:(.+)@[0-9a-f]{64}$/.exec(p.link)?.[1] ?? p.link;
  for (const f of figures) {
    assert.equal(f.role, "img", `${where} ${f.name}: role`);
    assert.ok(f.label.length > 40, `${where} ${f.name}: a text alternative`);
    assert.ok(f.size[0] > 300 && f.size[1] > 150, `${where} ${f.name}: drawn ${f.size}`);
    assert.ok(f.tags.every((t) => ["circle", "polyline", "rect", "text"].includes(t)), `${where} ${f.name}: only drawing elements (${f.tags})`);
    assert.equal(f.download, `real-model-${f.name}.svg`);
  }
  const [series, phase, scatter] = figures;
  assert.ok(series.text.includes(`${named}: K, U and E per position`), `${where}: the model's title (${named})`);
  assert.ok(series.text.includes(`Random twin (seed ${p.report.twin_seed}): K, U and E per position`), `${where}: the twin's title`);
  assert.deepEqual(series.kLines, [n, n], `${where}: a K line of ${n} points per side`);
  assert.equal(phase.dots, 2 * n, `${where}: phase dots`);
  const pairs = p.report.rows.filter((r, i) => i > 0 && r.t === p.report.rows[i - 1].t + 1).length;
  assert.equal(scatter.dots, 2 * pairs, `${where}: scatter dots`);
}

/** Loads a folder URL or repo id through the panel's form. */
async function fetchFolder(page, text) {
  await page.fill("#rm-url", text);
  await page.click("#rm-fetch");
  return settle(page);
}

/**
 * The page's problems, less the failed fetches a test provokes on purpose (`expected`: their URLs;
 * an optional tokenizer.json or model.safetensors probed on a host that lacks them, a missing
 * folder, a cancelled or broken download): Chromium logs every failed fetch as a console error.
 */
async function assertClean(app, expected = []) {
  const left = app.errors.filter((e) => !expected.some((url) => e.includes(url)));
  app.errors.splice(0, app.errors.length, ...left);
  await app.assertNoErrors();
}

test("files: GPT-2 and Llama checkpoints give the native report, rendered as tables; the lab is untouched", T_OPTS, async (t) => {
  const app = await openLab();
  try {
    const { page } = app;
    const lab = await page.evaluate(() => JSON.stringify(window.tokenDynamics.readout()));
    assert.equal(await page.evaluate(() => document.getElementById("real-model").dataset.state), "idle");
    // Nothing of the panel's worker or module loads before a reader asks for a model.
    assert.ok(!app.requests.some((u) => /model-worker\.js|td-real-model/.test(u)), "the module loads on demand only");
    for (const name of ["gpt2-hub-f32", "llama-tied-f32"]) {
      const dir = path.join(FIXTURES, name);
      await page.fill("#rm-text", TEXT);
      const started = Date.now();
      const p = await chooseFiles(page, folderFiles(dir));
      t.diagnostic(`${name}: loaded and analysed in ${Date.now() - started} ms`);
      assert.equal(p.state, "ready", `${name}: ${p.error}`);
      // Every block is offered, for either family (the final norm only, then blocks 0..n_layer).
      const menu = await page.$$eval("#rm-steer-layer option", (os) => os.map((o) => o.textContent));
      assert.equal(menu.length, p.summary.n_layer + 2);
      assert.equal(menu[0], "the final norm only");
      const worst = assertSameReport(p.report, native(dir, ["--text", TEXT], p.link), name);
      t.diagnostic(`${name}: largest relative difference from native ${worst.toExponential(2)}`);
      assert.deepEqual(p.summary, p.report.model);
      assert.match(p.source, /From your files/);
      // What the reader sees: the summary line, the statistics with 6 significant digits, the
      // tokens with their whitespace visible.
      const summary = await page.textContent("#rm-summary");
      assert.ok(summary.includes(p.summary.architecture) && summary.includes(p.summary.description), summary);
      const cells = await page.$$eval("#rm-results table", (ts) => ts.map((tb) => [...tb.rows].map((r) => [...r.cells].map((c) => c.textContent))));
      const stats = cells[0];
      assert.deepEqual(stats[0], ["statistic", "model", "random twin"]);
      assert.equal(stats.length - 1, p.report.statistics.length);
      const first = p.report.statistics[0];
      assert.deepEqual(stats[1], [first.name, first.model.toPrecision(6), first.twin.toPrecision(6)]);
      const perToken = cells.at(-1);
      assert.deepEqual(perToken[0], ["t", "token", "id", "K", "U", "E", "K twin", "U twin", "E twin"]);
      assert.equal(perToken.length - 1, p.report.tokens.length);
      assert.equal(perToken[1][3], "n/a", "the first position has no K");
      assert.equal(perToken[2][1], p.report.tokens[1].piece.replace(/ /g, "·"));
      assert.equal(perToken[2][3], p.report.rows[0].k.toPrecision(6));
      assert.equal(perToken[2][6], p.report.twin_rows[0].k.toPrecision(6));
      await assertFigures(page, p, name);
    }
    // Options: per-layer view, steering, generation; the twin of another seed.
    const dir = path.join(FIXTURES, "gpt2-hub-f32");
    await page.setInputFiles("#rm-files", folderFiles(dir));
    // No link was opened: the files the page itself put in the link are compared with nothing.
    assert.doesNotMatch((await settle(page)).source, /the link was made with/);
    await page.check("#rm-layers");
    await page.fill("#rm-steer", "5");
    await page.fill("#rm-n", "4");
    await page.fill("#rm-twin", "7");
    await page.click("#rm-analyse");
    await page.waitForFunction(() => document.getElementById("real-model").dataset.state === "computing" || window.tokenDynamicsRealModel.report?.layers);
    const p = await settle(page);
    assert.equal(p.state, "ready", p.error);
    assertSameReport(p.report, native(dir, ["--text", TEXT, "--layers", "--steer", "5", "--generate", "4", "--twin-seed", "7"], p.link), "options");
    assert.equal(p.report.layers.length, 3);
    // The per-layer view adds its figure: a lens dot per layer, each labelled with its token.
    const layersFigure = await page.$$eval("#rm-results figure.rm-figure", (fs) => fs.map((f) => [f.dataset.figure, [...f.querySelectorAll("circle")].filter((c) => c.getAttribute("fill") === "#E67814").length]));
    assert.deepEqual(layersFigure.map((f) => f[0]), ["series", "phase", "scatter", "layers"]);
    assert.equal(layersFigure[3][1], p.report.layers.length);
    const text = await page.textContent("#rm-results");
    for (const part of ["Steering the last position toward", "Per layer", "Continuation (4 tokens", "Steered continuation (", "seed 7"]) assert.ok(text.includes(part), part);
    assert.deepEqual(await page.$$eval("#rm-results p.continuation", (ps) => ps.map((e) => e.textContent)),
      [p.report.generation.text, p.report.steering.steered.text]);
    // A Llama checkpoint steers at a block and continues steered too, as natively.
    const llama = path.join(FIXTURES, "llama-tied-f32");
    await page.setInputFiles("#rm-files", folderFiles(llama));
    assert.equal((await settle(page)).state, "ready");
    await page.selectOption("#rm-steer-layer", "1");
    await page.click("#rm-analyse");
    await page.waitForFunction(() => window.tokenDynamicsRealModel.report?.steering?.forms?.length === 4);
    const q0 = await settle(page);
    assert.equal(q0.state, "ready", q0.error);
    assertSameReport(q0.report, native(llama, ["--text", TEXT, "--layers", "--steer", "5", "--steer-layer", "1", "--generate", "4", "--twin-seed", "7"], q0.link), "llama options");
    assert.equal(q0.report.steering.steered.site, "the residual stream entering block 1 (delta form)");
    assert.ok((await page.textContent("#rm-results")).includes("Steered continuation (the residual stream entering block 1 (delta form))"));
    await page.selectOption("#rm-steer-layer", "");
    await page.setInputFiles("#rm-files", folderFiles(dir));
    assert.equal((await settle(page)).state, "ready");
    // The next-token link opens that distribution, cleanly, in the next-token explorer: in this
    // browser on all V tokens (kept in its storage), elsewhere on the link's 64 + 1 lumped.
    assert.match(p.vocab ?? "", /^[0-9a-f]{16}$/);
    const href = await page.getAttribute("#rm-results a.rm-next-token", "href");
    assert.equal(href, `${p.report.next_token_link}&vocab=${p.vocab}`);
    const v = p.summary.vocab;
    assert.ok(v > 65, "the fixture's vocabulary is larger than what a link carries");
    assert.match(await page.textContent("#rm-results a.rm-next-token + p"), new RegExp(`In this browser the explorer runs on all ${v} tokens`));
    // Two kept: the GPT-2 and Llama fixtures' (the same distribution again replaces its copy).
    await page.waitForFunction(() => /Also 2 whole next-token distributions for the next-token explorer \(\d+\.\d kB\)\./.test(document.getElementById("rm-stored").textContent));
    const whole = await openWhole(app, href);
    try {
      const top = [...whole.readout.p.keys()].sort((a, b) => whole.readout.p[b] - whole.readout.p[a])[0];
      assert.equal(whole.readout.p.length, v, "all V tokens");
      assert.ok(whole.readout.notes.some((n) => n.startsWith(`All ${v} tokens of a real model's next-token distribution, kept in this browser by the energy lab (vocab=${p.vocab})`)), whole.readout.notes.join("\n"));
      // The flows of the whole vocabulary: the corners are the model's three most probable tokens
      // (the link's first three), and at temperature 1 the entropic flow C ends at the model's
      // own distribution, whose top token is the report's.
      assert.equal(whole.readout.compare.target.length, v);
      const native = p.report.next[0];
      assert.ok(Math.abs(whole.readout.compare.target[native.id] - native.p) < 1e-12, `${whole.readout.compare.target[native.id]} vs ${native.p}`);
      assert.equal(top, native.id, "flow A ends on the argmax token");
      assert.deepEqual(whole.errors, []);
    } finally {
      await whole.page.close();
    }
    const flow = await suite.open(href);
    try {
      assert.equal(await flow.page.evaluate(() => window.tokenDynamics.state().explorer), "next-token");
      assert.ok(await flow.page.isHidden("#messages"), "the link opens without messages");
      // It says where the logits came from: the files' name and hash, the position, the text.
      const from = await flow.page.inputValue("#ctl-from");
      assert.match(p.link, /^file:GPT2LMHeadModel@[0-9a-f]{64}$/);
      const kept = v > 64 ? `the 64 most probable of ${v} tokens, the other ${v - 64} lumped as one` : `all ${v} tokens`;
      assert.equal(from, `${p.link}, next token after position ${p.report.position} (${p.report.tokens.at(-1).piece.replace(/ /g, "␣")}) of "${TEXT}": ${kept}`);
      // Another browser (a new context: empty storage): the link's own 65 tokens, and a note why.
      const readout = await flow.page.waitForFunction(() => {
        const r = window.tokenDynamics.readout();
        return r && r.done && r.notes.some((n) => n.includes("not in this browser's storage")) && r;
      }, null, { timeout: 30_000 }).then((h) => h.jsonValue());
      assert.equal(readout.p.length, 65);
      await flow.assertNoErrors();
    } finally {
      await flow.close();
    }
    // Another position and steering at an earlier block: the native report of the same options.
    const blocks = await page.$$eval("#rm-steer-layer option", (os) => os.map((o) => o.value));
    assert.deepEqual(blocks, ["", ...Array.from({ length: p.summary.n_layer + 1 }, (_, i) => String(i))]);
    await page.fill("#rm-position", "1");
    await page.selectOption("#rm-steer-layer", "1");
    await page.click("#rm-analyse");
    await page.waitForFunction(() => window.tokenDynamicsRealModel.report?.position === 1);
    const q = await settle(page);
    assert.equal(q.state, "ready", q.error);
    assertSameReport(q.report, native(dir, ["--text", TEXT, "--layers", "--steer", "5", "--generate", "4", "--twin-seed", "7", "--position", "1", "--steer-layer", "1"], q.link), "position and block");
    assert.equal(q.report.steering.forms.length, 4);
    assert.notEqual(q.report.next_token_link, p.report.next_token_link, "another position, another distribution");
    const moved = await page.textContent("#rm-results");
    for (const part of ["(position 1)", "entering block 1", "Steered continuation (the residual stream entering block 1"]) assert.ok(moved.includes(part), part);
    assert.notEqual(q.vocab, p.vocab);
    assert.equal(await page.getAttribute("#rm-results a.rm-next-token", "href"), `${q.report.next_token_link}&vocab=${q.vocab}`);
    await shoot(page, "real-model-1280.png");
    // A position past the text is refused with the native message; a block without a target too.
    await page.fill("#rm-position", "99");
    await page.click("#rm-analyse");
    let bad = await settle(page);
    assert.equal(bad.error, nativeError(dir, ["--text", TEXT, "--position", "99"]));
    await page.fill("#rm-position", "");
    await page.fill("#rm-steer", "");
    await page.click("#rm-analyse");
    bad = await settle(page);
    assert.match(bad.error, /say which token to steer toward/);
    await page.selectOption("#rm-steer-layer", "");
    await page.fill("#rm-steer", "5");
    // The lab was not touched.
    assert.equal(await page.evaluate(() => JSON.stringify(window.tokenDynamics.readout())), lab);
    for (const sel of LAB_CANVASES) await assertCanvasDrawn(page, sel);
    await assertClean(app);
  } finally {
    await app.close();
  }
});

/** Opens a next-token link from the lab's page in the same browser (its storage), and waits
 *  until the scene on the whole vocabulary is computed: {page, readout, errors}. */
async function openWhole(app, href) {
  const page = await app.context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(new URL(href, app.page.url()).href);
  const readout = await page.waitForFunction(() => {
    const r = window.tokenDynamics?.readout();
    return r && r.done && r.notes.some((n) => n.startsWith("All ")) && r;
  }, null, { timeout: 60_000 }).then((h) => h.jsonValue());
  return { page, readout, errors };
}

/** Texts of the panel below WCAG AA contrast (4.5:1; computed styles, the nearest opaque
 *  background up the tree, translucent layers blended over it), the figures' texts included. */
function lowContrast() {
  const rgba = (c) => { const [r, g, b, a = 1] = c.match(/[\d.]+/g).map(Number); return { r, g, b, a }; };
  const over = (t, u) => ({ r: t.r * t.a + u.r * (1 - t.a), g: t.g * t.a + u.g * (1 - t.a), b: t.b * t.a + u.b * (1 - t.a), a: 1 });
  const ch = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const lum = ({ r, g, b }) => 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    return layers.reverse().reduce((bg, layer) => over(layer, bg), { r: 255, g: 255, b: 255, a: 1 });
  };
  const low = [];
  const els = [...document.querySelectorAll("#real-model *")].filter((el) =>
    (el.matches("input:not([type=checkbox]), textarea, button") || [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) &&
    el.getBoundingClientRect().width > 0);
  for (const el of els) {
    const bg = background(el);
    // An SVG text (the report's figures) is painted in its fill, not in the CSS colour.
    const style = getComputedStyle(el);
    const [a, b] = [lum(over(rgba(el instanceof SVGElement ? style.fill : style.color), bg)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}#${el.id}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}:1`);
  }
  return { low, checked: els.length };
}

test("a phone, dark theme: the panel fits 390 px, reads at AA contrast, every input is labelled and at least 24 px", T_OPTS, async (t) => {
  const app = await openLab({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: "dark" });
  try {
    const { page } = app;
    await page.fill("#rm-text", TEXT);
    await page.check("#rm-layers");
    await page.fill("#rm-steer", "5");
    await page.fill("#rm-n", "4");
    let p = await chooseFiles(page, folderFiles(path.join(FIXTURES, "gpt2-hub-f32")));
    assert.equal(p.state, "ready", p.error);
    await page.click("#real-model summary");
    await shoot(page, "real-model-390.png");
    // An error shown above the last report.
    await page.fill("#rm-text", "The quick brown fox jumps over the lazy dog.");
    await page.click("#rm-analyse");
    p = await settle(page);
    assert.equal(p.state, "error");
    const layout = await page.evaluate(() => {
      const small = [];
      for (const el of document.querySelectorAll("#real-model input, #real-model button, #real-model summary")) {
        const b = el.getBoundingClientRect();
        if (!b.width || el.type === "checkbox" || el.closest("[hidden]")) continue;
        if (b.height < 23.5 || b.width < 24) small.push(`${el.tagName}#${el.id} ${b.width}×${b.height}`);
        if (b.right > innerWidth + 0.5) small.push(`${el.tagName}#${el.id} sticks out to ${b.right}`);
      }
      const labelled = [...document.querySelectorAll("#real-model input, #real-model textarea")].filter((el) => !el.labels?.length).map((el) => el.id);
      return { small, labelled, sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth };
    });
    assert.deepEqual(layout.small, []);
    assert.deepEqual(layout.labelled, [], "every input has a label");
    assert.ok(layout.sideways <= 0, `the page scrolls sideways by ${layout.sideways} px`);
    const contrast = await page.evaluate(lowContrast);
    t.diagnostic(`${contrast.checked} texts checked`);
    assert.ok(contrast.checked > 60);
    assert.deepEqual(contrast.low, []);
    await assertClean(app);
  } finally {
    await app.close();
  }
});

test("a folder URL on another origin: progress to 100%, the native report; shards and no tokenizer: token ids", T_OPTS, async (t) => {
  const app = await suite.open("energy.html#energy?v=1", {
    ...DESKTOP,
    initScripts: [
      () => {
        window.__progress = [];
        document.addEventListener("DOMContentLoaded", () => {
          const bar = document.getElementById("rm-progress");
          if (bar) new MutationObserver(() => window.__progress.push([bar.value, bar.max])).observe(bar, { attributes: true });
        });
      },
    ],
  });
  try {
    const { page } = app;
    const dir = path.join(FIXTURES, "gpt2-hub-f32");
    await page.fill("#rm-text", TEXT);
    let p = await fetchFolder(page, `${fixtures.url}gpt2-hub-f32/`);
    assert.equal(p.state, "ready", p.error);
    assertSameReport(p.report, native(dir, ["--text", TEXT], p.link), "URL");
    const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    const progress = await page.evaluate(() => window.__progress);
    t.diagnostic(`progress values: ${JSON.stringify(progress.slice(-3))} of ${bytes} bytes`);
    assert.ok(progress.some(([v, max]) => v === max && max === bytes), "the bar reached the folder's size");
    assert.match(p.source, new RegExp(`downloaded from ${fixtures.url}gpt2-hub-f32/`));

    // Sharded, f16, no tokenizer: the index names the shards; text needs a tokenizer, ids work.
    const sharded = path.join(FIXTURES, "gpt2-sharded-f16");
    p = await fetchFolder(page, `${fixtures.url}gpt2-sharded-f16/config.json`);
    assert.equal(p.state, "ready", p.error);
    assert.match(p.status, /needs tokenizer\.json for text/);
    assert.equal(p.report, null);
    assert.match(await page.textContent("#rm-text-label"), /Token ids/);
    await page.fill("#rm-text", "one two");
    await page.click("#rm-analyse");
    p = await settle(page);
    assert.equal(p.state, "error");
    assert.match(p.error, /Token ids: whole numbers/);
    await page.fill("#rm-text", "3, 1, 4, 1, 5");
    await page.click("#rm-analyse");
    p = await settle(page);
    assert.equal(p.state, "ready", p.error);
    assertSameReport(p.report, native(sharded, ["--ids", "3,1,4,1,5"], p.link), "sharded");
    assert.deepEqual(p.summary.stored_dtypes, ["f16"]);
    await assertClean(app, [`${fixtures.url}gpt2-sharded-f16/tokenizer.json`, `${fixtures.url}gpt2-sharded-f16/model.safetensors`]);
  } finally {
    await app.close();
  }
});

/** Serves fixture folders as the hub's `<owner>/<name>/resolve/main/<file>` (owner "fixtures",
 *  name a fixture folder), counting the requests per file. */
async function routeHub(context, hits) {
  await context.route("https://huggingface.co/**", async (route) => {
    const m = /^\/fixtures\/([^/]+)\/resolve\/main\/([^/]+)$/.exec(new URL(route.request().url()).pathname);
    const file = m && path.join(FIXTURES, m[1], m[2]);
    hits.push(m ? `${m[1]}/${m[2]}` : route.request().url());
    const headers = { "Access-Control-Allow-Origin": "*" };
    if (!file || !fs.existsSync(file)) return route.fulfill({ status: 404, headers, body: "Entry not found" });
    await route.fulfill({ status: 200, headers: { ...headers, "Content-Type": "application/octet-stream" }, body: fs.readFileSync(file) });
  });
}

test("a Hugging Face repo id: the native report; a second load comes from the browser's storage; Delete empties it", T_OPTS, async () => {
  const app = await openLab();
  try {
    const { page, context } = app;
    const hits = [];
    await routeHub(context, hits);
    const llama = path.join(FIXTURES, "llama-tied-f32");
    const sharded = path.join(FIXTURES, "gpt2-sharded-f16");
    await page.fill("#rm-text", TEXT);
    let p = await fetchFolder(page, "fixtures/llama-tied-f32");
    assert.equal(p.state, "ready", p.error);
    assertSameReport(p.report, native(llama, ["--text", TEXT], p.link), "hub");
    assert.deepEqual(hits, ["llama-tied-f32/config.json", "llama-tied-f32/tokenizer.json", "llama-tied-f32/model.safetensors"]);
    assert.match(p.source, /downloaded from https:\/\/huggingface\.co\/fixtures\/llama-tied-f32\/resolve\/main\//);
    // Sharded, without a tokenizer: the absent files are asked for once.
    p = await fetchFolder(page, "fixtures/gpt2-sharded-f16");
    assert.equal(p.state, "ready", p.error);
    assert.equal(hits.length, 3 + 7, `${hits}`);
    const bytes = [llama, sharded].flatMap((d) => fs.readdirSync(d).map((f) => fs.statSync(path.join(d, f)).size)).reduce((a, b) => a + b);
    // The checkpoints, and the whole distribution of the one report (the sharded folder has no
    // tokenizer: no report until the reader gives token ids).
    assert.match(p.stored, new RegExp(`^Stored in this browser: ${(bytes / 1e3).toFixed(1)} kB, 2 complete checkpoint folders\\. Also 1 whole next-token distribution for the next-token explorer \\([\\d.]+ kB\\)\\.$`));

    await page.reload();
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    // The panel asks the browser's storage on load (asynchronously): wait for its answer.
    await page.waitForFunction(() => document.getElementById("rm-stored").textContent !== "", null, { timeout: 10_000 });
    assert.match(await page.textContent("#rm-stored"), /Stored in this browser: [\d.]+ kB, 2 complete checkpoint folders\./);
    await page.fill("#rm-text", TEXT);
    p = await fetchFolder(page, "fixtures/llama-tied-f32");
    assert.equal(p.state, "ready", p.error);
    assert.match(p.source, /from this browser's storage/);
    assertSameReport(p.report, native(llama, ["--text", TEXT], p.link), "stored");
    p = await fetchFolder(page, "fixtures/gpt2-sharded-f16");
    assert.equal(p.state, "ready", p.error);
    assert.match(p.source, /from this browser's storage/);
    assert.equal(hits.length, 10, `the second loads asked the hub again: ${hits.slice(10)}`);

    await page.click("#rm-delete");
    await page.waitForFunction(() => /No checkpoint is stored/.test(document.getElementById("rm-stored").textContent));
    assert.equal(await page.evaluate(() => caches.has("token-dynamics-models-v1")), false);
    assert.equal(await page.evaluate(() => caches.has("token-dynamics-vocabularies-v1")), false);
    assert.ok(await page.isHidden("#rm-delete"));
    const hub = "https://huggingface.co/fixtures/gpt2-sharded-f16/resolve/main/";
    // The reload may abort the favicon's fetch (a race of the reload, not a fault of the page).
    await assertClean(app, [`${hub}tokenizer.json`, `${hub}model.safetensors`, "/favicon.svg net::ERR_ABORTED"]);
  } finally {
    await app.close();
  }
});

test("storage full: the model is used, and the page says it was not stored", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1", {
    ...DESKTOP,
    initScripts: [() => { Cache.prototype.put = () => Promise.reject(new DOMException("quota", "QuotaExceededError")); }],
  });
  try {
    const { page } = app;
    await page.fill("#rm-text", TEXT);
    const p = await fetchFolder(page, `${fixtures.url}gpt2-hub-f32/`);
    assert.equal(p.state, "ready", p.error);
    assert.match(p.source, /not stored: the browser's storage is full/);
    assert.ok(p.report);
    assert.equal(p.stored, "No checkpoint is stored in this browser.");
    // Nor the whole distribution: the link carries the top tokens only, and the page says why.
    assert.equal(p.vocab, null);
    assert.equal(await page.getAttribute("#rm-results a.rm-next-token", "href"), p.report.next_token_link);
    assert.match(await page.textContent("#rm-results a.rm-next-token + p"), /the whole distribution could not be kept in this browser's storage \(QuotaExceededError\)/);
    await assertClean(app);
  } finally {
    await app.close();
  }
});

/** A host whose model.safetensors announces 200 MB, sends 1 MB, then stalls (until closed); under
 *  /broken/ it announces 2 MB, sends 1 MB and hangs up. */
async function stallingHost() {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const headers = { "Access-Control-Allow-Origin": "*" };
    const name = req.url.split("/").pop();
    if (name === "model.safetensors") {
      const broken = req.url.startsWith("/broken/");
      res.writeHead(200, { ...headers, "Content-Type": "application/octet-stream", "Content-Length": broken ? 2e6 : 200e6 });
      res.write(Buffer.alloc(1e6), () => broken && setTimeout(() => res.destroy(), 100));
      return; // and nothing more
    }
    const file = path.join(FIXTURES, "gpt2-hub-f32", name);
    if (!fs.existsSync(file)) return res.writeHead(404, headers).end();
    res.writeHead(200, headers).end(fs.readFileSync(file));
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}/slow/`,
    broken: `http://127.0.0.1:${server.address().port}/broken/`,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
  };
}

test("cancel: a large download asks first and stops on Cancel, a computation too; the model in use stays", T_OPTS, async () => {
  const host = await stallingHost();
  const app = await openLab();
  try {
    const { page } = app;
    const dir = path.join(FIXTURES, "gpt2-hub-f32");
    await page.fill("#rm-text", TEXT);
    assert.equal((await chooseFiles(page, folderFiles(dir))).state, "ready");

    await page.fill("#rm-url", host.url);
    await page.click("#rm-fetch");
    await page.waitForSelector("#rm-confirm:not([hidden])");
    await shoot(page, "real-model-confirm-1280.png");
    assert.match(await page.textContent("#rm-confirm-text"), /200\.\d MB/);
    assert.equal(await page.evaluate(() => document.getElementById("real-model").dataset.state), "loading");
    await page.click("#rm-confirm-yes");
    await page.waitForFunction(() => /Downloading: 1\.0 MB of 200\.\d MB/.test(document.getElementById("rm-status").textContent));
    await shoot(page, "real-model-downloading-1280.png");
    await page.click("#rm-cancel");
    let p = await settle(page);
    assert.equal(p.state, "ready");
    assert.match(p.status, /Cancelled\. GPT2LMHeadModel stays in use\./);
    assert.equal(p.summary.architecture, "GPT2LMHeadModel");
    assert.ok(await page.isHidden("#rm-progress"));
    // What arrived in full before the cancel is stored, but no complete folder (and the whole
    // distribution of the report of the model in use).
    assert.match(p.stored, /^Stored in this browser: [\d.]+ kB, 0 complete checkpoint folders\. Also 1 whole next-token distribution for the next-token explorer \([\d.]+ kB\)\.$/);

    // A computation: Cancel ends the worker; the files stay, and the next Analyse reads them again.
    await page.evaluate(() => {
      document.getElementById("rm-form").requestSubmit();
      document.getElementById("rm-cancel").click();
    });
    p = await settle(page);
    assert.equal(p.state, "ready");
    assert.match(p.status, /Cancelled\. GPT2LMHeadModel stays in use: its files are kept here and read again at the next Analyse\./);
    await page.click("#rm-analyse");
    p = await settle(page);
    assert.equal(p.state, "ready", p.error);
    assertSameReport(p.report, native(dir, ["--text", TEXT], p.link), "after cancel");

    // A download that breaks off says so; the model in use stays.
    p = await fetchFolder(page, host.broken);
    assert.equal(p.state, "error");
    assert.equal(p.error, `The download of ${host.broken}model.safetensors broke off (network error).`);
    assert.equal(p.summary.architecture, "GPT2LMHeadModel");

    for (const sel of LAB_CANVASES) await assertCanvasDrawn(page, sel);
    // The aborted and the broken download are the failed requests.
    const failed = app.errors.filter((e) => /^requestfailed: .*\/(slow|broken)\/model\.safetensors/.test(e));
    assert.equal(failed.length, 2, app.errors.join("\n"));
    await assertClean(app, [`${host.url}tokenizer.json`, `${host.url}model.safetensors`, `${host.broken}tokenizer.json`, `${host.broken}model.safetensors`]);
  } finally {
    await app.close();
    await host.close();
  }
});

test("bad inputs say what is wrong, and the lab keeps working", T_OPTS, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "td-real-model-"));
  const app = await openLab();
  try {
    const { page } = app;
    const gpt2 = path.join(FIXTURES, "gpt2-hub-f32");
    await page.fill("#rm-text", TEXT);

    // Neither a repo id nor an http(s) URL: refused before any request.
    for (const bad of ["gpt2", "owner/name/extra", "ftp://example.com/model/", "-x/y"]) {
      const before = app.requests.length;
      const p = await fetchFolder(page, bad);
      assert.equal(p.state, "error");
      assert.match(p.error, /neither a Hugging Face repo id \(owner\/name/);
      assert.equal(app.requests.length, before, `${bad}: no request`);
    }

    // A folder URL with nothing there.
    let p = await fetchFolder(page, `${fixtures.url}nothing-here/`);
    assert.equal(p.state, "error");
    assert.match(p.error, /nothing-here\/config\.json: HTTP 404/);

    // A host that does not exist (a network error, as CORS refusals are).
    p = await fetchFolder(page, "http://127.0.0.1:9/model/");
    assert.match(p.error, /Could not fetch .*CORS/);

    // A truncated model.safetensors: the module's own message.
    const whole = fs.readFileSync(path.join(gpt2, "model.safetensors"));
    p = await chooseFiles(page, [
      { name: "config.json", mimeType: "application/json", buffer: fs.readFileSync(path.join(gpt2, "config.json")) },
      { name: "model.safetensors", mimeType: "application/octet-stream", buffer: whole.subarray(0, whole.length >> 1) },
    ]);
    assert.equal(p.state, "error");
    assert.equal(p.summary, null);
    const cut = path.join(tmp, "truncated");
    fs.mkdirSync(cut);
    fs.copyFileSync(path.join(gpt2, "config.json"), path.join(cut, "config.json"));
    fs.writeFileSync(path.join(cut, "model.safetensors"), whole.subarray(0, whole.length >> 1));
    assert.equal(p.error, nativeError(cut, ["--ids", "1,2"]));

    // An architecture the project does not run: the message names the ones it does.
    const bert = path.join(tmp, "bert");
    fs.cpSync(gpt2, bert, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(bert, "config.json"), "utf8"));
    fs.writeFileSync(path.join(bert, "config.json"), JSON.stringify({ ...config, architectures: ["BertModel"], model_type: "bert" }));
    p = await chooseFiles(page, folderFiles(bert));
    assert.equal(p.state, "error");
    assert.equal(p.error, nativeError(bert, ["--text", TEXT]));
    assert.match(p.error, /GPT2LMHeadModel/);
    assert.match(p.error, /LlamaForCausalLM/);

    // Files that are no checkpoint at all.
    p = await chooseFiles(page, [{ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") }]);
    assert.match(p.error, /None of these is a checkpoint file/);

    // A text the context cannot hold: the module's message, the model stays.
    assert.equal((await chooseFiles(page, folderFiles(gpt2))).state, "ready");
    await page.fill("#rm-text", "The quick brown fox jumps over the lazy dog.");
    await page.click("#rm-analyse");
    p = await settle(page);
    assert.equal(p.state, "error");
    assert.match(p.error, /context/);
    assert.equal(p.summary.architecture, "GPT2LMHeadModel");

    // bf16, no tokenizer, from the folder picker: text needs a tokenizer; ids work.
    const bf16 = path.join(FIXTURES, "gpt2-saved-bf16");
    await page.setInputFiles("#rm-folder", bf16);
    p = await settle(page);
    assert.equal(p.state, "ready", p.error);
    assert.match(p.status, /needs tokenizer\.json for text/);
    assert.deepEqual(p.summary.stored_dtypes, ["bf16"]);
    await page.fill("#rm-text", "7, 8, 9");
    await page.click("#rm-analyse");
    p = await settle(page);
    assertSameReport(p.report, native(bf16, ["--ids", "7,8,9"], p.link), "bf16");
    // Kept in bf16, the twin too, and the reader is told so.
    assert.equal(p.report.twin_dtype, "bf16");
    // The size in the unit that reads true: this fixture's 26 kB is not "0.0 MB".
    const kept = p.summary.weight_bytes;
    assert.ok(kept > 1e3 && kept < 1e6, `fixture weights ${kept} bytes`);
    assert.match(await page.textContent("#rm-summary"), new RegExp(`stored as bf16, kept in memory as bf16 \\(${(kept / 1e3).toFixed(1)} kB, and as much for its random twin\\)`));
    assert.match(await page.textContent("#rm-results table caption"), /random-weight twin \(seed \d+; stored in bf16 like the checkpoint\)/);

    assert.equal(await page.evaluate(() => window.__imgInserted.length), 0);
    for (const sel of LAB_CANVASES) await assertCanvasDrawn(page, sel);
    await assertClean(app, [`${fixtures.url}nothing-here/config.json`, "http://127.0.0.1:9/model/config.json"]);
  } finally {
    await app.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("a folder dropped on the panel is loaded", T_OPTS, async () => {
  const app = await openLab();
  try {
    const { page } = app;
    const dir = path.join(FIXTURES, "llama-tied-f32");
    const files = fs.readdirSync(dir).map((name) => ({ name, bytes: [...fs.readFileSync(path.join(dir, name))] }));
    await page.fill("#rm-text", TEXT);
    await page.evaluate((files) => {
      const data = new DataTransfer();
      for (const f of files) data.items.add(new File([new Uint8Array(f.bytes)], f.name));
      const panel = document.getElementById("real-model");
      panel.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
      panel.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }, files);
    await page.waitForFunction(() => window.tokenDynamicsRealModel.report || document.getElementById("real-model").dataset.state === "error", null, { timeout: 60_000 });
    const p = await settle(page);
    assert.equal(p.state, "ready", p.error);
    assertSameReport(p.report, native(dir, ["--text", TEXT], p.link), "drop");
    await assertClean(app);
  } finally {
    await app.close();
  }
});

/** The files' hash of a link (checkpoint=file:NAME@HASH), computed here as docs/page-contract.md says. */
function filesHash(files) {
  const sha = (bytes) => execFileSync("sha256sum", { input: bytes }).toString().split(" ")[0];
  const lines = files
    .map((f) => [path.basename(f), `${path.basename(f)}\n${sha(fs.readFileSync(f))}\n`])
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map((l) => l[1])
    .join("");
  return sha(Buffer.from(lines));
}

test("links: checkpoint= names the model and nothing is fetched before Download; a loaded model goes into the link; files from disk are named by their hash and checked", T_OPTS, async () => {
  const gpt2 = path.join(FIXTURES, "gpt2-hub-f32");
  const llama = path.join(FIXTURES, "llama-tied-f32");
  // A repo id in the link: the form is filled, the page says so, the hub is not asked.
  let app = await suite.open("energy.html#energy?v=1&checkpoint=fixtures/gpt2-hub-f32", DESKTOP);
  try {
    const { page, context } = app;
    const hits = [];
    await routeHub(context, hits);
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await page.waitForFunction(() => /names the real model fixtures\/gpt2-hub-f32/.test(document.getElementById("rm-status").textContent));
    assert.equal(await page.inputValue("#rm-url"), "fixtures/gpt2-hub-f32");
    assert.deepEqual(hits, [], "nothing is downloaded before the reader asks");
    await page.fill("#rm-text", TEXT);
    await page.click("#rm-fetch");
    const p = await settle(page);
    assert.equal(p.state, "ready", p.error);
    assertSameReport(p.report, native(gpt2, ["--text", TEXT], p.link), "linked");
    // Loading another model by repo id puts it in the link (and keeps the lab's settings).
    await page.evaluate(() => window.tokenDynamics.set({ seed: 9 }));
    await fetchFolder(page, "fixtures/llama-tied-f32");
    await page.waitForFunction(() => window.tokenDynamics.state().checkpoint === "fixtures/llama-tied-f32");
    assert.equal((await page.evaluate(() => window.tokenDynamics.state())).seed, 9);
    assert.match(await page.evaluate(() => location.hash), /checkpoint=fixtures%2Fllama-tied-f32/);
    await assertClean(app, ["https://huggingface.co/fixtures/"]);
  } finally {
    await app.close();
  }
  // Files from disk: the link records their hash; a recipient is asked for them, and told whether
  // the files chosen are the same.
  const files = folderFiles(gpt2);
  const hash = filesHash(files);
  app = await openLab();
  let link;
  try {
    await app.page.fill("#rm-text", TEXT);
    const p = await chooseFiles(app.page, files);
    assert.equal(p.state, "ready", p.error);
    link = await app.page.evaluate(() => window.tokenDynamics.state().checkpoint);
    assert.equal(link, `file:GPT2LMHeadModel@${hash}`);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
  app = await suite.open(`energy.html#energy?v=1&checkpoint=${encodeURIComponent(link)}`, DESKTOP);
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await page.waitForFunction(() => /made with a checkpoint loaded from disk: "GPT2LMHeadModel"/.test(document.getElementById("rm-status").textContent));
    assert.equal(await page.evaluate(() => document.getElementById("real-model").dataset.state), "idle");
    await page.fill("#rm-text", TEXT);
    const p = await chooseFiles(page, folderFiles(llama));
    assert.match(p.source, /These files differ from the ones the link was made with/);
    // The link now names the files in use.
    assert.match(await page.evaluate(() => window.tokenDynamics.state().checkpoint), /^file:LlamaForCausalLM@[0-9a-f]{64}$/);
    // Still the link's files are asked for (not the ones the page just wrote): choosing them says so,
    // and after that the reader's own loads are compared with nothing.
    assert.match((await chooseFiles(page, files)).source, /These are the files the link was made with/);
    assert.doesNotMatch((await chooseFiles(page, folderFiles(llama))).source, /the link was made with/);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
  // The recipient who chooses the very files is told they are the ones.
  app = await suite.open(`energy.html#energy?v=1&checkpoint=${encodeURIComponent(link)}`, DESKTOP);
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await page.waitForFunction(() => /loaded from disk/.test(document.getElementById("rm-status").textContent));
    await page.fill("#rm-text", TEXT);
    const p = await chooseFiles(page, files);
    assert.match(p.source, /These are the files the link was made with \(same SHA-256\)/);
    assertSameReport(p.report, native(gpt2, ["--text", TEXT], p.link), "from the link");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});
