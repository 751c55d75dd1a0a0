/**
 * `faultline load --export k6`: one load run written as a k6 script, for when one machine's worth of load is not
 * enough (k6-operator spreads it over a cluster; docs/scale-out.md). The script keeps what makes a faultline run
 * reproducible and honest:
 *
 *   schedule (constant | ramping) ─▶ options.scenarios.faultline: constant-arrival-rate | ramping-arrival-rate
 *                                    (open model; maxVUs = the in-flight cap, so k6 drops where faultline drops)
 *   mix + seed ────────────────────▶ MIX/CUM/SEED data + runtime.ts: iteration i (exec.scenario.iterationInTest)
 *                                    sends faultline's request i — same method, path, headers, body
 *   experiment SLIs (users' ones) ─▶ options.thresholds on http_req_duration / http_req_failed {name:<endpoint>}
 *
 * What k6 cannot express is refused with INVALID_INPUT rather than approximated: Poisson arrivals (k6's arrival-rate
 * executors space iterations evenly) and the breakpoint staircase (faultline judges each step; k6 would not stop).
 * Header values written `${ENV}` in the mix stay environment lookups (`k6 run -e NAME=…`): no token is baked in.
 */
import { readFileSync } from 'node:fs';
import { FaultlineError } from '../../core/errors.ts';
import type { ArrivalKind } from '../arrivals.ts';
import { EXECUTORS } from '../executors/index.ts';
import { compileMix, DEFAULT_EXPECT, defaultMix, type CompiledMix } from '../mix.ts';
import { hash32, STREAM } from '../prng.ts';
import type { ScheduleSpec } from '../run.ts';
import { parseDocument } from 'yaml';
import { K6_RUNTIME } from './runtime.ts';

/** The scenario name every exported script uses (k6 tags every sample with it: `scenario`). */
export const K6_SCENARIO = 'faultline';

/** What a threshold is made from: an experiment's SLI (the shape of src/runner/schema.ts's, structurally). */
export interface ThresholdSli {
  name: string;
  metric: 'latency_ms' | 'error_rate' | 'availability';
  quantile: number;
  source: 'users' | 'server';
  endpoint?: string;
  steady_state: number;
  slo_threshold?: number;
}

export interface K6ExportOptions {
  /** The URL faultline would load (origin + optional path prefix); `k6 run -e FAULTLINE_TARGET=…` overrides the origin. */
  target: string;
  schedule: ScheduleSpec;
  /** A mix file (its `${ENV}` header values stay lookups in the script) … */
  mixFile?: string;
  /** … or a mix object; neither = GET the target URL. */
  mix?: unknown;
  /** uint32; default: a random one (written into the script and returned). */
  seed?: number;
  arrivals?: ArrivalKind;
  /** faultline's in-flight cap: k6's maxVUs (one request per iteration, so busy VUs = requests in flight). */
  max_in_flight?: number;
  timeout_ms?: number;
  /** As `faultline load --error-status`: for endpoints without expect, statuses from this one up fail. */
  error_status_from?: number;
  /** SLIs whose thresholds go into options.thresholds (server-source ones are skipped: k6 cannot see them). */
  slis?: readonly ThresholdSli[];
  /** Where the script came from, for its header comment (e.g. the command line). */
  origin?: string;
}

export interface K6Export {
  script: string;
  seed: number;
  /** The k6 options object written into the script (what k6 validates). */
  options: K6Options;
  /** Things the reader of the script should know (skipped SLIs, rounded rates). */
  notes: string[];
}

export interface K6Scenario {
  executor: 'constant-arrival-rate' | 'ramping-arrival-rate';
  rate?: number;
  startRate?: number;
  timeUnit: string;
  duration?: string;
  stages?: { duration: string; target: number }[];
  preAllocatedVUs: number;
  maxVUs: number;
  gracefulStop: string;
}

export interface K6Options {
  discardResponseBodies: boolean;
  scenarios: Record<string, K6Scenario>;
  thresholds: Record<string, string[]>;
}

const invalid = (field: string, message: string, hint?: string): FaultlineError =>
  new FaultlineError('INVALID_INPUT', `${field}: ${message}`, { field, ...(hint ? { hint } : {}) });

/** A Go duration k6 reads: whole seconds as "30s", anything else in ms ("1500ms"). */
export function k6Duration(ms: number): string {
  const r = Math.round(ms);
  return r % 1000 === 0 ? `${r / 1000}s` : `${r}ms`;
}

/**
 * k6 takes integer iterations per timeUnit: the smallest timeUnit of 1, 10, 100 or 1000 s that makes every rate
 * whole (12.5/s → 25 per 2 s is not on the list; 125 per 10 s is). Rates finer than 1/1000 s are rounded (noted).
 */
