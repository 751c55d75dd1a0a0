/**
 * A verdict judged from a k6 `--out json` file agrees with the same run judged from faultline's own records.
 * k6 cannot be installed here, so the k6 file is WRITTEN by this test, in k6's documented JSON output format
 * (results-output/real-time/json: `Metric` lines, then one `Point` line per sample with RFC 3339 ns times and the
 * tags method/url/name/status/scenario/expected_response/error_code; one request = its http_req_* samples sharing
 * time and tags; a request without a status carries k6's error_code; dropped iterations are `dropped_iterations`
 * points), from the samples of a REAL faultline load run against a loopback server: each RequestRecord becomes the
 * samples k6 would have written for that request. The reader must turn them back into the same evidence.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { RequestLog } from '../../metrics/requests.ts';
import { SeriesStore } from '../../metrics/store.ts';
import { loadMixFile } from '../mix.ts';
import { planRequests, runLoad, type LoadOptions } from '../run.ts';
import type { RequestRecord } from '../samples.ts';
import { startServer, type Behaviour } from '../testing.ts';
// The runner is above load: only this test reaches up, to judge both sources with the one verdict function.
import { computeVerdict, integrityNotChecked, type Marks } from '../../runner/evaluate.ts';
import { parseExperiment } from '../../runner/schema.ts';
import { k6Endpoints, k6Time, readK6Results, type K6Endpoint } from './results.ts';

const MIX = resolve('experiments/mixes/lab-default.yaml');
const dir = mkdtempSync(join(tmpdir(), 'fl-k6-results-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const mix = loadMixFile(MIX);
const ENDPOINTS: K6Endpoint[] = k6Endpoints(mix);

/** RFC 3339 with ns digits and a +02:00 offset, as k6 writes local times. */
function rfc3339(ms: number): string {
  const whole = Math.floor(ms);
  const ns = Math.round((ms - whole) * 1e6);
  const local = new Date(whole + 2 * 3_600_000).toISOString().slice(0, 19);
  return `${local}.${String(whole % 1000).padStart(3, '0')}${String(ns).padStart(6, '0')}+02:00`;
}

/** The samples k6 writes for the requests of a run: what `k6 run --out json` of the exported script would hold. */
function k6Json(records: RequestRecord[], o: LoadOptions, origin: string): string {
  const planned = new Map([...planRequests(o)].map((p) => [p.i, p.request]));
  const metric = (name: string, type: string, contains = 'default'): string => JSON.stringify({ type: 'Metric', data: { name, type, contains, thresholds: [], submetrics: null }, metric: name });
  const point = (name: string, time: string, value: number, tags: Record<string, string> | null): string => JSON.stringify({ type: 'Point', data: { time, value, tags }, metric: name });
  const out = [metric('http_reqs', 'counter'), metric('http_req_duration', 'trend', 'time'), metric('http_req_blocked', 'trend', 'time'), metric('http_req_failed', 'rate'), metric('dropped_iterations', 'counter'), metric('vus', 'gauge')];
  const code = { timeout: '1050', refused: '1212', reset: '1220' } as Record<string, string>;
  for (const r of [...records].sort((a, b) => a.done_ms - b.done_ms)) {
    const time = rfc3339(r.done_ms);
    if (r.outcome === 'dropped') {
      out.push(point('dropped_iterations', time, 1, { scenario: 'faultline' }));
      continue;
    }
    const req = planned.get(r.i)!;
    const ep = mix.endpoints[r.endpoint];
    const tags: Record<string, string> = { expected_response: String(r.outcome === 'ok'), group: '', method: req.method, name: ep.name, proto: 'HTTP/1.1', scenario: 'faultline', status: String(r.status), url: origin + req.path };
    if (r.status === 0) tags.error_code = code[r.outcome];
    const latency = r.done_ms - r.intended_ms;
    // k6 splits a request's time: blocked (waiting for a connection) before http_req_duration.
    const blocked = latency / 8;
    out.push(point('http_reqs', time, 1, tags), point('http_req_duration', time, latency - blocked, tags), point('http_req_blocked', time, blocked, tags), point('http_req_failed', time, r.outcome === 'ok' ? 0 : 1, tags));
  }
  out.push(point('vus', rfc3339(records[0]?.done_ms ?? 0), 12, null));
  return `${out.join('\n')}\n`;
}

