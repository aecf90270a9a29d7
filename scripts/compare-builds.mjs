// Interleaved A/B of bench builds in headless Chromium (min of rounds × 3 runs of tokenDynamics.bench):
//   node scripts/compare-builds.mjs "before=/path/to/old/dist,after=dist-bench" \
//     "index.html:v1000-500,v50257-500;attention.html:att-n256-localmax-200" 3
// Each directory must be a built site whose pages have tokenDynamics.bench (a --bench build, or the
// old single-wasm build, which shipped its scenarios).
import { launchBrowser } from "../tests/browser/harness.mjs";
import { startServer } from "./static-server.mjs";
const dirs = Object.fromEntries(process.argv[2].split(",").map((x) => x.split("=")));
const names = Object.fromEntries(process.argv[3].split(";").map((x) => { const [f, l] = x.split(":"); return [f, l.split(",")]; }));
const rounds = Number(process.argv[4] ?? 3);
const browser = await launchBrowser();
const servers = {};
for (const [k, d] of Object.entries(dirs)) servers[k] = await startServer({ root: d, port: 0 });
const best = {};
for (let round = 0; round < rounds; round++) {
  for (const which of Object.keys(dirs)) {
    best[which] ??= {};
    for (const [file, list] of Object.entries(names)) {
      const page = await browser.newPage();
      await page.goto(servers[which].url + file);
      await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 60000 });
      for (const n of list) {
        for (let i = 0; i < 3; i++) {
          const ms = await page.evaluate((x) => window.tokenDynamics.bench(x), n);
          best[which][n] = Math.min(best[which][n] ?? Infinity, ms);
        }
      }
      await page.close();
    }
  }
}
for (const n of Object.values(names).flat()) console.log(n.padEnd(26), Object.keys(dirs).map((w) => `${w} ${best[w][n].toFixed(1).padStart(8)}`).join("  "));
await browser.close();
for (const s of Object.values(servers)) await s.close();
