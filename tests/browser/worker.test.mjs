// Heavy scenes are computed in the page's worker (www/worker.js, running the page's own module):
// the same numbers as on the page, a control change supersedes a running job at once (never a
// stale picture), under the strict CSP, inside sandboxed iframes, and the page still works where
// no worker can start.
// Run: node --test --test-concurrency=1 tests/browser/   (needs a built dist/; see scripts/test.sh)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSuite, embeddedFrame, waitIdle, assertCanvasDrawn } from "./harness.mjs";

let suite;
before(async () => {
  suite = await startSuite();
});
after(async () => {
  await suite?.close();
});

/** Removes the Worker constructor before any page script: the page must compute by itself. */
const noWorker = () => {
  delete window.Worker;
};
const workerRequested = (app) => app.requests.some((u) => /\/worker\.js\?explorer=/.test(u));
const readout = (page) => page.evaluate(() => JSON.stringify(window.tokenDynamics.readout()));

const HEAVY = [
  "#next-token?v=1&gen=zipf&V=50257&seed=7&flow=compare&p0=uniform",
  "#next-token?v=1&gen=gauss&V=20000&seed=2&flow=entropic&trunc=top-p&top_p=0.9&overlay=T:0.5,1,2",
  "attention.html#attention?v=1&n=600&rule=compare",
  "attention.html#attention?v=1&n=300&d=3&steps=120",
  "energy.html",
  "energy.html#energy?v=1&mode=generate&prompt=The%20&n=32&steer=margin&T=0",
  "energy.html#energy?v=1&mass=fitted&U=entropy&form=product&steer=delta&layer=1",
];
/** The energy lab's figures need the trained weights: wait until they are in and used. */
const settled = (page) =>
  page.waitForFunction(
    () => document.body.dataset.busy === "0" && (document.body.dataset.explorer !== "energy" || document.body.dataset.model === "loaded"),
    null,
    { timeout: 60_000 },
  );

test("heavy scenes are computed in the worker and read out exactly as when the page computes them", async (t) => {
  for (const link of HEAVY) {
    const remote = await suite.open(link);
    const local = await suite.open(link, { initScripts: [noWorker] });
    try {
      await settled(remote.page);
      await settled(local.page);
      assert.ok(workerRequested(remote), `${link}: the worker was not used`);
      assert.ok(!workerRequested(local), `${link}: a worker started although none can`);
      const [a, b] = [await readout(remote.page), await readout(local.page)];
      assert.ok(a.length > 1000, `${link}: empty readout`);
      assert.equal(a, b, `${link}: the worker's readout differs from the page's`);
      const done = JSON.parse(a).done;
      assert.ok(done === undefined || done === true, `${link}: not done`);
      await assertCanvasDrawn(remote.page, "canvas");
      await remote.assertNoErrors();
      await local.assertNoErrors();
      t.diagnostic(`${link}: identical readouts (${a.length} bytes)`);
    } finally {
      await remote.close();
      await local.close();
    }
  }
});

test("a scene of several trajectories, or one long closed-form trajectory, is shared by several workers, with the numbers of one", async (t) => {
  const workers = (app) => app.requests.filter((u) => /\/worker\.js\?explorer=/.test(u)).length;
  // [link, parts]: trajectories, or four ranges of the samples of one closed-form trajectory
  for (const [link, runs] of [
    ["#next-token?v=1&gen=zipf&V=50257&seed=7&flow=compare&p0=uniform", 2],
    ["#next-token?v=1&gen=gauss&V=20000&seed=2&flow=entropic&trunc=top-p&top_p=0.9&overlay=T:0.5,1,2", 3],
    ["#next-token?v=1&gen=zipf&V=50257&seed=7&flow=entropic&p0=uniform", 4],
  ]) {
    let one = null;
    let picture = null;
    for (const limit of [1, 2, 3]) {
      // globalThis.tdMaxWorkers caps the workers (default: the cores the browser reports, at most 4)
      const app = await suite.open(link, { initScripts: [`globalThis.tdMaxWorkers = ${limit};`] });
      try {
        await settled(app.page);
        assert.equal(workers(app), Math.min(limit, runs), `${link}: workers started with a limit of ${limit}`);
        const r = await readout(app.page);
        assert.equal(JSON.parse(r).done, true, `${link}: not done with ${limit} workers`);
        // The figures too: the same pixels whatever the number of workers.
        const pixels = await app.page.$$eval("canvas", (cs) => cs.map((c) => c.toDataURL()).join());
        if (one === null) [one, picture] = [r, pixels];
        else {
          assert.equal(r, one, `${link}: ${limit} workers read out differently from one`);
          assert.ok(pixels === picture, `${link}: ${limit} workers painted differently from one`);
        }
        await assertCanvasDrawn(app.page, "canvas", 0.005);
        await app.assertNoErrors();
      } finally {
        await app.close();
      }
    }
    t.diagnostic(`${link}: 1, 2 and 3 workers, identical readouts (${one.length} bytes)`);
  }
});

