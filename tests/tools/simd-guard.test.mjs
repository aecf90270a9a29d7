// scripts/simd-guard.mjs on a module written by hand: which functions it guards, that the guarded
// module computes the same, that guarding is idempotent, and that an unknown instruction is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyse, guard, MARKER } from "../../scripts/simd-guard.mjs";

const section = (id, content) => [id, content.length, ...content]; // every section here is < 128 bytes
const vec = (items) => [items.length, ...items.flat()];
const body = (code) => [code.length + 1, 0x00, ...code]; // no locals
const name = (s) => [s.length, ...Buffer.from(s)];

/**
 * f0 uses SIMD (i32x4.splat 7, extract lane 0); f1 calls f0; f2 calls f1 and adds 1; f3 returns 3;
 * f4 calls table[0] (= f3) indirectly. Exported as f0..f4, each () -> i32.
 */
function module(extra = []) {
  const bodies = [
    [0x41, 0x07, 0xfd, 0x11, 0xfd, 0x1b, 0x00, 0x0b],
    [0x10, 0x00, 0x0b],
    [0x10, 0x01, 0x41, 0x01, 0x6a, 0x0b],
    [0x41, 0x03, ...extra, 0x0b],
    [0x41, 0x00, 0x11, 0x00, 0x00, 0x0b],
  ];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, 0x00, 0x01, 0x7f]])),
    ...section(3, vec(bodies.map(() => [0x00]))),
    ...section(4, vec([[0x70, 0x00, 0x01]])),
    ...section(7, vec(bodies.map((_, k) => [...name(`f${k}`), 0x00, k]))),
    ...section(9, vec([[0x00, 0x41, 0x00, 0x0b, 0x01, 0x03]])),
    ...section(10, vec(bodies.map(body))),
  ]);
}

const run = (bytes) => {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  return [0, 1, 2, 3, 4].map((k) => exports[`f${k}`]());
};

test("guards exactly the functions that reach SIMD code or call indirectly", () => {
  const bytes = module();
  assert.ok(WebAssembly.validate(bytes));
  const before = analyse(bytes);
  assert.deepEqual(before.unguarded, [1, 2, 4]);
  assert.equal(before.marked, 0);
  const { bytes: guarded, guarded: count } = guard(bytes);
  assert.equal(count, 3);
  assert.equal(guarded.length, bytes.length + 3 * MARKER.length);
  assert.ok(WebAssembly.validate(guarded));
  const after = analyse(guarded);
  assert.deepEqual(after.unguarded, []);
  assert.equal(after.marked, 3);
  assert.deepEqual(run(guarded), run(bytes));
  assert.deepEqual(run(guarded), [7, 7, 8, 3, 3]);
  // idempotent: a guarded module is left as it is
  const again = guard(guarded);
  assert.equal(again.guarded, 0);
  assert.deepEqual(Buffer.from(again.bytes), Buffer.from(guarded));
});

test("refuses an instruction it does not know instead of guessing", () => {
  // f3 gains `try` (exception handling, 0x06): not in the page's modules, so not decoded
  const bytes = module([0x06, 0x40, 0x0b]);
  assert.throws(() => analyse(bytes), /unknown instruction 0x6/);
});
