// The cross-engine suite's web server: scripts/static-server.mjs `startServer` (dist/ with the production
// Content-Security-Policy) behind a small in-process proxy on 127.0.0.1 that adds what every engine needs
// in order to be observed the same way, whatever its driver can report:
//
// - an OBSERVER script, served from the page's own origin at /__td-observe.js and inserted as the first
//   <script> of every HTML page (frames included). Under the CSP (script-src 'self' 'wasm-unsafe-eval')
//   that is the only way to run code before the page's own scripts without driver support (WebKitGTK's
//   WebDriver has no init scripts and no BiDi). It records, in window.__tdObserved, console.error calls,
//   uncaught errors, unhandled promise rejections, failed sub-resources (error events in the capture
//   phase) and securitypolicyviolation events. It only records; it changes nothing the page does.
// - `report-uri /__csp-report` appended to the CSP header (enforcement unchanged): every engine POSTs its
//   CSP violation reports there, so violations are seen server-side too.
// - a request log: method, path, status of every request, bucketed under the current `label`
//   (the test sets it to "<engine> <link>" before opening a link; engines run one at a time).
import http from "node:http";
import { startServer, CSP } from "../../scripts/static-server.mjs";

export const OBSERVER_PATH = "/__td-observe.js";
export const REPORT_PATH = "/__csp-report";

// Runs as a classic script before anything else on the page. Keep it ES2017 and side-effect free.
const OBSERVER_JS = `(function () {
  "use strict";
  if (window.__tdObserved) return;
  var log = [];
  Object.defineProperty(window, "__tdObserved", { value: log });
  function fmt(v) {
    try {
      if (v instanceof Error) {
        var head = String(v);
        var stack = String(v.stack || "");
        return stack.indexOf(v.message) >= 0 ? stack : head + (stack ? "\\n" + stack : "");
      }
      if (typeof v === "string") return v;
      return JSON.stringify(v);
    } catch (e) { return String(v); }
  }
  function push(kind, text) { if (log.length < 500) log.push(kind + ": " + String(text).slice(0, 2000)); }
  var original = console.error;
  console.error = function () {
    try { push("console.error", Array.prototype.map.call(arguments, fmt).join(" ")); } catch (e) {}
    return original.apply(this, arguments);
  };
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {
      push("resource failed", t.tagName.toLowerCase() + " " + (t.currentSrc || t.src || t.href || ""));
    } else {
      push("uncaught", (e.error ? fmt(e.error) : e.message) + " at " + e.filename + ":" + e.lineno + ":" + e.colno);
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) { push("unhandled rejection", fmt(e.reason)); });
  document.addEventListener("securitypolicyviolation", function (e) {
    push("CSP violation", e.violatedDirective + " blocked " + (e.blockedURI || "(inline)") + " at " +
      e.sourceFile + ":" + e.lineNumber);
  });
})();
`;

const OBSERVER_TAG = `<script src="${OBSERVER_PATH}"></script>`;

/** Insert the observer tag as the first script: after <meta charset>, else right after <head>. */
export function injectObserver(html) {
  const charset = /<meta\s+charset=[^>]*>/i.exec(html);
  if (charset) {
    const at = charset.index + charset[0].length;
    return html.slice(0, at) + "\n  " + OBSERVER_TAG + html.slice(at);
  }
  const head = /<head[^>]*>/i.exec(html);
  if (head) {
    const at = head.index + head[0].length;
    return html.slice(0, at) + OBSERVER_TAG + html.slice(at);
  }
  return OBSERVER_TAG + html;
}

/**
 * Start dist/ (startServer with csp: true) and the observing proxy in front of it.
 * Returns { url, label, requests(label), cspReports(label), close() }.
 */
export async function startObservedServer({ root }) {
  const upstream = await startServer({ root, port: 0, csp: true });
  const up = new URL(upstream.url);
  const log = new Map(); // label -> {requests: [], reports: []}
  const state = { label: "(none)" };
  const bucket = () => {
    if (!log.has(state.label)) log.set(state.label, { requests: [], reports: [] });
    return log.get(state.label);
  };

  const proxy = http.createServer((req, res) => {
    const path = req.url.split("?")[0];
    if (path === OBSERVER_PATH) {
      bucket().requests.push({ method: req.method, url: req.url, status: 200 });
      res.writeHead(200, {
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
      });
      return res.end(req.method === "HEAD" ? undefined : OBSERVER_JS);
    }
    if (path === REPORT_PATH && req.method === "POST") {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let report = body;
        try {
          const j = JSON.parse(body);
          const r = j["csp-report"] || j.body || (Array.isArray(j) ? j[0]?.body : j);
          report = `${r["violated-directive"] || r.effectiveDirective || r["effective-directive"] || "?"} blocked ` +
            `${r["blocked-uri"] || r.blockedURL || "?"} on ${r["document-uri"] || r.documentURL || "?"}`;
        } catch {
          /* keep the raw body */
        }
        bucket().reports.push(report);
        res.writeHead(204);
        res.end();
      });
      return;
    }
    const entry = { method: req.method, url: req.url, status: 0 };
    bucket().requests.push(entry);
    const headers = { ...req.headers, host: up.host };
    delete headers["accept-encoding"]; // the upstream never compresses; keep HTML rewritable
    const fwd = http.request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers },
      (ures) => {
        entry.status = ures.statusCode;
        const out = { ...ures.headers };
        if (out["content-security-policy"]) {
          out["content-security-policy"] = `${out["content-security-policy"]}; report-uri ${REPORT_PATH}`;
        }
        const isHtml = /^text\/html/i.test(out["content-type"] || "");
        if (!isHtml || ures.statusCode !== 200 || req.method === "HEAD") {
          res.writeHead(ures.statusCode, out);
          ures.pipe(res);
          return;
        }
        const chunks = [];
        ures.on("data", (c) => chunks.push(c));
        ures.on("end", () => {
          const body = Buffer.from(injectObserver(Buffer.concat(chunks).toString("utf8")), "utf8");
          out["content-length"] = String(body.length);
          res.writeHead(200, out);
          res.end(body);
        });
      },
    );
    fwd.on("error", (e) => {
      entry.status = 502;
      res.writeHead(502, { "Content-Type": "text/plain" });
      res.end(`proxy: ${e.message}\n`);
    });
    req.pipe(fwd);
  });

  await new Promise((resolve, reject) => {
    proxy.once("error", reject);
    proxy.listen(0, "127.0.0.1", () => resolve());
  });
  const url = `http://127.0.0.1:${proxy.address().port}/`;
  return {
    url,
    /** Requests and CSP reports from now on are filed under `label`. */
    setLabel(label) {
      state.label = label;
    },
    requests: (label) => log.get(label)?.requests ?? [],
    cspReports: (label) => log.get(label)?.reports ?? [],
    async close() {
      await new Promise((r) => {
        proxy.closeAllConnections?.();
        proxy.close(() => r());
      });
      await upstream.close();
    },
  };
}
