#!/usr/bin/env node
// The real-model benchmark (issue "Real language models in the page"): random-weight models of
// GPT-2 small's and SmolLM2's shapes built from a seed in the page's model worker (no download;
// a "-bf16" shape keeps its matrices in bf16, as the hub's SmolLM2 checkpoints are kept), a
// forward pass over 128 tokens plus every statistic of the report, and greedy generation with
// the key/value cache; beside the same work natively, one process per shape so that each peak
// resident memory is its own (`cargo run --release -p td-checkpoint --example bench_shapes`).
// Also, with --full-size DIR
// (checkpoints from scripts/fixtures/make_shape_checkpoints.py), the whole reader's path at full
// size: the files chosen in the energy page's Real model panel, loaded, and the report of a
// 128-token text computed, with the worker's WebAssembly memory afterwards.
//
//   node scripts/bench-real-model.mjs [--runs 3] [--generate 16] [--no-native] [--full-size DIR]
//                                     [--shapes gpt2-small,smollm2-135m,smollm2-135m-bf16,smollm2-360m-bf16]
//
// Needs dist/ (scripts/build.sh). Prints a markdown table.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { startSuite, REPO } from "../tests/browser/harness.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(opt("--runs", 3));
const GENERATE = Number(opt("--generate", 16));
const FULL = opt("--full-size", null);
const SHAPES = opt("--shapes", "gpt2-small,smollm2-135m,smollm2-135m-bf16,smollm2-360m-bf16").split(",");
const TOKENS = 128;

