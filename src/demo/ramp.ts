/**
 * The breakpoint ramp as the demo reports it: what it found, what stopped it (the SLO, or the load generator that
 * could no longer keep its rate), the steady rate it gave, and every step. This module alone owns that part of
 * summary.json and its words, so the demo's log and its report say the same thing. Every number is one the ramp
 * measured: a step without answers shows a dash, never the 0 a step's judge starts from.
 *
 *   findBreakpoint per mitigations block (a leg) ─▶ BreakpointResult ─┬─ limitingLeg · rampSummary ─▶ summary.json
 *                                                                    │    rampStopText / legText / rampCells ─▶ report
 *                                                StepResult (each) ─┴─ rampStep ─▶ rampLogLine ─▶ the demo's log
 */
import type { BreakpointResult, StepResult } from '../load/breakpoint.ts';
import { ms, pc, rps } from './format.ts';
import type { SteadyRate } from './plan.ts';

/** One step of the ramp, as measured. */
export interface RampStep {
  /** The rate the step planned. */
  rate_rps: number;
  /** What the generator sent, and what the target answered, per second of the step. */
  sent_rps: number;
  achieved_rps: number;
  /** null when the step had no answers (or the SLO has no p99 clause, so the ramp computed none). */
  p99_ms: number | null;
  /** Each endpoint's own p99 (the SLO is judged on each), null for one without answers. */
  endpoint_p99_ms: Record<string, number | null>;
  /** Errors and drops / offered; null when nothing was offered. */
  error_rate: number | null;
  /** The generator's own figures: its dispatch-lag p99 (median over the step's seconds) and what it dropped. */
  dispatch_lag_p99_ms: number;
  generator_dropped: number;
  in_flight_cap_dropped: number;
  /** False when the generator could not keep the step's rate (limited_by says why). */
  valid: boolean;
  held: boolean;
  broken_by: string[];
  limited_by: string[];
}

/** What summary.json keeps of findBreakpoint's own result, as it is (its doc comments say what each means). */
const FROM_RESULT = ['status', 'stopped_by', 'slo', 'breakpoint_rps', 'breakpoint_is_lower_bound', 'broken_at_rps', 'stopped_at_rps', 'max_rps', 'max_rps_derived', 'recommended_rps'] as const;
type FromResult = Pick<BreakpointResult, (typeof FROM_RESULT)[number]>;

/** One ramp of the system with one mitigations block: a full ramp, or a check (one step at the lowest breakpoint so far). */
export interface RampLeg extends FromResult {
  /** The mitigations block the system ran this leg with; null: its settings as they were. */
  mitigations: Record<string, unknown> | null;
  role: 'ramp' | 'check';
  steps: RampStep[];
}

/**
 * The ramp's part of summary.json: its top-level figures are the limiting leg's (the lowest breakpoint: what the
 * steady rate rests on), `legs` every leg in the order run.
 */
export interface RampSummary extends RampLeg {
  /** The plan's share of the basis that gave the steady rate, the basis, and the plan's floor. */
  fraction: number;
  basis_rps: number | null;
  min_rps: number;
  floored: boolean;
  legs: RampLeg[];
}

/** One leg as run: what findBreakpoint returned, with the block it ran under. */
export interface RanLeg {
  result: BreakpointResult;
  mitigations: Record<string, unknown> | null;
  role: 'ramp' | 'check';
}

/** A leg's part of summary.json. */
export function rampLeg(l: RanLeg): RampLeg {
  const facts = Object.fromEntries(FROM_RESULT.map((k) => [k, l.result[k]])) as FromResult;
  return { ...facts, mitigations: l.mitigations, role: l.role, steps: l.result.steps.map(rampStep) };
}

/**
 * The leg the steady rate rests on: the one whose basis (see steadyRate) is lowest; with none (every leg
 * broke at its first step, or none was judged), the first leg, whose status then says why.
 * @example limitingLeg([naive, mitigatedCheck], (r) => steadyRate(r, 0.65, 32)) // naive, when the check held at its breakpoint
 */
export function limitingLeg(legs: RanLeg[], steadyOf: (r: BreakpointResult) => SteadyRate): RanLeg {
  let best: RanLeg | undefined;
  let low = Infinity;
  for (const l of legs) {
    const basis = steadyOf(l.result).basis_rps;
    if (basis !== null && basis < low) [best, low] = [l, basis];
  }
  return best ?? legs[0];
}

