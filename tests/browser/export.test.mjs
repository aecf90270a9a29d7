// Share and export in the full page: Copy link, the Embed dialog, SVG / PNG / CSV / JSON downloads
// (buttons and Shift shortcuts), and byte-equality of the page's SVG with the native renderer
// (target/release/token-dynamics, built by scripts/test.sh before these tests).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { startSuite, waitIdle, parseHash, screenshot, download, REPO } from "./harness.mjs";

const T_OPTS = { timeout: 120_000 };
const DESKTOP = { width: 1280, height: 900 };
const NATIVE = process.env.TOKEN_DYNAMICS_BIN || path.join(REPO, "target", "release", "token-dynamics");

let suite;
before(async () => {
  suite = await startSuite();
});
after(async () => {
  await suite?.close();
});

/** Width and height from a PNG's IHDR chunk (after checking the signature). */
function pngSize(bytes) {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...bytes.subarray(0, 8)], sig, "not a PNG signature");
  assert.equal(bytes.subarray(12, 16).toString("latin1"), "IHDR", "first chunk is not IHDR");
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

/** Parses SVG text in the page (DOMParser) and counts drawing elements. */
function inspectSvg(page, text) {
  return page.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = doc.documentElement;
    return {
      error: doc.querySelector("parsererror")?.textContent ?? null,
      root: root.nodeName,
      ns: root.namespaceURI,
      width: root.getAttribute("width"),
      height: root.getAttribute("height"),
      drawing: doc.querySelectorAll("line, polyline, path, circle, rect, polygon").length,
      texts: [...doc.querySelectorAll("text")].map((t) => t.textContent),
      foreign: doc.querySelectorAll("script, foreignObject, img, iframe").length,
      handlers: [...doc.querySelectorAll("*")].some((el) => [...el.attributes].some((a) => /^on/i.test(a.name))),
    };
  }, text);
}

