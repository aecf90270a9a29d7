// The failure message of the cross-engine comparison names the first differing key path and both values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { firstDifference, countDifferences } from "./compare.mjs";

test("identical texts have no difference", () => {
  assert.equal(firstDifference('{"a":[1,2]}', '{"a":[1,2]}'), null);
});

test("the first differing number: its path, both values, the byte offset", () => {
  const a = JSON.stringify({ t: 4, p: [0.1, 0.2, 0.30000000000000004], compare: { F: 1 } });
  const b = JSON.stringify({ t: 4, p: [0.1, 0.2, 0.3], compare: { F: 2 } });
  const d = firstDifference(a, b);
  assert.equal(d.path, "$.p[2]");
  assert.deepEqual(d.values, [0.30000000000000004, 0.3]);
  assert.equal(a.slice(0, d.offset), b.slice(0, d.offset));
  const c = countDifferences(a, b);
  assert.equal(c.n, 2);
  assert.ok(c.maxRel > 0.4 && c.maxRel < 0.6);
});

test("keys, lengths and types", () => {
  assert.equal(firstDifference('{"a":1,"b":2}', '{"b":2,"a":1}').path, "$ (keys)");
  assert.equal(firstDifference('{"a":[1,2]}', '{"a":[1,2,3]}').path, "$.a.length");
  assert.equal(firstDifference('{"a":null}', '{"a":0}').path, "$.a");
  assert.equal(firstDifference('{"a":-0}', '{"a":0}').path, "$.a");
  assert.equal(firstDifference("not json", "not jsoN").offset, 7);
});