/** Equal, numbers within 1e-6 relative (a latency rebuilt from done − (duration + blocked) is not bit-exact). */
function close(a: unknown, b: unknown, path = 'verdict'): void {
  if (typeof a === 'number' && typeof b === 'number') {
    assert.ok(a === b || Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b)), `${path}: ${a} vs ${b}`);
    return;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return assert.deepEqual(a, b, path);
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), path);
  for (const k of Object.keys(a)) close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
}

const experiment = (timeout_ms: number) =>
  parseExperiment(
    {
      title: 'k6 agreement',
      hypothesis: {
        name: 'writes within 150 ms p99 and < 5 % errors; reads ≥ 95 % available',
        window_s: 1,
        sli: [
          { name: 'write_p99_ms', metric: 'latency_ms', quantile: 0.99, endpoint: 'create_order', steady_state: 150, slo_threshold: 150 },
          { name: 'write_errors', metric: 'error_rate', endpoint: 'create_order', steady_state: 0.05 },
          { name: 'read_availability', metric: 'availability', endpoint: 'get_order', steady_state: 0.95, critical: true },
        ],
      },
      windows: { warmup_s: 0, baseline_s: 1, fault_s: 2, recovery_s: 1 },
      load: { rate: 150, mix: MIX, seed: 21, timeout_ms },
      faults: [{ type: 'latency', target: 'payments' }],
      recovery: { consecutive_s: 1 },
      integrity: { enabled: false },
    },
    join(dir, 'exp.yaml'),
  );

/** A real faultline run against a loopback server that degrades between 1 s and 3 s: slow writes, failing reads. */
async function realRun(maxInFlight?: number): Promise<{ records: RequestRecord[]; o: LoadOptions; origin: string; t0: number }> {
  let t0 = 0;
  const faulty = (): boolean => Date.now() - t0 >= 1000 && Date.now() - t0 < 3000;
  const behaviour: Behaviour = (req, res) => {
    const n = Number(/\d+$/.exec(req.url)?.[0] ?? JSON.parse(req.body || '{}').amount_cents ?? 0);
    if (req.method === 'GET') {
      if (n % (faulty() ? 4 : 50) === 0) return void res.writeHead(503).end();
      return void res.writeHead(200).end('{}');
    }
    // Under the fault one write in 3 is slow (past the 300 ms timeout for some); otherwise 201 after 2 ms.
    const wait = faulty() && n % 3 === 0 ? 200 + (n % 200) : 2;
    setTimeout(() => res.writeHead(201).end('{}'), wait);
  };
  const srv = await startServer(behaviour, { record: false });
  const records: RequestRecord[] = [];
  const o: LoadOptions = { target: srv.url, seed: 21, mixFile: MIX, schedule: { executor: 'constant', rate_rps: 150, duration_ms: 4000 }, timeout_ms: 300, max_lag_ms: 1000, ...(maxInFlight ? { max_in_flight: maxInFlight } : {}) };
  try {
    t0 = Date.now();
    await runLoad({ ...o, on_request: (r) => records.push({ ...r }) }).result;
  } finally {
    await srv.close();
  }
  return { records, o, origin: srv.url, t0 };
}

function judge(requests: RequestLog, t0: number, timeout_ms: number) {
  const marks: Marks = { start: t0, baseline_start: t0, fault_start: t0 + 1000, first_inject: t0 + 1000, last_revert: t0 + 3000, fault_end: t0 + 3000, recovery_end: t0 + 4000 };
  return computeVerdict({ experiment: experiment(timeout_ms), store: new SeriesStore(), requests, marks, integrity: integrityNotChecked('not checked in this test') });
}

