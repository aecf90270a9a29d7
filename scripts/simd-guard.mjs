#!/usr/bin/env node
// Guards a WebAssembly module against a JavaScriptCore miscompilation (WebKit bug 316918, fixed
// upstream in August 2026: WebKit PR 72164, WebKitGTK cherry-pick 72488; Debian's WebKitGTK 2.50.6
// and Safari builds before the fix still have it). When JSC's optimising tier (OMG) inlines a
// function that uses SIMD into a function that does not, the compiled code is not marked as using
// SIMD and the upper lanes of vector values can be lost. In the page that showed up as a panic in
// drawing code ("index out of bounds") or a NaN in a plotted series, about once in 25–75 loads.
//
// JSC marks a function as using SIMD when its own body contains a SIMD instruction. So every
// function that can reach a SIMD function through direct calls (or makes an indirect call, whose
// target JSC may inline too), and has no SIMD instruction of its own, gets one at the start of its body: `i32.const 0; i8x16.splat; drop` (5 bytes, no effect;
// optimising compilers in every engine drop it). Runs after wasm-opt (which would remove it).
//
//   node scripts/simd-guard.mjs <module.wasm>            rewrites the module in place, prints counts
//   node scripts/simd-guard.mjs --check <module.wasm>    exit 1 when a function at risk is unguarded
//
// `analyse(bytes)` is used by scripts/check-wasm.mjs too.
import fs from "node:fs";
import { fileURLToPath } from "node:url";

/** The marker: i32.const 0, i8x16.splat, drop. */
export const MARKER = Uint8Array.from([0x41, 0x00, 0xfd, 0x0f, 0x1a]);

class Reader {
  constructor(bytes, at = 0) {
    this.b = bytes;
    this.at = at;
  }
  byte() {
    if (this.at >= this.b.length) throw new Error(`unexpected end of module at byte ${this.at}`);
    return this.b[this.at++];
  }
  /** Unsigned LEB128 (up to 64 bits; returned as a Number, exact below 2^53). */
  u() {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      scale *= 128;
      if (!(b & 0x80)) return result;
    }
  }
  /** Signed LEB128: only skipped, its value is never needed. */
  s() {
    while (this.byte() & 0x80);
  }
  skip(n) {
    this.at += n;
  }
  /** A value type (one byte, or (ref null? heaptype)). */
  valtype() {
    const t = this.byte();
    if (t === 0x63 || t === 0x64) this.s();
  }
  /** A block type or a heap type: one byte (empty, a value type), (ref null? ht), or an s33. */
  blocktype() {
    const t = this.b[this.at];
    if (t === 0x63 || t === 0x64) return this.valtype();
    this.s();
  }
  memarg() {
    const align = this.u();
    if (align & 0x40) this.u(); // memory index (multi-memory)
    this.u(); // offset
  }
  limits() {
    const flags = this.byte();
    this.u();
    if (flags & 1) this.u();
  }
}

/**
 * Walks one function body's instructions from `r.at` to `end`: whether it has a SIMD instruction,
 * and the functions it calls directly. Throws on an instruction it does not know (the build then
 * fails instead of shipping an unchecked module).
 */
function scanBody(r, end) {
  let simd = false;
  let indirect = false;
  const calls = [];
  while (r.at < end) {
    const op = r.byte();
    if (op === 0x10 || op === 0x12) {
      calls.push(r.u()); // call, return_call
    } else if (op === 0xfd) {
      simd = true;
      const sub = r.u();
      if (sub <= 11 || sub === 92 || sub === 93) r.memarg();
      else if (sub === 12 || sub === 13) r.skip(16); // v128.const, i8x16.shuffle
      else if (sub >= 21 && sub <= 34) r.skip(1); // extract / replace lane
      else if (sub >= 84 && sub <= 91) {
        r.memarg();
        r.skip(1); // load / store lane
      }
    } else if (op === 0xfc) {
      const sub = r.u();
      if (sub <= 7) continue; // saturating truncations
      if (sub === 8 || sub === 10 || sub === 12 || sub === 14) {
        r.u();
        r.u();
      } else if (sub <= 17) r.u();
      else throw new Error(`unknown instruction 0xfc ${sub} at byte ${r.at}`);
    } else if (op === 0x02 || op === 0x03 || op === 0x04) r.blocktype();
    else if (op === 0x0c || op === 0x0d || (op >= 0x20 && op <= 0x26) || op === 0xd2) r.u();
    else if (op === 0x0e) {
      const n = r.u();
      for (let k = 0; k <= n; k++) r.u(); // br_table: n labels and the default
    } else if (op === 0x11 || op === 0x13) {
      indirect = true;
      r.u();
      r.u(); // call_indirect: type, table
    } else if (op === 0x1c) {
      const n = r.u();
      for (let k = 0; k < n; k++) r.valtype();
    } else if (op >= 0x28 && op <= 0x3e) r.memarg();
    else if (op === 0x3f || op === 0x40) r.u();
    else if (op === 0x41 || op === 0x42) r.s();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0xd0) r.s(); // ref.null: a heap type
    else if (
      op === 0x00 || op === 0x01 || op === 0x05 || op === 0x0b || op === 0x0f ||
      op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) || op === 0xd1
    ) {
      /* no immediates */
    } else throw new Error(`unknown instruction 0x${op.toString(16)} at byte ${r.at - 1}`);
  }
  return { simd, indirect, calls };
}

/**
 * The module's functions: imports, and per defined function its body's span, whether it uses
 * SIMD (as JSC decides: an instruction, v128 locals, or v128 in its signature), its direct calls,
 * and whether it starts with MARKER. `unguarded`: defined functions without SIMD of their own that
 * reach a SIMD function by direct calls (a marked function has SIMD of its own).
 */
