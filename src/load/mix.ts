/**
 * The request mix: which endpoints a load run hits, in what proportion, and what each request looks like.
 * Owns the mix file's schema (YAML, validated with every problem reported with its path), template compilation,
 * and the RequestFactory that turns request index i into bytes — a pure function of (seed, i).
 *
 *   mix.yaml ──parse+validate──▶ CompiledMix ──RequestFactory(seed)──▶ build(i) = {method, path, headers, body}
 *
 * Templates: `{name}` inserts variable `name` (declared under `vars`), URL-encoded in paths, JSON-typed when a
 * JSON body string is exactly "{name}". `${ENV}` / `${ENV:-default}` in header values read the environment once,
 * at load (tokens stay out of committed files).
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { FaultlineError, type Issue } from '../core/errors.ts';
import { issuesFromZod } from '../core/schema.ts';
import { hash32, Rng, STREAM } from './prng.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENDPOINT_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const VarSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('int'), min: z.number().int(), max: z.number().int() }),
  z.strictObject({ type: z.literal('pick'), values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1) }),
  /** Unique per request and deterministic from the seed: what idempotency keys need. */
  z.strictObject({ type: z.literal('key'), prefix: z.string().max(64).default('') }),
  z.strictObject({ type: z.literal('uuid') }),
  z.strictObject({ type: z.literal('seq') }),
]);

/** One expected status (201) or an inclusive range ("200-299"). */
const ExpectItem = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]\d\d-[1-5]\d\d$/, 'a status (201) or a range ("200-299")'),
]);

/** What a response must answer to count as ok when the endpoint says nothing: any 2xx or 3xx. */
export const DEFAULT_EXPECT: readonly (readonly [number, number])[] = [[200, 399]];

const EndpointSchema = z.strictObject({
  name: z.string().regex(ENDPOINT_NAME, 'must be 1–64 of A–Z a–z 0–9 _ . -'),
  weight: z.number().positive(),
  method: z.enum(METHODS).default('GET'),
  path: z.string().startsWith('/', 'must start with "/"'),
  headers: z.record(z.string().regex(HEADER_NAME, 'not a valid header name'), z.string()).default({}),
  body: z
    .union([z.strictObject({ json: z.unknown() }), z.strictObject({ text: z.string() })], {
      error: 'must be {json: <value>} or {text: <string>}',
    })
    .optional(),
  /** Statuses that count as ok (like k6's expected statuses), e.g. `[201, 202]` or `["200-299"]`; default 200–399. */
  expect: z.array(ExpectItem).min(1).optional(),
});

/** The mix file's schema (what `--mix` reads). */
export const MixSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  headers: z.record(z.string().regex(HEADER_NAME, 'not a valid header name'), z.string()).default({}),
  vars: z.record(z.string().regex(NAME, 'must be an identifier (A–Z a–z 0–9 _)'), VarSchema).default({}),
  endpoints: z.array(EndpointSchema).min(1, 'needs at least one endpoint'),
});

export type MixSpec = z.input<typeof MixSchema>;
type Mix = z.output<typeof MixSchema>;
type VarSpec = z.output<typeof VarSchema>;

// ─── templates ───────────────────────────────────────────────────────────────────────────────────────────────

type SlotMode = 'url' | 'plain' | 'json' | 'json-inner';
interface Template {
  readonly parts: string[];
  readonly slots: { v: number; mode: SlotMode }[];
}

const REF = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
// Private-use characters survive JSON.stringify unescaped, so they can mark slots inside serialised JSON.
const OPEN = '\uE000';
const CLOSE = '\uE001';

