/**
 * Reads a k6 run's `--out json` file (NDJSON of `Metric` and `Point` lines, optionally gzipped) into the users'
 * evidence faultline's own SLIs are computed from: a RequestLog of per-request records (src/metrics/requests.ts),
 * so a verdict judged from k6's results follows the very same rules of evidence as one judged from faultline's
 * own generator. This module alone owns the mapping from k6's samples to those records:
 *
 *   Point http_req_duration ──┬─ join (same time + tags) ─ http_req_blocked/connecting/tls_handshaking, http_req_failed
 *                             └─▶ record { endpoint (tag name, else method + url against the mix), done = sample time,
 *                                          intended = done − latency, outcome (expected_response / status / error_code) }
 *   Point dropped_iterations ───▶ record { outcome: dropped } × value, endpoints by the mix's weights
 *   everything else (vus, iterations, data_*, checks, Metric lines) is ignored
 *
 * Honesty about the latency: k6 times a request from when its iteration sent it (blocked + connecting + TLS +
 * duration), and its arrival-rate executors start an iteration on schedule only when a VU is free (else they drop
 * it, counted here). Any delay between the scheduled start and the send is invisible to k6, so these latencies are
 * NOT coordinated-omission-free: the evidence says so (`coordinated_omission_free: false`) for the report to show.
 * Dropped iterations carry no endpoint in k6's output; they are spread over the endpoints by the mix's weights
 * (largest remainder, deterministic), which is what faultline's own generator would have sent in expectation.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { FaultlineError } from '../../core/errors.ts';
import { RequestLog } from '../../metrics/requests.ts';
import { isExpected, type CompiledMix } from '../mix.ts';
import { OUTCOMES, type Outcome, type OutcomeCounts, type RequestRecord } from '../samples.ts';

/** What the reader needs of each mix endpoint (a CompiledMix's endpoints fit, with its weights). */
export interface K6Endpoint {
  name: string;
  method: string;
  /** The path as written in the mix (`/orders/{order_id}`). */
  path_template: string;
  weight: number;
  /** Statuses that count as ok when k6's sample has no expected_response tag; default 200–399. */
  expect?: readonly (readonly [number, number])[];
}

/** A compiled mix's endpoints with their weights, in mix order: what readK6Results attributes samples to. */
export function k6Endpoints(mix: CompiledMix): K6Endpoint[] {
  return mix.endpoints.map((e, k) => ({ name: e.name, method: e.method, path_template: e.path_template, weight: mix.weights[k], expect: e.expect }));
}

export interface K6Evidence {
  /** Per-request records, the users' source every users' SLI is computed from. */
  requests: RequestLog;
  /** Always false for k6: latency is timed from the send, not from the scheduled start (see the module comment). */
  coordinated_omission_free: false;
  /** One line for the report, beside the figures. */
  latency_basis: string;
  counts: {
    /** Point lines read (every metric). */
    points: number;
    /** Requests (http_req_duration samples) matched to an endpoint. */
    requests: number;
    dropped: number;
    /** Requests whose endpoint could not be told (no name tag of the mix, no method + URL match): left out. */
    unmatched: number;
    outcomes: OutcomeCounts;
  };
  /** Epoch ms of the first intended start and the last completion (null for an empty file). */
  t0_ms: number | null;
  t1_ms: number | null;
  notes: string[];
}

export const K6_LATENCY_BASIS =
  "k6's request timings (blocked + connecting + TLS + http_req_duration) from when its iteration sent the request; not coordinated-omission-free (a late send is invisible), iterations k6 could not start are counted as drops";

interface K6Line {
  type?: string;
  metric?: string;
  data?: { time?: string; value?: number; tags?: Record<string, string> | null };
}

/**
 * RFC 3339 with up to ns ("2017-05-09T14:34:45.239531499+02:00") → epoch ms with the sub-ms part kept.
 * @example k6Time('1970-01-01T00:00:01.0000015Z') // 1000.0015
 */
export function k6Time(text: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  const base = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(base)) return NaN;
  return base + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** k6's error codes (docs: javascript-api/error-codes) for a request that got no status. */
