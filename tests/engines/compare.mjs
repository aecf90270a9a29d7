// Where two readout JSON texts first differ, for the cross-engine suite's failure messages.

/** The first difference between two JSON texts: byte offset, key path, the two values. */
export function firstDifference(a, b) {
  if (a === b) return null;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const around = (s) => JSON.stringify(s.slice(Math.max(0, i - 40), i + 40));
  const diff = { offset: i, lengths: [a.length, b.length], context: [around(a), around(b)] };
  let x;
  let y;
  try {
    x = JSON.parse(a);
    y = JSON.parse(b);
  } catch {
    return diff;
  }
  const walk = (u, v, p) => {
    if (typeof u !== typeof v || Array.isArray(u) !== Array.isArray(v) || (u === null) !== (v === null)) {
      return { path: p, values: [u, v] };
    }
    if (Array.isArray(u)) {
      for (let k = 0; k < Math.min(u.length, v.length); k++) {
        const d = walk(u[k], v[k], `${p}[${k}]`);
        if (d) return d;
      }
      return u.length !== v.length ? { path: `${p}.length`, values: [u.length, v.length] } : null;
    }
    if (u && typeof u === "object") {
      const ku = Object.keys(u);
      const kv = Object.keys(v);
      if (ku.join("\u0000") !== kv.join("\u0000")) return { path: `${p} (keys)`, values: [ku, kv] };
      for (const k of ku) {
        const d = walk(u[k], v[k], `${p}.${k}`);
        if (d) return d;
      }
      return null;
    }
    return Object.is(u, v) ? null : { path: p, values: [u, v] };
  };
  return { ...diff, ...(walk(x, y, "$") || { path: "(same values, different text)" }) };
}

/** How many values differ in all, and the largest relative difference between two numbers. */
export function countDifferences(a, b) {
  let n = 0;
  let maxRel = 0;
  const walk = (u, v) => {
    if (typeof u === "number" && typeof v === "number") {
      if (!Object.is(u, v)) {
        n++;
        const rel = Math.abs(u - v) / Math.max(Math.abs(u), Math.abs(v), Number.MIN_VALUE);
        if (rel > maxRel) maxRel = rel;
      }
    } else if (u && v && typeof u === "object" && typeof v === "object") {
      for (const k of Object.keys(u)) if (k in v) walk(u[k], v[k]);
    } else if (u !== v) n++;
  };
  try {
    walk(JSON.parse(a), JSON.parse(b));
  } catch {
    return null;
  }
  return { n, maxRel };
}
