// Pointer and playback interactions: click to add a start, drag a logit bar, play/scrub, hash edits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSuite, waitIdle, canvasStats, assertCanvasDrawn } from "./harness.mjs";

const DESKTOP = { width: 1280, height: 900 };
const T_OPTS = { timeout: 90_000 };
let suite;
before(async () => { suite = await startSuite(); });
after(async () => { await suite?.close(); });

const state = (page) => page.evaluate(() => window.tokenDynamics.state());

test("clicking inside the simplex adds a start point (state, hash and picture change)", T_OPTS, async () => {
  const app = await suite.open("#next-token?flow=entropic&p0=uniform", { viewport: DESKTOP });
  try {
    const { page } = app;
    const before = await canvasStats(page, "#simplex-canvas");
    await page.locator("#simplex-canvas").scrollIntoViewIfNeeded();
    const box = await page.locator("#simplex-canvas").boundingBox();
    // A point well inside the triangle: horizontally centred, 70% down.
    await page.mouse.click(box.x + box.width / 2, box.y + box.height * 0.7);
    await waitIdle(page);
    const st = await state(page);
    const starts = String(st.p0).split(";");
    assert.equal(starts.length, 2, `expected a second start, got p0=${st.p0}`);
    const added = starts[1].split(",").map(Number);
    assert.equal(added.length, 3);
    assert.ok(Math.abs(added.reduce((a, b) => a + b, 0) - 1) < 1e-3, `not a distribution: ${starts[1]}`);
    assert.ok(added.every((x) => x > 0.05), `a central click should give an interior point: ${starts[1]}`);
    await page.waitForFunction(() => decodeURIComponent(location.hash).includes("p0=uniform;"), null, { timeout: 3000 });
    const after = await canvasStats(page, "#simplex-canvas");
    assert.notEqual(after.hash, before.hash, "the simplex picture did not change");
    // A click outside the triangle (top-left corner of the canvas) adds nothing.
    await page.mouse.click(box.x + 5, box.y + box.height * 0.5);
    await waitIdle(page);
    assert.equal(String((await state(page)).p0).split(";").length, 2);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("dragging a logit bar changes that logit, the hash and pi_T; arrow keys edit too", T_OPTS, async () => {
  const app = await suite.open("#next-token?flow=entropic", { viewport: DESKTOP });
  try {
    const { page } = app;
    const s0 = String((await state(page)).s).split(",").map(Number);
    await page.locator("#logits-canvas").scrollIntoViewIfNeeded();
    const box = await page.locator("#logits-canvas").boundingBox();
    // Third bar (token 2, logit 0): drag it up near the top of the chart.
    const x = box.x + 40 + (box.width - 48) * (2.5 / 3);
    await page.mouse.move(x, box.y + box.height * 0.75);
    await page.mouse.down();
    await page.mouse.move(x, box.y + box.height * 0.2, { steps: 5 });
    await page.mouse.up();
    await waitIdle(page);
    const s1 = String((await state(page)).s).split(",").map(Number);
    assert.equal(s1.length, 3);
    assert.equal(s1[0], s0[0]);
    assert.equal(s1[1], s0[1]);
    assert.ok(s1[2] > s0[2] + 0.5, `dragging up should raise logit 2: ${s0} -> ${s1}`);
    const target = (await page.evaluate(() => window.tokenDynamics.readout())).target;
    const z = s1.map(Math.exp); const sum = z.reduce((a, b) => a + b, 0);
    z.forEach((zi, i) => assert.ok(Math.abs(zi / sum - target[i]) < 1e-9, `target[${i}]`));
    await page.waitForFunction((v) => location.hash.includes(`s=${v}`), s1.join(","), { timeout: 3000 });
    // Keyboard: focus the chart, pick token 0 with ArrowLeft, raise it with ArrowUp.
    await page.focus("#logits-canvas");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowUp");
    await waitIdle(page);
    const s2 = String((await state(page)).s).split(",").map(Number);
    assert.ok(Math.abs(s2[0] - (s1[0] + 0.1)) < 1e-9, `ArrowUp should add 0.1 to logit 0: ${s1} -> ${s2}`);
    // Typed entry for the selected token.
    await page.fill("#token-logit", "-1.5");
    await page.press("#token-logit", "Enter");
    await waitIdle(page);
    assert.equal(String((await state(page)).s).split(",").map(Number)[0], -1.5);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("play moves the current point; scrub position is in the link and restores", T_OPTS, async () => {
  const app = await suite.open("#next-token?flow=entropic&at=0", { viewport: DESKTOP });
  try {
    const { page } = app;
    const before = await canvasStats(page, "#simplex-canvas");
    await page.click("#play");
    await page.waitForFunction(() => Number(document.querySelector("#ctl-at").value) > 0.2, null, { timeout: 10_000 });
    await page.click("#play"); // pause
    const at = Number(await page.inputValue("#ctl-at"));
    assert.ok(at > 0.2 && at <= 1, `at=${at}`);
    const after = await canvasStats(page, "#simplex-canvas");
    assert.notEqual(after.hash, before.hash, "the animated point did not move");
    await page.waitForFunction(() => { const m = /[?&]at=([^&]*)/.exec(location.hash); return m && Number(m[1]) > 0.2; }, null, { timeout: 3000 });
    const hash = await page.evaluate(() => location.hash);
    const again = await suite.open(hash, { viewport: DESKTOP });
    try {
      const at2 = Number(await again.page.inputValue("#ctl-at"));
      assert.ok(Math.abs(at2 - at) < 1e-9, `restored at=${at2}, expected ${at}`);
      await again.assertNoErrors();
    } finally {
      await again.close();
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("editing the address bar hash applies it; compare mode shows two drawn simplex panels", T_OPTS, async () => {
  const app = await suite.open("#next-token?flow=entropic", { viewport: DESKTOP });
  try {
    const { page } = app;
    assert.equal(await page.locator("#simplex-canvas-2").isVisible(), false);
    await page.evaluate(() => { location.hash = "#next-token?flow=compare&T=2"; });
    await page.waitForFunction(() => window.tokenDynamics.state().flow === "compare", null, { timeout: 5000 });
    await waitIdle(page);
    assert.equal((await state(page)).T, 2);
    assert.equal(await page.locator("#simplex-canvas-2").isVisible(), true);
    await assertCanvasDrawn(page, "#simplex-canvas-2");
    const r = await page.evaluate(() => window.tokenDynamics.readout());
    assert.equal(r.flow, "replicator");
    assert.equal(r.compare.flow, "entropic");
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

// Counts text changes inside live regions (aria-live polite/assertive, role status/alert, and
// <output>, whose implicit role is status, unless aria-live="off").
function watchLiveRegions() {
  window.__live = 0;
  const live = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const a = e.getAttribute && e.getAttribute("aria-live");
      if (a === "off") return false;
      if (a === "polite" || a === "assertive") return true;
      const role = e.getAttribute && e.getAttribute("role");
      if (role === "status" || role === "alert" || e.tagName === "OUTPUT") return true;
    }
    return false;
  };
  new MutationObserver((list) => {
    for (const m of list) {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (el && live(el)) window.__live += 1;
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

test("screen readers: twenty slider steps are one announcement, playback is silent, the position snaps to its step", T_OPTS, async () => {
  for (const [file, slider] of [["#next-token?flow=entropic&at=0", "#ctl-T"], ["attention.html#attention?v=1&n=24&at=0", "#ctl-delta"], ["energy.html#energy?v=1&mode=generate&n=8", "#ctl-T"]]) {
    const app = await suite.open(file, { viewport: DESKTOP, initScripts: [watchLiveRegions] });
    try {
      const { page } = app;
      await page.waitForTimeout(1000); // the first summary settles
      await page.evaluate(() => { window.__live = 0; });
      await page.focus(slider);
      for (let i = 0; i < 20; i++) await page.keyboard.press("ArrowRight");
      await waitIdle(page);
      await page.waitForTimeout(1200);
      const afterKeys = await page.evaluate(() => window.__live);
      assert.ok(afterKeys >= 1 && afterKeys <= 2, `${file}: ${afterKeys} live-region updates for 20 key presses`);
      const announced = await page.evaluate(() => document.getElementById("announce").textContent);
      const summary = await page.evaluate(() => document.getElementById("summary").textContent);
      assert.equal(announced, summary, `${file}: the announcement is the settled summary`);
      // Playback: no live-region update while it runs.
      await page.evaluate(() => { window.__live = 0; });
      await page.click("#play");
      await page.waitForTimeout(600);
      const whilePlaying = await page.evaluate(() => window.__live);
      await page.click("#play");
      assert.equal(whilePlaying, 0, `${file}: ${whilePlaying} live-region updates during 0.6 s of playback`);
      // Paused: the boxes, the slider and the link agree on a position with at most 3 decimals.
      await page.waitForTimeout(400);
      const pos = await page.evaluate(() => ({
        slider: document.getElementById("ctl-at").value,
        box: document.getElementById("ctl-at-num")?.value,
        out: document.getElementById("ctl-at-out")?.textContent,
        link: /[?&]at=([^&]*)/.exec(location.hash)?.[1],
      }));
      assert.ok(/^(0|1|0\.\d{1,3})$/.test(pos.box ?? pos.out), `${file}: the position reads ${JSON.stringify(pos)}`);
      assert.equal(Number(pos.slider), Number(pos.box ?? pos.out), `${file}: ${JSON.stringify(pos)}`);
      if (pos.link !== undefined) assert.equal(Number(pos.link), Number(pos.slider), `${file}: ${JSON.stringify(pos)}`);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});

test("a logit drag far above the chart stays within the axis it began with, and reverses", T_OPTS, async () => {
  const app = await suite.open("#next-token?flow=entropic", { viewport: DESKTOP });
  try {
    const { page } = app;
    const logits = async () => String((await state(page)).s).split(",").map(Number);
    const s0 = await logits();
    await page.locator("#logits-canvas").scrollIntoViewIfNeeded();
    const box = await page.locator("#logits-canvas").boundingBox();
    const x = box.x + 40 + (box.width - 48) * (2.5 / 3);
    const y = box.y + box.height * 0.6;
    await page.mouse.move(x, y);
    await page.mouse.down();
    await waitIdle(page);
    const pressed = await logits();
    // 600 px above the press, far outside the chart.
    await page.mouse.move(x, y - 600, { steps: 12 });
    await waitIdle(page);
    const high = await logits();
    const span = Math.max(Math.max(...s0, 0) - Math.min(...s0, 0), 1);
    const top = Math.max(...s0, 0) + 0.25 * span;
    assert.ok(high[2] > pressed[2], `dragging up did not raise the logit: ${pressed} -> ${high}`);
    assert.ok(high[2] <= top + 1e-9, `the drag ran away: s_2 = ${high[2]}, the axis ended at ${top}`);
    // Back to where the press began: the same value as at the press.
    await page.mouse.move(x, y, { steps: 12 });
    await waitIdle(page);
    const back = await logits();
    await page.mouse.up();
    await waitIdle(page);
    assert.ok(Math.abs(back[2] - pressed[2]) <= 0.011, `moving back did not undo the drag: ${pressed[2]} -> ${high[2]} -> ${back[2]}`);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});