export function analyse(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) throw new Error("not a WebAssembly module");
  const r = new Reader(b, 8);
  let imported = 0;
  let code = null;
  const vectorTypes = []; // per type index: v128 among its params or results
  let functionTypes = []; // per defined function: its type index
  while (r.at < b.length) {
    const idAt = r.at;
    const id = r.byte();
    const size = r.u();
    const start = r.at;
    if (id === 1) {
      const n = r.u();
      for (let k = 0; k < n; k++) {
        if (r.byte() !== 0x60) throw new Error(`type ${k} is not a function type`);
        let vector = false;
        for (let side = 0; side < 2; side++) {
          const m = r.u();
          for (let j = 0; j < m; j++) {
            vector ||= r.b[r.at] === 0x7b;
            r.valtype();
          }
        }
        vectorTypes.push(vector);
      }
    } else if (id === 3) {
      const n = r.u();
      functionTypes = Array.from({ length: n }, () => r.u());
    } else if (id === 2) {
      const n = r.u();
      for (let k = 0; k < n; k++) {
        r.skip(r.u()); // module name
        r.skip(r.u()); // field name
        const kind = r.byte();
        if (kind === 0) {
          r.u();
          imported++;
        } else if (kind === 1) {
          r.valtype();
          r.limits();
        } else if (kind === 2) r.limits();
        else if (kind === 3) {
          r.valtype();
          r.byte();
        } else if (kind === 4) {
          r.byte();
          r.u();
        } else throw new Error(`unknown import kind ${kind}`);
      }
    } else if (id === 10) {
      code = { sectionStart: idAt, bodies: [] };
      const n = r.u();
      for (let k = 0; k < n; k++) {
        const len = r.u();
        const bodyStart = r.at;
        let vector = !!vectorTypes[functionTypes[k]];
        const groups = r.u();
        for (let g = 0; g < groups; g++) {
          r.u();
          vector ||= b[r.at] === 0x7b;
          r.valtype();
        }
        const exprStart = r.at;
        const marked = MARKER.every((x, i) => b[exprStart + i] === x);
        const { simd, indirect, calls } = scanBody(r, bodyStart + len);
        if (r.at !== bodyStart + len) throw new Error(`function ${imported + k}: body did not end where its size says`);
        code.bodies[k] = { bodyStart, exprStart, end: r.at, simd: simd || vector, indirect, calls, marked };
      }
      code.sectionEnd = r.at;
    }
    r.at = start + size;
  }
  if (!code) throw new Error("no code section");
  const total = imported + code.bodies.length;
  // Reverse reachability: which functions reach a SIMD function by direct calls.
  const callers = Array.from({ length: total }, () => []);
  code.bodies.forEach((f, k) => {
    for (const callee of f.calls) if (callee < total) callers[callee].push(imported + k);
  });
  const reaches = new Uint8Array(total);
  const queue = [];
  // An indirect call may reach any function in the table (JSC inlines profiled indirect callees
  // too): it counts as reaching SIMD.
  code.bodies.forEach((f, k) => {
    if (f.simd || f.indirect) {
      reaches[imported + k] = 1;
      queue.push(imported + k);
    }
  });
  while (queue.length) {
    const f = queue.pop();
    for (const c of callers[f]) if (!reaches[c]) {
      reaches[c] = 1;
      queue.push(c);
    }
  }
  return {
    imported,
    defined: code.bodies.length,
    simd: code.bodies.filter((f) => f.simd && !f.marked).length,
    marked: code.bodies.filter((f) => f.marked).length,
    unguarded: code.bodies.flatMap((f, k) => (!f.simd && reaches[imported + k] ? [k] : [])),
    code,
  };
}

function uleb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** The module with MARKER at the start of every function at risk. */
export function guard(bytes) {
  const b = new Uint8Array(bytes);
  const a = analyse(b);
  const risk = new Set(a.unguarded);
  const { code } = a;
  const bodies = [];
  code.bodies.forEach((f, k) => {
    const locals = b.subarray(f.bodyStart, f.exprStart);
    const expr = b.subarray(f.exprStart, f.end);
    const parts = risk.has(k) ? [locals, MARKER, expr] : [locals, expr];
    const len = parts.reduce((s, p) => s + p.length, 0);
    bodies.push(Uint8Array.from(uleb(len)), ...parts);
  });
  const content = [Uint8Array.from(uleb(code.bodies.length)), ...bodies];
  const contentLen = content.reduce((s, p) => s + p.length, 0);
  const section = [Uint8Array.from([10, ...uleb(contentLen)]), ...content];
  const out = Buffer.concat([b.subarray(0, code.sectionStart), ...section, b.subarray(code.sectionEnd)]);
  return { bytes: out, guarded: risk.size };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const args = process.argv.slice(2);
  const check = args[0] === "--check";
  const file = check ? args[1] : args[0];
  if (!file) {
    console.error("usage: node scripts/simd-guard.mjs [--check] <module.wasm>");
    process.exit(2);
  }
  const bytes = fs.readFileSync(file);
  if (check) {
    const a = analyse(bytes);
    if (a.unguarded.length) {
      console.error(`${file}: ${a.unguarded.length} functions reach SIMD code without a SIMD instruction of their own (run scripts/simd-guard.mjs)`);
      process.exit(1);
    }
    console.log(`${file}: ${a.marked} functions guarded, ${a.simd} use SIMD, none at risk`);
  } else {
    const { bytes: out, guarded } = guard(bytes);
    if (!WebAssembly.validate(out)) {
      console.error(`${file}: the guarded module does not validate`);
      process.exit(1);
    }
    fs.writeFileSync(file, out);
    console.log(`simd-guard: ${file}: ${guarded} functions guarded (+${out.length - bytes.length} bytes)`);
  }
}
