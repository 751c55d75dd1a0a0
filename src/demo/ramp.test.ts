import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BreakpointResult, StepResult } from '../load/breakpoint.ts';
import { steadyRate } from './plan.ts';
import { legText, limitingLeg, lowestBasis, rampCells, rampLeg, rampLogLine, rampMitigationsText, rampStep, rampStopText, rampSummary, steadyText, type RampStep, type RampSummary, type RanLeg } from './ramp.ts';

/** A judged step as findBreakpoint gives it (only the fields the demo reads are meaningful). */
function step(rate: number, over: Partial<StepResult> = {}, limited_by: string[] = []): StepResult {
  return {
    step: 0,
    rate_rps: rate,
    seconds: 6,
    offered: rate * 6,
    completed: rate * 6,
    failed: 0,
    sent_rps: rate - 0.2,
    achieved_rps: rate - 0.5,
    error_rate: 0,
    latency_ms: { p99: 40 },
    endpoints: {},
    dispatch_lag_p99_ms: 2,
    generator_dropped: 0,
    valid: limited_by.length === 0,
    held: true,
    broken_by: [],
    generator: { dispatch_lag_p99_ms: over.dispatch_lag_p99_ms ?? 2, generator_dropped: over.generator_dropped ?? 0, in_flight_cap_dropped: 0, in_flight_max: 10, event_loop_delay_p99_ms: 5, cpu_pressure_max: null, cpu_pressure_mean: null, unmeasurable_seconds: 0, limited_by },
    ...over,
  };
}

function summary(status: RampSummary['status'], steps: RampStep[], over: Partial<RampSummary> = {}): RampSummary {
  return {
    status,
    stopped_by: status === 'generator_limit' ? 'generator' : 'slo',
    slo: 'p99<250ms,errors<0.1%',
    breakpoint_rps: null,
    breakpoint_is_lower_bound: status === 'generator_limit' || status === 'not_reached',
    broken_at_rps: null,
    stopped_at_rps: steps.at(-1)?.rate_rps ?? null,
    max_rps: 864_000,
    max_rps_derived: true,
    recommended_rps: null,
    fraction: 0.65,
    basis_rps: null,
    min_rps: 32,
    floored: false,
    mitigations: null,
    role: 'ramp',
    steps,
    legs: [],
    ...over,
  };
}

test('a ramp step keeps measured values only: no answers, no p99; nothing offered, no error rate', () => {
  const s = rampStep(step(100));
  assert.equal(s.p99_ms, 40);
  assert.equal(s.error_rate, 0);
  const silent = rampStep(step(100, { completed: 0, latency_ms: { p99: 0 } }));
  assert.equal(silent.p99_ms, null, "the judge's 0 for an empty histogram is not a latency");
  assert.equal(rampStep(step(100, { offered: 0 })).error_rate, null);
  assert.deepEqual([rampCells(silent)[3], rampCells(silent)[5]], ['—', '0.00 %']);
  assert.equal(rampLogLine(s), '100 req/s: sent 99.8 req/s, achieved 99.5 req/s, p99 40 ms, errors 0.00 %, lag p99 2 ms → held');
});

