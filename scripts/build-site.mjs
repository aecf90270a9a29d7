#!/usr/bin/env node
// Assembles the static site in <out> (default dist/) around the WebAssembly modules that
// scripts/build.sh has already placed there: one page per explorer from www/chrome.html (the
// shared chrome, written once) and www/pages/<explorer>.html (what is the page's own), plus the
// static files. The navigation lists every page with data-explorer: boot.js and the page route a
// link of another explorer by it.
//
//   node scripts/build-site.mjs [out]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WWW = path.join(REPO, "www");
const out = path.resolve(process.argv[2] || path.join(REPO, "dist"));

const site = JSON.parse(fs.readFileSync(path.join(WWW, "site.json"), "utf8"));
const chrome = fs.readFileSync(path.join(WWW, "chrome.html"), "utf8");

/** Sections of a page fragment: `<!-- @name -->` starts one, up to the next. */
function sections(text, file) {
  const parts = {};
  let name = null;
  for (const line of text.split("\n")) {
    const m = /^<!-- @([a-z0-9-]+) -->$/.exec(line.trim());
    if (m) {
      name = m[1];
      parts[name] = [];
    } else if (name) {
      parts[name].push(line);
    } else if (line.trim()) {
      throw new Error(`${file}: text before the first section`);
    }
  }
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.join("\n").trim()]));
}

const escapeAttr = (t) => t.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

function indent(text, spaces) {
  const pad = " ".repeat(spaces);
  return text
    .split("\n")
    .map((l) => (l ? pad + l : l))
    .join("\n");
}

fs.mkdirSync(out, { recursive: true });
for (const page of site.pages) {
  const file = path.join(WWW, "pages", `${page.explorer}.html`);
  const parts = sections(fs.readFileSync(file, "utf8"), file);
  for (const required of ["title", "description", "h1", "lede", "csv-title", "json-title", "figures", "footer"]) {
    if (!(required in parts)) throw new Error(`${file}: missing section @${required}`);
  }
  const nav = site.pages
    .map((p) => {
      const current = p.explorer === page.explorer ? ' aria-current="page"' : "";
      return `      <a href="${p.file}" data-explorer="${p.explorer}"${current}>${p.nav}</a>`;
    })
    .join("\n");
  const values = {
    ...parts,
    "body-attrs": parts["body-attrs"] ? " " + parts["body-attrs"] : "",
    description: escapeAttr(parts.description),
    "csv-title": escapeAttr(parts["csv-title"]),
    "json-title": escapeAttr(parts["json-title"]),
    figures: indent(parts.figures, 6),
    explorer: page.explorer,
    file: page.file,
    nav,
  };
  const html = chrome.replace(/\{\{([a-z0-9-]+)\}\}/g, (_, key) => {
    if (!(key in values)) throw new Error(`www/chrome.html: no value for {{${key}}}`);
    return values[key];
  });
  for (const needed of [`td-${page.explorer}.js`, `td-${page.explorer}_bg.wasm`]) {
    if (!fs.existsSync(path.join(out, needed))) throw new Error(`${out}/${needed} missing: build the page's module first`);
  }
  fs.writeFileSync(path.join(out, page.file), html);
}

// real-model.js is the energy page's real-model panel; model-worker.js, its worker, loads the
// td-real-model module that scripts/build.sh builds beside the pages' own.
const STATIC = [
  "style.css", "boot.js", "worker.js", "real-model.js", "model-worker.js", "favicon.svg",
  "embed-example.html", "embed-example.js", "embed-example.css",
];
for (const needed of ["td-real-model.js", "td-real-model_bg.wasm"]) {
  if (!fs.existsSync(path.join(out, needed))) throw new Error(`${out}/${needed} missing: build the real-model module first`);
}
for (const name of STATIC) fs.copyFileSync(path.join(WWW, name), path.join(out, name));
fs.cpSync(path.join(WWW, "models"), path.join(out, "models"), { recursive: true });
console.log(`site: ${site.pages.map((p) => p.file).join(", ")} + ${STATIC.length} static files -> ${path.relative(REPO, out) || out}`);