/**
 * The lowest breakpoint so far, the rate a later leg's check step holds (null before any leg found one).
 * @example lowestBasis(legs, (r) => steadyRate(r, 0.65, 32)) // 500
 */
export function lowestBasis(legs: RanLeg[], steadyOf: (r: BreakpointResult) => SteadyRate): number | null {
  return legs.length === 0 ? null : steadyOf(limitingLeg(legs, steadyOf).result).basis_rps;
}

/**
 * One judged step, measured values only.
 * @example rampStep(step).p99_ms // 48.2, or null for a step without answers
 */
export function rampStep(s: StepResult): RampStep {
  return {
    rate_rps: s.rate_rps,
    sent_rps: s.sent_rps,
    achieved_rps: s.achieved_rps,
    p99_ms: s.completed > 0 ? (s.latency_ms.p99 ?? null) : null,
    endpoint_p99_ms: Object.fromEntries(Object.entries(s.endpoints ?? {}).map(([name, e]) => [name, e.completed > 0 ? (e.latency_ms.p99 ?? null) : null])),
    error_rate: s.offered > 0 ? s.error_rate : null,
    dispatch_lag_p99_ms: s.dispatch_lag_p99_ms,
    generator_dropped: s.generator.generator_dropped,
    in_flight_cap_dropped: s.generator.in_flight_cap_dropped,
    valid: s.valid,
    held: s.held,
    broken_by: s.broken_by,
    limited_by: s.generator.limited_by,
  };
}

/**
 * The ramp's part of summary.json, from every leg run and the steady rate of the limiting one.
 * @example rampSummary([{ result, mitigations: { preset: 'all' }, role: 'ramp' }], 0.65, 32, steadyRate(result, 0.65, 32)).stopped_by // 'slo'
 */
export function rampSummary(legs: RanLeg[], fraction: number, minRps: number, steady: SteadyRate, limiting: RanLeg = legs[0]): RampSummary {
  return { ...rampLeg(limiting), fraction, basis_rps: steady.basis_rps, min_rps: minRps, floored: steady.floored, legs: legs.map(rampLeg) };
}

/** "with mitigations {"preset":"all"}", or the system's own settings. */
export function rampMitigationsText(r: Pick<RampLeg, 'mitigations'>): string {
  return r.mitigations === null ? "with the system's mitigations as they were" : `with mitigations ${JSON.stringify(r.mitigations)}`;
}

/**
 * What each leg showed, in words: a check held (or broke) its one step at the breakpoint so far, a ramp stopped
 * where rampStopText says.
 * @example legText(check) // 'with mitigations {"preset":"all"}: held one step at 507 req/s (the lowest breakpoint so far)'
 */
export function legText(l: RampLeg): string {
  const who = rampMitigationsText(l);
  if (l.role === 'check') {
    const s = l.steps[0];
    if (s === undefined) return `${who}: the check step at ${rps(l.stopped_at_rps)} was not judged`;
    return `${who}: ${s.valid && s.held ? 'held' : 'did not hold'} one step at ${rps(s.rate_rps)}, the lowest breakpoint so far (${stepVerdict(s)})`;
  }
  return `${who}: ${rampStopText(l)}`;
}

/** "held", or what broke it: the generator first (a generator-bound step's latencies describe the generator). */
function stepVerdict(s: RampStep): string {
  if (!s.valid) return `generator-bound: ${s.limited_by.join('; ')}`;
  return s.held ? 'held' : `SLO broke: ${s.broken_by.join('; ')}`;
}

/** The generator's own figures over a step. */
function generatorFigures(s: RampStep): string {
  const drops = s.generator_dropped + s.in_flight_cap_dropped;
  return `sent ${rps(s.sent_rps)} of ${rps(s.rate_rps)}, dispatch lag p99 ${ms(s.dispatch_lag_p99_ms)}, ${drops} arrivals dropped (${s.generator_dropped} while behind, ${s.in_flight_cap_dropped} at the in-flight cap)${s.limited_by.length > 0 ? `; limited by: ${s.limited_by.join('; ')}` : ''}`;
}

export const RAMP_HEAD = ['planned', 'sent', 'achieved', 'p99 (all requests)', 'p99 per endpoint', 'errors', 'dispatch lag p99', 'verdict'];

