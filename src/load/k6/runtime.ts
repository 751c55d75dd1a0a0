/**
 * The part of an exported k6 script that builds request i: faultline's seeded PRNG (src/load/prng.ts) and
 * request factory (src/load/mix.ts `RequestFactory.build`), written once more as plain ES2015 for k6's JavaScript
 * runtime (no Node APIs, no private fields). It is a copy on purpose — k6 cannot import faultline — and
 * `export.test.ts` holds the two together: the exported script's requests for a seed must equal the planner's,
 * request for request, so a change on either side without the other fails there.
 *
 *   exec.scenario.iterationInTest (i) ─▶ pick(i): reseed(hash32(SEED, STREAM_REQUEST, i)) ─▶ endpoint
 *                                      └▶ draw each variable the endpoint uses ─▶ render path, headers, body
 *
 * The data it reads (MIX, CUM, SEED, KEY_TAG, PREFIX, ENV_VALUES) is written above it by export.ts.
 */
export const K6_RUNTIME = String.raw`
// ── faultline's PRNG (src/load/prng.ts): splitmix32 and its word hash ─────────────────────────────────────────
function hash32() {
  let h = 0x9e3779b9;
  for (let k = 0; k < arguments.length; k++) {
    const w = arguments[k];
    h = (h + Math.imul((w >>> 0) ^ 0x85ebca6b, 0x9e3779b1)) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    if (w > 0xffffffff) h = hash32(h, Math.floor(w / 0x100000000));
  }
  return h >>> 0;
}

const rng = { s: 0 };
function reseed(seed) { rng.s = seed >>> 0; }
function nextU32() {
  rng.s = (rng.s + 0x9e3779b9) | 0;
  let z = rng.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
function nextFloat() {
  const hi = nextU32() >>> 5;
  const lo = nextU32() >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}
function nextInt(min, max) { return min + Math.floor(nextFloat() * (max - min + 1)); }

const STREAM_REQUEST = 2;

// ── faultline's request factory (src/load/mix.ts RequestFactory.build) ─────────────────────────────────────────
function pad(s, n) { while (s.length < n) s = '0' + s; return s; }
function uuid() {
  const a = pad(nextU32().toString(16), 8);
  const b = pad(nextU32().toString(16), 8);
  const c = pad(nextU32().toString(16), 8);
  const d = pad(nextU32().toString(16), 8);
  const variant = ((parseInt(c[0], 16) & 0x3) | 0x8).toString(16);
  return a + '-' + b.slice(0, 4) + '-4' + b.slice(5, 8) + '-' + variant + c.slice(1, 4) + '-' + c.slice(4) + d;
}

function render(t, values) {
  if (t.slots.length === 0) return t.parts[0];
  let out = t.parts[0];
  for (let k = 0; k < t.slots.length; k++) {
    const slot = t.slots[k];
    const value = values[slot.v];
    if (slot.mode === 'url') out += encodeURIComponent(String(value));
    else if (slot.mode === 'plain') out += String(value);
    else if (slot.mode === 'json') out += JSON.stringify(value);
    else out += JSON.stringify(String(value)).slice(1, -1);
    out += t.parts[k + 1];
  }
  return out;
}

function pick(i) {
  reseed(hash32(SEED, STREAM_REQUEST, i));
  const u = nextFloat();
  for (let k = 0; k < CUM.length - 1; k++) if (u < CUM[k]) return k;
  return CUM.length - 1;
}

const values = new Array(MIX.vars.length);
/** Request i of the run: the same bytes faultline sends as its request i for this seed. */
function build(i) {
  const k = pick(i);
  const ep = MIX.endpoints[k];
  for (const v of ep.uses) {
    const spec = MIX.vars[v];
    if (spec.type === 'int') values[v] = nextInt(spec.min, spec.max);
    else if (spec.type === 'pick') values[v] = spec.values[Math.floor(nextFloat() * spec.values.length)];
    else if (spec.type === 'key') values[v] = spec.prefix + KEY_TAG + '-' + pad(i.toString(36), 8);
    else if (spec.type === 'uuid') values[v] = uuid();
    else if (spec.type === 'seq') values[v] = i;
  }
  const headers = {};
  for (const h of ep.headers) headers[h.name] = render(h.value, values);
  return { endpoint: k, name: ep.name, method: ep.method, path: PREFIX + render(ep.path, values), headers, body: ep.body ? render(ep.body, values) : null };
}
`;