function noStatusOutcome(errorCode: string | undefined): Outcome {
  const code = Number(errorCode);
  if (code === 1050 || code === 1211) return 'timeout'; // request timeout; TCP dial timeout
  if (code === 1212) return 'refused'; // TCP dial: connection refused
  return 'reset';
}

function statusOutcome(status: number, ok: boolean): Outcome {
  if (ok) return 'ok';
  if (status >= 400 && status < 500) return 'http_4xx';
  if (status >= 500 && status < 600) return 'http_5xx';
  return 'http_other';
}

/** `/orders/{order_id}` → a pattern for a URL's path (and query), under any prefix (the target URL's path). */
function pathPattern(template: string): RegExp {
  const esc = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, '[^/?&#]*');
  return new RegExp(`^(?:/.*)?${esc}$`);
}

/** Which endpoint a k6 request sample belongs to, by its `name` tag, else by method and URL. */
function endpointMatcher(endpoints: readonly K6Endpoint[]): (tags: Record<string, string>) => number {
  const byName = new Map(endpoints.map((e, k) => [e.name, k]));
  const patterns = endpoints.map((e) => ({ method: e.method, re: pathPattern(e.path_template) }));
  return (tags) => {
    const named = tags.name !== undefined ? byName.get(tags.name) : undefined;
    if (named !== undefined) return named;
    let path: string;
    try {
      const u = new URL(tags.url ?? tags.name ?? '');
      path = u.pathname + u.search;
    } catch {
      return -1;
    }
    const hits = patterns.flatMap((p, k) => (p.method === tags.method && p.re.test(path) ? [k] : []));
    // The most specific template wins (the longest), so /orders/{id} and /orders/{id}/items stay apart.
    hits.sort((a, b) => endpoints[b].path_template.length - endpoints[a].path_template.length);
    return hits[0] ?? -1;
  };
}

/** Spreads drops over endpoints in proportion to their weights, deterministically (largest remainder). */
function dropSpreader(endpoints: readonly K6Endpoint[]): () => number {
  const total = endpoints.reduce((a, e) => a + e.weight, 0);
  const given = endpoints.map(() => 0);
  let n = 0;
  return () => {
    n++;
    let best = 0;
    let gap = -Infinity;
    endpoints.forEach((e, k) => {
      const g = (n * e.weight) / total - given[k];
      if (g > gap + 1e-12) {
        gap = g;
        best = k;
      }
    });
    given[best]++;
    return best;
  };
}

const TIMING_PARTS = new Set(['http_req_blocked', 'http_req_connecting', 'http_req_tls_handshaking']);

interface Pending {
  at: number;
  tags: Record<string, string>;
  duration?: number;
  extra: number;
  failed?: number;
}

/**
 * Reads a k6 `--out json` results file (`.gz` too) into users' evidence for the given mix endpoints, in that
 * order (the RequestLog's endpoint indices are theirs; pass the experiment's mix so SLIs find their endpoints).
 * `timeout_ms` is the users' timeout (the experiment's load.timeout_ms): an outstanding request older than it fails.
 * @example
 *   const ev = await readK6Results('results.json', k6Endpoints(loadMixFile(exp.mix_path)), { timeout_ms: exp.load.timeout_ms });
 *   computeVerdict({ experiment: exp, store, requests: ev.requests, marks, … }); // + ev.latency_basis in the report
 */
