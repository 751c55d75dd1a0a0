/**
 * The exported k6 script against k6's documented script API — k6 cannot be installed here, so:
 *   - the script is imported as a real ES module by Node's loader, with `k6/http` and `k6/execution` resolved to a
 *     tiny STUB that stands in for k6 (it records every `http.request` call; `exec.scenario.iterationInTest` is
 *     the iteration the test drives), and `__ENV` as k6 would give it;
 *   - its `options` are checked against k6's documented scenario schema (constant-arrival-rate /
 *     ramping-arrival-rate fields, types, required keys, threshold syntax; unknown keys are errors in k6);
 *   - k6's documented arrival-rate timing (`rate` iterations per `timeUnit`, evenly spaced; linear ramps between
 *     stage targets) is replayed from those options to give each iteration its start time;
 * and then the requests it records for a seed must equal what faultline sends for that seed, request for request
 * (method, URL, headers, body, endpoint tag) and second for second (iterations started per second).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FaultlineError } from '../../core/errors.ts';
import type { MixSpec } from '../mix.ts';
import { planRequests, runLoad, type LoadOptions, type ScheduleSpec } from '../run.ts';
import { startServer, answer } from '../testing.ts';
import { exportK6, type K6Options, type K6Scenario } from './export.ts';

const MIX = 'experiments/mixes/lab-default.yaml';
const ROOT = new URL('../../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fl-k6-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// ── the k6 stub ────────────────────────────────────────────────────────────────────────────────────────────────
interface Call {
  method: string;
  url: string;
  body: string | null;
  params: { headers: Record<string, string>; tags: Record<string, string>; timeout: string; responseCallback: { expected: unknown[] } };
}
const k6 = {
  calls: [] as Call[],
  iteration: 0,
  http: {
    request(method: string, url: string, body: string | null, params: Call['params']): object {
      k6.calls.push({ method, url, body, params });
      return { status: 200 };
    },
    expectedStatuses: (...expected: unknown[]) => ({ expected }),
  },
  exec: { scenario: { get iterationInTest() { return k6.iteration; } } },
};
(globalThis as Record<string, unknown>).__k6stub = k6;
register(
  `data:text/javascript,${encodeURIComponent(`
    const stubs = { 'k6/http': 'export default globalThis.__k6stub.http;', 'k6/execution': 'export default globalThis.__k6stub.exec;' };
    export async function resolve(specifier, context, next) {
      if (specifier in stubs) return { url: 'data:text/javascript,' + encodeURIComponent(stubs[specifier]), shortCircuit: true };
      return next(specifier, context);
    }`)}`,
);

let loaded = 0;
/** Imports a generated script as k6 would evaluate it: an ES module, init code once, `default` per iteration. */
async function load(script: string, env: Record<string, string> = {}): Promise<{ options: K6Options; run: (i: number) => Call }> {
  (globalThis as Record<string, unknown>).__ENV = env;
  const file = join(dir, `script-${loaded++}.mjs`);
  writeFileSync(file, script);
  const mod = (await import(pathToFileURL(file).href)) as { options: K6Options; default: () => void };
  return {
    options: mod.options,
    run: (i) => {
      k6.iteration = i;
      const before = k6.calls.length;
      mod.default();
      assert.equal(k6.calls.length, before + 1, 'one request per iteration');
      return k6.calls[before];
    },
  };
}

// ── k6's documented options schema ─────────────────────────────────────────────────────────────────────────────
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const COMMON = ['executor', 'startTime', 'gracefulStop', 'exec', 'env', 'tags'];
const FIELDS: Record<K6Scenario['executor'], { required: string[]; optional: string[] }> = {
  'constant-arrival-rate': { required: ['rate', 'duration', 'preAllocatedVUs'], optional: ['timeUnit', 'maxVUs'] },
  'ramping-arrival-rate': { required: ['stages', 'preAllocatedVUs'], optional: ['startRate', 'timeUnit', 'maxVUs'] },
};
const isInt = (x: unknown, min = 0): boolean => Number.isInteger(x) && (x as number) >= min;

