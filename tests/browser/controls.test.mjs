// Every control of the parameter table: changing it through its own widget changes the state, the
// link and (for what is drawn) the picture, and the resulting link restores the same state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSuite, waitIdle, canvasStats, setControl } from "./harness.mjs";

const DESKTOP = { width: 1280, height: 900 };
const T_OPTS = { timeout: 180_000 };
let suite;
before(async () => { suite = await startSuite(); });
after(async () => { await suite?.close(); });

// [key, starting link (so the control is relevant), new value typed or selected, canvases it must change]
const CASES = [
  ["flow", "", "entropic", ["#simplex-canvas"]],
  ["T", "", "0.4", ["#simplex-canvas", "#series-canvas"]],
  ["t", "", "2", ["#simplex-canvas", "#series-canvas"]],
  ["eta", "#next-token?flow=mw", "0.6", ["#simplex-canvas"]],
  ["kappa", "#next-token?flow=entropic&T=2", "inv-t", ["#series-canvas"]],
  ["trunc", "", "top-k", ["#simplex-canvas"]],
  ["k", "#next-token?trunc=top-k&s=3,2,1,0", "3", ["#simplex-canvas"]],
  ["top_p", "#next-token?trunc=top-p", "0.5", ["#simplex-canvas"]],
  ["min_p", "#next-token?trunc=min-p", "0.5", ["#simplex-canvas"]],
  ["order", "#next-token?trunc=top-p&top_p=0.6&T=3", "trunc-first", ["#simplex-canvas"]],
  ["adjust", "#next-token?flow=replicator", "memory", ["#simplex-canvas"]],
  ["W", "#next-token?adjust=matrix&flow=replicator&p0=0.5,0.3,0.2", "0,1,-1,-1,0,1,1,-1,0", ["#simplex-canvas"]],
  ["gamma", "#next-token?adjust=memory", "-3", ["#simplex-canvas"]],
  ["mu", "#next-token?adjust=memory", "3", ["#simplex-canvas"]],
  ["s", "", "0,1,2", ["#simplex-canvas", "#logits-canvas"]],
  ["labels", "", "x,y,z", ["#simplex-canvas", "#logits-canvas"]],
  ["from", "#next-token?s=3,2,1,0", "a model, after <b>\"The\"</b>", []],
  ["gen", "", "zipf", ["#simplex-canvas", "#logits-canvas"]],
  ["V", "#next-token?gen=zipf", "7", ["#logits-canvas"]],
  ["seed", "#next-token?gen=zipf&V=7", "5", ["#logits-canvas"]],
  ["corners", "#next-token?s=3,2,1,0", "0,1,3", ["#simplex-canvas"]],
  ["p0", "", "uniform", ["#simplex-canvas"]],
  ["overlay", "#next-token?flow=entropic", "T:0.5,2", ["#series-canvas"]],
  ["x", "#next-token?flow=entropic&T=2", "tT", ["#series-canvas"]],
  ["field", "", "off", ["#simplex-canvas"]],
  ["at", "", "0.3", ["#simplex-canvas", "#series-canvas"]],
  ["speed", "", "3", []],
];

// The same for the attention explorer (starting links keep runs small; P = particles, G = plots).
const P = "#particles-canvas";
const G = "#plots-canvas";
const A = "#attention?n=40&steps=60";
const ATT_CASES = [
  ["rule", A, "hardmax", [P]],
  ["norm", A, "sphere", [P, G]],
  ["attn", `${A}&rule=softmax&norm=sphere`, "usa", [P, G]],
  ["time", `${A}&rule=softmax&norm=sphere`, "layers", [P, G]],
  ["h", `${A}&rule=softmax&norm=sphere`, "0.3", [P, G]],
  // The tolerance moves tokens by ~3e-4 (under a pixel): the link, the state and the notes change.
  ["itol", `${A}&rule=softmax&norm=sphere`, "0.001", []],
  ["value", `${A}&rule=softmax&norm=sphere`, "minus", [P, G]],
  ["margin", `${A}&delta=0.5`, "multiplicative", [P]],
  ["delta", A, "0.4", [P, G]],
  ["schedule", `${A}&delta=0.5`, "vanishing", [G]],
  ["q", `${A}&delta=0.5&schedule=vanishing`, "2", [G]],
  ["r", `${A}&delta=0.5&schedule=geometric`, "0.5", [G]],
  ["pieces", `${A}&schedule=piecewise`, "0:1,30:0", [G]],
  ["beta", `${A}&rule=softmax`, "20", [P]],
  ["alpha", A, "2", [P]],
  ["matrix", `${A}&rule=hardmax`, "spd", [P]],
  ["theta", `${A}&rule=hardmax&matrix=rotation`, "1", [P]],
  ["diag", `${A}&rule=hardmax&matrix=diagonal`, "3,0.2", [P]],
  ["A", `${A}&rule=hardmax&matrix=custom`, "1,0.5,0.5,1", [P]],
  ["n", "#attention?steps=60", "30", [P]],
  ["d", A, "3", [P]],
  ["steps", A, "120", [G]],
  ["init", A, "disk", [P]],
  ["clusters", `${A}&init=clusters`, "3", [P]],
  ["sd", `${A}&init=clusters`, "0.2", [P]],
  ["x0", "#attention?steps=60&x0=0,0;1,0;0,1", "0,0;1,0;0,1;1,1", [P]],
  ["rho0", "#attention?steps=60&init=equiangular&n=4&d=4", "0.5", [P]],
  ["seed", A, "7", [P]],
  ["tol", `${A}&rule=softmax&beta=1`, "0.1", [G]],
  ["k0", A, "10", []],
  ["trails", A, "off", [P]],
  ["hull", A, "off", [P]],
  ["cells", `${A}&rule=hardmax`, "on", [P]],
  ["focus", A, "3", [P]],
  ["yaw", `${A}&d=3&init=disk`, "80", [P]],
  ["pitch", `${A}&d=3&init=disk`, "-30", [P]],
  ["at", A, "0.3", [P, G]],
  ["speed", A, "3", []],
];

