// Embed mode (embed=1 in sandboxed iframes), page options, and the postMessage protocol
// (docs/page-contract.md, README "Embedding"). Host pages are served on the app's origin under the
// same CSP; messages the host receives are recorded in window.__messages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startSuite,
  embeddedFrame,
  assertCanvasDrawn,
  canvasStats,
  waitCanvasChange,
  parseHash,
  screenshot,
  nextFrames,
} from "./harness.mjs";

const T_OPTS = { timeout: 120_000 };
const SANDBOX = "allow-scripts allow-same-origin";
const PAGE_KEYS = ["embed", "hide", "controls", "autoplay", "loop", "view"];

let suite;
before(async () => {
  suite = await startSuite();
});
after(async () => {
  await suite?.close();
});

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** A host page with one iframe per {hash, width, height}. */
function hostHtml(frames, { title = "host" } = {}) {
  const items = frames
    .map(
      (f, i) =>
        `<iframe id="f${i}" src="/${esc(f.hash)}" width="${f.width}" height="${f.height}" title="figure ${i}" sandbox="${SANDBOX}"></iframe>`,
    )
    .join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>\n${items}\n</body></html>`;
}

async function openHost(frames, options = {}) {
  const { viewport = { width: 1300, height: 1000 }, ...rest } = options;
  const app = await suite.openHost(hostHtml(frames), { viewport, ...rest });
  const inner = [];
  for (let i = 0; i < frames.length; i++) inner.push(await embeddedFrame(app.page, i));
  return { app, page: app.page, frames: inner };
}

/** Layout facts inside an embedded frame. */
function layoutFacts(frame) {
  return frame.evaluate(() => {
    const visible = (sel) => {
      const el = document.querySelector(sel);
      if (!el) return false;
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden";
    };
    const de = document.documentElement;
    const canvases = [...document.querySelectorAll("canvas")]
      .filter((c) => c.getBoundingClientRect().width > 0)
      .map((c) => {
        const r = c.getBoundingClientRect();
        return { id: c.id, left: r.left, top: r.top, right: r.right, bottom: r.bottom, w: c.width, h: c.height };
      });
    const link = document.querySelector("#open-full");
    return {
      inner: [innerWidth, innerHeight],
      scroll: [de.scrollWidth, de.scrollHeight, de.clientWidth, de.clientHeight],
      bodyScroll: [document.body.scrollWidth, document.body.scrollHeight],
      scrolled: [scrollX, scrollY],
      canvases,
      visibleControls: [...document.querySelectorAll(".control")]
        .filter((r) => r.getBoundingClientRect().height > 0)
        .map((r) => r.id.replace(/^row-/, "")),
      play: visible("#play"),
      header: visible("header.site"),
      presets: visible("#presets"),
      shareBar: visible("#share-bar"),
      link: link && visible("#open-full") ? { href: link.href, target: link.target, rel: link.rel, text: link.textContent } : null,
      theme: document.documentElement.dataset.theme,
      bg: getComputedStyle(document.body).backgroundColor,
      bodyClass: document.body.className,
    };
  });
}

function assertFits(f, label) {
  const [sw, sh, cw, ch] = f.scroll;
  assert.ok(sw <= cw, `${label}: horizontal overflow inside the iframe (scrollWidth ${sw} > ${cw})`);
  assert.ok(sh <= ch, `${label}: vertical overflow inside the iframe (scrollHeight ${sh} > ${ch})`);
  for (const c of f.canvases) {
    assert.ok(c.right <= f.inner[0] + 0.5 && c.bottom <= f.inner[1] + 0.5 && c.left >= -0.5 && c.top >= -0.5,
      `${label}: ${c.id} sticks out of the iframe: ${JSON.stringify(c)} in ${f.inner}`);
  }
}

function assertOpenLink(f, expectKeys) {
  assert.ok(f.link, "the 'open in token-dynamics' link is missing or invisible");
  assert.equal(f.link.target, "_blank");
  assert.match(f.link.rel, /noopener/);
  const url = new URL(f.link.href);
  const { route, params } = parseHash(url.hash);
  assert.equal(route, "next-token");
  for (const k of PAGE_KEYS) assert.ok(!(k in params), `open link keeps the embed key ${k}: ${f.link.href}`);
  for (const [k, v] of Object.entries(expectKeys)) assert.equal(params[k], v, `open link lost ${k}: ${f.link.href}`);
}

for (const [w, h] of [[360, 480], [640, 480], [1024, 700]]) {
  test(`embed layout at ${w}x${h}: fits without scrolling, canvases drawn, strip, open link`, T_OPTS, async (t) => {
    const hashes = [
      "#next-token?v=1&flow=entropic&T=0.5&embed=1",
      "#next-token?v=1&flow=compare&trunc=top-p&top_p=0.5&embed=1&view=simplex,series",
    ];
    const { app, page, frames } = await openHost(hashes.map((hash) => ({ hash, width: w, height: h })));
    try {
      for (const [i, frame] of frames.entries()) {
        const f = await layoutFacts(frame);
        t.diagnostic(`${hashes[i]}: inner ${f.inner}, scroll ${f.scroll}, canvases ${JSON.stringify(f.canvases.map((c) => [c.id, c.w, c.h]))}`);
        assert.deepEqual(f.inner, [w, h]);
        assertFits(f, `${w}x${h} frame ${i}`);
        assert.deepEqual(f.scrolled, [0, 0]);
        assert.ok(!f.header && !f.presets && !f.shareBar, `full-page chrome visible in embed: ${JSON.stringify(f)}`);
        assert.ok(f.play, "play button hidden");
        assert.ok(f.visibleControls.includes("T") && f.visibleControls.includes("flow"), `strip lacks T/flow: ${f.visibleControls}`);
        for (const k of f.visibleControls) {
          assert.ok(["T", "flow", "trunc", "k", "top_p", "min_p", "at"].includes(k), `control ${k} is not in the compact strip`);
        }
        await assertCanvasDrawn(frame, "#simplex-canvas");
        const ids = f.canvases.map((c) => c.id);
        if (i === 1) {
          for (const id of ["simplex-canvas", "simplex-canvas-2", "series-canvas"]) {
            assert.ok(ids.includes(id), `${id} not shown with view=simplex,series in compare mode: ${ids}`);
            await assertCanvasDrawn(frame, `#${id}`);
          }
          assert.ok(!ids.includes("logits-canvas"), "logits shown although view excludes it");
        } else {
          assert.deepEqual(ids, ["simplex-canvas"], "an embed without view= shows the simplex only");
        }
        // the simplex gets a useful share of the frame
        const s = f.canvases.find((c) => c.id === "simplex-canvas");
        assert.ok(s.bottom - s.top >= Math.min(120, h / 4), `simplex too small: ${JSON.stringify(s)}`);
        assertOpenLink(f, i === 0 ? { flow: "entropic", T: "0.5" } : { trunc: "top-p", top_p: "0.5" });
      }
      await screenshot(page, `embed-${w}x${h}.png`);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  });
}