export async function readK6Results(file: string, endpoints: readonly K6Endpoint[], opts: { timeout_ms?: number; scenario?: string } = {}): Promise<K6Evidence> {
  if (endpoints.length === 0) throw new FaultlineError('INVALID_INPUT', 'k6 results: no endpoints to attribute requests to', { field: 'endpoints' });
  const requests = new RequestLog(endpoints.map((e) => e.name), opts.timeout_ms ?? 10_000);
  const match = endpointMatcher(endpoints);
  const spread = dropSpreader(endpoints);
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as OutcomeCounts;
  const counts: K6Evidence['counts'] = { points: 0, requests: 0, dropped: 0, unmatched: 0, outcomes };
  let t0 = Infinity;
  let t1 = -Infinity;
  let i = 0;
  const add = (r: Omit<RequestRecord, 'i'>): void => {
    requests.add({ i: i++, ...r });
    outcomes[r.outcome]++;
    t0 = Math.min(t0, r.intended_ms);
    t1 = Math.max(t1, r.done_ms);
  };
  // The samples of one request share their time and tags and come out together: join them under that key.
  const pending = new Map<string, Pending>();
  const settle = (p: Pending): void => {
    if (p.duration === undefined) return;
    const ep = match(p.tags);
    if (ep < 0) {
      counts.unmatched++;
      return;
    }
    counts.requests++;
    const status = Number(p.tags.status ?? 0);
    let outcome: Outcome;
    if (!(status > 0)) outcome = noStatusOutcome(p.tags.error_code);
    else if (p.tags.expected_response !== undefined) outcome = statusOutcome(status, p.tags.expected_response === 'true');
    else if (p.failed !== undefined) outcome = statusOutcome(status, p.failed === 0);
    else outcome = statusOutcome(status, isExpected(endpoints[ep].expect ?? [[200, 399]], status));
    add({ endpoint: ep, intended_ms: p.at - (p.duration + p.extra), done_ms: p.at, outcome, status: status > 0 ? status : 0 });
  };

  const raw = createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', (err) => reject(new FaultlineError('INVALID_INPUT', `k6 results: cannot read ${file}: ${err.message}`, { field: 'results', cause: err })));
  });
  await opened;
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const text of lines) {
      lineNo++;
      if (text.trim() === '') continue;
      let line: K6Line;
      try {
        line = JSON.parse(text) as K6Line;
      } catch {
        throw new FaultlineError('INVALID_INPUT', `k6 results: ${file}:${lineNo} is not JSON (expected k6's --out json lines)`, { field: 'results' });
      }
      if (line.type !== 'Point') continue;
      counts.points++;
      const d = line.data;
      const metric = line.metric ?? '';
      if (!d || typeof d.time !== 'string' || typeof d.value !== 'number') {
        throw new FaultlineError('INVALID_INPUT', `k6 results: ${file}:${lineNo}: a Point needs data.time and a numeric data.value`, { field: 'results' });
      }
      const tags = d.tags ?? {};
      if (opts.scenario !== undefined && tags.scenario !== undefined && tags.scenario !== opts.scenario) continue;
      const at = k6Time(d.time);
      if (Number.isNaN(at)) throw new FaultlineError('INVALID_INPUT', `k6 results: ${file}:${lineNo}: data.time "${d.time}" is not RFC 3339`, { field: 'results' });
      if (metric === 'dropped_iterations') {
        for (let k = 0; k < d.value; k++) {
          counts.dropped++;
          add({ endpoint: spread(), intended_ms: at, done_ms: at, outcome: 'dropped', status: 0 });
        }
        continue;
      }
      if (metric !== 'http_req_duration' && metric !== 'http_req_failed' && !TIMING_PARTS.has(metric)) continue;
      const key = `${d.time}|${JSON.stringify(tags)}`;
      let p = pending.get(key);
      if (!p) {
        p = { at, tags, extra: 0 };
        pending.set(key, p);
        // A request's samples are adjacent: anything this far back is complete.
        if (pending.size > 4096) {
          const [oldKey, old] = pending.entries().next().value as [string, Pending];
          pending.delete(oldKey);
          settle(old);
        }
      }
      if (metric === 'http_req_duration') p.duration = d.value;
      else if (metric === 'http_req_failed') p.failed = d.value;
      else p.extra += d.value;
    }
  } finally {
    lines.close();
    raw.destroy();
  }
  for (const p of pending.values()) settle(p);
  const notes: string[] = [];
  if (counts.unmatched > 0) notes.push(`${counts.unmatched} k6 request(s) matched no mix endpoint (by name tag, or method and URL) and were left out`);
  if (counts.dropped > 0) notes.push(`${counts.dropped} dropped iteration(s) (k6 had no free VU) counted as drops, spread over endpoints by the mix's weights`);
  return {
    requests,
    coordinated_omission_free: false,
    latency_basis: K6_LATENCY_BASIS,
    counts,
    t0_ms: Number.isFinite(t0) ? t0 : null,
    t1_ms: Number.isFinite(t1) ? t1 : null,
    notes,
  };
}
