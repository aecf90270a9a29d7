#!/usr/bin/env node
// Download budgets: what opening each page cold transfers, gzip -9, for its WebAssembly and
// JavaScript (the page's module, its wasm-bindgen glue and boot.js). The energy lab's trained
// weights are loaded separately, on demand, and are reported apart. Prints every page's figure
// and fails when one exceeds its budget.
//   node scripts/budgets.mjs [dist]
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

/** Budgets in bytes (gzip -9), per page: the README's table states the same. */
export const BUDGETS = { "next-token": 214_000, attention: 259_000, energy: 260_000 };

/** The gzip -9 size of each page's cold download (wasm + JS) in `dist`. */
export function pageSizes(dist) {
  const gz = (file) => execFileSync("gzip", ["-9", "-c", path.join(dist, file)], { maxBuffer: 1 << 28 }).length;
  const site = JSON.parse(fs.readFileSync(new URL("../www/site.json", import.meta.url), "utf8"));
  return site.pages.map(({ explorer, file }) => {
    const wasm = gz(`td-${explorer}_bg.wasm`);
    const js = gz(`td-${explorer}.js`) + gz("boot.js");
    return { explorer, file, wasm, js, total: wasm + js, budget: BUDGETS[explorer], chrome: gz(file) + gz("style.css") };
  });
}

function main() {
const dist = process.argv[2] || "dist";
// The gzip command at -9 (what the budgets were set with; zlib's level 9 differs by a few %).
const gz = (file) => execFileSync("gzip", ["-9", "-c", path.join(dist, file)], { maxBuffer: 1 << 28 }).length;
const site = JSON.parse(fs.readFileSync(new URL("../www/site.json", import.meta.url), "utf8"));
let over = false;
console.log("page         wasm (gz)   JS (gz)   total (gz)   budget    html+css (gz)");
for (const { explorer, file } of site.pages) {
  const wasm = gz(`td-${explorer}_bg.wasm`);
  const js = gz(`td-${explorer}.js`) + gz("boot.js");
  const total = wasm + js;
  const budget = BUDGETS[explorer];
  const chrome = gz(file) + gz("style.css");
  const flag = total > budget ? "  OVER BUDGET" : "";
  if (total > budget) over = true;
  console.log(
    `${explorer.padEnd(12)} ${String(wasm).padStart(9)} ${String(js).padStart(9)} ${String(total).padStart(12)} ${String(budget).padStart(9)} ${String(chrome).padStart(12)}${flag}`,
  );
}
const weights = path.join(dist, "models", "trained.tdgpt");
if (fs.existsSync(weights)) {
  console.log(`energy lab's trained weights (on demand): ${fs.statSync(weights).size} bytes raw, ${gz("models/trained.tdgpt")} gzip`);
}
process.exit(over ? 1 : 0);
}

if (process.argv[1] && import.meta.url === new URL(`file://${fs.realpathSync(process.argv[1])}`).href) main();