function checkOptions(o: K6Options): void {
  for (const key of Object.keys(o)) assert.ok(['discardResponseBodies', 'scenarios', 'thresholds'].includes(key), `options.${key} is a documented k6 option we use`);
  for (const [name, s] of Object.entries(o.scenarios)) {
    assert.match(name, /^[A-Za-z0-9_-]+$/, 'scenario names: letters, digits, _ and -');
    const spec = FIELDS[s.executor];
    assert.ok(spec, `executor ${s.executor}`);
    for (const key of spec.required) assert.ok(key in s, `${s.executor}: ${key} is required`);
    for (const key of Object.keys(s)) assert.ok([...COMMON, ...spec.required, ...spec.optional].includes(key), `${s.executor}: unknown field ${key}`);
    assert.match(s.timeUnit, DURATION);
    assert.match(s.gracefulStop, DURATION);
    assert.ok(isInt(s.preAllocatedVUs) && isInt(s.maxVUs) && s.maxVUs >= s.preAllocatedVUs, 'VUs: integers, maxVUs ≥ preAllocatedVUs');
    if (s.executor === 'constant-arrival-rate') {
      assert.ok(isInt(s.rate, 1), `rate is a positive integer (got ${s.rate})`);
      assert.match(s.duration!, DURATION);
    } else {
      assert.ok(isInt(s.startRate ?? 0));
      assert.ok(s.stages!.length > 0);
      for (const st of s.stages!) {
        assert.deepEqual(Object.keys(st).sort(), ['duration', 'target']);
        assert.match(st.duration, DURATION);
        assert.ok(isInt(st.target), `stage target is a non-negative integer (got ${st.target})`);
      }
    }
  }
  for (const [metric, list] of Object.entries(o.thresholds)) {
    assert.match(metric, /^(http_req_duration|http_req_failed)\{name:[A-Za-z0-9_.-]+\}$/);
    for (const t of list) assert.match(t, /^(p\(\d+(\.\d+)?\)|rate|avg|med|min|max|count)\s*(<|<=|>|>=|==|===|!=)\s*\d+(\.\d+)?(e-?\d+)?$/);
  }
}

const ms = (d: string): number => {
  let t = 0;
  for (const [, n, u] of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) t += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[u as 'ms'];
  return t;
};

/**
 * Start times (ms) of a scenario's iterations, as k6 documents them: iterations spaced evenly at `rate` per
 * `timeUnit` (constant), or following the linearly ramped rate (iteration k starts where the rate's integral
 * reaches k).
 */
function k6Starts(s: K6Scenario): number[] {
  const unit = ms(s.timeUnit);
  const out: number[] = [];
  if (s.executor === 'constant-arrival-rate') {
    const period = unit / s.rate!;
    for (let k = 0; k * period < ms(s.duration!); k++) out.push(k * period);
    return out;
  }
  let t0 = 0;
  let from = s.startRate ?? 0;
  let done = 0;
  let k = 0;
  for (const st of s.stages!) {
    const d = ms(st.duration);
    const a = (st.target - from) / unit / d / 2; // count(τ) = (from/unit)·τ + a·τ²
    const b = from / unit;
    const area = ((from + st.target) / 2 / unit) * d;
    for (; k < done + area - 1e-9; k++) {
      const x = k - done;
      out.push(t0 + (a === 0 ? x / b : (-b + Math.sqrt(b * b + 4 * a * x)) / (2 * a)));
    }
    done += area;
    t0 += d;
    from = st.target;
  }
  return out;
}

/** Iterations per second of the schedule; times are rounded to the µs first (an arrival due exactly on a second's
 * boundary lands on either side of it by float noise, differently in two formulas of the same schedule). */
const perSecond = (times: number[]): number[] => {
  const out: number[] = [];
  for (const t of times) {
    const s = Math.floor(Math.round(t * 1000) / 1e6);
    out[s] = (out[s] ?? 0) + 1;
  }
  return Array.from(out, (x) => x ?? 0);
};