function timeUnitFor(rates: number[], notes: string[]): number {
  for (const m of [1, 10, 100, 1000]) if (rates.every((r) => Math.abs(r * m - Math.round(r * m)) < 1e-6)) return m;
  notes.push(`rates ${rates.join(', ')}/s rounded to whole iterations per 1000s`);
  return 1000;
}

const ENV_OPEN = '\uE010';
const ENV_CLOSE = '\uE011';

/**
 * Compiles a mix file keeping its `${NAME}` / `${NAME:-default}` header lookups as markers the script resolves
 * from k6's `__ENV` at start; returns the defaults found in the file.
 */
function mixWithEnvLookups(file: string): { mix: CompiledMix; defaults: Record<string, string | null> } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FaultlineError('INVALID_INPUT', `--mix: cannot read ${file}: ${(err as Error).message}`, { field: '--mix', cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new FaultlineError('INVALID_INPUT', `${file} is not valid YAML: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`, { field: 'mix' });
  const defaults: Record<string, string | null> = {};
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g)) if (!(m[1] in defaults)) defaults[m[1]] = m[2] ?? null;
  const env = new Proxy({} as NodeJS.ProcessEnv, { get: (_t, name) => (typeof name === 'string' ? `${ENV_OPEN}${name}${ENV_CLOSE}` : undefined) });
  return { mix: compileMix(doc.toJS(), file, env), defaults };
}

/** JSON with every non-ASCII character escaped, so the script is plain ASCII whatever the mix holds. */
const ascii = (value: unknown, indent = 0): string => JSON.stringify(value, null, indent).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function scenarioOf(spec: ScheduleSpec, maxInFlight: number, timeoutMs: number, notes: string[]): K6Scenario {
  const def = EXECUTORS.get(spec.executor);
  const parsed = def?.schema.safeParse(spec);
  if (!parsed?.success) throw invalid('schedule', parsed ? parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : `unknown executor "${spec.executor}"`);
  const gracefulStop = k6Duration(timeoutMs + 1000);
  // Little's law at the peak rate with 1 s in flight each: what a healthy run needs; k6 adds VUs up to maxVUs.
  const vus = (peak: number): { preAllocatedVUs: number; maxVUs: number } => ({ preAllocatedVUs: Math.max(1, Math.min(maxInFlight, Math.ceil(peak))), maxVUs: maxInFlight });
  if (spec.executor === 'constant') {
    const m = timeUnitFor([spec.rate_rps], notes);
    return { executor: 'constant-arrival-rate', rate: Math.round(spec.rate_rps * m), timeUnit: `${m}s`, duration: k6Duration(spec.duration_ms), ...vus(spec.rate_rps), gracefulStop };
  }
  if (spec.executor === 'ramping') {
    const start = spec.start_rps ?? 0;
    const rates = [start, ...spec.stages.map((s) => s.target_rps)];
    const m = timeUnitFor(rates, notes);
    return {
      executor: 'ramping-arrival-rate',
      startRate: Math.round(start * m),
      timeUnit: `${m}s`,
      stages: spec.stages.map((s) => ({ duration: k6Duration(s.duration_ms), target: Math.round(s.target_rps * m) })),
      ...vus(Math.max(...rates)),
      gracefulStop,
    };
  }
  throw invalid('schedule.executor', `k6 export takes constant or ramping schedules (got "${spec.executor}")`, 'a breakpoint staircase is judged step by step by faultline: run `faultline breakpoint` on one machine');
}

/** k6 thresholds from the users' SLIs: the bound that must hold over the whole run (the SLO under fault). */
function thresholdsOf(slis: readonly ThresholdSli[], endpoints: readonly string[], notes: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (key: string, expr: string): void => void (out[key] ??= []).push(expr);
  for (const s of slis) {
    if (s.source !== 'users' || s.endpoint === undefined || !endpoints.includes(s.endpoint)) {
      notes.push(`SLI ${s.name}: no threshold (${s.source === 'server' ? "a server-source SLI: k6 sees only the users' side" : 'no mix endpoint'})`);
      continue;
    }
    const bound = s.slo_threshold ?? s.steady_state;
    const tag = `{name:${s.endpoint}}`;
    if (s.metric === 'latency_ms') add(`http_req_duration${tag}`, `p(${+(s.quantile * 100).toFixed(4)})<${bound}`);
    else if (s.metric === 'error_rate') add(`http_req_failed${tag}`, `rate<${bound}`);
    else add(`http_req_failed${tag}`, `rate<=${+(1 - bound).toFixed(12)}`);
  }
  return out;
}

/**
 * Writes the k6 script for one load run. Throws INVALID_INPUT naming the field for what k6 cannot express.
 * @example
 *   const { script } = exportK6({ target: 'http://127.0.0.1:8080', mixFile: 'experiments/mixes/lab-default.yaml', seed: 42,
 *                                 schedule: { executor: 'constant', rate_rps: 300, duration_ms: 60_000 } });
 *   writeFileSync('load.js', script); // k6 run --out json=results.json load.js
 */