test('k6 times with ns digits and offsets keep their sub-ms part', () => {
  assert.equal(k6Time('1970-01-01T00:00:01.0000015Z'), 1000.0015);
  assert.equal(k6Time('1970-01-01T02:00:01.25+02:00'), 1250);
  assert.ok(Number.isNaN(k6Time('yesterday')));
});

test('a verdict from a k6 JSON results file agrees with the same run judged from faultline\'s records', async () => {
  const { records, o, origin, t0 } = await realRun();
  const outcomes = new Set(records.map((r) => r.outcome));
  assert.ok(outcomes.has('ok') && outcomes.has('http_5xx') && outcomes.has('timeout'), `the run has ok, 5xx and timeouts (${[...outcomes]})`);
  const own = new RequestLog(ENDPOINTS.map((e) => e.name), 300);
  for (const r of records) own.add(r);

  const file = join(dir, 'results.json');
  writeFileSync(file, k6Json(records, o, origin));
  const ev = await readK6Results(file, ENDPOINTS, { timeout_ms: 300 });
  assert.equal(ev.coordinated_omission_free, false);
  assert.equal(ev.counts.requests, records.length);
  assert.equal(ev.counts.unmatched, 0);
  for (const outcome of outcomes) assert.equal(ev.counts.outcomes[outcome], records.filter((r) => r.outcome === outcome).length, outcome);

  const a = judge(own, t0, 300);
  const b = judge(ev.requests, t0, 300);
  assert.notEqual(a.result, 'held', `the degradation shows (${a.result}: ${a.reasons.join('; ')})`);
  close(b, a);

  // Gzipped (k6 run --out json=results.gz) and without the name tag (matched by method + URL instead).
  const untagged = k6Json(records, o, origin).replace(/"name":"[a-z_]+",/g, '');
  writeFileSync(`${file}.gz`, gzipSync(untagged));
  const ev2 = await readK6Results(`${file}.gz`, ENDPOINTS, { timeout_ms: 300 });
  close(judge(ev2.requests, t0, 300), a);
});

test('dropped iterations count as drops, spread over the endpoints by weight', async () => {
  const { records, o, origin, t0 } = await realRun(4);
  const drops = records.filter((r) => r.outcome === 'dropped');
  assert.ok(drops.length > 10, `the in-flight cap dropped arrivals (${drops.length})`);
  const file = join(dir, 'drops.json');
  writeFileSync(file, k6Json(records, o, origin));
  const ev = await readK6Results(file, ENDPOINTS, { timeout_ms: 300 });
  assert.equal(ev.counts.dropped, drops.length);
  assert.equal(ev.counts.outcomes.dropped, drops.length);
  assert.ok(ev.notes.some((n) => n.includes('dropped')));
  // Per endpoint the drops follow the mix's 80/20 weights (k6 does not say which endpoint a dropped one was for).
  const reads = [...ev.requests.records()].filter((r) => r.outcome === 'dropped' && r.endpoint === 0).length;
  assert.ok(Math.abs(reads - drops.length * 0.8) <= 1, `${reads} of ${drops.length} drops on get_order`);
  // The verdict: the same result; each SLI within what the attribution of drops can move.
  const own = new RequestLog(ENDPOINTS.map((e) => e.name), 300);
  for (const r of records) own.add(r);
  const a = judge(own, t0, 300);
  const b = judge(ev.requests, t0, 300);
  assert.equal(b.result, a.result);
  const total = (l: RequestLog): number => [...l.records()].length;
  assert.equal(total(ev.requests), total(own));
});

test('bad input is refused with the file and line', async () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, '{"type":"Metric","metric":"vus","data":{}}\nnot json\n');
  await assert.rejects(readK6Results(file, ENDPOINTS), (e: Error & { code?: string }) => e.code === 'INVALID_INPUT' && /bad\.json:2/.test(e.message));
  await assert.rejects(readK6Results(join(dir, 'missing.json'), ENDPOINTS), (e: Error & { code?: string }) => e.code === 'INVALID_INPUT');
});