test("embed re-lays out when the iframe is resized (and still never scrolls)", T_OPTS, async () => {
  const { app, page, frames } = await openHost([{ hash: "#next-token?v=1&embed=1&view=simplex,series", width: 640, height: 480 }]);
  try {
    const before = await layoutFacts(frames[0]);
    for (const [w, h] of [[360, 480], [1024, 700], [500, 300]]) {
      await page.evaluate(([w, h]) => {
        const f = document.querySelector("iframe");
        f.width = String(w);
        f.height = String(h);
      }, [w, h]);
      await frames[0].waitForFunction(([w, h]) => innerWidth === w && innerHeight === h, [w, h]);
      await page.waitForTimeout(150);
      await nextFrames(frames[0], 3);
      const f = await layoutFacts(frames[0]);
      assertFits(f, `resized to ${w}x${h}`);
      await assertCanvasDrawn(frames[0], "#simplex-canvas");
      const simplex = f.canvases.find((c) => c.id === "simplex-canvas");
      assert.ok(simplex.right - simplex.left <= w, "simplex wider than the frame");
      if (w === 1024) {
        const s0 = before.canvases.find((c) => c.id === "simplex-canvas");
        assert.notEqual(simplex.w, s0.w, "canvas backing size did not follow the iframe");
      }
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("hide= hides the named controls; controls=none hides every control", T_OPTS, async () => {
  const { app, frames } = await openHost([
    { hash: "#next-token?v=1&embed=1&trunc=top-k&hide=T,trunc", width: 640, height: 480 },
    { hash: "#next-token?v=1&embed=1&controls=none", width: 640, height: 480 },
    { hash: "#next-token?v=1&hide=T,eta", width: 1200, height: 800 },
  ]);
  try {
    const a = await layoutFacts(frames[0]);
    assert.ok(!a.visibleControls.includes("T") && !a.visibleControls.includes("trunc"), `hidden controls shown: ${a.visibleControls}`);
    // hiding a choice hides the parameters that refine it (k belongs to trunc)
    assert.ok(!a.visibleControls.includes("k"), `k shown although trunc is hidden: ${a.visibleControls}`);
    assert.ok(a.visibleControls.includes("flow") && a.visibleControls.includes("at"), `other controls lost: ${a.visibleControls}`);
    const b = await layoutFacts(frames[1]);
    assert.deepEqual(b.visibleControls, [], `controls=none still shows ${b.visibleControls}`);
    assert.equal(b.play, false, "controls=none still shows the play button");
    assertFits(b, "controls=none");
    await assertCanvasDrawn(frames[1], "#simplex-canvas");
    // hide= works in the full page too, and the values still apply
    const c = await layoutFacts(frames[2]);
    assert.ok(!c.visibleControls.includes("T"), "hide=T ignored in the full page");
    assert.ok(c.visibleControls.includes("flow"));
    assert.equal(await frames[0].evaluate(() => document.querySelector("#ctl-T").closest(".control").hidden), true);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("theme=dark|light|auto (auto follows prefers-color-scheme); dark screenshots", T_OPTS, async () => {
  const lum = (css) => {
    const [r, g, b] = css.match(/\d+/g).map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  for (const scheme of ["light", "dark"]) {
    const { app, page, frames } = await openHost(
      [
        { hash: "#next-token?v=1&embed=1&theme=dark&flow=compare", width: 640, height: 480 },
        { hash: "#next-token?v=1&embed=1&theme=light", width: 360, height: 480 },
        { hash: "#next-token?v=1&embed=1", width: 360, height: 480 },
      ],
      { colorScheme: scheme },
    );
    try {
      const [dark, light, auto] = await Promise.all(frames.map(layoutFacts));
      assert.equal(dark.theme, "dark");
      assert.ok(lum(dark.bg) < 60, `theme=dark background ${dark.bg}`);
      assert.ok(lum(light.bg) > 200, `theme=light background ${light.bg} under ${scheme}`);
      if (scheme === "dark") assert.ok(lum(auto.bg) < 60, `theme=auto ignores a dark system setting: ${auto.bg}`);
      else assert.ok(lum(auto.bg) > 200, `theme=auto not light: ${auto.bg}`);
      assertFits(dark, "dark");
      await assertCanvasDrawn(frames[0], "#simplex-canvas-2");
      await screenshot(page, `embed-theme-${scheme}-scheme.png`);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});

test("autoplay=1 plays once ready, loop=1 restarts; no autoplay under prefers-reduced-motion", T_OPTS, async () => {
  const hash = "#next-token?v=1&embed=1&autoplay=1&loop=1&speed=10";
  {
    const { app, frames } = await openHost([{ hash, width: 640, height: 480 }]);
    try {
      const f = frames[0];
      assert.equal(await f.getAttribute("#play", "aria-pressed"), "true", "autoplay did not start playing");
      // speed=10 plays the horizon in 0.4 s: over 1.5 s `at` must wrap around at least once.
      const seen = [];
      for (let i = 0; i < 30; i++) {
        seen.push(Number(await f.inputValue("#ctl-at")));
        await f.waitForTimeout(50);
      }
      const drops = seen.filter((v, i) => i > 0 && v < seen[i - 1] - 0.2).length;
      assert.ok(drops >= 1, `loop=1 never restarted: ${seen.join(" ")}`);
      assert.equal(await f.getAttribute("#play", "aria-pressed"), "true", "stopped although loop=1");
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
  {
    const { app, frames } = await openHost([{ hash, width: 640, height: 480 }], { reducedMotion: "reduce" });
    try {
      await frames[0].waitForTimeout(400);
      assert.equal(await frames[0].getAttribute("#play", "aria-pressed"), "false", "autoplay ignored prefers-reduced-motion");
      assert.equal(Number(await frames[0].inputValue("#ctl-at")), 1);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});

const messages = (page, pred = () => true) =>
  page.evaluate(() => window.__messages.map((m) => ({ frame: m.frame, data: m.data })));

async function waitMessage(page, pred, timeout = 5000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeout) {
    const found = (await messages(page)).find(pred);
    if (found) return found;
    await page.waitForTimeout(40);
  }
  throw new Error(`no matching message within ${timeout} ms; got ${JSON.stringify((await messages(page)).map((m) => [m.frame, m.data?.type]))}`);
}

const send = (page, index, data) =>
  page.evaluate(([i, d]) => document.querySelectorAll("iframe")[i].contentWindow.postMessage(d, "*"), [index, data]);

test("postMessage: ready + plausible height messages; set is validated like a link and answered", T_OPTS, async () => {
  const { app, page, frames } = await openHost([{ hash: "#next-token?v=1&embed=1&view=simplex,series", width: 640, height: 480 }]);
  try {
    const f = frames[0];
    const ready = await waitMessage(page, (m) => m.data?.type === "token-dynamics:ready");
    assert.equal(ready.frame, 0);
    assert.equal(ready.data.state.flow, "compare");
    const height = await waitMessage(page, (m) => m.data?.type === "token-dynamics:height");
    assert.equal(height.frame, 0);
    const contentBottom = await f.evaluate(() => Math.max(...[...document.querySelectorAll("canvas, #open-full")]
      .filter((e) => e.getBoundingClientRect().height > 0).map((e) => e.getBoundingClientRect().bottom)));
    assert.ok(Number.isInteger(height.data.height), `height not an integer: ${height.data.height}`);
    assert.ok(height.data.height >= 250 && height.data.height <= 2000, `implausible height ${height.data.height}`);
    assert.ok(height.data.height + 1 >= Math.min(contentBottom, 480) , `height ${height.data.height} < content ${contentBottom}`);

    // the host sizes the iframe from the message: the content then fits exactly, the height is stable
    const last = async () => (await messages(page)).filter((m) => m.data?.type === "token-dynamics:height").at(-1).data.height;
    await page.evaluate((h) => { document.querySelector("iframe").style.height = `${h}px`; }, await last());
    await page.waitForTimeout(300);
    await page.evaluate((h) => { document.querySelector("iframe").style.height = `${h}px`; }, await last());
    await page.waitForTimeout(300);
    const h1 = await last();
    const fit = await layoutFacts(f);
    assertFits(fit, "sized by its height message");
    assert.ok(Math.abs(fit.inner[1] - h1) <= 1, `iframe ${fit.inner[1]} px vs reported ${h1}`);
    const maxBottom = Math.max(...fit.canvases.map((c) => c.bottom));
    assert.ok(maxBottom <= h1 && h1 - maxBottom < 200, `reported height ${h1} far from content (${maxBottom})`);
    const heightCount = (await messages(page)).filter((m) => m.data?.type === "token-dynamics:height").length;
    assert.ok(heightCount < 10, `height messages keep coming (${heightCount}): feedback loop`);

    // a good set
    const before = await canvasStats(f, "#simplex-canvas");
    await send(page, 0, { type: "token-dynamics:set", state: { T: 0.5, flow: "entropic" }, id: "a1" });
    const reply = await waitMessage(page, (m) => m.data?.type === "token-dynamics:state" && m.data.id === "a1");
    assert.equal(reply.frame, 0);
    assert.equal(reply.data.ok, true);
    assert.deepEqual(reply.data.messages, []);
    assert.equal(reply.data.state.T, 0.5);
    assert.equal(reply.data.state.flow, "entropic");
    assert.equal((await f.evaluate(() => window.tokenDynamics.state())).T, 0.5);
    await waitCanvasChange(f, "#simplex-canvas", before.hash);
    // bad values: clamped / refused with the link's messages; numeric ids come back as numbers
    await send(page, 0, { type: "token-dynamics:set", state: { T: "hot", trunc: "bogus", k: 1e9, nonsense: 1 }, id: 7 });
    const bad = await waitMessage(page, (m) => m.data?.type === "token-dynamics:state" && m.data.id === 7);
    assert.equal(bad.data.ok, false);
    assert.ok(bad.data.messages.length >= 2, `expected messages for bad values: ${JSON.stringify(bad.data.messages)}`);
    assert.ok(bad.data.messages.some((m) => /T/.test(m)), JSON.stringify(bad.data.messages));
    assert.equal(bad.data.state.T, 0.5, "a bad T changed the state");
    assert.equal(bad.data.state.trunc, "none");
    // page options travel too, and show in the state
    await send(page, 0, { type: "token-dynamics:set", state: { theme: "dark" }, id: "theme" });
    const themed = await waitMessage(page, (m) => m.data?.id === "theme");
    assert.equal(themed.data.state.theme, "dark");
    assert.equal(await f.evaluate(() => document.documentElement.dataset.theme), "dark");
    // no id: the reply carries id null
    await send(page, 0, { type: "token-dynamics:set", state: { T: 2 } });
    const noId = await waitMessage(page, (m) => m.data?.type === "token-dynamics:state" && m.data.id === null);
    assert.equal(noId.data.state.T, 2);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("postMessage: malformed, foreign and huge messages are ignored without errors", T_OPTS, async () => {
  const { app, page, frames } = await openHost([
    { hash: "#next-token?v=1&embed=1&T=0.7", width: 640, height: 480 },
    { hash: "#next-token?v=1&embed=1&T=3", width: 640, height: 480 },
  ]);
  try {
    const [a, b] = frames;
    const stateA = await a.evaluate(() => window.tokenDynamics.state().hash);
    const bad = [
      "token-dynamics:set",
      42,
      null,
      [1, 2],
      { type: "token-dynamics:other", state: { T: 2 } },
      { type: "TOKEN-DYNAMICS:SET", state: { T: 2 } },
      { type: "token-dynamics:set" },
      { type: "token-dynamics:set", state: "T=2" },
      { type: "token-dynamics:set", state: [["T", 2]] },
      { type: "token-dynamics:set", state: null },
      { type: "token-dynamics:set", state: { s: "1,".repeat(600_000) } },
      { type: "token-dynamics:set", state: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])) },
      { type: "token-dynamics:set", state: { s: Array.from({ length: 200_000 }, () => 1) } },
    ];
    for (const d of bad) await send(page, 0, d);
    // A sibling frame (not the parent) tries to drive frame 0: ignored.
    await b.evaluate(() => parent.frames[0].postMessage({ type: "token-dynamics:set", state: { T: 9 }, id: "sibling" }, "*"));
    // ... and frame 0 talking to itself is not its parent either.
    await a.evaluate(() => window.postMessage({ type: "token-dynamics:set", state: { T: 8 }, id: "self" }, "*"));
    await page.waitForTimeout(500);
    assert.equal(await a.evaluate(() => window.tokenDynamics.state().hash), stateA, "a malformed or foreign message changed the state");
    const replies = (await messages(page)).filter((m) => m.data?.type === "token-dynamics:state");
    assert.deepEqual(replies, [], `malformed messages got replies: ${JSON.stringify(replies).slice(0, 300)}`);
    // still alive and answering
    await send(page, 0, { type: "token-dynamics:set", state: { T: 0.25 }, id: "alive" });
    const alive = await waitMessage(page, (m) => m.data?.id === "alive");
    assert.equal(alive.data.state.T, 0.25);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("two embeds on one page do not interfere", T_OPTS, async () => {
  const { app, page, frames } = await openHost([
    { hash: "#next-token?v=1&embed=1&flow=replicator", width: 500, height: 420 },
    { hash: "#next-token?v=1&embed=1&flow=compare&trunc=top-p&view=simplex,series", width: 700, height: 520 },
  ]);
  try {
    const [a, b] = frames;
    const bBefore = await b.evaluate(() => window.tokenDynamics.state().hash);
    const bPixels = await canvasStats(b, "#simplex-canvas");
    await send(page, 0, { type: "token-dynamics:set", state: { T: 0.2 }, id: "x" });
    const reply = await waitMessage(page, (m) => m.data?.id === "x");
    assert.equal(reply.frame, 0, "the reply came from the wrong frame");
    await page.waitForTimeout(300);
    assert.equal((await a.evaluate(() => window.tokenDynamics.state())).T, 0.2);
    assert.equal(await b.evaluate(() => window.tokenDynamics.state().hash), bBefore, "frame B changed with a message for A");
    assert.equal((await canvasStats(b, "#simplex-canvas")).hash, bPixels.hash, "frame B repainted");
    const all = await messages(page);
    assert.equal(all.filter((m) => m.data?.type === "token-dynamics:state").length, 1, "more than one reply");
    const hA = all.filter((m) => m.frame === 0 && m.data?.type === "token-dynamics:height");
    const hB = all.filter((m) => m.frame === 1 && m.data?.type === "token-dynamics:height");
    assert.ok(hA.length >= 1 && hB.length >= 1, "each frame reports its own height");
    assert.notEqual(hA.at(-1).data.height, hB.at(-1).data.height, "both frames report the same height although they differ");
    // B answers its own messages
    await send(page, 1, { type: "token-dynamics:set", state: { top_p: 0.5 }, id: "y" });
    const replyB = await waitMessage(page, (m) => m.data?.id === "y");
    assert.equal(replyB.frame, 1);
    assert.equal((await a.evaluate(() => window.tokenDynamics.state())).top_p, 0.9);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("www/embed-example.html: two figures sized by height messages and driven by links in the text", T_OPTS, async () => {
  const app = await suite.open("embed-example.html", { waitReady: false, viewport: { width: 1000, height: 900 } });
  try {
    const { page } = app;
    const [a, b] = [await embeddedFrame(page, 0), await embeddedFrame(page, 1)];
    // It declares an icon that exists (without one, browsers ask for /favicon.ico, a 404 here).
    const icon = await page.evaluate(async () => {
      const link = document.querySelector('link[rel="icon"]');
      return link ? { href: link.href, ok: (await fetch(link.href)).ok } : null;
    });
    assert.ok(icon && icon.ok, `no working icon: ${JSON.stringify(icon)}`);
    await page.waitForFunction(() => document.querySelector("#flow-a-status").textContent.startsWith("Live figure"), null, { timeout: 10_000 });
    // each iframe's height follows its own height messages and its content fits
    await page.waitForTimeout(400);
    for (const [i, f] of [a, b].entries()) {
      const facts = await layoutFacts(f);
      assertFits(facts, `example figure ${i}`);
      const el = await page.evaluate((i) => document.querySelectorAll("iframe")[i].style.height, i);
      assert.match(el, /^\d+px$/, `iframe ${i} height not set from messages: '${el}'`);
    }
    const hA = await page.evaluate(() => document.querySelector("#flow-a").getBoundingClientRect().height);
    const hB = await page.evaluate(() => document.querySelector("#compare").getBoundingClientRect().height);
    assert.notEqual(Math.round(hA), Math.round(hB), "the two figures should have different heights");
    const bHash = await b.evaluate(() => window.tokenDynamics.state().hash);
    await page.click("text=lower the temperature");
    await a.waitForFunction(() => window.tokenDynamics.state().T === 0.3, null, { timeout: 5000 });
    await page.waitForFunction(() => /T = 0\.3/.test(document.querySelector("#flow-a-status").textContent));
    assert.equal(await b.evaluate(() => window.tokenDynamics.state().hash), bHash, "figure 2 changed with figure 1's link");
    await page.click("text=use top-2 instead");
    await b.waitForFunction(() => window.tokenDynamics.state().trunc === "top-k" && window.tokenDynamics.state().k === 2);
    await page.click('text=T = "hot"');
    await page.waitForFunction(() => /hot/.test(document.querySelector("#compare-status").textContent));
    assert.equal((await a.evaluate(() => window.tokenDynamics.state())).T, 0.3);
    // the example hides the truncation control of figure 2
    assert.equal(await b.evaluate(() => document.querySelector("#row-trunc").hidden), true);
    await screenshot(page, "embed-example.png");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("hostile labels in an embed are only text (no element injected, link percent-encoded)", T_OPTS, async () => {
  const labels = ['<img src=x onerror=alert(1)>', "\u202Eevil\u202C " + "ש".repeat(30), "🙂".repeat(40)];
  const hash = `#next-token?v=1&embed=1&view=simplex,readout&labels=${labels.map(encodeURIComponent).join(",")}`;
  const { app, frames } = await openHost([{ hash, width: 640, height: 600 }]);
  try {
    const f = frames[0];
    assert.deepEqual(await f.evaluate(() => window.__imgInserted), [], "an <img> was inserted");
    assert.equal(await f.evaluate(() => document.querySelectorAll("img, script:not([src])").length), 0);
    const cells = await f.evaluate(() => [...document.querySelectorAll("#readout td")].map((td) => td.textContent));
    assert.ok(cells.some((c) => c.startsWith("<img")), `hostile label not shown as text: ${cells.slice(0, 6)}`);
    const facts = await layoutFacts(f);
    assertFits(facts, "hostile labels");
    assert.ok(!facts.link.href.includes("<"), "raw '<' in the open link");
    const { params } = parseHash(new URL(facts.link.href).hash);
    assert.ok(params.labels.startsWith("<img"), `labels lost in the open link: ${params.labels}`);
    await assertCanvasDrawn(f, "#simplex-canvas");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("a narrow attention embed (320-366 px) keeps its controls to one row and gives the height to the particles", async () => {
  for (const width of [320, 366]) {
    const app = await suite.open("attention.html#attention?v=1&embed=1", { viewport: { width, height: 480 } });
    try {
      const info = await app.page.evaluate(() => {
        const canvas = document.querySelector("#particles-canvas").getBoundingClientRect();
        const rows = new Set([...document.querySelectorAll("#controls .control")].filter((c) => c.getBoundingClientRect().width > 0).map((c) => Math.round(c.getBoundingClientRect().top)));
        return { height: canvas.height, rows: rows.size, sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth };
      });
      assert.ok(info.height >= 200, `${width} px: the particles are ${info.height} px tall`);
      assert.equal(info.rows, 1, `${width} px: the controls take ${info.rows} rows`);
      assert.ok(info.sideways <= 0, `${width} px: the embed scrolls sideways by ${info.sideways} px`);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});