export function exportK6(o: K6ExportOptions): K6Export {
  const notes: string[] = [];
  if ((o.arrivals ?? 'uniform') !== 'uniform') {
    throw invalid('--arrivals', `k6's arrival-rate executors space iterations evenly; export needs uniform (got "${o.arrivals}")`);
  }
  let url: URL;
  try {
    url = new URL(o.target);
  } catch {
    throw invalid('--target', `"${o.target}" is not a URL`, 'e.g. http://127.0.0.1:8080');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('--target', `protocol must be http: or https: (got ${url.protocol})`);
  if (o.mix !== undefined && o.mixFile !== undefined) throw invalid('mix', 'give mix or mixFile, not both');
  const seed = o.seed ?? Math.floor(Math.random() * 0x100000000) >>> 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw invalid('--seed', `must be a uint32 (got ${seed})`);
  const maxInFlight = o.max_in_flight ?? 10_000;
  const timeoutMs = o.timeout_ms ?? 10_000;
  const withMix = o.mixFile !== undefined || o.mix !== undefined;
  const { mix, defaults } = o.mixFile !== undefined ? mixWithEnvLookups(o.mixFile) : { mix: o.mix !== undefined ? compileMix(o.mix) : defaultMix(url.pathname + url.search), defaults: {} };
  // The same prefix rule as the load generator (run.ts): a mix's paths go under the target URL's path.
  const prefix = withMix ? url.pathname.replace(/\/+$/, '') : '';
  const scenario = scenarioOf(o.schedule, maxInFlight, timeoutMs, notes);
  const names = mix.endpoints.map((e) => e.name);
  const options: K6Options = {
    discardResponseBodies: true,
    scenarios: { [K6_SCENARIO]: scenario },
    thresholds: thresholdsOf(o.slis ?? [], names, notes),
  };
  const from = o.error_status_from;
  const expect = mix.endpoints.map((e) => (from !== undefined && e.expect === DEFAULT_EXPECT ? [[200, from - 1] as const] : e.expect));
  const total = mix.weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  const cum = mix.weights.map((w) => (acc += w / total));
  const data = {
    vars: mix.vars,
    endpoints: mix.endpoints.map((e) => ({ name: e.name, method: e.method, path: e.path, headers: e.headers, body: e.body ?? null, uses: e.uses })),
  };
  const header = [
    `// k6 script exported by faultline${o.origin ? `: ${o.origin}` : ''}`,
    `// mix "${mix.name}", seed ${seed}: iteration i sends faultline's request i for this seed (methods, paths, headers, bodies).`,
    '// Run: k6 run --out json=results.json -e FAULTLINE_TARGET=http://host:port script.js',
    "// then judge with faultline from results.json (src/load/k6/results.ts). Re-export rather than edit.",
    ...notes.map((n) => `// note: ${n}`),
  ];
  const script = `${header.join('\n')}
import http from 'k6/http';
import exec from 'k6/execution';

export const options = ${ascii(options, 2)};

const SEED = ${seed};
const KEY_TAG = ${JSON.stringify(hash32(seed, STREAM.key).toString(16).padStart(8, '0'))};
const PREFIX = ${ascii(prefix)};
const CUM = ${JSON.stringify(cum)};
const MIX = ${ascii(data)};
const EXPECTED = ${JSON.stringify(expect)}.map((ranges) => http.expectedStatuses(...ranges.map((r) => (r[0] === r[1] ? r[0] : { min: r[0], max: r[1] }))));
const TIMEOUT = ${JSON.stringify(k6Duration(timeoutMs))};
const BASE = (__ENV.FAULTLINE_TARGET || ${ascii(url.origin)}).replace(/\\/+$/, '');

// Header values the mix reads from the environment: k6 run -e NAME=value (defaults as in the mix file).
const ENV_DEFAULTS = ${ascii(defaults)};
for (const ep of MIX.endpoints) {
  for (const h of ep.headers) {
    h.value.parts = h.value.parts.map((p) => p.replace(/\\u${ENV_OPEN.charCodeAt(0).toString(16)}([A-Za-z_][A-Za-z0-9_]*)\\u${ENV_CLOSE.charCodeAt(0).toString(16)}/g, (_m, name) => {
      const v = __ENV[name] !== undefined ? __ENV[name] : ENV_DEFAULTS[name];
      if (v === undefined || v === null) throw new Error('environment variable ' + name + ' is not set: k6 run -e ' + name + '=...');
      return v;
    }));
  }
}
${K6_RUNTIME}
export default function () {
  const r = build(exec.scenario.iterationInTest);
  http.request(r.method, BASE + r.path, r.body, { headers: r.headers, tags: { name: r.name }, timeout: TIMEOUT, responseCallback: EXPECTED[r.endpoint] });
}
`;
  return { script, seed, options, notes };
}
