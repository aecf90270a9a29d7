// Headless-browser tests of the hidden-state energy lab (energy.html; links #energy?…).
// Run: node --test --test-concurrency=1 tests/browser/   (needs a built dist/; see scripts/test.sh)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startSuite,
  waitIdle,
  canvasStats,
  assertCanvasDrawn,
  waitCanvasChange,
  waitHash,
  screenshot,
  setControl,
  download,
  probeUntilReady,
  REPO,
} from "./harness.mjs";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const T_OPTS = { timeout: 180_000 };
const CANVASES = ["#series-canvas", "#phase-canvas", "#scatter-canvas", "#dist-canvas"];
const WEIGHTS = path.join(REPO, "www", "models", "trained.tdgpt");

let suite;
before(async () => { suite = await startSuite(); });
after(async () => { await suite?.close(); });

const state = (page) => page.evaluate(() => window.tokenDynamics.state());
const readout = (page) => page.evaluate(() => window.tokenDynamics.readout());
const messages = (page) =>
  page.evaluate(() => (document.querySelector("#messages")?.hidden ? [] :
    [...document.querySelectorAll("#message-list li")].map((li) => li.textContent)));

// Records every text the model status line shows, from before the page's scripts run.
function recordModelStatus() {
  window.__modelStatus = [];
  window.__progressValues = [];
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("model-status");
    const bar = document.getElementById("model-progress");
    if (status) new MutationObserver(() => window.__modelStatus.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
    if (bar) new MutationObserver(() => window.__progressValues.push(bar.getAttribute("value"))).observe(bar, { attributes: true });
  });
}

test("the lab loads the trained weights with progress, then draws both models with no errors", T_OPTS, async (t) => {
  const app = await suite.open("energy.html#energy?v=1", { viewport: DESKTOP, initScripts: [recordModelStatus] });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    await app.assertNoErrors();
    const statuses = await page.evaluate(() => window.__modelStatus);
    t.diagnostic(`status texts: ${JSON.stringify(statuses.slice(-3))}`);
    assert.ok(statuses.some((s) => /Loading the trained weights: [\d.]+ MB/.test(s)), "progress was shown while downloading");
    assert.ok(statuses.some((s) => /Trained weights loaded \([\d.]+ MB/.test(s)), "the loaded size is shown");
    const size = fs.statSync(WEIGHTS).size;
    t.diagnostic(`weights file: ${size} bytes`);
    for (const sel of CANVASES) await assertCanvasDrawn(page, sel);
    const r = await readout(page);
    assert.equal(r.done, true);
    assert.ok(r.trained && r.random, "both models analysed");
    assert.equal(r.trained.K.length, r.trained.t.length);
    assert.equal(r.random.E.length, r.random.t.length);
    // The reference's acceptance check, in the page: the random model predicts nearly uniformly.
    assert.ok(Math.abs(r.random.summary.mean_U - Math.log(256)) < 0.3, `random mean U ${r.random.summary.mean_U}`);
    assert.ok(r.trained.summary.mean_U < r.random.summary.mean_U - 2, `trained ${r.trained.summary.mean_U} vs random ${r.random.summary.mean_U}`);
    // The statistics table shows both models and the nulls beside the headline.
    const table = await page.textContent("#stats");
    assert.match(table, /CV\(E\)/);
    assert.match(table, /shuffled U against K/);
    assert.match(table, /ln 256/);
    // Every switch is labelled as our assumption.
    for (const key of ["h", "mass", "U", "form", "skip"]) {
      const label = await page.textContent(`label[for="ctl-${key}"]`);
      assert.match(label, /assumption/, `${key} label: ${label}`);
    }
    const tokens = await page.$$eval("#tokens .tok", (spans) => spans.length);
    assert.equal(tokens, r.tokens.length);
    await screenshot(page, "energy-default-1280x900.png");
  } finally {
    await app.close();
  }
});