/** "get_order 41 ms, create_order 294 ms" (— without per-endpoint figures). */
function perEndpoint(s: RampStep): string {
  const entries = Object.entries(s.endpoint_p99_ms ?? {});
  return entries.length === 0 ? '—' : entries.map(([name, v]) => `${name} ${ms(v)}`).join(', ');
}

/** One row of the "Breakpoint ramp" table (RAMP_HEAD). */
export function rampCells(s: RampStep): string[] {
  return [rps(s.rate_rps), rps(s.sent_rps), rps(s.achieved_rps), ms(s.p99_ms), perEndpoint(s), pc(s.error_rate), ms(s.dispatch_lag_p99_ms), stepVerdict(s)];
}

/**
 * The log line of one judged step (the table's row in words).
 * @example rampLogLine(step) // '300 req/s: sent 299.8 req/s, achieved 299.1 req/s, p99 48 ms, errors 0.00 %, lag p99 2 ms → held'
 */
export function rampLogLine(s: RampStep): string {
  const [planned, sent, achieved, p99, each, errors, lag, verdict] = rampCells(s);
  return `${planned}: sent ${sent}, achieved ${achieved}, p99 ${p99}${each === '—' ? '' : ` (${each})`}, errors ${errors}, lag p99 ${lag} → ${verdict}`;
}

/**
 * What stopped the ramp and what it found, in words: the SLO broke at X (its p99 and errors there), or the generator
 * could no longer keep its rate at X (its own figures), or the ramp ran out of steps.
 * @example rampStopText(r) // 'the SLO (p99<250ms,errors<0.1%) broke at 450 req/s: p99 612 ms, errors 0.03 % (…); the breakpoint is …'
 */
export function rampStopText(r: FromResult & { steps: RampStep[] }): string {
  const last = r.steps.at(-1);
  const at = rps(r.stopped_at_rps);
  const bp = rps(r.breakpoint_rps);
  const slo = (s: RampStep | undefined): string => (s ? `p99 ${ms(s.p99_ms)}, errors ${pc(s.error_rate)}${s.broken_by.length > 0 ? ` (${s.broken_by.join('; ')})` : ''}` : 'no step judged');
  const gen = (s: RampStep | undefined): string => (s ? `its own figures: ${generatorFigures(s)}` : 'no step judged');
  switch (r.status) {
    case 'found':
      return `the SLO (${r.slo}) broke at ${at}: ${slo(last)}; the breakpoint is the last step that held, ${bp}`;
    case 'below_start':
      return `the SLO (${r.slo}) broke already at the first step, ${at}: ${slo(last)}; no breakpoint was measured`;
    case 'generator_limit':
      return `the load generator could no longer keep its rate at ${at} (${gen(last)}) while the SLO (${r.slo}) still held below it; the breakpoint, ${bp}, is a lower bound: the lab was never pushed past it`;
    case 'invalid':
      return `the load generator could not keep even the first step's rate, ${at} (${gen(last)}); no breakpoint was measured`;
    case 'unevaluable':
      return `the step at ${at} had no answers to judge; no breakpoint was measured`;
    case 'not_reached':
      return `the SLO (${r.slo}) held up to the ramp's ${r.max_rps_derived ? 'derived top' : 'safety cap'}, ${rps(r.max_rps)}; the breakpoint is at least that (a lower bound)`;
    case 'interrupted':
      return `the ramp was interrupted at ${at}; the last step that held, ${bp}, is a lower bound`;
  }
}

/**
 * How the steady rate came from the ramp.
 * @example steadyText(r, 260) // '260 req/s = 65 % of the breakpoint, 400 req/s'
 */
export function steadyText(r: RampSummary, rateRps: number): string {
  const share = `${Math.round(r.fraction * 100)} %`;
  if (r.basis_rps === null) return `${rps(rateRps)}: no breakpoint, so the plan's floor (min_rps)`;
  const of = `${r.status === 'not_reached' ? "the ramp's top" : 'the breakpoint'}, ${rps(r.basis_rps)}${r.breakpoint_is_lower_bound ? ' (a lower bound)' : ''}`;
  if (r.floored) return `${rps(rateRps)}: ${share} of ${of} is below the plan's floor (min_rps), so the floor`;
  return `${rps(rateRps)} = ${share} of ${of}`;
}