function compileString(text: string, mode: SlotMode, vars: Map<string, number>, path: string, issues: Issue[]): Template {
  const parts: string[] = [];
  const slots: Template['slots'] = [];
  let last = 0;
  for (const m of text.matchAll(REF)) {
    const v = vars.get(m[1]);
    if (v === undefined) {
      issues.push({ path, message: `unknown variable {${m[1]}} (declared: ${[...vars.keys()].join(', ') || 'none'})` });
      continue;
    }
    parts.push(text.slice(last, m.index));
    slots.push({ v, mode });
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return { parts, slots };
}

function compileJson(value: unknown, vars: Map<string, number>, path: string, issues: Issue[]): Template {
  const slots: Template['slots'] = [];
  const mark = (v: number, mode: SlotMode): string => `${OPEN}${slots.push({ v, mode }) - 1}${CLOSE}`;
  const walk = (node: unknown, at: string): unknown => {
    if (typeof node === 'string') {
      const whole = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(node);
      if (whole && vars.has(whole[1])) return mark(vars.get(whole[1])!, 'json');
      return node.replace(REF, (ref, name: string) => {
        const v = vars.get(name);
        if (v === undefined) {
          issues.push({ path: at, message: `unknown variable ${ref} (declared: ${[...vars.keys()].join(', ') || 'none'})` });
          return ref;
        }
        return mark(v, 'json-inner');
      });
    }
    if (Array.isArray(node)) return node.map((n, i) => walk(n, `${at}[${i}]`));
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, n]) => [k, walk(n, `${at}.${k}`)]));
    }
    return node;
  };
  const text = JSON.stringify(walk(value, path)) ?? 'null';
  const parts: string[] = [];
  const ordered: Template['slots'] = [];
  // A whole-value slot was serialised as "<OPEN>k<CLOSE>" with quotes; drop the quotes so a number stays a number.
  const re = new RegExp(`"${OPEN}(\\d+)${CLOSE}"|${OPEN}(\\d+)${CLOSE}`, 'g');
  let last = 0;
  for (const m of text.matchAll(re)) {
    parts.push(text.slice(last, m.index));
    ordered.push(slots[Number(m[1] ?? m[2])]);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return { parts, slots: ordered };
}

function expandEnv(text: string, path: string, issues: Issue[], env: NodeJS.ProcessEnv): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, dflt?: string) => {
    const value = env[name] ?? dflt;
    if (value === undefined) {
      issues.push({ path, message: `environment variable ${name} is not set (write \${${name}:-default} for a fallback)` });
      return '';
    }
    return value;
  });
}

function render(t: Template, values: unknown[]): string {
  if (t.slots.length === 0) return t.parts[0];
  let out = t.parts[0];
  for (let k = 0; k < t.slots.length; k++) {
    const { v, mode } = t.slots[k];
    const value = values[v];
    if (mode === 'url') out += encodeURIComponent(String(value));
    else if (mode === 'plain') out += String(value);
    else if (mode === 'json') out += JSON.stringify(value);
    else out += JSON.stringify(String(value)).slice(1, -1);
    out += t.parts[k + 1];
  }
  return out;
}

// ─── compiled mix ────────────────────────────────────────────────────────────────────────────────────────────

interface CompiledEndpoint {
  readonly name: string;
  readonly method: string;
  readonly path: Template;
  /** The path as written in the mix (`/orders/{order_id}`), to match it against a server's route label. */
  readonly path_template: string;
  /** Header names and value templates, in file order (mix-wide first), names lower-cased. */
  readonly headers: { name: string; value: Template }[];
  readonly body: Template | undefined;
  /** Variables this endpoint uses, in declaration order: the order they are drawn in. */
  readonly uses: number[];
  /** Inclusive status ranges that count as ok. */
  readonly expect: readonly (readonly [number, number])[];
}

/**
 * Whether `status` is one the endpoint expects.
 * @example isExpected([[200, 399]], 401) // false
 */
export function isExpected(ranges: readonly (readonly [number, number])[], status: number): boolean {
  for (const [lo, hi] of ranges) if (status >= lo && status <= hi) return true;
  return false;
}

/** An endpoint without `expect:` gets DEFAULT_EXPECT itself (same reference: callers can tell it was not given). */
function expectRanges(items: readonly (number | string)[] | undefined, path: string, issues: Issue[]): readonly (readonly [number, number])[] {
  if (items === undefined) return DEFAULT_EXPECT;
  return items.map((x) => {
    if (typeof x === 'number') return [x, x] as const;
    const [lo, hi] = x.split('-').map(Number);
    if (lo > hi) issues.push({ path, message: `range "${x}" runs backwards` });
    return [lo, hi] as const;
  });
}

/** A validated mix, ready to build requests. */
export interface CompiledMix {
  readonly name: string;
  readonly endpoints: readonly CompiledEndpoint[];
  readonly weights: readonly number[];
  readonly vars: readonly VarSpec[];
}

/** One request, in the shape undici's `dispatch` takes (plus the endpoint it came from). */
export interface PlannedRequest {
  endpoint: number;
  method: string;
  path: string;
  headers: string[];
  body: string | undefined;
}

/**
 * Validates a mix object and compiles its templates; every problem is collected, then thrown as one
 * INVALID_INPUT whose `field` is the first problem's path under `mix.`.
 * @example compileMix({ endpoints: [{ name: 'home', weight: 1, path: '/' }] });
 */
