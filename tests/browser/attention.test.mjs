// Headless-browser tests of the attention-particle explorer (attention.html; links #attention?…).
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
import os from "node:os";
import path from "node:path";

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const T_OPTS = { timeout: 120_000 };
const P = "#particles-canvas";
const PLOTS = "#plots-canvas";

let suite;
before(async () => { suite = await startSuite(); });
after(async () => { await suite?.close(); });

const state = (page) => page.evaluate(() => window.tokenDynamics.state());
const readout = (page) => page.evaluate(() => window.tokenDynamics.readout());
const messages = (page) =>
  page.evaluate(() => (document.querySelector("#messages")?.hidden ? [] :
    [...document.querySelectorAll("#message-list li")].map((li) => li.textContent)));

test("the site root routes #attention links to the attention page, which draws both figures with no errors", T_OPTS, async (t) => {
  const app = await suite.open("#attention?v=1&n=40&steps=60", { viewport: DESKTOP });
  try {
    const { page } = app;
    assert.match(page.url(), /attention\.html#attention\?/, `not routed: ${page.url()}`);
    const st = await state(page);
    assert.equal(st.explorer, "attention");
    assert.equal(Number(st.n), 40);
    assert.equal(Number(st.steps), 60);
    for (const sel of [P, PLOTS]) {
      const s = await assertCanvasDrawn(page, sel);
      t.diagnostic(`${sel}: ${s.width}x${s.height}, ${(100 * s.nonBgFrac).toFixed(1)}% drawn, ${s.distinct} colours`);
      assert.equal(await page.getAttribute(sel, "role"), "img");
      assert.ok((await page.getAttribute(sel, "aria-label"))?.length > 10, `${sel} needs an aria-label`);
    }
    const r = await readout(page);
    assert.equal(r.done, true);
    const panel = r.panels[0];
    assert.equal(panel.rule, "localmax");
    assert.equal(panel.final_positions.length, 40);
    assert.ok(panel.final_positions.every((p) => p.length === 2 && p.every(Number.isFinite)));
    assert.equal(panel.diameter.length, 61, "diameter per step 0..=60");
    assert.ok(panel.hull_vertices.length >= 1 && panel.hull_vertices.every((i) => i >= 0 && i < 40));
    for (const key of ["leaders", "clusters", "quiescent"]) assert.ok(key in panel, `readout lacks ${key}`);
    assert.ok(/working definition/i.test(JSON.stringify(panel.quiescent)), "quiescent sets must be labelled a working definition");
    // The hull never grows under an averaging rule.
    for (let k = 1; k < panel.diameter.length; k++) {
      assert.ok(panel.diameter[k] <= panel.diameter[k - 1] * (1 + 1e-12) + 1e-15, `diameter grew at k=${k}`);
    }
    // The page names the active rule and says it is a stand-in.
    const ruleLine = await page.textContent("#rule-line");
    assert.match(ruleLine, /stand-in/);
    assert.equal(await page.evaluate(() => document.querySelector("#messages").hidden), true);
    await screenshot(page, "attention-default-1280x900.png");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("localmax preset: dragging delta up from 0 changes the particles and the link; delta = 0 is hardmax exactly", T_OPTS, async () => {
  const app = await suite.open("attention.html", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.click('a[data-preset="localmax"]');
    await waitIdle(page);
    const preset = await state(page);
    assert.equal(preset.rule, "localmax");
    // drag the slider to 0 (hardmax), then upward, like a pointer drag (input events)
    const drag = async (v) => {
      await page.evaluate((v) => {
        const el = document.querySelector("#ctl-delta");
        el.value = String(v);
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }, v);
      await waitIdle(page);
    };
    await drag(0);
    const atZero = await readout(page);
    const before = await canvasStats(page, P);
    await waitHash(page, (p) => p.delta === "0");
    for (const v of [0.05, 0.1, 0.3]) await drag(v);
    const after = await waitCanvasChange(page, P, before.hash);
    assert.ok(after.nonBgFrac > 0.01);
    await waitHash(page, (p) => p.delta === "0.3");
    assert.equal((await state(page)).rule, "localmax");
    const moved = await readout(page);
    assert.notDeepEqual(moved.panels[0].final_positions, atZero.panels[0].final_positions, "delta did not change the limit");
    // delta = 0 localmax equals hardmax bitwise (same link otherwise)
    const hashZero = (await state(page)).hash.replace(/&delta=[^&]*/, "").replace(/&rule=[^&]*/, "");
    const hard = await suite.open(`${hashZero}&rule=hardmax`, { viewport: DESKTOP });
    try {
      const rh = await readout(hard.page);
      assert.equal(rh.panels[0].rule, "hardmax");
      assert.deepEqual(rh.panels[0].final_positions, atZero.panels[0].final_positions, "delta = 0 localmax differs from hardmax");
      await hard.assertNoErrors();
    } finally {
      await hard.close();
    }
    // the margin rule switches, and the interface says which is active
    await setControl(page, "margin", "multiplicative");
    await waitIdle(page);
    assert.match(await page.textContent("#rule-line"), /multiplicative/);
    await waitHash(page, (p) => p.margin === "multiplicative");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("compare mode shows softmax, hardmax and localmax side by side from the same start", T_OPTS, async () => {
  const app = await suite.open("#attention?rule=compare&n=48&steps=80", { viewport: DESKTOP });
  try {
    const { page } = app;
    const hashes = [];
    for (const sel of [P, "#particles-canvas-2", "#particles-canvas-3"]) {
      const s = await assertCanvasDrawn(page, sel);
      hashes.push(s.hash);
    }
    assert.equal(new Set(hashes).size, 3, "the three panels should differ");
    const r = await readout(page);
    assert.deepEqual(r.panels.map((p) => p.rule), ["softmax", "hardmax", "localmax"]);
    // same start: step-0 diameters agree
    const d0 = r.panels.map((p) => p.diameter[0]);
    assert.ok(d0.every((d) => d === d0[0]), `different starts: ${d0}`);
    assert.equal((await page.$$eval("#rule-line li", (l) => l.length)), 3);
    await screenshot(page, "attention-compare-1280x900.png");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("every preset link restores its state, draws, and shows no message", T_OPTS, async () => {
  const app = await suite.open("attention.html", { viewport: DESKTOP });
  let presets;
  try {
    presets = await app.page.$$eval("a[data-preset]", (as) => as.map((a) => [a.dataset.preset, a.getAttribute("href")]));
    assert.ok(presets.length >= 10, `only ${presets.length} presets`);
  } finally {
    await app.close();
  }
  for (const [name, href] of presets) {
    if (/n=2000/.test(href)) continue; // the large case has its own test
    const one = await suite.open(href, { viewport: DESKTOP });
    try {
      const st = await state(one.page);
      assert.equal(st.hash, href, `${name}: state().hash differs from the preset link`);
      assert.deepEqual(await messages(one.page), [], `${name}: messages on a preset`);
      await assertCanvasDrawn(one.page, P);
      await one.assertNoErrors();
    } finally {
      await one.close();
    }
  }
});

test("bad links: clear messages, clamped values, other settings kept, page still drawn", T_OPTS, async () => {
  const app = await suite.open("#attention?steps=50&n=abc&delta=-5&rule=bogus&zzz=1&alpha=1e400&x0=1,2;NaN,3&A=1,2,x&focus=99999", { viewport: DESKTOP });
  try {
    const { page } = app;
    const msgs = await messages(page);
    assert.ok(msgs.length >= 5, `expected messages, got ${JSON.stringify(msgs)}`);
    for (const key of ["n", "delta", "rule", "zzz"]) {
      assert.ok(msgs.some((m) => m.includes(key)), `no message names ${key}: ${JSON.stringify(msgs)}`);
    }
    const text = await page.textContent("#message-list");
    assert.ok(!/<|NaN|undefined/.test(text.replace(/NaN,3/g, "")), `raw markup or NaN leaked: ${text}`);
    const st = await state(page);
    assert.equal(Number(st.steps), 50, "steps from the same link was lost");
    assert.ok(Number(st.delta) >= 0);
    await assertCanvasDrawn(page, P);
    await assertCanvasDrawn(page, PLOTS);
    // a hostile label-like value never becomes markup
    const evil = await suite.open("#attention?pieces=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&schedule=piecewise", { viewport: DESKTOP });
    try {
      assert.equal(await evil.page.$$eval("#messages img", (i) => i.length), 0);
      await evil.assertNoErrors();
    } finally {
      await evil.close();
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("pointer editing: a click adds a token (custom starts), a token click shows its attention; d = 3 drag rotates", T_OPTS, async () => {
  const app = await suite.open("#attention?init=fig2-leader&rule=hardmax&steps=30&at=0", { viewport: DESKTOP });
  try {
    const { page } = app;
    const n0 = (await readout(page)).panels[0].n;
    const box = await page.locator(P).boundingBox();
    // an empty spot near the middle-right of the plot
    await page.mouse.click(box.x + box.width * 0.72, box.y + box.height * 0.62);
    await waitIdle(page);
    const st = await state(page);
    assert.equal(st.init, "custom");
    assert.equal((await readout(page)).panels[0].n, n0 + 1, "the click did not add a token");
    await waitHash(page, (p) => p.init === "custom" && p.x0 !== undefined);
    // Press on empty space and drag at once: the press adds one token and the drag moves it,
    // in the axes the press began in (equal aspect: 60 px across, 30 px up is 2:1 in data).
    {
      const lastToken = (st) => st.x0.split(";").at(-1).split(",").map(Number);
      const count = (st) => st.x0.split(";").length;
      const [px, py] = [box.x + box.width * 0.3, box.y + box.height * 0.35];
      await page.mouse.move(px, py);
      await page.mouse.down();
      await waitIdle(page);
      const added = await state(page);
      await page.mouse.move(px + 60, py - 30, { steps: 6 });
      await waitIdle(page);
      const moved = await state(page);
      await page.mouse.up();
      await waitIdle(page);
      const released = await state(page);
      assert.equal(count(moved), count(added), "dragging the new token added another");
      assert.equal(count(released), count(added));
      const [x0, y0] = lastToken(added);
      const [x1, y1] = lastToken(moved);
      assert.ok(x1 > x0 && y1 > y0, `the new token did not follow the pointer: (${x0}, ${y0}) -> (${x1}, ${y1})`);
      const ratio = (x1 - x0) / (y1 - y0);
      assert.ok(Math.abs(ratio - 2) < 0.2, `the drag was re-scaled on the way: dx/dy = ${ratio}`);
    }
    // keyboard: focus the figure and pick a token with the arrow keys
    await page.focus(P);
    const before = (await canvasStats(page, P)).hash;
    await page.keyboard.press("ArrowUp");
    await waitIdle(page);
    assert.equal(String((await state(page)).focus), "0");
    await waitCanvasChange(page, P, before);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
  // Dragging turns a 3-D view, in R^3 and on the sphere S².
  for (const link of ["#attention?d=3&init=disk&n=60&steps=40", "#attention?v=1&rule=softmax&norm=sphere&n=60&d=3&steps=40&init=disk"]) {
    const three = await suite.open(link, { viewport: DESKTOP });
    try {
      const { page } = three;
      const before = await state(page);
      const pic = (await canvasStats(page, P)).hash;
      const box = await page.locator(P).boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 20, { steps: 4 });
      await page.mouse.up();
      await waitIdle(page);
      const after = await state(page);
      assert.notEqual(after.yaw, before.yaw, `${link}: dragging did not rotate the 3-D view`);
      assert.notEqual(after.pitch, before.pitch, `${link}: dragging down did not tilt the 3-D view`);
      await waitCanvasChange(page, P, pic);
      await three.assertNoErrors();
    } finally {
      await three.close();
    }
  }
});

test("play, step and scrub move the particles without recomputing; the link keeps the position", T_OPTS, async () => {
  const app = await suite.open("#attention?n=40&steps=100", { viewport: DESKTOP });
  try {
    const { page } = app;
    const end = (await canvasStats(page, P)).hash;
    await page.keyboard.press("r");
    const start = await waitCanvasChange(page, P, end);
    assert.equal(Number((await state(page)).at), 0);
    await page.click("#step-forward");
    await waitCanvasChange(page, P, start.hash);
    assert.equal(Number((await state(page)).at), 0.01);
    await waitHash(page, (p) => p.at === "0.01");
    await page.click("#play");
    await page.waitForFunction(() => Number(window.tokenDynamics.state().at) > 0.2, null, { timeout: 10_000 });
    await page.click("#play");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("n = 2,000 × 200 steps stays responsive while computing (progress shown) and reaches ready", { timeout: 240_000 }, async (t) => {
  // Open the attention page itself: a root link would navigate once more while we probe.
  const app = await suite.open("attention.html#attention?n=2000&steps=200", { viewport: DESKTOP, waitReady: false });
  try {
    const { page } = app;
    const { ms, probes, worst, sawBusy } = await probeUntilReady(page, { limitMs: 200_000, everyMs: 40 });
    t.diagnostic(`ready after ${ms} ms; ${probes} probes, worst round-trip ${worst} ms; busy seen: ${sawBusy}`);
    assert.ok(sawBusy, "never saw the progress indicator");
    const r = await readout(page);
    assert.equal(r.panels[0].final_positions.length, 2000);
    await assertCanvasDrawn(page, P);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("phone width: no horizontal scroll, figures drawn, controls reachable", T_OPTS, async () => {
  const app = await suite.open("#attention?rule=compare&n=30&steps=60", PHONE);
  try {
    const { page } = app;
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page scrolls sideways by ${overflow}px`);
    for (const sel of [P, "#particles-canvas-3", PLOTS]) await assertCanvasDrawn(page, sel);
    assert.ok(await page.isVisible("#ctl-delta"), "delta control not visible on a phone");
    await screenshot(page, "attention-phone-390.png");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("embed: only the particles figure, a compact strip and the link back; the dialog offers the plots", T_OPTS, async () => {
  const app = await suite.open("#attention?embed=1&delta=0.3", { viewport: { width: 640, height: 560 } });
  try {
    const { page } = app;
    await assertCanvasDrawn(page, P);
    assert.equal(await page.isVisible(PLOTS), false, "plots shown in a default embed");
    const open = await page.getAttribute("#open-full", "href");
    assert.match(open, /attention\.html#attention\?v=1&delta=0\.3$/);
    assert.ok(await page.isVisible("#ctl-delta"), "delta should be in the embed strip");
    assert.equal(await page.isVisible("#ctl-n"), false, "n should not be in the embed strip");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
  const full = await suite.open("#attention?n=30&steps=40", { viewport: DESKTOP });
  try {
    const { page } = full;
    const options = await page.$$eval("#export-figure option", (o) => o.map((x) => x.value));
    assert.deepEqual(options, ["particles", "plots"]);
    await page.click("#embed-open");
    await page.check("#embed-opt-plots");
    const want = /attention\.html#attention\?v=1&amp;n=30&amp;steps=40&amp;embed=1&amp;view=particles,plots/;
    await page.waitForFunction((re) => new RegExp(re).test(document.querySelector("#embed-code").value), want.source, { timeout: 5000 })
      .catch(async () => assert.match(await page.inputValue("#embed-code"), want));
    await full.assertNoErrors();
  } finally {
    await full.close();
  }
});

test("exports: SVG of the particles, CSV of every position, JSON with the readout", T_OPTS, async () => {
  const app = await suite.open("#attention?n=12&steps=20", { viewport: DESKTOP });
  try {
    const { page } = app;
    const grab = async (selector) => {
      const file = await download(page, selector);
      return { name: file.name, text: file.bytes.toString("utf8") };
    };
    const svg = await grab("#export-svg");
    assert.match(svg.name, /^token-dynamics_attention_.*_particles\.svg$/);
    assert.match(svg.text, /^<svg/);
    assert.ok(!/NaN/.test(svg.text));
    const csv = await grab("#export-csv");
    assert.match(csv.name, /^token-dynamics_attention_.*_data\.csv$/);
    const rows = csv.text.split("\r\n").filter((l) => l && !l.startsWith("#"));
    assert.ok(rows.length >= 12 * 21, `CSV has ${rows.length} rows`);
    const json = await grab("#export-json");
    const obj = JSON.parse(json.text);
    assert.equal(obj.explorer, "attention");
    assert.ok(obj.readout.panels[0].final_positions.length === 12);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("a next-token link typed into the attention page goes to the next-token explorer", T_OPTS, async () => {
  const app = await suite.open("attention.html#attention?n=20&steps=20", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.evaluate(() => { location.hash = "#next-token?T=2"; });
    await page.waitForURL(/index\.html#next-token\?T=2$/, { timeout: 10_000 });
    await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 30_000 });
    const st = await state(page);
    assert.equal(st.explorer, "next-token");
    assert.equal(Number(st.T), 2);
    // Leaving the page can abort its favicon request; that is the navigation, not an error.
    const problems = (await app.problems()).filter((p) => !/favicon\.svg net::ERR_ABORTED/.test(p));
    assert.deepEqual(problems, []);
  } finally {
    await app.close();
  }
});

test("the page's attention SVGs are byte-identical to `token-dynamics render <link> --svg`", T_OPTS, async (t) => {
  const native = path.join(REPO, "target", "release", "token-dynamics");
  assert.ok(fs.existsSync(native), `${native} missing: run \`cargo build --release --bin token-dynamics\` (scripts/test.sh does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-att-svg-"));
  const links = [
    "#attention?v=1&rule=hardmax&steps=30&init=fig2-leader&focus=1",
    "#attention?v=1&rule=compare&init=fig2-nonleader&steps=60&delta=0.3&at=0.5",
    "#attention?v=1&rule=hardmax&matrix=spd&cells=on&n=40&steps=40",
    "#attention?v=1&rule=softmax&norm=sphere&beta=2&n=40&d=3&steps=60&init=disk&at=0.5",
    "#attention?v=1&rule=softmax&norm=sphere&n=24&steps=80&init=disk&at=0.5",
  ];
  try {
    for (const link of links) {
      const app = await suite.open(`attention.html${link}`, { viewport: DESKTOP });
      try {
        const { page } = app;
        for (const figure of ["particles", "plots"]) {
          await page.selectOption("#export-figure", figure);
          const browserSvg = (await download(page, "#export-svg")).bytes;
          const out = path.join(dir, `${figure}.svg`);
          execFileSync(native, ["render", link, "--figure", figure, "--svg", out], { stdio: ["ignore", "ignore", "pipe"] });
          const nativeSvg = fs.readFileSync(out);
          if (!browserSvg.equals(nativeSvg)) {
            const a = browserSvg.toString("utf8");
            const b = nativeSvg.toString("utf8");
            let i = 0;
            while (i < a.length && a[i] === b[i]) i++;
            assert.fail(`${link} (${figure}): browser and native SVG differ at byte ${i}:\n browser …${a.slice(Math.max(0, i - 80), i + 80)}\n native  …${b.slice(Math.max(0, i - 80), i + 80)}`);
          }
          t.diagnostic(`${link} ${figure}: identical, ${browserSvg.length} bytes`);
        }
        await app.assertNoErrors();
      } finally {
        await app.close();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("sphere model: tokens stay on the circle, the energy rises and its plot moves with β, the link round-trips, a hostile sphere link is handled", T_OPTS, async () => {
  const link = "#attention?v=1&rule=softmax&norm=sphere&beta=1&n=32&init=disk";
  const app = await suite.open(link, { viewport: DESKTOP });
  try {
    const { page } = app;
    const st = await state(page);
    assert.equal(st.hash, link, "the sphere link prints back to itself");
    assert.equal(st.norm, "sphere");
    await assertCanvasDrawn(page, P);
    const before = await assertCanvasDrawn(page, PLOTS);
    const r = await readout(page);
    const panel = r.panels[0];
    assert.ok(panel.sphere, "the readout carries the sphere series");
    for (const p of panel.final_positions) assert.ok(Math.abs(Math.hypot(...p) - 1) <= 1e-12, `off the circle: ${p}`);
    const e = panel.sphere.energy;
    assert.equal(e.length, 201);
    for (let k = 1; k < e.length; k++) assert.ok(e[k] >= e[k - 1] - 1e-9, `energy fell at ${k}`);
    assert.ok(e[e.length - 1] > e[0] + 0.1, "the energy rose");
    assert.ok(r.notes.some((n) => /never decreased/.test(n)), "the monotonicity note is shown");
    assert.ok(r.notes.some((n) => /Thm 4\.3/.test(n)), "the circle theorem (β ≤ 1) is shown");
    // A larger β changes the energy curve (and drops the β ≤ 1 theorem), and the link follows.
    await setControl(page, "beta", "3");
    await waitHash(page, (p) => p.beta === "3");
    await waitIdle(page);
    await waitCanvasChange(page, PLOTS, before.hash);
    const r3 = await readout(page);
    assert.ok(!r3.notes.some((n) => /Thm 4\.3/.test(n)), "the β ≤ 1 theorem must not be claimed at β = 3");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
  const hostile = await suite.open("#attention?v=1&norm=cube&attn=both&time=never&h=-1&itol=1e9&value=%3Cimg%20src=x%3E&n=20", { viewport: DESKTOP });
  try {
    const { page } = hostile;
    const msgs = await messages(page);
    assert.ok(msgs.length >= 4, `messages: ${msgs}`);
    assert.equal(Number((await state(page)).n), 20, "the other settings survive");
    await assertCanvasDrawn(page, P);
    assert.deepEqual(await page.evaluate(() => window.__imgInserted), []);
    await hostile.assertNoErrors();
  } finally {
    await hostile.close();
  }
});
