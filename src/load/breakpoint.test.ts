/**
 * The breakpoint's verdict rules (pure), the staircase with no top, and a ramp against a real loopback server that
 * the generator's in-flight cap stops before the SLO breaks: the result says the generator stopped it, with its
 * figures, and a lower-bound breakpoint. Latencies are the server's fixed delay; nothing here is timed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derivedMaxRps, findBreakpoint, parseSlo, sloBreaches, StepAccumulator, stepVerdict, type StepResult } from './breakpoint.ts';
import { breakpointSteps } from './executors/breakpoint.ts';
import { LIMITS } from './executors/executor.ts';
import { RateProfile } from './profile.ts';
import { startServer } from './testing.ts';

const step = (over: Partial<StepResult>): StepResult => ({
  step: 2,
  rate_rps: 300,
  seconds: 1,
  offered: 300,
  completed: 300,
  failed: 0,
  sent_rps: 300,
  achieved_rps: 300,
  error_rate: 0,
  latency_ms: { p99: 10 },
  endpoints: {},
  dispatch_lag_p99_ms: 1,
  generator_dropped: 0,
  valid: true,
  held: true,
  broken_by: [],
  generator: {
    dispatch_lag_p99_ms: 1,
    generator_dropped: 0,
    in_flight_cap_dropped: 0,
    in_flight_max: 3,
    event_loop_delay_p99_ms: 0,
    cpu_pressure_max: null,
    cpu_pressure_mean: null,
    unmeasurable_seconds: 0,
    limited_by: [],
  },
  ...over,
});

test('step verdicts: the SLO, the generator, the first step, no answers', () => {
  assert.equal(stepVerdict(step({}), 200), undefined, 'a held, valid step lets the ramp go on');
  assert.deepEqual(stepVerdict(step({ held: false }), 200), { status: 'found', stopped_by: 'slo', breakpoint_rps: 200, broken_at_rps: 300, stopped_at_rps: 300 });
  // A generator-bound step ends the ramp whether or not the SLO held: its numbers describe the generator.
  for (const held of [true, false]) {
    assert.deepEqual(stepVerdict(step({ valid: false, held }), 200), {
      status: 'generator_limit',
      stopped_by: 'generator',
      breakpoint_rps: 200,
      broken_at_rps: null,
      stopped_at_rps: 300,
    });
  }
  assert.equal(stepVerdict(step({ step: 0, valid: false }), null)?.status, 'invalid');
  assert.equal(stepVerdict(step({ step: 0, held: false }), null)?.status, 'below_start');
  assert.equal(stepVerdict(step({ completed: 0 }), 200)?.status, 'unevaluable');
});

test('no top by default: the staircase fills the 24 h bound, and segment lookups stay exact on it', () => {
  assert.equal(derivedMaxRps(100, 100, 10_000), 100 + 100 * (8640 - 1));
  assert.equal(derivedMaxRps(1e6, 1e6, 1000), LIMITS.max_rps);
  const rates = breakpointSteps({ start_rps: 100, step_rps: 50, max_rps: derivedMaxRps(100, 50, 10_000) });
  assert.equal(rates.length, 8640);
  const p = RateProfile.of(rates.map((r) => ({ duration_ms: 10_000, from_rps: r, to_rps: r })));
  for (const t of [0, 9999, 10_000, 10_001, 43_205_000, 86_399_999, 86_400_000, 99e6]) {
    const k = Math.min(Math.floor(t / 10_000), rates.length - 1);
    assert.equal(p.segmentAt(t), k, `t=${t}`);
    assert.equal(p.rateAt(t), rates[k]);
  }
});

test('the generator stops the ramp: in-flight cap drops while latency held → generator_limit, with its figures', async () => {
  // Every answer takes 40 ms, so requests in flight ≈ rate × 0.04: 2 at 50/s, 20 at 500/s, 32 at 800/s. The cap
  // is 30. (The self-watch bars are raised: a starved CI box must not stop this ramp before the cap does.)
  const srv = await startServer((_req, res) => void setTimeout(() => res.writeHead(200).end('ok'), 40), { record: false });
  try {
    const r = await findBreakpoint({
      target: srv.url,
      seed: 8,
      start_rps: 50,
      step_rps: 150,
      step_duration_ms: 1000,
      slo: 'p99<1s,errors<1%',
      max_in_flight: 30,
      max_lag_ms: 1000,
      self_watch: { lag_ms: 1000, eld_ms: 1000 },
    });
    assert.equal(r.max_rps_derived, true, 'no cap was given');
    assert.ok(r.max_rps > 100_000);
    assert.equal(r.status, 'generator_limit', JSON.stringify(r.steps.map((s) => [s.rate_rps, s.generator.limited_by])));
    assert.equal(r.stopped_by, 'generator');
    assert.equal(r.breakpoint_is_lower_bound, true);
    const last = r.steps.at(-1)!;
    assert.equal(r.stopped_at_rps, last.rate_rps);
    assert.ok(r.generator!.in_flight_cap_dropped > 0);
    assert.match(r.generator!.limited_by.join(), /in-flight cap/);
    assert.ok(last.rate_rps >= 200 && last.rate_rps <= 950, `stopped at ${last.rate_rps}`);
    assert.equal(r.breakpoint_rps, last.rate_rps - 150);
    assert.equal(r.recommended_rps, Math.round(r.breakpoint_rps! * 0.65));
    assert.equal(r.recommended_fraction, 0.65);
    assert.ok(r.summary.aborted, 'the ramp stopped there');
    for (const s of r.steps) {
      assert.ok(s.sent_rps > 0 && s.achieved_rps > 0);
      assert.equal(typeof s.generator.in_flight_max, 'number');
    }
  } finally {
    await srv.close();
  }
});

test('the SLO is judged endpoint by endpoint: a rare slow endpoint breaks a step whose all-request p99 looks fine', async () => {
  // 199 of 200 requests are fast reads; 1 in 200 is a write that takes 300 ms. All together their p99 is a read's,
  // but the writes' own p99 is 300 ms: the first step already breaks "p99<250ms", and says it was the writes.
  const srv = await startServer((req, res) => void setTimeout(() => res.writeHead(200).end('ok'), req.url === '/w' ? 300 : 0), { record: false });
  try {
    const r = await findBreakpoint({
      target: srv.url,
      seed: 5,
      mix: { endpoints: [{ name: 'read', weight: 199, path: '/r' }, { name: 'write', weight: 1, path: '/w' }] },
      start_rps: 400,
      step_rps: 100,
      step_duration_ms: 2000,
      max_rps: 600,
      slo: 'p99<250ms',
      max_lag_ms: 1000,
      self_watch: { lag_ms: 1000, eld_ms: 1000 },
    });
    const first = r.steps[0];
    assert.ok(first.endpoints.write.completed > 0, JSON.stringify(first.endpoints));
    assert.ok(first.latency_ms.p99 < 250, `all requests: p99 ${first.latency_ms.p99} ms`);
    assert.ok(first.endpoints.write.latency_ms.p99 >= 300, JSON.stringify(first.endpoints.write));
    assert.ok(first.endpoints.read.latency_ms.p99 < 250);
    assert.equal(first.held, false);
    assert.match(first.broken_by.join(), /^write p99 \d+(\.\d+)?ms ≥ 250ms$/);
    assert.equal(r.status, 'below_start');
  } finally {
    await srv.close();
  }
});

test('the one SLO judge: each endpoint on its own, named when there are several; an endpoint without answers breaks only on errors', () => {
  const slo = parseSlo('p99<250ms,errors<1%');
  const fast = { name: 'get_order', offered: 800, completed: 800, failed: 0, latency_ms: () => 40 };
  const slow = { name: 'create_order', offered: 200, completed: 200, failed: 0, latency_ms: (q: number) => (q >= 99 ? 300 : 60) };
  assert.deepEqual(sloBreaches(slo, [fast]), []);
  assert.deepEqual(sloBreaches(slo, [fast, slow]), ['create_order p99 300ms ≥ 250ms'], 'the fast reads must not hide the slow writes');
  assert.deepEqual(sloBreaches(slo, [{ ...slow, name: 'only' }]), ['p99 300ms ≥ 250ms'], 'one endpoint: no name');
  const silent = { name: 'x', offered: 10, completed: 0, failed: 10, latency_ms: () => Number.NaN };
  assert.deepEqual(sloBreaches(slo, [silent]), ['errors 100.000% ≥ 1.000%']);
  assert.deepEqual(sloBreaches(slo, [{ ...fast, latency_ms: () => Number.NaN }]), ['p99 NaNms ≥ 250ms'], 'an unreadable latency is not a held one');
  assert.deepEqual(sloBreaches(slo, [{ ...fast, offered: 0, completed: 0 }]), [], 'nothing offered: nothing to judge');
});

test("a step whose mean CPU pressure is over the runner's bar is generator-bound, as the runner would call its window unmeasurable", () => {
  const second = (pressure: number | null) =>
    ({
      type: 'second',
      t_s: 0,
      stage: 0,
      target_rps: 100,
      total: { offered: 100, sent: 100, dropped: 0, completed: 100, errors: { status: 0, timeout: 0, connection: 0 } },
      endpoints: {},
      generator: { in_flight: 1, dispatch_lag_ms: { p50: 1, p99: 2, max: 3 }, event_loop_delay_ms: { p99: 1, max: 2 }, generator_dropped: 0, cpu_pressure: pressure, unmeasurable: null },
    }) as never;
  const judged = (pressures: (number | null)[]) => {
    const acc = new StepAccumulator(1, 100, pressures.length);
    for (const p of pressures) acc.add(second(p));
    return acc.judge(parseSlo('errors<1%'), 50);
  };
  const busy = judged([0.95, 0.93, 0.97, 0.55]);
  assert.equal(busy.generator.cpu_pressure_mean, 0.85);
  assert.equal(busy.valid, true, 'a mean of 85 % is under the 90 % bar: some seconds over it are not enough');
  const starved = judged([0.95, 0.93, 0.97, 0.92]);
  assert.equal(starved.valid, false);
  assert.match(starved.generator.limited_by.join('; '), /^mean CPU pressure 94 % > 90 %/);
  assert.equal(judged([null, null]).generator.cpu_pressure_mean, null, 'no PSI: nothing claimed');
});
