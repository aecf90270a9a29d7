#!/usr/bin/env node
// Checks every shipped module (one per page, and the on-demand real-model module): it is wasm-opt's output (not wasm-bindgen's unoptimised
// one), valid, compiles, has no debug "name" section, re-optimising it gains little, and every function that
// may inline SIMD code has a SIMD instruction of its own (scripts/simd-guard.mjs, against a JavaScriptCore bug).
//   node scripts/check-wasm.mjs <dist> <cargo target dir>
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { analyse } from "./simd-guard.mjs";

const [dist, targetDir] = process.argv.slice(2);
const site = JSON.parse(fs.readFileSync(new URL("../www/site.json", import.meta.url), "utf8"));
const wasms = fs.readdirSync(dist).filter((f) => f.endsWith(".wasm"));
const expected = [...site.pages.map((p) => `td-${p.explorer}_bg.wasm`), "td-real-model_bg.wasm"].sort();
if (JSON.stringify(wasms.sort()) !== JSON.stringify(expected)) {
  console.error(`expected exactly ${expected.join(", ")} in ${dist}, found ${wasms.join(", ") || "none"}`);
  process.exit(1);
}
let failed = false;
for (const base of expected) {
  const file = path.join(dist, base);
  const bytes = fs.readFileSync(file);
  const optOut = path.join(targetDir, "wasm-opt", path.basename(dist), base);
  const bindgenOut = path.join(targetDir, "wasm-bindgen", path.basename(dist), base);
  const fail = (msg) => {
    console.error(`${file}: ${msg}`);
    failed = true;
  };
  if (!fs.existsSync(optOut) || !fs.readFileSync(optOut).equals(bytes)) {
    fail(`not wasm-opt's output (${optOut} ${fs.existsSync(optOut) ? "differs" : "missing"})`);
    continue;
  }
  const before = fs.statSync(bindgenOut).size;
  if (bytes.length >= before) fail("wasm-opt did not shrink the module");
  if (!WebAssembly.validate(bytes)) {
    fail("not a valid WebAssembly module");
    continue;
  }
  const mod = new WebAssembly.Module(bytes); // compiles: catches most engine-level breakage early
  const exp = WebAssembly.Module.exports(mod).length;
  const imp = WebAssembly.Module.imports(mod).length;
  if (WebAssembly.Module.customSections(mod, "name").length && !process.env.ALLOW_WASM_NAME_SECTION) {
    fail('still has a "name" section: it looks unoptimised');
  }
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wasmopt-")), "re.wasm");
  let ratio = 1;
  try {
    execFileSync(new URL("../node_modules/.bin/wasm-opt", import.meta.url).pathname, ["-all", "-Oz", file, "-o", tmp], { stdio: ["ignore", "ignore", "pipe"] });
    ratio = fs.statSync(tmp).size / bytes.length;
  } finally {
    fs.rmSync(path.dirname(tmp), { recursive: true, force: true });
  }
  if (ratio < 0.9) fail("shrinks by >10% under wasm-opt -Oz: it was not optimised");
  const guard = analyse(bytes);
  if (guard.unguarded.length) {
    fail(`${guard.unguarded.length} functions may inline SIMD code without a SIMD instruction of their own (scripts/simd-guard.mjs did not run)`);
  }
  console.log(
    `${base}: valid, compiles; ${exp} exports, ${imp} imports; wasm-opt ${before} -> ${bytes.length} bytes; re-optimised ${(100 * ratio).toFixed(1)}%; ${guard.marked} functions SIMD-guarded`,
  );
}
process.exit(failed ? 1 : 0);