async function sameRequests(o: LoadOptions, env: Record<string, string> = {}): Promise<number> {
  const { script } = exportK6({ target: o.target, schedule: o.schedule, mixFile: o.mixFile, mix: o.mix, seed: o.seed });
  const { options, run } = await load(script, env);
  checkOptions(options);
  const planned = [...planRequests(o)];
  const starts = k6Starts(options.scenarios.faultline);
  assert.equal(starts.length, planned.length, 'as many iterations as faultline plans arrivals');
  assert.deepEqual(perSecond(starts), perSecond(planned.map((p) => p.due_ms)), 'the same count in every second of the schedule');
  const drift = Math.max(...planned.map((p, k) => Math.abs(p.due_ms - starts[k])));
  assert.ok(drift < 0.001, `iteration k starts when faultline's arrival k is due (max difference ${drift} ms)`);
  const origin = new URL(o.target).origin;
  for (const p of planned) {
    const c = run(p.i);
    const r = p.request;
    const where = `request ${p.i}`;
    assert.equal(c.method, r.method, where);
    assert.equal(c.url, origin + r.path, where);
    assert.equal(c.body, r.body ?? null, where);
    const headers: Record<string, string> = {};
    for (let k = 0; k < r.headers.length; k += 2) headers[r.headers[k]] = r.headers[k + 1];
    assert.deepEqual(c.params.headers, headers, where);
  }
  return planned.length;
}

test('constant and ramping schedules of the lab mix: request for request and second for second, for a seed', async () => {
  const target = 'http://127.0.0.1:9';
  for (const [seed, schedule] of [
    [42, { executor: 'constant', rate_rps: 40, duration_ms: 10_000 }],
    [7, { executor: 'constant', rate_rps: 12.5, duration_ms: 4_000 }],
    [9, { executor: 'ramping', start_rps: 10, stages: [{ duration_ms: 5_000, target_rps: 80 }, { duration_ms: 3_000, target_rps: 80 }, { duration_ms: 2_000, target_rps: 0 }] }],
  ] as [number, ScheduleSpec][]) {
    const n = await sameRequests({ target, seed, mixFile: MIX, schedule });
    assert.ok(n > 40, `${n} requests compared`);
  }
  // The token stays an environment lookup: the default from the mix file, or what `k6 run -e` gives.
  const { script } = exportK6({ target, seed: 1, mixFile: MIX, schedule: { executor: 'constant', rate_rps: 1, duration_ms: 1000 } });
  assert.ok(!script.includes('lab-dev-token"') || script.includes('ENV_DEFAULTS'), 'the default is in ENV_DEFAULTS only');
  const prev = process.env.FAULTLINE_LAB_TOKEN;
  process.env.FAULTLINE_LAB_TOKEN = 'from-env';
  try {
    await sameRequests({ target, seed: 3, mixFile: MIX, schedule: { executor: 'constant', rate_rps: 20, duration_ms: 1000 } }, { FAULTLINE_LAB_TOKEN: 'from-env' });
  } finally {
    if (prev === undefined) delete process.env.FAULTLINE_LAB_TOKEN;
    else process.env.FAULTLINE_LAB_TOKEN = prev;
  }
});

test('every variable kind, text bodies, header templates and a target path prefix render as faultline renders them', async () => {
  const mix: MixSpec = {
    headers: { 'x-run': 'run-{n}' },
    vars: {
      n: { type: 'seq' },
      color: { type: 'pick', values: ['red', 'green', 'blue', 7, true] },
      id: { type: 'uuid' },
      key: { type: 'key', prefix: 'k/' },
      q: { type: 'int', min: -5, max: 5 },
    },
    endpoints: [
      { name: 'a', weight: 3, method: 'PUT', path: '/things/{color}/{q}?k={key}', body: { json: { id: '{id}', n: '{n}', label: 'c={color} é', nested: ['{q}'] } } },
      { name: 'b', weight: 1, method: 'POST', path: '/t', headers: { 'content-type': 'text/plain' }, body: { text: 'n={n} id={id}' } },
      { name: 'c', weight: 0.5, path: '/plain', expect: [200, '300-399'] },
    ],
  };
  const n = await sameRequests({ target: 'http://127.0.0.1:9/api/v1/', seed: 0xfffffffe, mix, schedule: { executor: 'constant', rate_rps: 300, duration_ms: 1000 } });
  assert.equal(n, 300);
  // Expected statuses reach k6 as its responseCallback (what http_req_failed and expected_response follow).
  const { script } = exportK6({ target: 'http://127.0.0.1:9', seed: 1, mix, schedule: { executor: 'constant', rate_rps: 1, duration_ms: 1000 }, error_status_from: 500 });
  const { run } = await load(script);
  const seen = new Map<string, unknown>();
  for (let i = 0; i < 60; i++) {
    const c = run(i);
    seen.set(c.params.tags.name, c.params.responseCallback.expected);
  }
  assert.deepEqual(seen.get('c'), [200, { min: 300, max: 399 }]);
  assert.deepEqual(seen.get('a'), [{ min: 200, max: 499 }], '--error-status applies to endpoints without expect');
});

