#!/usr/bin/env node
// Browser side of the benchmark command (scripts/bench.sh runs the native side first).
//
//   node tests/browser/bench.mjs [--native test-results/bench-native.json] [--runs 5] [--inputs 100]
//
// - native numbers: the JSON array [{scenario, ms}] printed by `cargo run --release --bin bench -- --json`
//   (read from --native; missing/unreadable -> "n/a" in the table and a non-zero exit);
// - browser micro-benchmarks: window.tokenDynamics.bench(name) in headless Chromium, median of --runs runs;
// - slider-to-paint latency: --inputs temperature inputs, each timed from the `input` event dispatch on
//   #ctl-T to the first requestAnimationFrame after the page has repainted (a canvas draw call happened
//   and body[data-busy] is back to "0"); median and p95. Also reports tokenDynamics.lastPaintMs().
// Prints ONE markdown table (scenario | native ms | browser ms | ratio) and the dist/ wasm/js sizes.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pathToFileURL } from "node:url";
import { startSuite, median, percentile, DIST, RESULTS } from "./harness.mjs";

const MICRO = ["v3-16x500-field40", "v1000-500", "v50257-500", "att-n256-localmax-200", "att-n2000-localmax-200"];
const SLIDER = [
  { scenario: "slider-to-paint-v3", hash: "", control: "#ctl-T" },
  // V = 1,000: one trajectory of Flow C from uniform (the default scene of a large vocabulary is
  // the same flow from five starts, twice in compare mode: see the README for that cost).
  { scenario: "slider-to-paint-v1000", hash: "#next-token?V=1000&gen=zipf&seed=1&flow=entropic&p0=uniform", control: "#ctl-T" },
  // Attention, n = 256, d = 2, 200 localmax steps: the delta slider. The page computes what fits
  // in ~8 ms, paints, then finishes in ~10 ms slices; the latency runs until it has finished and
  // painted (body[data-busy="0"]).
  { scenario: "slider-to-done-att-n256", hash: "attention.html#attention?n=256", control: "#ctl-delta" },
];