test('what stopped the ramp, in words: the SLO with its p99 and errors, or the generator with its own figures', () => {
  const broke = rampStep(step(450, { held: false, latency_ms: { p99: 612 }, error_rate: 0.0003, broken_by: ['p99 612ms ≥ 250ms'] }));
  const slo = summary('found', [rampStep(step(400)), broke], { breakpoint_rps: 400, broken_at_rps: 450, basis_rps: 400 });
  assert.equal(rampStopText(slo), 'the SLO (p99<250ms,errors<0.1%) broke at 450 req/s: p99 612 ms, errors 0.03 % (p99 612ms ≥ 250ms); the breakpoint is the last step that held, 400 req/s');
  assert.match(rampCells(broke)[7], /^SLO broke: p99 612ms/);
  assert.equal(steadyText(slo, 260), '260 req/s = 65 % of the breakpoint, 400 req/s');

  const why = ['dispatch lag p99 80 ms > 50 ms (median over the step)', '12 arrivals dropped while the generator was behind'];
  const bound = rampStep(step(350, { sent_rps: 310.5, dispatch_lag_p99_ms: 80, generator_dropped: 12 }, why));
  const gen = summary('generator_limit', [rampStep(step(300)), bound], { breakpoint_rps: 300, basis_rps: 300 });
  const text = rampStopText(gen);
  assert.match(text, /^the load generator could no longer keep its rate at 350 req\/s/);
  assert.match(text, /sent 310\.5 req\/s of 350 req\/s, dispatch lag p99 80 ms, 12 arrivals dropped/);
  assert.match(text, /limited by: dispatch lag p99 80 ms > 50 ms/);
  assert.match(text, /the breakpoint, 300 req\/s, is a lower bound/);
  assert.match(rampCells(bound)[7], /^generator-bound: dispatch lag/);
  assert.equal(steadyText(gen, 195), '195 req/s = 65 % of the breakpoint, 300 req/s (a lower bound)');

  assert.match(rampStopText(summary('below_start', [broke])), /broke already at the first step, 450 req\/s: p99 612 ms/);
  assert.equal(steadyText(summary('below_start', [broke]), 32), "32 req/s: no breakpoint, so the plan's floor (min_rps)");
  assert.match(rampStopText(summary('not_reached', [rampStep(step(600))], { max_rps: 600, max_rps_derived: false })), /held up to the ramp's safety cap, 600 req\/s/);
  assert.equal(steadyText(summary('found', [], { basis_rps: 40, breakpoint_rps: 40, floored: true }), 32), "32 req/s: 65 % of the breakpoint, 40 req/s is below the plan's floor (min_rps), so the floor");
});

test("the summary keeps findBreakpoint's verdict as it is, the plan's fraction and floor, and every step; not the load summary", () => {
  const steps = [step(50), step(100, { held: false, broken_by: ['p99 300ms ≥ 250ms'] })];
  const result = {
    type: 'breakpoint', status: 'found', stopped_by: 'slo', slo: 'p99<250ms', breakpoint_rps: 50, breakpoint_is_lower_bound: false, broken_at_rps: 100, stopped_at_rps: 100,
    max_rps: 864_000, max_rps_derived: true, recommended_rps: 33, recommended_fraction: 0.65, generator: steps[1].generator, steps, summary: { type: 'summary' },
  } as unknown as BreakpointResult;
  const s = rampSummary([{ result, mitigations: { preset: 'all' }, role: 'ramp' }], 0.5, 20, steadyRate(result, 0.5, 20));
  assert.deepEqual(
    { ...s, steps: s.steps.length, legs: s.legs.length },
    { status: 'found', stopped_by: 'slo', slo: 'p99<250ms', breakpoint_rps: 50, breakpoint_is_lower_bound: false, broken_at_rps: 100, stopped_at_rps: 100, max_rps: 864_000, max_rps_derived: true, recommended_rps: 33, fraction: 0.5, basis_rps: 50, min_rps: 20, floored: false, mitigations: { preset: 'all' }, role: 'ramp', steps: 2, legs: 1 },
  );
  assert.deepEqual(s.steps[1].broken_by, ['p99 300ms ≥ 250ms']);
  assert.equal(rampMitigationsText(s), 'with mitigations {"preset":"all"}');
  assert.equal(rampSummary([{ result, mitigations: null, role: 'ramp' }], 0.5, 20, steadyRate(result, 0.5, 20)).mitigations, null, 'no block: the system as it was, said as such');
});

/** findBreakpoint's result for a run of steps (the last one judged ends it). */
function ran(status: BreakpointResult['status'], steps: StepResult[], over: Partial<BreakpointResult> = {}): BreakpointResult {
  const last = steps.at(-1)!;
  return {
    type: 'breakpoint', status, stopped_by: status === 'not_reached' ? 'max_rps' : 'slo', slo: 'p99<250ms', breakpoint_rps: null, breakpoint_is_lower_bound: status === 'not_reached',
    broken_at_rps: null, stopped_at_rps: last.rate_rps, max_rps: 864_000, max_rps_derived: true, recommended_rps: null, recommended_fraction: 0.65, generator: last.generator, steps,
    summary: { type: 'summary' } as never, ...over,
  };
}

test('several ramp legs: the steady rate rests on the lowest breakpoint; a check that held its one step stands beside it', () => {
  const steadyOf = (r: BreakpointResult) => steadyRate(r, 0.65, 20);
  const broke = (rate: number) => step(rate, { held: false, broken_by: ['create_order p99 400ms ≥ 250ms'] });
  // The naive block ramps in full and breaks at 760; the mitigated block holds one step at 507.
  const naive: RanLeg = { result: ran('found', [step(338), step(507), broke(760)], { breakpoint_rps: 507, broken_at_rps: 760 }), mitigations: { preset: 'none' }, role: 'ramp' };
  const checkHeld: RanLeg = { result: ran('not_reached', [step(507)], { max_rps: 507, max_rps_derived: false }), mitigations: { preset: 'all' }, role: 'check' };
  assert.equal(lowestBasis([naive], steadyOf), 507);
  assert.equal(limitingLeg([naive, checkHeld], steadyOf), naive, 'a tie keeps the leg that measured the breakpoint');
  assert.equal(legText(rampLeg(checkHeld)), 'with mitigations {"preset":"all"}: held one step at 507 req/s, the lowest breakpoint so far (held)');

  // The mitigated block breaks its check step, then ramps (capped at 507) and breaks at 225: that leg limits.
  const checkBroke: RanLeg = { result: ran('below_start', [broke(507)], { broken_at_rps: 507 }), mitigations: { preset: 'all' }, role: 'check' };
  const mitigated: RanLeg = { result: ran('found', [step(100), step(150), broke(225)], { breakpoint_rps: 150, broken_at_rps: 225, max_rps: 507 }), mitigations: { preset: 'all' }, role: 'ramp' };
  const legs = [naive, checkBroke, mitigated];
  assert.equal(lowestBasis(legs, steadyOf), 150, 'a check that broke its first step has no basis of its own');
  const limiting = limitingLeg(legs, steadyOf);
  assert.equal(limiting, mitigated);
  const s = rampSummary(legs, 0.65, 20, steadyOf(limiting.result), limiting);
  assert.deepEqual([s.breakpoint_rps, s.basis_rps, s.mitigations, s.legs.map((l) => l.role)], [150, 150, { preset: 'all' }, ['ramp', 'check', 'ramp']]);
  assert.match(legText(s.legs[1]), /did not hold one step at 507 req\/s, the lowest breakpoint so far \(SLO broke: create_order p99 400ms/);
  assert.match(legText(s.legs[0]), /^with mitigations \{"preset":"none"\}: the SLO \(p99<250ms\) broke at 760 req\/s/);

  // Nothing measured anywhere: the first leg, whose status says why.
  const none: RanLeg = { result: ran('below_start', [broke(50)]), mitigations: null, role: 'ramp' };
  assert.equal(limitingLeg([none, checkBroke], steadyOf), none);
});