test("what `faultline load` sends on the wire for a seed is what the script's iterations send", async () => {
  const srv = await startServer(answer());
  try {
    const o: LoadOptions = { target: srv.url, seed: 1234, mixFile: MIX, schedule: { executor: 'constant', rate_rps: 200, duration_ms: 1000 }, max_lag_ms: 1000 };
    await runLoad(o).result;
    const { script } = exportK6({ target: o.target, schedule: o.schedule, mixFile: MIX, seed: o.seed });
    const { options, run } = await load(script);
    const starts = k6Starts(options.scenarios.faultline);
    const fromK6 = starts.map((_, i) => run(i)).map((c) => `${c.method} ${c.url.slice(srv.url.length)} ${c.params.headers.authorization} ${c.body ?? ''}`);
    const wire = srv.received.map((r) => `${r.method} ${r.url} ${r.headers.authorization} ${r.body}`);
    // Connections interleave arrivals: compare the multisets.
    assert.deepEqual(fromK6.sort(), wire.sort());
  } finally {
    await srv.close();
  }
});

test('thresholds from the SLOs; what k6 cannot express is refused, naming the field', async () => {
  const slis = [
    { name: 'write_p99_ms', metric: 'latency_ms', quantile: 0.99, source: 'users', endpoint: 'create_order', steady_state: 250, slo_threshold: 1000 },
    { name: 'write_errors', metric: 'error_rate', quantile: 0.99, source: 'users', endpoint: 'create_order', steady_state: 0.001, slo_threshold: 0.01 },
    { name: 'read_avail', metric: 'availability', quantile: 0.99, source: 'users', endpoint: 'get_order', steady_state: 0.999 },
    { name: 'server_p99', metric: 'latency_ms', quantile: 0.999, source: 'server', steady_state: 100 },
  ] as const;
  const out = exportK6({ target: 'http://127.0.0.1:9', seed: 5, mixFile: MIX, schedule: { executor: 'constant', rate_rps: 80, duration_ms: 60_000 }, max_in_flight: 500, slis });
  const { options } = await load(out.script);
  checkOptions(options);
  assert.deepEqual(options.thresholds, {
    'http_req_duration{name:create_order}': ['p(99)<1000'],
    'http_req_failed{name:create_order}': ['rate<0.01'],
    'http_req_failed{name:get_order}': ['rate<=0.001'],
  });
  assert.ok(out.notes.some((n) => n.includes('server_p99')), 'a skipped SLI is said');
  assert.equal(options.scenarios.faultline.maxVUs, 500, 'maxVUs = the in-flight cap');
  assert.equal(options.scenarios.faultline.preAllocatedVUs, 80);

  const refuse = (o: Partial<Parameters<typeof exportK6>[0]>, field: string): void => {
    assert.throws(() => exportK6({ target: 'http://127.0.0.1:9', schedule: { executor: 'constant', rate_rps: 1, duration_ms: 1000 }, ...o }), (e: unknown) => e instanceof FaultlineError && e.code === 'INVALID_INPUT' && e.field === field);
  };
  refuse({ arrivals: 'poisson' }, '--arrivals');
  refuse({ schedule: { executor: 'breakpoint', start_rps: 1, step_rps: 1, step_duration_ms: 1000, max_rps: 3 } }, 'schedule.executor');
  refuse({ target: 'ftp://x' }, '--target');
  refuse({ schedule: { executor: 'constant', rate_rps: -1, duration_ms: 1000 } }, 'schedule');
});

test('the CLI: `faultline load --export k6 --experiment FILE` writes the experiment\'s run as a script on stdout', async () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/faultline'), 'load', '--export', 'k6', '--target', 'http://127.0.0.1:27080', '--experiment', join(ROOT, 'experiments/exp1-payments-latency.yaml')], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const { options } = await load(r.stdout);
  checkOptions(options);
  const s = options.scenarios.faultline;
  assert.deepEqual([s.executor, s.rate, s.timeUnit, s.duration], ['constant-arrival-rate', 80, '1s', '307s'], 'rate 80/s over 5+60+120+120 s, +2 s as faultline run drives it');
  assert.deepEqual(options.thresholds['http_req_duration{name:create_order}'], ['p(99)<1000']);
  assert.match(r.stdout, /seed 42/);
});