function parseCsv(text) {
  const lines = text.split(/\r\n/).filter((l) => l.length);
  const comments = lines.filter((l) => l.startsWith("#"));
  const rows = lines.filter((l) => !l.startsWith("#"));
  // simple RFC 4180 split (quoted fields may hold commas)
  const split = (line) => {
    const out = [];
    let cur = "";
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (q) {
        if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
        else if (c === '"') q = false;
        else cur += c;
      } else if (c === '"') q = true;
      else if (c === ",") out.push(cur), (cur = "");
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  return { comments, header: split(rows[0]), rows: rows.slice(1).map(split) };
}

const canvasSize = (page, id) =>
  page.evaluate((id) => {
    const c = document.getElementById(id);
    const r = c.getBoundingClientRect();
    return { w: c.width, h: c.height, cssW: c.clientWidth, cssH: c.clientHeight };
  }, id);

test("every export button yields a valid file with a name that says what it is", T_OPTS, async (t) => {
  const hash = "#next-token?v=1&flow=compare&T=0.5&trunc=top-k&k=2&p0=uniform";
  const app = await suite.open(hash, { viewport: DESKTOP });
  try {
    const { page } = app;
    // The canonical link of the state (the address bar catches up within a throttle interval, so
    // reading location.href right after load would race with it).
    const link = await page.evaluate(() => location.origin + location.pathname + window.tokenDynamics.state().hash);
    assert.equal(link.includes("flow=compare"), false, "defaults are not repeated in the canonical link");
    // SVG of each figure
    for (const figure of ["simplex", "series", "logits"]) {
      await page.selectOption("#export-figure", figure);
      const svg = await download(page, "#export-svg");
      assert.match(svg.name, new RegExp(`^token-dynamics_next-token_compare_T0\\.5_top-k2.*_${figure}\\.svg$`), svg.name);
      const info = await inspectSvg(page, svg.bytes.toString("utf8"));
      t.diagnostic(`${svg.name}: ${svg.bytes.length} bytes, ${info.drawing} drawing elements, ${info.texts.length} texts`);
      assert.equal(info.error, null, `SVG does not parse: ${info.error}`);
      assert.equal(info.root, "svg");
      assert.equal(info.ns, "http://www.w3.org/2000/svg");
      assert.ok(info.drawing > (figure === "logits" ? 4 : 50), `${figure} SVG has only ${info.drawing} drawing elements`);
      assert.ok(info.texts.length > 2, `${figure} SVG has no text`);
      assert.equal(info.foreign, 0);
      assert.equal(info.handlers, false);
      assert.match(await page.textContent("#share-status"), new RegExp(`Saved ${svg.name.replace(/\./g, "\\.")}`));
    }
    // PNG at the device pixel ratio (1 here) and at 2x, for a single canvas and for the two simplex panels.
    // On a second page of the same link: headless Chromium drops an 11th download from one page
    // (measured: whichever export comes 11th, the page reporting it saved).
    const pngApp = await suite.open(hash, { viewport: DESKTOP });
    try {
      const page = pngApp.page;
      for (const figure of ["series", "logits", "simplex"]) {
        await page.selectOption("#export-figure", figure);
        const ids = figure === "simplex" ? ["simplex-canvas", "simplex-canvas-2"] : [`${figure}-canvas`];
        const sizes = await Promise.all(ids.map((id) => canvasSize(page, id)));
        const css = [sizes.reduce((a, s) => a + s.cssW, 0), Math.max(...sizes.map((s) => s.cssH))];
        const one = await download(page, "#export-png");
        assert.match(one.name, new RegExp(`_${figure}\\.png$`));
        // The canvases' own pixels, and under them the caption strip (what it shows, the link).
        const [w1, h1] = pngSize(one.bytes);
        assert.equal(w1, css[0], `${figure} PNG at ratio 1 should be as wide as the canvases ${css}`);
        const strip = h1 - css[1];
        assert.ok(strip >= 30 && strip <= 200, `${figure} PNG: a caption strip of ${strip} px under the figure`);
        if (ids.length === 1) assert.deepEqual([w1, h1 - strip], [sizes[0].w, sizes[0].h]);
        const two = await download(page, "#export-png2");
        assert.match(two.name, new RegExp(`_${figure}@2x\\.png$`));
        assert.deepEqual(pngSize(two.bytes), [2 * w1, 2 * h1], `${figure} PNG 2x should double`);
        assert.match(await page.textContent("#share-status"), /Saved .*@2x\.png \(\d+×\d+ px\)/);
      }
      await pngApp.assertNoErrors();
    } finally {
      await pngApp.close();
    }
    // CSV: comment header with the link and units, a header row, numeric rows of equal width
    const csv = await download(page, "#export-csv");
    assert.match(csv.name, /^token-dynamics_next-token_compare_T0\.5_top-k2.*_data\.csv$/);
    const table = parseCsv(csv.bytes.toString("utf8"));
    assert.ok(table.comments.some((c) => c === `# link: ${link}`), `CSV header lacks the link ${link}:\n${table.comments.join("\n")}`);
    assert.ok(table.comments.some((c) => /units/.test(c)), "CSV header lacks units");
    assert.ok(table.header.includes("t") && table.header.includes("flow"), `CSV header row: ${table.header}`);
    assert.ok(table.rows.length > 100, `only ${table.rows.length} CSV rows`);
    for (const row of table.rows) assert.equal(row.length, table.header.length, `ragged CSV row: ${row}`);
    const tCol = table.header.indexOf("t");
    assert.ok(table.rows.every((r) => Number.isFinite(Number(r[tCol]))), "non-numeric t");
    // JSON: parses, its link reproduces the state
    const json = await download(page, "#export-json");
    assert.match(json.name, /_state\.json$/);
    const data = JSON.parse(json.bytes.toString("utf8"));
    assert.equal(data.link, link);
    assert.equal(data.state.T, 0.5);
    const before = await page.evaluate(() => window.tokenDynamics.state());
    const other = await suite.open(new URL(data.link).hash, { viewport: DESKTOP });
    try {
      assert.deepEqual(await other.page.evaluate(() => window.tokenDynamics.state()), before, "the JSON's link does not reproduce the state");
      await other.assertNoErrors();
    } finally {
      await other.close();
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("PNG at device pixel ratio 2: the canvas's own pixels, and 2x doubles them", T_OPTS, async () => {
  const app = await suite.open("#next-token?v=1&flow=entropic", { viewport: DESKTOP, deviceScaleFactor: 2 });
  try {
    const { page } = app;
    const s = await canvasSize(page, "simplex-canvas");
    assert.equal(s.w, 2 * s.cssW);
    const [w, h] = pngSize((await download(page, "#export-png")).bytes);
    assert.equal(w, s.w);
    const strip = h - s.h; // the caption strip, drawn at the same ratio
    assert.ok(strip >= 60 && strip <= 400 && strip % 2 === 0, `caption strip ${strip} px`);
    assert.deepEqual(pngSize((await download(page, "#export-png2")).bytes), [2 * w, 2 * h]);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("keyboard shortcuts export (Shift+S/P/O/C/J) but never while typing in a field", T_OPTS, async () => {
  const app = await suite.open("#next-token?v=1&flow=mw", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.click("body", { position: { x: 5, y: 5 } });
    const keys = { "Shift+S": /_simplex\.svg$/, "Shift+P": /_simplex\.png$/, "Shift+O": /_simplex@2x\.png$/, "Shift+C": /_data\.csv$/, "Shift+J": /_state\.json$/ };
    for (const [key, pattern] of Object.entries(keys)) {
      const file = await download(page, () => page.keyboard.press(key));
      assert.match(file.name, pattern, `${key} gave ${file.name}`);
      assert.ok(file.bytes.length > 50);
    }
    // while typing in the temperature field, Shift+S types an "S" and downloads nothing
    let downloads = 0;
    page.on("download", () => downloads++);
    await page.focus("#ctl-T-num");
    await page.keyboard.press("Shift+S");
    await page.keyboard.press("Shift+J");
    await page.waitForTimeout(600);
    assert.equal(downloads, 0, "a shortcut fired while typing");
    assert.match(await page.inputValue("#ctl-T-num"), /SJ$/);
    // the existing keys still work: Space plays, R restarts
    await page.click("body", { position: { x: 5, y: 5 } });
    await page.keyboard.press("r");
    assert.equal(Number(await page.inputValue("#ctl-at")), 0);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("Copy link copies a short link with a confirmation (Shift+L too)", T_OPTS, async () => {
  const app = await suite.open("", { viewport: DESKTOP });
  try {
    const { page, context } = app;
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.click("#copy-link");
    await page.waitForFunction(() => document.querySelector("#share-status").textContent === "Link copied");
    assert.equal(await page.textContent("#copy-link"), "Copied ✓");
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(new URL(copied).hash, "#next-token?v=1", "the default state's link should carry no default keys");
    await page.evaluate(() => window.tokenDynamics.set({ T: 0.5, flow: "entropic" }));
    await page.click("body", { position: { x: 5, y: 5 } });
    await page.keyboard.press("Shift+L");
    await page.waitForFunction(async () => (await navigator.clipboard.readText()).includes("T=0.5"));
    const link = await page.evaluate(() => navigator.clipboard.readText());
    assert.deepEqual(parseHash(new URL(link).hash).params, { v: "1", flow: "entropic", T: "0.5" });
    assert.ok(link.length < 100, `link too long for a post: ${link}`);
    await page.waitForFunction(() => document.querySelector("#copy-link").textContent === "Copy link", null, { timeout: 4000 });
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("Embed dialog: ready-to-paste sandboxed iframe with title and aspect ratio, copy, live preview", T_OPTS, async () => {
  const labels = ['<img src=x onerror=alert(1)>', '"quoted" & <b>'];
  const hash = `#next-token?v=1&flow=entropic&T=0.5&labels=${labels.map(encodeURIComponent).join(",")},c`;
  const app = await suite.open(hash, { viewport: DESKTOP });
  try {
    const { page, context } = app;
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.click("#embed-open");
    assert.equal(await page.evaluate(() => document.querySelector("#embed-dialog").open), true);
    const snippet = await page.inputValue("#embed-code");
    // Parsed here, not with the page's DOMParser: Chromium applies the page's CSP to a parsed
    // document's style attributes and would report the snippet's (harmless) style as a violation.
    const parsed = (() => {
      const tags = snippet.match(/<\/?[a-zA-Z][^>]*>/g) || [];
      const m = snippet.match(/^<iframe\s([^<>]*)><\/iframe>$/);
      const attrs = {};
      for (const [, k, v] of (m?.[1] ?? "").matchAll(/([a-zA-Z-]+)="([^"]*)"/g)) {
        attrs[k] = v.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#39;/g, "'").replace(/&amp;/g, "&");
      }
      return {
        count: m ? 1 : 0,
        other: tags.length - 2,
        src: attrs.src,
        title: attrs.title,
        sandbox: attrs.sandbox,
        width: Number(attrs.width),
        height: Number(attrs.height),
        style: attrs.style,
      };
    })();
    assert.equal(parsed.count, 1, `snippet: ${snippet}`);
    assert.equal(parsed.other, 0, `the snippet holds other elements: ${snippet}`);
    assert.ok(parsed.title && parsed.title.includes("token-dynamics"), `title: ${parsed.title}`);
    assert.match(parsed.sandbox, /allow-scripts/);
    assert.match(parsed.sandbox, /allow-same-origin/);
    const ratio = parsed.width / parsed.height;
    assert.ok(ratio > 0.5 && ratio < 2.5, `odd aspect ratio ${parsed.width}x${parsed.height}`);
    assert.match(parsed.style, /aspect-ratio/);
    const { params } = parseHash(new URL(parsed.src).hash);
    assert.equal(params.embed, "1");
    assert.equal(params.T, "0.5");
    assert.equal(params.labels.split(",")[0], labels[0], "hostile label garbled in the snippet's link");
    assert.equal(new URL(parsed.src).origin, new URL(page.url()).origin);
    // live preview: a real embed of the same state, sized by its height messages
    const frame = page.frameLocator("#embed-preview");
    await frame.locator("body[data-ready='1']").waitFor({ timeout: 20_000 });
    const previewState = await page.evaluate(() => document.querySelector("#embed-preview").contentWindow.tokenDynamics.state());
    assert.equal(previewState.T, 0.5);
    assert.equal(previewState.embed, "1");
    await page.waitForFunction(() => /^\d+px$/.test(document.querySelector("#embed-preview").style.height), null, { timeout: 5000 });
    // options change the snippet
    await page.check("#embed-opt-series");
    assert.match(await page.inputValue("#embed-code"), /view=simplex,series/);
    // The snippet's height follows the options: it is the height the preview (laid out at the
    // snippet's 640 px) reports for them, and reopening the dialog gives the same.
    const snippetHeight = async () => Number((await page.inputValue("#embed-code")).match(/ height="(\d+)"/)[1]);
    const previewHeight = () => page.evaluate(() => parseFloat(document.querySelector("#embed-preview").style.height));
    await page.waitForFunction(() => {
      const h = parseFloat(document.querySelector("#embed-preview").style.height);
      const m = document.querySelector("#embed-code").value.match(/ height="(\d+)"/);
      return h > 0 && m && Number(m[1]) === Math.round(h) && document.querySelector("#embed-preview").contentWindow.tokenDynamics?.state().view === "simplex,series";
    }, null, { timeout: 10_000 });
    const withSeries = await snippetHeight();
    assert.equal(withSeries, Math.round(await previewHeight()));
    assert.equal(await page.evaluate(() => document.querySelector("#embed-preview").getBoundingClientRect().width <= document.querySelector("#embed-preview-box").clientWidth + 1), true, "the preview is drawn inside its box");
    await page.click("#embed-close");
    await page.click("#embed-open");
    await page.waitForFunction((h) => Number(document.querySelector("#embed-code").value.match(/ height="(\d+)"/)[1]) === h, withSeries, { timeout: 10_000 });
    // copy with confirmation
    await page.click("#embed-copy");
    await page.waitForFunction(() => document.querySelector("#embed-status").textContent === "HTML copied");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await page.inputValue("#embed-code"));
    assert.deepEqual(await page.evaluate(() => window.__imgInserted), []);
    await screenshot(page, "embed-dialog.png");
    await page.click("#embed-close");
    assert.equal(await page.evaluate(() => document.querySelector("#embed-dialog").open), false);
    // the share bar and the dialog are not part of an embedded page
    const embedded = await suite.open("#next-token?v=1&embed=1", { viewport: { width: 640, height: 480 } });
    try {
      assert.equal(await embedded.page.isVisible("#share-bar"), false);
      assert.equal(await embedded.page.isVisible("#embed-open"), false);
      await embedded.assertNoErrors();
    } finally {
      await embedded.close();
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("hostile labels: exports stay well-formed and carry the labels only as text", T_OPTS, async () => {
  const labels = ['<img src=x onerror=alert(1)>', '</text><script>alert(1)</script>', '"a,b"\u202Eq'];
  const hash = `#next-token?v=1&flow=entropic&labels=${labels.map(encodeURIComponent).join(",")}`;
  const app = await suite.open(hash, { viewport: DESKTOP });
  try {
    const { page } = app;
    for (const figure of ["simplex", "logits"]) {
      await page.selectOption("#export-figure", figure);
      const svg = await download(page, "#export-svg");
      const info = await inspectSvg(page, svg.bytes.toString("utf8"));
      assert.equal(info.error, null, `SVG with hostile labels does not parse: ${info.error}`);
      assert.equal(info.foreign, 0, "script/img/foreignObject in the SVG");
      assert.equal(info.handlers, false, "event handler attribute in the SVG");
      assert.ok(info.texts.some((t) => t.includes("<img")), `label not kept as text: ${info.texts.slice(0, 8)}`);
    }
    const table = parseCsv((await download(page, "#export-csv")).bytes.toString("utf8"));
    for (const row of table.rows) assert.equal(row.length, table.header.length);
    const data = JSON.parse((await download(page, "#export-json")).bytes.toString("utf8"));
    assert.equal(data.state.labels.split(",")[0].startsWith("<img"), true);
    assert.deepEqual(await page.evaluate(() => window.__imgInserted), []);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

// The page's SVG export and the native command share the drawing code; for the same link they must
// write the same bytes.
const NATIVE_LINKS = [
  ["audit preset", "#next-token?v=1&flow=compare&s=0,1&labels=a,b&p0=uniform&t=4"],
  ["overlay preset (topk-topp)", "#next-token?v=1&flow=entropic&trunc=top-p&top_p=0.8&p0=uniform&t=6&overlay=T:0.3,1,3"],
  ["top-k link", "#next-token?v=1&flow=compare&T=0.5&trunc=top-k&k=2&p0=uniform;0.2,0.3,0.5&at=0.4"],
  ["generated logits, V = 40", "#next-token?v=1&flow=entropic&gen=zipf&V=40&seed=7&T=0.8"],
  ["rps matrix", "#next-token?v=1&flow=replicator&adjust=matrix&s=0,0,0&labels=rock,paper,scissors&p0=0.5,0.3,0.2&t=30"],
];

test("the page's simplex SVG is byte-identical to `token-dynamics render <link> --svg`", T_OPTS, async (t) => {
  assert.ok(fs.existsSync(NATIVE), `${NATIVE} missing: run \`cargo build --release --bin token-dynamics\` (scripts/test.sh does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-svg-"));
  const app = await suite.open("", { viewport: DESKTOP });
  try {
    const { page } = app;
    for (const [name, link] of NATIVE_LINKS) {
      await page.evaluate((h) => { location.hash = h; }, link);
      await page.waitForFunction((h) => window.tokenDynamics.state().hash === h, link, { timeout: 10_000 }).catch(() => {});
      await waitIdle(page);
      for (const figure of ["simplex", "series", "logits"]) {
        await page.selectOption("#export-figure", figure);
        const browserSvg = (await download(page, "#export-svg")).bytes;
        const out = path.join(dir, `${figure}.svg`);
        execFileSync(NATIVE, ["render", link, "--figure", figure, "--svg", out], { stdio: ["ignore", "ignore", "pipe"] });
        const nativeSvg = fs.readFileSync(out);
        if (!browserSvg.equals(nativeSvg)) {
          const a = browserSvg.toString("utf8");
          const b = nativeSvg.toString("utf8");
          let i = 0;
          while (i < a.length && a[i] === b[i]) i++;
          fs.writeFileSync(path.join(REPO, "test-results", `svg-mismatch-browser-${figure}.svg`), browserSvg);
          fs.writeFileSync(path.join(REPO, "test-results", `svg-mismatch-native-${figure}.svg`), nativeSvg);
          assert.fail(`${name} (${figure}): browser and native SVG differ at byte ${i} (sizes ${a.length} vs ${b.length}):\n browser …${a.slice(Math.max(0, i - 80), i + 80)}\n native  …${b.slice(Math.max(0, i - 80), i + 80)}`);
        }
        t.diagnostic(`${name} ${figure}: identical, ${browserSvg.length} bytes`);
      }
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the data table shows the CSV's columns and rows as text, and follows the settings", T_OPTS, async () => {
  const app = await suite.open("#next-token?v=1&s=0,1,2&labels=%3Cb%3Ebold%3C%2Fb%3E,%22x,y%22,c", { viewport: DESKTOP });
  try {
    const { page } = app;
    await waitIdle(page);
    const csv = (await download(page, "#export-csv")).bytes.toString("utf8").split(/\r?\n/).filter((l) => l && !l.startsWith("#"));
    await page.click("#data-table-box > summary");
    await page.waitForSelector("#data-table table.data tbody tr");
    const read = () => page.evaluate(() => ({
      head: [...document.querySelectorAll("#data-table thead th")].map((th) => th.textContent),
      first: [...document.querySelectorAll("#data-table tbody tr:first-child td")].map((td) => td.textContent),
      rows: document.querySelectorAll("#data-table tbody tr").length,
      caption: document.querySelector("#data-table caption").textContent,
      markup: document.querySelectorAll("#data-table b").length,
    }));
    const table = await read();
    // The header names the tokens by their labels: "<b>bold</b>" as text, "x,y" whole.
    assert.ok(table.head.includes("p_<b>bold</b>") && table.head.includes("p_x,y"), table.head.join(" | "));
    assert.equal(table.markup, 0, "a label became markup");
    assert.equal(table.head.length, table.first.length);
    assert.equal(csv[1].startsWith(table.first.slice(0, 3).join(",")), true, `${csv[1]} vs ${table.first}`);
    assert.ok(table.rows >= 100 && table.rows <= 200, `${table.rows} rows`);
    assert.match(table.caption, /^\d+ of \d+ rows \(every \d+th\); the CSV button downloads them all$|^\d+ rows$/);
    // A new temperature rebuilds the open table once the change settles.
    await page.fill("#ctl-T-num", "0.5");
    await page.press("#ctl-T-num", "Enter");
    await page.waitForFunction((before) => {
      const cells = [...document.querySelectorAll("#data-table tbody tr:nth-child(20) td")].map((td) => td.textContent).join();
      return cells && cells !== before;
    }, (await page.evaluate(() => [...document.querySelectorAll("#data-table tbody tr:nth-child(20) td")].map((td) => td.textContent).join())), { timeout: 5000 });
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("the embed dialog offers the text panels too: the energy lab's text and statistics can be embedded", T_OPTS, async () => {
  const app = await suite.open("energy.html#energy?v=1", { viewport: DESKTOP });
  try {
    const { page } = app;
    await page.click("#embed-open");
    const shown = await page.evaluate(() => [...document.querySelectorAll("#embed-view-options label")].map((l) => l.textContent));
    for (const want of ["the text", "statistics"]) assert.ok(shown.includes(want), `Show: ${shown.join(", ")}`);
    await page.check("#embed-opt-tokens");
    await page.check("#embed-opt-stats");
    assert.match(await page.inputValue("#embed-code"), /view=series,tokens,stats/);
    // The preview shows both panels, filled (read from its document: it is drawn scaled).
    await page.waitForFunction(() => {
      const d = document.querySelector("#embed-preview").contentDocument;
      if (!d || d.body?.dataset.ready !== "1" || !/view=series,tokens,stats/.test(d.location.hash)) return false;
      return ["tokens-panel", "stats-panel"].every((id) => {
        const el = d.getElementById(id);
        return el && !el.hidden && el.getBoundingClientRect().height > 10 && el.textContent.trim().length > 20;
      });
    }, null, { timeout: 40_000 });
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});
