#!/usr/bin/env node
// Download budgets: what opening each page cold transfers, gzip -9, for its WebAssembly and
// JavaScript (the page's module, its wasm-bindgen glue, boot.js, and the page's own scripts: the
// energy page's real-model panel). What loads only on request is reported apart: the energy lab's
// trained weights, and the real-model panel's worker and module (fetched when a reader loads a
// checkpoint). Prints every page's figure and fails when one exceeds its budget.
//   node scripts/budgets.mjs [dist]
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

/** Budgets in bytes (gzip -9), per page: the README's table states the same. */
export const BUDGETS = { "next-token": 234_000, attention: 262_000, energy: 260_000 };

/** Scripts a page's HTML loads besides boot.js and its module. */
const PAGE_SCRIPTS = { energy: ["real-model.js"] };

/** Files fetched only on request, by what fetches them. */
const ON_DEMAND = ["model-worker.js", "td-real-model.js", "td-real-model_bg.wasm"];

// The gzip command at -9 (what the budgets were set with; zlib's level 9 differs by a few %).
const gzip = (dist, file) => execFileSync("gzip", ["-9", "-c", path.join(dist, file)], { maxBuffer: 1 << 30 }).length;

/** The gzip -9 size of each page's cold download (wasm + JS) in `dist`. */
export function pageSizes(dist) {
  const gz = (file) => gzip(dist, file);
  const site = JSON.parse(fs.readFileSync(new URL("../www/site.json", import.meta.url), "utf8"));
  return site.pages.map(({ explorer, file }) => {
    const wasm = gz(`td-${explorer}_bg.wasm`);
    const scripts = [`td-${explorer}.js`, "boot.js", ...(PAGE_SCRIPTS[explorer] || [])];
    const js = scripts.reduce((sum, f) => sum + gz(f), 0);
    return { explorer, file, wasm, js, total: wasm + js, budget: BUDGETS[explorer], chrome: gz(file) + gz("style.css") };
  });
}

function main() {
  const dist = process.argv[2] || "dist";
  let over = false;
  console.log("page         wasm (gz)   JS (gz)   total (gz)   budget    html+css (gz)");
  for (const { explorer, wasm, js, total, budget, chrome } of pageSizes(dist)) {
    const flag = total > budget ? "  OVER BUDGET" : "";
    if (total > budget) over = true;
    console.log(
      `${explorer.padEnd(12)} ${String(wasm).padStart(9)} ${String(js).padStart(9)} ${String(total).padStart(12)} ${String(budget).padStart(9)} ${String(chrome).padStart(12)}${flag}`,
    );
  }
  const weights = path.join(dist, "models", "trained.tdgpt");
  if (fs.existsSync(weights)) {
    console.log(`energy lab's trained weights (on demand): ${fs.statSync(weights).size} bytes raw, ${gzip(dist, "models/trained.tdgpt")} gzip`);
  }
  const demand = ON_DEMAND.filter((f) => fs.existsSync(path.join(dist, f)));
  console.log(`energy page's real-model panel (on demand, gzip): ${demand.map((f) => `${f} ${gzip(dist, f)}`).join(", ")}`);
  process.exit(over ? 1 : 0);
}

if (process.argv[1] && import.meta.url === new URL(`file://${fs.realpathSync(process.argv[1])}`).href) main();