async function checkControls(cases) {
  for (const [key, start, value, canvases] of cases) {
    const app = await suite.open(start, { viewport: DESKTOP });
    try {
      const { page } = app;
      const before = {};
      for (const c of canvases) before[c] = (await canvasStats(page, c)).hash;
      await setControl(page, key, value);
      await waitIdle(page);
      const st = await page.evaluate(() => window.tokenDynamics.state());
      assert.equal(String(st[key]), value, `${key}: state has ${st[key]}`);
      for (const c of canvases) {
        const after = (await canvasStats(page, c)).hash;
        assert.notEqual(after, before[c], `${key}=${value} did not change ${c}`);
      }
      const hash = await page.evaluate(() => window.tokenDynamics.state().hash);
      await page.waitForFunction((h) => location.hash === h, hash, { timeout: 3000 });
      const again = await suite.open(hash, { viewport: DESKTOP });
      try {
        const restored = await again.page.evaluate(() => window.tokenDynamics.state());
        assert.deepEqual(restored, st, `${key}: the link ${hash} does not restore the state`);
        await again.assertNoErrors();
      } finally {
        await again.close();
      }
      await app.assertNoErrors();
    } finally {
      await app.close();
    }
  }
}

test("every control changes the state, the link and the picture, and the link restores it", T_OPTS, async () => {
  await checkControls(CASES);
});

test("attention: every control changes the state, the link and the picture, and the link restores it", T_OPTS, async () => {
  const keys = await (async () => {
    const app = await suite.open(A, { viewport: DESKTOP });
    try {
      return await app.page.$$eval("[id^=row-]", (rows) => rows.map((r) => r.id.slice(4)));
    } finally {
      await app.close();
    }
  })();
  assert.deepEqual([...keys].sort(), ATT_CASES.map((c) => c[0]).sort(), "every attention control needs a case");
  await checkControls(ATT_CASES);
});

// The energy lab (S = K/U/E series, D = next-byte distribution; GEN = generate mode).
const S = "#series-canvas";
const D = "#dist-canvas";
const GEN = "#energy?mode=generate&n=24";
const ENERGY_CASES = [
  ["mode", "#energy?n=24", "generate", [S]],
  ["text", "#energy", "Call me Ishmael. Some years ago, never mind how long.", [S]],
  ["prompt", GEN, "Whale", [S]],
  ["n", GEN, "20", [S]],
  ["T", GEN, "0.3", [S]],
  ["top_k", GEN, "2", [S]],
  ["top_p", GEN, "0.3", [S]],
  ["min_p", GEN, "0.5", [S]],
  ["gseed", GEN, "7", [S]],
  ["model", "#energy?steer=delta", "random", [D]],
  ["seed", "#energy", "5", [S]],
  // Names the Real model panel's checkpoint: no figure of the lab changes (it shows the byte models).
  ["checkpoint", "#energy", "openai-community/gpt2", []],
  ["h", "#energy", "pre", [S]],
  ["mass", "#energy", "fitted", [S]],
  ["U", "#energy", "entropy", [S]],
  ["form", "#energy", "product", [S]],
  ["skip", "#energy", "5", [S]],
  ["steer", "#energy", "margin", [S, D]],
  ["pos", "#energy", "10", [D]],
  ["target", "#energy?steer=delta", "e", [D]],
  ["dlogp", "#energy?steer=delta", "3", [D]],
  ["margin", "#energy?steer=margin", "4", [D]],
  ["layer", "#energy?steer=delta", "1", [D]],
  ["at", "#energy", "0.3", [S, "#phase-canvas"]],
  ["speed", "#energy", "3", []],
];

test("energy: every control changes the state, the link and the picture, and the link restores it", { timeout: 480_000 }, async () => {
  const keys = await (async () => {
    const app = await suite.open("#energy", { viewport: DESKTOP });
    try {
      return await app.page.$$eval("[id^=row-]", (rows) => rows.map((r) => r.id.slice(4)));
    } finally {
      await app.close();
    }
  })();
  assert.deepEqual([...keys].sort(), ENERGY_CASES.map((c) => c[0]).sort(), "every energy control needs a case");
  await checkControls(ENERGY_CASES);
});
