#!/usr/bin/env node
// Tiny dependency-free static file server for the built site (dist/).
//
//   node scripts/static-server.mjs [--root dist] [--port 8080] [--host 127.0.0.1] [--no-csp] [--cors]
//   (PORT env var also sets the port; port 0 picks a free one.)
//
// Also usable in-process (the browser tests do this):
//   import { startServer } from "./static-server.mjs";
//   const { url, close } = await startServer({ root: "dist", port: 0, csp: true });
//
// It sends the same Content-Security-Policy the page must live with when deployed, so the
// browser tests catch inline scripts/styles and eval before a real host does. `cors: true` makes it
// a host any page may read from (Access-Control-Allow-Origin: *), as Hugging Face is: the energy
// page's real-model panel tests load checkpoint folders from such a second origin.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

// connect-src: the energy page's real-model panel fetches checkpoints from any https host (the
// Hugging Face hub and its CDN) or from a server on this machine; everything else stays 'self'.
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
  "connect-src 'self' https: http://127.0.0.1:* http://localhost:*";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".xml": "application/xml; charset=utf-8",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
};

export function mimeType(file) {
  return MIME[path.extname(file).toLowerCase()] || "application/octet-stream";
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...headers });
  res.end(body);
}

/**
 * Start serving `root`. Resolves to { url, port, server, close() } once listening.
 * @param {{root?: string, port?: number, host?: string, csp?: boolean, cors?: boolean, log?: boolean}} opts
 */
export function startServer({ root = "dist", port = 0, host = "127.0.0.1", csp = true, cors = false, log = false } = {}) {
  const rootAbs = fs.realpathSync(path.resolve(root));
  if (!fs.statSync(rootAbs).isDirectory()) throw new Error(`not a directory: ${rootAbs}`);

  const server = http.createServer((req, res) => {
    const baseHeaders = {
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "no-cache",
      ...(csp ? { "Content-Security-Policy": CSP } : {}),
      ...(cors ? { "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Content-Length" } : {}),
    };
    const done = (status) => {
      if (log) console.log(`${status} ${req.method} ${req.url}`);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      done(405);
      return send(res, 405, "method not allowed\n", { ...baseHeaders, Allow: "GET, HEAD" });
    }
    let rel;
    try {
      const u = new URL(req.url, "http://x");
      rel = decodeURIComponent(u.pathname);
    } catch {
      done(400);
      return send(res, 400, "bad request\n", baseHeaders);
    }
    if (rel.includes("\0")) {
      done(400);
      return send(res, 400, "bad request\n", baseHeaders);
    }
    if (rel.endsWith("/")) rel += "index.html";
    // Resolve against root and refuse anything that escapes it (.., encoded ..), including via symlinks.
    const candidate = path.resolve(rootAbs, "." + path.posix.normalize("/" + rel));
    const notFound = () => {
      done(404);
      send(res, 404, "not found\n", baseHeaders);
    };
    if (candidate !== rootAbs && !candidate.startsWith(rootAbs + path.sep)) return notFound();
    fs.realpath(candidate, (err, real) => {
      if (err) return notFound();
      if (real !== rootAbs && !real.startsWith(rootAbs + path.sep)) return notFound();
      fs.stat(real, (err2, st) => {
        if (err2 || !st.isFile()) return notFound();
        res.writeHead(200, {
          ...baseHeaders,
          "Content-Type": mimeType(real),
          "Content-Length": st.size,
        });
        done(200);
        if (req.method === "HEAD") return res.end();
        const stream = fs.createReadStream(real);
        stream.on("error", () => res.destroy());
        stream.pipe(res);
      });
    });
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const actual = server.address().port;
      const url = `http://${host}:${actual}/`;
      resolve({
        url,
        port: actual,
        server,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

function parseArgs(argv) {
  const opts = { root: "dist", port: Number(process.env.PORT ?? 8080), host: "127.0.0.1", csp: true, cors: false, log: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--no-csp") opts.csp = false;
    else if (a === "--cors") opts.cors = true;
    else if (a === "--csp") opts.csp = true;
    else if (a === "--log") opts.log = true;
    else if (a === "--root") opts.root = val();
    else if (a === "--port") opts.port = Number(val());
    else if (a === "--host") opts.host = val();
    else if (a === "-h" || a === "--help") {
      console.log("usage: static-server.mjs [--root dist] [--port 8080] [--host 127.0.0.1] [--no-csp] [--cors] [--log]");
      process.exit(0);
    } else throw new Error(`unknown argument: ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error(`bad port: ${opts.port}`);
  return opts;
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
if (isMain) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`static-server: ${e.message}`);
    process.exit(2);
  }
  const { url, close } = await startServer(opts);
  console.log(`Serving ${path.resolve(opts.root)} at ${url}${opts.csp ? "" : " (no CSP)"}${opts.cors ? " (CORS: any origin)" : ""}  (Ctrl+C to stop)`);
  const stop = () => close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
