// One WebAssembly module per page: each page downloads its own explorer only, within its budget,
// and a link of another explorer is sent to that explorer's page before anything heavy loads.
// Run: node --test --test-concurrency=1 tests/browser/   (needs a built dist/; see scripts/test.sh)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startSuite, DIST } from "./harness.mjs";
import { pageSizes, BUDGETS } from "../../scripts/budgets.mjs";

const SITE = JSON.parse(fs.readFileSync(new URL("../../www/site.json", import.meta.url), "utf8"));
let suite;
before(async () => {
  suite = await startSuite();
});
after(async () => {
  await suite?.close();
});

const modules = (requests) =>
  requests.map((u) => new URL(u).pathname.split("/").pop()).filter((f) => /^td-.*\.(wasm|js)$/.test(f)).sort();

test("each page requests its own module only, and its cold download is within budget", async (t) => {
  const sizes = new Map(pageSizes(DIST).map((s) => [s.explorer, s]));
  for (const { explorer, file } of SITE.pages) {
    const app = await suite.open(file);
    try {
      // Its own module only, and the wasm once: the page's worker (which may fetch the small JS glue
      // again, in its own realm) is handed the page's compiled module (www/boot.js, worker.js).
      const mine = modules(app.requests);
      assert.deepEqual([...new Set(mine)], [`td-${explorer}.js`, `td-${explorer}_bg.wasm`], `${file} requested ${mine}`);
      assert.equal(mine.filter((f) => f.endsWith(".wasm")).length, 1, `${file} fetched its wasm more than once: ${mine}`);
      assert.equal(await app.page.evaluate(() => window.tokenDynamics.explorer), explorer);
      const size = sizes.get(explorer);
      t.diagnostic(`${file}: wasm ${size.wasm} + JS ${size.js} = ${size.total} bytes gzip -9 (budget ${BUDGETS[explorer]})`);
      assert.ok(size.total <= BUDGETS[explorer], `${file}: ${size.total} > ${BUDGETS[explorer]}`);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});

test("a link of another explorer is routed before its page's module loads", async () => {
  for (const [from, link, to] of [
    ["index.html", "#attention?v=1&n=12", "attention"],
    ["attention.html", "#energy?v=1&text=abc", "energy"],
    ["energy.html", "#next-token?v=1&T=2", "next-token"],
  ]) {
    const app = await suite.open(from + link);
    try {
      const fromExplorer = SITE.pages.find((p) => p.file === from).explorer;
      const loaded = modules(app.requests);
      assert.ok(!loaded.includes(`td-${fromExplorer}_bg.wasm`), `${from}${link} loaded ${fromExplorer}'s wasm: ${loaded}`);
      assert.ok(loaded.includes(`td-${to}_bg.wasm`), `${from}${link}: ${loaded}`);
      assert.equal(await app.page.evaluate(() => window.tokenDynamics.explorer), to);
      assert.ok(app.page.url().endsWith(link.replace(/ /g, "%20")), app.page.url());
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});

test("on a phone the presets fold into a chooser, so the first screen reaches the figure; on a desktop they are open", async () => {
  for (const { file } of SITE.pages) {
    for (const [width, height, folded] of [[360, 640, true], [320, 568, true], [1280, 800, false]]) {
      const app = await suite.open(file, { viewport: { width, height }, isMobile: width < 600, hasTouch: width < 600 });
      try {
        const where = `${file} at ${width}×${height}`;
        const info = await app.page.evaluate(() => {
          const box = document.getElementById("presets-box");
          const summary = box.querySelector("summary").getBoundingClientRect();
          const figure = document.querySelector(".canvas-wrap canvas").getBoundingClientRect();
          const chips = document.querySelectorAll("#presets a[data-preset]").length;
          const sideways = document.documentElement.scrollWidth - document.documentElement.clientWidth;
          return { open: box.open, text: box.querySelector("summary").textContent, summaryHeight: summary.height, figureTop: figure.top, chips, sideways };
        });
        assert.equal(info.open, !folded, `${where}: presets open = ${info.open}`);
        assert.equal(info.text, `Presets (${info.chips})`, where);
        assert.ok(info.chips > 0, where);
        assert.ok(info.sideways <= 0, `${where}: the page scrolls sideways by ${info.sideways} px`);
        if (folded) {
          assert.ok(info.summaryHeight >= 44, `${where}: the chooser is ${info.summaryHeight} px tall`);
          // The energy lab opens on its text, shaded token by token; its canvases follow.
          if (file !== "energy.html") {
            assert.ok(info.figureTop < height, `${where}: the figure starts at ${info.figureTop}, below the first screen`);
          }
          // Opening the chooser shows the chips; a chip is a working link.
          await app.page.click("#presets-summary");
          const first = app.page.locator("#presets a[data-preset]").first();
          assert.ok(await first.isVisible(), `${where}: chips hidden after opening the chooser`);
          const box = await first.boundingBox();
          assert.ok(box.height >= 24, `${where}: a chip is ${box.height} px tall`);
        }
        await app.assertNoErrors();
      } finally {
        await app.close();
      }
    }
  }
});

/** Every visible piece of text on the page, with its contrast against what is behind it (computed
 *  styles: the nearest opaque background up the tree, translucent ones blended over it). */
function pageContrasts() {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const lum = ({ r, g, b }) => {
    const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || seen.has(el) || !node.textContent.trim()) continue;
    seen.add(el);
    if (el.closest(".visually-hidden, [hidden], dialog:not([open]), script, style, option")) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || Number(style.opacity) === 0) continue;
    if (el.closest(".skip") && !el.matches(":focus")) continue;
    const fg = over(parse(style.color), background(el));
    const [l1, l2] = [lum(fg), lum(background(el))];
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    out.push({ text: node.textContent.trim().slice(0, 40), tag: el.tagName, cls: el.className, ratio, need: large ? 3 : 4.5 });
  }
  // Form controls show their value, not a text node.
  for (const el of document.querySelectorAll("input:not([type=range]):not([type=checkbox]), select, textarea")) {
    const box = el.getBoundingClientRect();
    if (!box.width || el.closest("[hidden], dialog:not([open])")) continue;
    const style = getComputedStyle(el);
    const fg = over(parse(style.color), background(el));
    const [l1, l2] = [lum(fg), lum(background(el))];
    out.push({ text: `${el.tagName} ${el.id}`, tag: el.tagName, cls: el.className, ratio: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05), need: 4.5 });
  }
  return out;
}

test("every word on every page reads at WCAG AA contrast and nothing scrolls sideways, in light and dark themes, on three phones and a desktop", async () => {
  const failures = [];
  for (const { file } of SITE.pages) {
    for (const colorScheme of ["light", "dark"]) {
      for (const [width, height] of [[320, 568], [360, 640], [390, 844], [1280, 800]]) {
        const app = await suite.open(file, { viewport: { width, height }, colorScheme });
        try {
          // The energy lab's text shading comes from its analysis: wait for the trained model.
          if (file === "energy.html") {
            await app.page.waitForFunction(() => document.querySelector("#tokens .tok.s2, #tokens .tok.s3"), null, { timeout: 60000 });
          }
          const texts = await app.page.evaluate(pageContrasts);
          assert.ok(texts.length > 40, `${file}: only ${texts.length} texts found`);
          const low = texts.filter((t) => t.ratio < t.need);
          const listed = [...new Map(low.map((t) => [`${t.tag}.${t.cls}`, t])).values()]
            .map((t) => `${t.tag}.${t.cls} "${t.text}" ${t.ratio.toFixed(2)}:1`);
          failures.push(...listed.map((l) => `${file}, ${colorScheme}, ${width}×${height}: ${l}`));
          const sideways = await app.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          if (sideways > 0) failures.push(`${file}, ${colorScheme}, ${width}×${height}: scrolls sideways by ${sideways} px`);
          await app.assertNoErrors();
        } finally {
          await app.close();
        }
      }
    }
  }
  assert.deepEqual(failures, [], "text below AA contrast");
});

/** Focuses every control of the page in turn and reports, for each, whether the control itself is
 *  on screen and uncovered, and whether the figure it changes intersects the screen. */
async function figureWhileEachControlIsUsed() {
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const visible = (el) => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
  const controls = [...document.querySelectorAll("#controls input, #controls select, #playback input, #playback select, #lead-controls textarea, #lead-controls input")]
    .filter((el) => visible(el) && el.type !== "hidden");
  const out = [];
  for (const el of controls) {
    el.focus();
    await frame();
    const b = el.getBoundingClientRect();
    const figure = el.closest("#lead-controls") ? document.getElementById("tokens")
      : [...document.querySelectorAll(".pin canvas")].find(visible);
    const f = figure.getBoundingClientRect();
    const hit = document.elementFromPoint(b.left + Math.min(b.width / 2, 20), b.top + b.height / 2);
    out.push({
      id: el.id,
      onScreen: b.top >= -1 && b.bottom <= innerHeight + 1,
      uncovered: !!hit && (hit === el || el.contains(hit) || hit.contains(el)),
      figureInView: f.bottom > 8 && f.top < innerHeight - 8 && f.height > 60,
      figure: figure.id,
    });
  }
  return out;
}

test("the figure stays in view while each control is used, on phones and a desktop; every target is at least 24 px (44 px on touch screens)", async () => {
  const failures = [];
  for (const { file } of SITE.pages) {
    for (const [width, height] of [[320, 568], [360, 640], [390, 844], [1280, 800]]) {
      const touch = width < 600;
      // Phones at their usual pixel ratios (2 and 3), the desktop at 1.
      const deviceScaleFactor = touch ? (width === 390 ? 3 : 2) : 1;
      const app = await suite.open(file, { viewport: { width, height }, isMobile: touch, hasTouch: touch, deviceScaleFactor });
      const where = `${file} at ${width}×${height}`;
      try {
        const used = await app.page.evaluate(figureWhileEachControlIsUsed);
        assert.ok(used.length >= 10, `${where}: only ${used.length} controls`);
        for (const u of used) {
          if (!u.onScreen) failures.push(`${where}: #${u.id} focused but off screen`);
          if (!u.uncovered) failures.push(`${where}: #${u.id} focused but covered`);
          if (!u.figureInView) failures.push(`${where}: #${u.id} focused with #${u.figure} out of view`);
        }
        const small = await app.page.evaluate((touch) => {
          const out = [];
          for (const el of document.querySelectorAll("input, select, textarea, button, summary")) {
            const b = el.getBoundingClientRect();
            if (!b.width || !b.height || el.closest("dialog:not([open]), [hidden]") || el.type === "checkbox") continue;
            const min = touch && el.closest("#controls, .playbar, #lead-controls") ? 44 : 24;
            if (b.height < min - 0.5 || b.width < 24) out.push(`${el.tagName}#${el.id} ${b.width.toFixed(0)}×${b.height.toFixed(0)} < ${min}`);
          }
          return out;
        }, touch);
        failures.push(...small.map((s) => `${where}: ${s}`));
        // Sharp figures: every canvas's backing store is exactly its content box at the pixel ratio.
        const blurry = await app.page.evaluate(() => [...document.querySelectorAll("canvas")]
          .filter((c) => c.clientWidth > 0)
          .filter((c) => c.width !== Math.round(c.clientWidth * devicePixelRatio) || c.height !== Math.round(c.clientHeight * devicePixelRatio))
          .map((c) => `#${c.id} ${c.width}×${c.height} for ${c.clientWidth}×${c.clientHeight} css px at ${devicePixelRatio}`));
        failures.push(...blurry.map((b) => `${where}: resampled ${b}`));
        await app.assertNoErrors();
      } finally {
        await app.close();
      }
    }
  }
  assert.deepEqual(failures, []);
});

test("every canvas that takes the keyboard focus does something with the keys", async () => {
  for (const { file } of SITE.pages) {
    const app = await suite.open(file, { viewport: { width: 1280, height: 800 } });
    try {
      const ids = await app.page.evaluate(() => [...document.querySelectorAll("canvas")]
        .filter((c) => c.tabIndex >= 0 && c.getBoundingClientRect().width > 0).map((c) => c.id));
      for (const id of ids) {
        const before = await app.page.evaluate((id) => [location.hash, document.getElementById(id).toDataURL()].join(), id);
        await app.page.focus(`#${id}`);
        for (const key of ["ArrowDown", "ArrowRight", "ArrowUp"]) await app.page.keyboard.press(key);
        await app.page.waitForTimeout(600);
        const after = await app.page.evaluate((id) => [location.hash, document.getElementById(id).toDataURL()].join(), id);
        assert.notEqual(after, before, `${file}: #${id} is a tab stop, but its keys change nothing`);
      }
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});