export function compileMix(raw: unknown, source = 'mix', env: NodeJS.ProcessEnv = process.env): CompiledMix {
  const parsed = MixSchema.safeParse(raw);
  const issues: Issue[] = [];
  if (!parsed.success) {
    issues.push(...issuesFromZod(raw, parsed.error.issues));
    // Keep going on what did parse, so template and range problems show up in the same report.
  }
  const mix: Partial<Mix> = parsed.success ? parsed.data : lenient(raw);
  const varNames = Object.keys(mix.vars ?? {});
  const varIndex = new Map(varNames.map((n, i) => [n, i]));
  const vars = varNames.map((n) => mix.vars![n]);
  vars.forEach((v, i) => {
    if (v?.type === 'int' && v.min > v.max) {
      issues.push({ path: `vars.${varNames[i]}`, message: `min (${v.min}) must be ≤ max (${v.max})` });
    }
  });
  const seen = new Set<string>();
  const endpoints: CompiledEndpoint[] = [];
  (mix.endpoints ?? []).forEach((e, k) => {
    if (!e || typeof e !== 'object') return;
    const at = `endpoints[${k}]`;
    if (typeof e.name === 'string' && seen.has(e.name)) {
      issues.push({ path: `${at}.name`, message: `duplicate endpoint name "${e.name}"` });
    }
    seen.add(e.name);
    const headerEntries = Object.entries({ ...(mix.headers ?? {}), ...(e.headers ?? {}) });
    const headers = headerEntries.map(([name, value]) => ({
      name: name.toLowerCase(),
      value: compileString(expandEnv(String(value), `${at}.headers.${name}`, issues, env), 'plain', varIndex, `${at}.headers.${name}`, issues),
    }));
    let body: Template | undefined;
    if (e.body && 'json' in e.body) {
      body = compileJson(e.body.json, varIndex, `${at}.body.json`, issues);
      if (!headers.some((h) => h.name === 'content-type')) {
        headers.push({ name: 'content-type', value: { parts: ['application/json'], slots: [] } });
      }
    } else if (e.body && 'text' in e.body) {
      body = compileString(e.body.text, 'plain', varIndex, `${at}.body.text`, issues);
    }
    const path = compileString(typeof e.path === 'string' ? e.path : '/', 'url', varIndex, `${at}.path`, issues);
    const used = new Set<number>();
    for (const t of [path, body, ...headers.map((h) => h.value)]) for (const s of t?.slots ?? []) used.add(s.v);
    endpoints.push({
      name: String(e.name),
      method: String(e.method ?? 'GET'),
      path,
      path_template: typeof e.path === 'string' ? e.path : '/',
      headers,
      body,
      uses: [...used].sort((a, b) => a - b),
      expect: expectRanges(Array.isArray(e.expect) ? e.expect : undefined, `${at}.expect`, issues),
    });
  });
  if (issues.length > 0) {
    const noun = issues.length === 1 ? 'problem' : 'problems';
    const list = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new FaultlineError('INVALID_INPUT', `${source} has ${issues.length} ${noun}: ${list}`, {
      field: `mix.${issues[0].path}`,
      hint: 'see experiments/mixes/lab-default.yaml for a complete example',
    });
  }
  return {
    name: mix.name ?? source,
    endpoints,
    weights: mix.endpoints!.map((e) => e.weight),
    vars,
  };
}

/** What can be salvaged from a mix that failed the schema, for the second-pass checks. */
function lenient(raw: unknown): Partial<Mix> {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const obj = (x: unknown): Record<string, never> => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, never>) : {});
  const vars = Object.fromEntries(Object.entries(obj(r.vars)).filter(([, v]) => v && typeof v === 'object'));
  const endpoints = (Array.isArray(r.endpoints) ? r.endpoints : []).map((e) => {
    const o = obj(e) as Record<string, unknown>;
    const body = obj(o.body) as Record<string, unknown>;
    return {
      ...o,
      headers: obj(o.headers),
      body: 'json' in body ? { json: body.json } : typeof body.text === 'string' ? { text: body.text } : undefined,
    };
  });
  return { vars, headers: obj(r.headers), endpoints } as unknown as Partial<Mix>;
}

/**
 * Reads and compiles a YAML (or JSON) mix file; YAML syntax errors come back with their line.
 * @example const mix = loadMixFile('experiments/mixes/lab-default.yaml');
 */