test("a light scene stays on the page: no worker is started for it", async () => {
  for (const link of ["", "attention.html", "#next-token?v=1&V=1000&gen=zipf&flow=entropic"]) {
    const app = await suite.open(link);
    try {
      assert.ok(!workerRequested(app), `${link || "index.html"} started a worker`);
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
});

test("a control change while the worker computes supersedes the job: the page shows the new scene only", async () => {
  const app = await suite.open("attention.html#attention?v=1&n=1500&steps=300");
  try {
    // Start a long job, then change it twice while it runs.
    await app.page.evaluate(() => window.tokenDynamics.set({ n: 1800 }));
    await app.page.waitForTimeout(150);
    await app.page.evaluate(() => window.tokenDynamics.set({ n: 700, steps: 80 }));
    await waitIdle(app.page, 120_000);
    const state = await app.page.evaluate(() => window.tokenDynamics.state());
    assert.equal(state.n, 700);
    const r = JSON.parse(await readout(app.page));
    assert.equal(r.steps, 80);
    assert.equal(r.panels[0].n, 700, "the readout is the newest scene's");
    assert.equal(r.panels[0].final_positions.length, 700);
    // The same link loaded fresh gives the same numbers: nothing of the superseded jobs leaked in.
    const fresh = await suite.open(`attention.html${state.hash}`);
    try {
      assert.equal(await readout(fresh.page), JSON.stringify(r));
    } finally {
      await fresh.close();
    }
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});

test("the worker runs under the strict CSP inside a sandboxed iframe (allow-scripts allow-same-origin)", async () => {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>host</title></head><body>
<iframe src="/attention.html#attention?v=1&amp;n=500&amp;embed=1" width="600" height="500" title="figure" sandbox="allow-scripts allow-same-origin"></iframe>
</body></html>`;
  const host = await suite.openHost(html, { name: "worker-host" });
  try {
    const frame = await embeddedFrame(host.page, 0, 120_000);
    const r = JSON.parse(await frame.evaluate(() => JSON.stringify(window.tokenDynamics.readout())));
    assert.equal(r.done, true);
    assert.ok(host.requests.some((u) => /worker\.js\?explorer=attention/.test(u)), "the embed's worker did not start");
    await host.assertNoErrors();
  } finally {
    await host.close();
  }
});

test("a finished job stops: once a part reports done, its worker posts nothing more", async () => {
  // Counts every message of every worker the page starts.
  const count = `globalThis.tdMaxWorkers = 3; globalThis.__posts = 0; const W = globalThis.Worker;
    globalThis.Worker = class extends W {
      constructor(...args) { super(...args); this.addEventListener("message", () => globalThis.__posts++); }
    };`;
  const link = "#next-token?v=1&gen=gauss&V=20000&seed=2&flow=entropic&trunc=top-p&top_p=0.9&overlay=T:0.5,1,2";
  const app = await suite.open(link, { initScripts: [count] });
  try {
    await settled(app.page);
    const before = await app.page.evaluate(() => globalThis.__posts);
    assert.ok(before > 0, "the scene was computed in workers");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await app.page.evaluate(() => globalThis.__posts);
    assert.equal(after, before, `the workers kept posting after the scene was done (${after - before} more messages in 1.5 s)`);
    await app.assertNoErrors();
  } finally {
    await app.close();
  }
});