function native() {
  if (args.includes("--no-native")) return {};
  const rows = SHAPES.map((shape) => {
    console.error(`native: cargo run --release -p td-checkpoint --example bench_shapes ${RUNS} ${GENERATE} ${shape}`);
    const out = execFileSync("cargo", ["run", "--release", "--quiet", "-p", "td-checkpoint", "--example", "bench_shapes", String(RUNS), String(GENERATE), shape], {
      cwd: REPO,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    return JSON.parse(out.trim());
  });
  return Object.fromEntries(rows.map((r) => [r.shape, r]));
}

/** Runs `message` in a fresh model worker of the page; resolves with the worker's answer. */
function inWorker(page, message, timeoutMs) {
  return page.evaluate(
    ([message, timeoutMs]) =>
      new Promise((resolve, reject) => {
        const worker = new Worker("model-worker.js", { type: "module" });
        const timer = setTimeout(() => {
          worker.terminate();
          reject(new Error(`no answer in ${timeoutMs} ms`));
        }, timeoutMs);
        worker.onmessage = ({ data }) => {
          clearTimeout(timer);
          worker.terminate();
          if (data.type === "error") reject(new Error(data.message));
          else resolve(data);
        };
        worker.onerror = (e) => reject(new Error(e.message));
        worker.postMessage(message);
      }),
    [message, timeoutMs],
  );
}

const fmt = (x, d = 1) => (x == null || !Number.isFinite(x) ? "n/a" : x.toFixed(d));

async function main() {
  const nat = native();
  const suite = await startSuite();
  const rows = [];
  try {
    const app = await suite.open("energy.html");
    for (const shape of SHAPES) {
      console.error(`page: bench_shape ${shape} (${RUNS} runs, ${GENERATE} generated tokens) in the model worker`);
      const { result } = await inWorker(app.page, { type: "bench", id: 1, shape, tokens: TOKENS, runs: RUNS, generate: GENERATE }, 600_000);
      const n = nat[shape];
      const pageMin = Math.min(...result.pass_ms);
      rows.push(
        `| ${shape} | ${(result.params / 1e6).toFixed(1)}M | ${fmt(result.weight_bytes / 2 ** 20, 0)} MB | ${fmt(result.build_ms / 1e3, 2)} s | ${fmt(pageMin / 1e3, 2)} s | ${fmt(result.gflops, 2)} | ${fmt(n?.gflops, 2)} | ${fmt(n ? result.gflops / n.gflops : NaN, 2)} | ${fmt(result.generate_ms_per_token)} (${fmt(n?.generate_ms_per_token)}) | ${fmt(result.memory_bytes / 2 ** 20, 0)} MB | ${fmt(n?.peak_rss_mb, 0)} MB |`,
      );
    }
    console.log(`\nReal-model shapes, random weights from a seed, ${TOKENS} tokens (forward + every statistic), fastest of ${RUNS}; generation: greedy, ${GENERATE} tokens after a 16-token prompt, KV cache.\n`);
    console.log("| shape | parameters | weights in memory | build (page) | pass (page) | GFLOP/s page | GFLOP/s native | page / native | generate ms/token page (native) | worker wasm memory | native peak RSS |");
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const r of rows) console.log(r);
    if (FULL) await fullSize(suite, FULL);
  } finally {
    await suite.close();
  }
  const gz = (f) => execFileSync("gzip", ["-9", "-c", path.join(REPO, "dist", f)], { maxBuffer: 1 << 28 }).length;
  console.log(`\nDownload of the real-model code, on demand (gzip -9): td-real-model_bg.wasm ${gz("td-real-model_bg.wasm")} B, td-real-model.js ${gz("td-real-model.js")} B, model-worker.js ${gz("model-worker.js")} B`);
}

/** The reader's path at full size: choose the files, load, analyse 128 tokens. */
async function fullSize(suite, dir) {
  console.log("\nFull-size checkpoints through the Real model panel (files chosen in the page):\n");
  console.log("| checkpoint | files | load | report (128 tokens, model + twin) | worker wasm memory |");
  console.log("|---|---:|---:|---:|---:|");
  for (const shape of fs.readdirSync(dir).sort()) {
    const folder = path.join(dir, shape);
    if (!fs.statSync(folder).isDirectory()) continue;
    const files = fs.readdirSync(folder).map((f) => path.join(folder, f));
    const bytes = files.reduce((a, f) => a + fs.statSync(f).size, 0);
    const ids = Array.from({ length: TOKENS }, (_, i) => (i * 7919) % 1000);
    const app = await suite.open("energy.html");
    const loaded = await inWorkerWithFiles(app.page, files, { ids });
    line(shape, bytes, loaded);
    await app.context.close();
  }
  function line(shape, bytes, r) {
    console.log(`| ${shape} | ${(bytes / 2 ** 20).toFixed(0)} MB | ${(r.loadMs / 1e3).toFixed(1)} s | ${(r.reportMs / 1e3).toFixed(1)} s | ${(r.memory / 2 ** 20).toFixed(0)} MB |`);
  }
}

/** Loads `files` (paths) into a model worker through a file input, then runs one report. */
async function inWorkerWithFiles(page, files, request) {
  await page.evaluate(() => {
    const input = document.createElement("input");
    input.type = "file";
    input.multiple = true;
    input.id = "bench-files";
    input.hidden = true;
    document.body.append(input);
  });
  await page.setInputFiles("#bench-files", files);
  return page.evaluate(
    (request) =>
      new Promise((resolve, reject) => {
        const input = document.getElementById("bench-files");
        const worker = new Worker("model-worker.js", { type: "module" });
        const t0 = performance.now();
        let loadMs = 0;
        worker.onmessage = ({ data }) => {
          if (data.type === "error") {
            worker.terminate();
            reject(new Error(data.message));
          } else if (data.type === "loaded") {
            loadMs = performance.now() - t0;
            worker.postMessage({ type: "analyse", id: 2, request });
          } else if (data.type === "report") {
            worker.terminate();
            resolve({ loadMs, reportMs: performance.now() - t0 - loadMs, memory: data.memory_bytes ?? NaN });
          }
        };
        worker.postMessage({ type: "load", id: 1, files: [...input.files].map((f) => ({ name: f.name, blob: f })) });
      }),
    request,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