function parseArgs(argv) {
  const o = { native: null, runs: 5, inputs: 100 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--native") o.native = argv[++i];
    else if (a === "--runs") o.runs = Number(argv[++i]);
    else if (a === "--inputs") o.inputs = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** Accepts the whole file being the JSON array, or the last line that parses as one (cargo noise tolerated). */
export function readNative(file) {
  const text = fs.readFileSync(file, "utf8");
  const tryParse = (s) => {
    try {
      const v = JSON.parse(s);
      return Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  };
  let arr = tryParse(text.trim());
  if (!arr) {
    const start = text.indexOf("[");
    const end = text.lastIndexOf("]");
    if (start >= 0 && end > start) arr = tryParse(text.slice(start, end + 1));
  }
  if (!arr) throw new Error(`${file}: no JSON array [{scenario, ms}] found`);
  const out = new Map();
  for (const r of arr) {
    if (r && typeof r.scenario === "string" && Number.isFinite(Number(r.ms))) out.set(r.scenario, Number(r.ms));
  }
  return out;
}

const fmt = (x) => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

async function microBench(suite, runs, problems) {
  const app = await suite.open("", { reducedMotion: "reduce" });
  const res = new Map();
  try {
    for (const name of MICRO) {
      const times = [];
      try {
        for (let i = 0; i < runs; i++) {
          const ms = await app.page.evaluate((n) => window.tokenDynamics.bench(n), name);
          if (!Number.isFinite(ms)) throw new Error(`bench(${name}) returned ${ms}`);
          times.push(ms);
        }
        res.set(name, { median: median(times), runs: times });
      } catch (e) {
        problems.push(`browser bench ${name}: ${e.message.split("\n")[0]}`);
      }
    }
    const p = await app.problems();
    if (p.length) problems.push(...p.map((x) => `page (micro benches): ${x}`));
  } finally {
    await app.close();
  }
  return res;
}

// Runs inside the page.
async function sliderLatencyInPage({ n, control }) {
  const el = document.querySelector(control);
  if (!el) throw new Error(`${control} missing`);
  const min = Number(el.min !== "" ? el.min : -1);
  const max = Number(el.max !== "" ? el.max : 1);
  const step = el.step && el.step !== "any" ? Number(el.step) : (max - min) / 200;
  const steps = Math.max(2, Math.round((max - min) / step));
  const snap = (k) => Number((min + Math.max(0, Math.min(steps, k)) * step).toFixed(10));
  // count draw calls on any 2D canvas (the page may draw via an offscreen layer)
  let draws = 0;
  const P = CanvasRenderingContext2D.prototype;
  const names = ["fillRect", "strokeRect", "clearRect", "fill", "stroke", "putImageData", "drawImage", "fillText", "strokeText"];
  const orig = {};
  for (const m of names) {
    orig[m] = P[m];
    P[m] = function (...a) {
      draws++;
      return orig[m].apply(this, a);
    };
  }
  const raf = () => new Promise((r) => requestAnimationFrame(r));
  const idle = () => document.body.dataset.busy === "0";
  const lat = [];
  const paint = [];
  let prev = el.value;
  try {
    for (let i = 0; i < n; i++) {
      // spread values over the middle half of the slider; never repeat the previous value
      let k = Math.round(steps * (0.25 + (0.5 * ((i * 37) % 100)) / 100));
      let v = String(snap(k));
      if (Number(v) === Number(prev)) v = String(snap(k + 1));
      await raf(); // start at a frame boundary, with nothing pending
      while (!idle()) await raf();
      const d0 = draws;
      const t0 = performance.now();
      el.value = v;
      el.dispatchEvent(new Event("input", { bubbles: true }));
      while (!(draws > d0 && idle())) {
        await raf();
        if (performance.now() - t0 > 20_000) throw new Error(`no repaint within 20 s after input ${i} (${control} = ${v})`);
      }
      await raf(); // the frame that shows the repaint
      lat.push(performance.now() - t0);
      const lp = window.tokenDynamics.lastPaintMs();
      if (Number.isFinite(lp)) paint.push(lp);
      prev = v;
    }
  } finally {
    for (const m of names) P[m] = orig[m];
  }
  return { lat, paint };
}

async function sliderBench(suite, inputs, problems) {
  const res = new Map();
  for (const { scenario, hash, control } of SLIDER) {
    const app = await suite.open(hash, { reducedMotion: "reduce" });
    try {
      const { lat, paint } = await app.page.evaluate(sliderLatencyInPage, { n: inputs, control });
      res.set(scenario, {
        median: median(lat),
        p95: percentile(lat, 0.95),
        lastPaintMedian: median(paint),
        lastPaintP95: percentile(paint, 0.95),
        n: lat.length,
      });
      const p = await app.problems();
      if (p.length) problems.push(...p.map((x) => `page (${scenario}): ${x}`));
    } catch (e) {
      problems.push(`${scenario}: ${e.message.split("\n")[0]}`);
    } finally {
      await app.close();
    }
  }
  return res;
}

export function sizes(dir = DIST) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(wasm|js)$/.test(f))
    .sort()
    .map((f) => {
      const buf = fs.readFileSync(path.join(dir, f));
      return { file: f, raw: buf.length, gzip: zlib.gzipSync(buf, { level: 9 }).length };
    });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const problems = [];
  let native = new Map();
  if (opts.native) {
    try {
      native = readNative(opts.native);
    } catch (e) {
      problems.push(`native results: ${e.message}`);
    }
  } else problems.push("no --native file given: native column is n/a");
  for (const name of MICRO) if (opts.native && !native.has(name)) problems.push(`native results lack scenario ${name}`);

  const suite = await startSuite();
  let micro, slider;
  try {
    micro = await microBench(suite, opts.runs, problems);
    slider = await sliderBench(suite, opts.inputs, problems);
  } finally {
    await suite.close();
  }

  const rows = [];
  for (const name of MICRO) {
    const n = native.get(name);
    const b = micro.get(name)?.median;
    rows.push([name, fmt(n), fmt(b), Number.isFinite(n) && Number.isFinite(b) && n > 0 ? `${(b / n).toFixed(2)}×` : "n/a"]);
  }
  for (const { scenario } of SLIDER) {
    const s = slider.get(scenario);
    rows.push([scenario, "—", s ? `${fmt(s.median)} (p95 ${fmt(s.p95)})` : "n/a", "—"]);
  }

  console.log(`\nBrowser: headless Chromium (/usr/bin/chromium), median of ${opts.runs} runs; slider-to-paint: median (p95) of ${opts.inputs} inputs, input dispatch -> first rAF after the repaint.`);
  for (const { scenario } of SLIDER) {
    const s = slider.get(scenario);
    if (s) console.log(`  ${scenario}: tokenDynamics.lastPaintMs() median ${fmt(s.lastPaintMedian)} ms, p95 ${fmt(s.lastPaintP95)} ms (compute+paint only)`);
  }
  console.log("\n| scenario | native ms | browser ms | ratio |\n|---|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);

  const sz = sizes();
  console.log("\nSizes (dist/):");
  for (const s of sz) console.log(`  ${s.file.padEnd(48)} ${String(s.raw).padStart(9)} bytes raw  ${String(s.gzip).padStart(9)} bytes gzip -9`);

  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(
    path.join(RESULTS, "bench.json"),
    JSON.stringify(
      {
        native: Object.fromEntries(native),
        browser: Object.fromEntries([...micro].map(([k, v]) => [k, v])),
        slider: Object.fromEntries(slider),
        sizes: sz,
        problems,
      },
      null,
      2,
    ),
  );
  if (problems.length) {
    console.error(`\nproblems:\n  ${problems.join("\n  ")}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e.stack || e.message);
    process.exit(1);
  });
}