export function loadMixFile(file: string, env: NodeJS.ProcessEnv = process.env): CompiledMix {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FaultlineError('INVALID_INPUT', `--mix: cannot read ${file}: ${(err as Error).message}`, {
      field: '--mix',
      cause: err,
    });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const list = doc.errors.map((e) => e.message.split('\n')[0]).join('; ');
    throw new FaultlineError('INVALID_INPUT', `${file} is not valid YAML: ${list}`, { field: 'mix' });
  }
  return compileMix(doc.toJS(), file, env);
}

/**
 * The mix used when none is given: GET of the target URL's own path.
 * @example defaultMix('/health')
 */
export function defaultMix(path: string): CompiledMix {
  const endpoint = { name: 'default', method: 'GET', path: { parts: [path || '/'], slots: [] }, path_template: path || '/', headers: [], body: undefined, uses: [], expect: DEFAULT_EXPECT };
  return { name: 'default', endpoints: [endpoint], weights: [1], vars: [] };
}

// ─── request factory ─────────────────────────────────────────────────────────────────────────────────────────

/**
 * Builds request i of a run. Each request draws from its own PRNG stream (seed, i), so the content of request i
 * never depends on timing, drops, or how many requests came before it.
 * @example
 *   const f = new RequestFactory(loadMixFile('experiments/mixes/lab-default.yaml'), 42);
 *   f.build(0); // { endpoint: 0, method: 'GET', path: '/orders/7311', … } — every run with seed 42
 */
export class RequestFactory {
  readonly mix: CompiledMix;
  readonly #seed: number;
  readonly #prefix: string;
  readonly #cum: Float64Array;
  readonly #rng = new Rng(0);
  readonly #values: unknown[];
  readonly #keyTag: string;

  /** `prefix` is the target URL's path, prepended to every endpoint path (no trailing slash). */
  constructor(mix: CompiledMix, seed: number, prefix = '') {
    this.mix = mix;
    this.#seed = seed >>> 0;
    this.#prefix = prefix.replace(/\/+$/, '');
    const total = mix.weights.reduce((a, b) => a + b, 0);
    this.#cum = new Float64Array(mix.weights.length);
    let acc = 0;
    mix.weights.forEach((w, i) => (this.#cum[i] = acc += w / total));
    this.#values = new Array(mix.vars.length);
    this.#keyTag = hash32(this.#seed, STREAM.key).toString(16).padStart(8, '0');
  }

  /** The endpoint request i goes to (cheap: one draw), e.g. to count a request that is dropped unbuilt. */
  pick(i: number): number {
    this.#rng.reseed(hash32(this.#seed, STREAM.request, i));
    const u = this.#rng.float();
    const cum = this.#cum;
    for (let k = 0; k < cum.length - 1; k++) if (u < cum[k]) return k;
    return cum.length - 1;
  }

  /** Request i, byte for byte the same on every run with this seed. */
  build(i: number): PlannedRequest {
    const k = this.pick(i);
    const ep = this.mix.endpoints[k];
    const rng = this.#rng;
    const values = this.#values;
    for (const v of ep.uses) {
      const spec = this.mix.vars[v];
      switch (spec.type) {
        case 'int':
          values[v] = rng.int(spec.min, spec.max);
          break;
        case 'pick':
          values[v] = spec.values[Math.floor(rng.float() * spec.values.length)];
          break;
        case 'key':
          values[v] = `${spec.prefix}${this.#keyTag}-${i.toString(36).padStart(8, '0')}`;
          break;
        case 'uuid':
          values[v] = uuid(rng);
          break;
        case 'seq':
          values[v] = i;
          break;
      }
    }
    const headers: string[] = [];
    for (const h of ep.headers) headers.push(h.name, render(h.value, values));
    return {
      endpoint: k,
      method: ep.method,
      path: this.#prefix + render(ep.path, values),
      headers,
      body: ep.body ? render(ep.body, values) : undefined,
    };
  }
}

function uuid(rng: Rng): string {
  const h = (n: number): string => n.toString(16).padStart(8, '0');
  const a = h(rng.next());
  const b = h(rng.next());
  const c = h(rng.next());
  const d = h(rng.next());
  const variant = ((parseInt(c[0], 16) & 0x3) | 0x8).toString(16);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

/** Renders one planned request as HTTP/1.1 text (what `--dry-run` prints and determinism tests compare). */
export function requestText(r: PlannedRequest): string {
  let s = `${r.method} ${r.path} HTTP/1.1\r\n`;
  for (let k = 0; k < r.headers.length; k += 2) s += `${r.headers[k]}: ${r.headers[k + 1]}\r\n`;
  return `${s}\r\n${r.body ?? ''}`;
}