test("switches change the statistics, the picture and the link; the link restores them", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    const before = await readout(page);
    const pixels = (await canvasStats(page, "#series-canvas")).hash;
    await setControl(page, "mass", "fitted");
    await waitHash(page, (h) => h.mass === "fitted");
    await waitIdle(page);
    await waitCanvasChange(page, "#series-canvas", pixels);
    const after = await readout(page);
    assert.notEqual(after.trained.mass, before.trained.mass, "fitted mass differs from 1/d");
    assert.notEqual(after.trained.summary.cv_E, before.trained.summary.cv_E);
    await setControl(page, "form", "product");
    await waitHash(page, (h) => h.form === "product");
    await waitIdle(page);
    const hash = await page.evaluate(() => location.hash);
    const final = await readout(page);
    const other = await suite.open(`energy.html${hash}`, { viewport: DESKTOP });
    try {
      await other.page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
      await waitIdle(other.page);
      const s = await state(other.page);
      assert.equal(s.mass, "fitted");
      assert.equal(s.form, "product");
      const again = await readout(other.page);
      assert.deepEqual(again.trained.E, final.trained.E, "the shared link reproduces the series exactly");
      assert.equal(await other.page.inputValue("#ctl-mass"), "fitted");
      await other.assertNoErrors();
    } finally {
      await other.close();
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("steering changes the continuation and reports the new probability and rank", T_OPTS, async (t) => {
  const link = "energy.html#energy?v=1&mode=generate&n=40&T=0&steer=margin&margin=2";
  const app = await suite.open(link, { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page, 90_000);
    const r = await readout(page);
    const s = r.steering;
    assert.ok(s, "a steering outcome");
    t.diagnostic(`target ${s.target_text}: p ${Math.exp(s.old_log_p).toFixed(4)} -> ${s.new_p.toFixed(4)}, rank ${s.old_rank} -> ${s.new_rank}, |delta| ${s.norm.toFixed(3)}`);
    t.diagnostic(`plain:   ${JSON.stringify(s.continuation)}`);
    t.diagnostic(`steered: ${JSON.stringify(s.continuation_steered)}`);
    assert.equal(s.model, "trained");
    assert.equal(s.new_rank, 1, "the margin form makes the target the top byte");
    assert.ok(s.new_p > Math.exp(s.old_log_p));
    assert.notEqual(s.continuation, s.continuation_steered, "steering changes the continuation");
    assert.equal(s.continuation_steered[0], String.fromCharCode(s.target), "greedy decoding starts with the target");
    assert.equal(await page.textContent("#continuation-steered"), s.continuation_steered);
    assert.match(await page.textContent("#steering"), /rank of the target/);
    // Earlier layer through the VJPs: the realised change is reported beside the requested one.
    await setControl(page, "steer", "delta");
    await setControl(page, "layer", "1");
    await waitHash(page, (h) => h.layer === "1");
    await waitIdle(page, 90_000);
    const early = (await readout(page)).steering;
    assert.equal(early.form, "delta");
    assert.match(early.site, /block 1/);
    assert.ok(early.new_log_p > early.old_log_p, "a positive Δ at block 1 raises log p");
    assert.match(await page.textContent("#steering"), /requested \/ realised/);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("hovering a byte shows its distribution; the next-token link opens a clean flow of those logits", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    const before = (await canvasStats(page, "#dist-canvas")).hash;
    await page.hover('#tokens .tok[data-t="10"]');
    await waitCanvasChange(page, "#dist-canvas", before);
    // The result shows next to the pointer: a card just under the hovered byte, in view.
    const card = await page.evaluate(() => {
      const c = document.getElementById("hover-card");
      const b = c.getBoundingClientRect();
      const byte = document.querySelector('#tokens .tok[data-t="10"]').getBoundingClientRect();
      return { hidden: c.hidden, text: c.textContent, gap: b.top - byte.bottom, left: b.left, right: b.right, bottom: b.bottom, vw: innerWidth, vh: innerHeight };
    });
    assert.equal(card.hidden, false);
    assert.match(card.text, /^After position 10 the trained model expects (.+ \d\.\d{3}( · |)){5} — the text has .+ \(p \d\.\d{3}, \d+\.\d{2} nats\)$/);
    assert.ok(card.gap >= 0 && card.gap <= 12, `the card is ${card.gap} px below the byte`);
    assert.ok(card.left >= 0 && card.right <= card.vw && card.bottom <= card.vh, JSON.stringify(card));
    const href = await page.getAttribute("#open-next-token", "href");
    assert.match(href, /^index\.html#next-token\?v=1&s=/);
    assert.match(await page.textContent("#open-next-token"), /position 10/);
    // Leaving the text hides the card.
    await page.mouse.move(5, 5);
    await page.waitForFunction(() => document.getElementById("hover-card").hidden);
    // Click pins the position in the link.
    await page.click('#tokens .tok[data-t="10"]');
    await waitHash(page, (h) => h.pos === "10");
    // Pinning the position re-applies the state; the readout is whole again once the page is idle.
    await waitIdle(page);
    const lp = (await readout(page)).trained;
    assert.ok(lp, "the trained model's analysis is in the readout");
    const flow = await suite.open(href, { viewport: DESKTOP });
    try {
      assert.deepEqual(await messages(flow.page), [], "the generated next-token link is clean");
      const s = await state(flow.page);
      assert.equal(s.explorer, "next-token");
      assert.equal(s.s.split(",").length, 256);
      await flow.assertNoErrors();
    } finally {
      await flow.close();
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("a 10 MB paste is cut to 2,048 bytes with a message, without freezing the page", T_OPTS, async (t) => {
  const app = await suite.open("energy.html#energy?v=1", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    const started = Date.now();
    await page.evaluate(() => {
      const area = document.getElementById("ctl-text");
      area.value = "Call me Ishmael. ".repeat(620_000); // ~10.5 MB
      area.dispatchEvent(new Event("change", { bubbles: true }));
    });
    const probe = await probeUntilReady(page);
    t.diagnostic(`cut and re-analysed in ${Date.now() - started} ms; worst main-thread round trip ${probe.worst} ms`);
    const msgs = await messages(page);
    assert.ok(msgs.some((m) => /2048 analysed/.test(m)), `messages: ${msgs}`);
    const s = await state(page);
    assert.equal(s.text.length, 2048);
    assert.equal((await page.inputValue("#ctl-text")).length, 2048, "the text box shows what is analysed");
    const r = await readout(page);
    assert.equal(r.tokens.length, 2048);
    assert.ok(r.trained.t.length > 1900, "all 16 windows analysed");
    const hash = await page.evaluate(() => location.hash);
    assert.ok(hash.length < 12_000, `link length ${hash.length}`);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("bad links keep the good settings and say what was changed", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1&mass=heavy&T=abc&top_p=9&steer=margin&target=%3Cimg%20src%3Dx%3E&form=product", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    const msgs = await messages(page);
    for (const key of ["mass", "T=abc", "top_p", "target"]) {
      assert.ok(msgs.some((m) => m.includes(key)), `no message about ${key}: ${msgs}`);
    }
    const s = await state(page);
    assert.equal(s.form, "product", "a good key survives bad neighbours");
    assert.equal(s.steer, "margin");
    assert.equal(await page.evaluate(() => window.__imgInserted.length), 0, "link text never becomes markup");
    for (const sel of CANVASES) await assertCanvasDrawn(page, sel);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("phone viewport: no horizontal scroll, figures stacked and drawn", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1&steer=margin", PHONE);
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `horizontal overflow ${overflow}px`);
    for (const sel of CANVASES) await assertCanvasDrawn(page, sel);
    await screenshot(page, "energy-phone-390.png");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("browser and native statistics agree within 1e-9 on the same weights and tokens", T_OPTS, async (t) => {
  const native = path.join(REPO, "target", "release", "token-dynamics");
  assert.ok(fs.existsSync(native), `${native} missing (scripts/test.sh builds it)`);
  const links = [
    "#energy?v=1",
    "#energy?v=1&h=pre&mass=fitted&U=entropy&form=product&skip=3",
    "#energy?v=1&mode=generate&n=48&steer=delta&layer=2&dlogp=0.5",
  ];
  for (const link of links) {
    const app = await suite.open(`energy.html${link}`, { viewport: DESKTOP });
    try {
      const { page } = app;
      await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
      await waitIdle(page, 90_000);
      const browser = await readout(page);
      const json = JSON.parse(execFileSync(native, ["render", link, "--json", "-"], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] }).toString());
      const nativeReadout = json.readout;
      assert.deepEqual(browser.tokens, nativeReadout.tokens, `${link}: same tokens`);
      let worst = 0;
      for (const model of ["trained", "random"]) {
        for (const key of ["K", "U", "E", "speed"]) {
          const a = browser[model][key];
          const b = nativeReadout[model][key];
          assert.equal(a.length, b.length);
          for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        for (const [key, v] of Object.entries(browser[model].summary)) {
          const w = nativeReadout[model].summary[key];
          if (v === null || w === null) assert.equal(v, w, `${key}`);
          else worst = Math.max(worst, Math.abs(v - w));
        }
      }
      if (browser.steering) {
        assert.equal(browser.steering.continuation_steered, nativeReadout.steering.continuation_steered);
        worst = Math.max(worst, Math.abs(browser.steering.new_log_p - nativeReadout.steering.new_log_p));
      }
      t.diagnostic(`${link}: largest browser-native difference ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-9, `${link}: browser and native differ by ${worst}`);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});

test("exports: SVG of each figure, CSV and JSON with names that say what they are", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1&steer=delta", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    for (const figure of ["series", "phase", "scatter", "dist"]) {
      await page.selectOption("#export-figure", figure);
      const svg = await download(page, "#export-svg");
      assert.match(svg.name, new RegExp(`^token-dynamics_energy_analyse-229B_post-invd-surprisal-additive_steer-delta-post_${figure}\\.svg$`), svg.name);
      assert.match(svg.bytes.toString("utf8"), /^<svg/);
    }
    const csv = (await download(page, "#export-csv")).bytes.toString("utf8");
    assert.match(csv, /^# token-dynamics/);
    assert.match(csv, /\r\nmodel,t,byte,next_byte,speed,K,U,E,E_steered,hidden_norm\r\n/);
    const json = JSON.parse((await download(page, "#export-json")).bytes.toString("utf8"));
    assert.equal(json.explorer, "energy");
    assert.ok(json.readout.trained.E.length > 200);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("typed or pasted text is analysed without leaving the box (after a pause, or at once with Ctrl+Enter), with a visible 'analysing…'", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    // A paste (one input event), the focus staying in the box.
    await page.focus("#ctl-text");
    await page.evaluate(() => {
      const area = document.getElementById("ctl-text");
      area.value = "Call me Ishmael. Some years ago, never mind how long precisely.";
      area.dispatchEvent(new Event("input", { bubbles: true }));
    });
    const pending = await page.evaluate(() => document.querySelector("[data-text-status]").textContent);
    assert.equal(pending, "analysing…", "no visible pending state after the paste");
    await page.waitForFunction(() => window.tokenDynamics.state().text.startsWith("Call me Ishmael"), null, { timeout: 5_000 });
    await waitIdle(page);
    assert.equal(await page.evaluate(() => document.activeElement.id), "ctl-text", "the box lost the focus");
    assert.ok((await readout(page)).tokens.length > 50, "the pasted text was not analysed");
    await page.waitForFunction(() => document.querySelector("[data-text-status]").textContent === "", null, { timeout: 10_000 });
    // Typing, then Ctrl+Enter: applied at once (well before the pause would).
    await page.keyboard.press("End");
    await page.keyboard.type(" Q");
    await page.keyboard.press("Control+Enter");
    const applied = await page.evaluate(() => window.tokenDynamics.state().text);
    assert.ok(applied.endsWith(" Q"), `Ctrl+Enter did not apply the text: …${applied.slice(-20)}`);
    assert.ok(!(await page.inputValue("#ctl-text")).endsWith("\n"), "Ctrl+Enter also typed a new line");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("the keys the other pages know work here too, and the shaded text breaks lines between words", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1&pos=10", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.waitForSelector('body[data-model="loaded"]', { timeout: 60_000 });
    await waitIdle(page);
    await page.click("body", { position: { x: 5, y: 5 } });
    // ] and [ move the inspected position one byte, like → and ←.
    await page.keyboard.press("]");
    await waitHash(page, (h) => h.pos === "11");
    await page.keyboard.press("[");
    await page.keyboard.press("[");
    await waitHash(page, (h) => h.pos === "9");
    // R restarts the playback.
    await page.keyboard.press("Space");
    await page.waitForTimeout(300);
    await page.keyboard.press("Space");
    await page.keyboard.press("r");
    await page.waitForFunction(() => Number(window.tokenDynamics.state().at) === 0, null, { timeout: 5000 });
    // Every line of the shaded text ends at a space (the default text has no word longer than a line).
    const breaks = await page.evaluate(() => {
      const spans = [...document.querySelectorAll("#tokens .tok")];
      const out = [];
      for (let i = 0; i + 1 < spans.length; i++) {
        if (spans[i + 1].getBoundingClientRect().top > spans[i].getBoundingClientRect().top + 2) {
          out.push([spans[i].textContent, spans[i + 1].textContent]);
        }
      }
      return out;
    });
    assert.ok(breaks.length >= 1, "the text fits one line?");
    for (const [before, after] of breaks) {
      assert.ok(before === " " || after === " ", `a line breaks inside a word: "${before}|${after}"`);
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});
