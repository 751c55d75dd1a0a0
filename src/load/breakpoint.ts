/**
 * Breakpoint search: drives the breakpoint executor's staircase, judges each finished step against an SLO
 * ("p99<250ms,errors<0.1%") from that step's merged latency histogram and counts, and aborts the run at the first
 * step that breaks it. Owns the SLO grammar and the verdict: the breakpoint (last step that held) and the
 * recommended steady-state rate (65 % of it, the lab's operating point).
 *
 *   runLoad(breakpoint staircase) ─ seconds ─▶ group by step ─▶ judge(step) ─ broken? ─▶ abort + verdict
 */
import { FaultlineError } from '../core/errors.ts';
import { newHistogram, type Histogram } from './histogram.ts';
import { runLoad, type LoadOptions } from './run.ts';
import type { LoadSummary, SecondSample } from './samples.ts';

/** One SLO: every latency bound and the error-rate bound must hold. */
export interface Slo {
  latency: { percentile: number; max_ms: number }[];
  /** Errors (status ≥ threshold, timeouts, connection failures) plus drops, as a fraction of offered. */
  max_error_rate: number | undefined;
  text: string;
}

/**
 * Parses "p99<250ms,errors<0.1%" (any pNN or pNN.N, ms or s; errors in %).
 * @example parseSlo('p99<250ms,p50<50ms,errors<0.1%', '--slo')
 */
export function parseSlo(text: string, field = 'slo'): Slo {
  const slo: Slo = { latency: [], max_error_rate: undefined, text };
  for (const raw of text.split(',')) {
    const part = raw.trim().replace(/\s+/g, '');
    const lat = /^p(\d{1,2}(?:\.\d+)?)<(\d+(?:\.\d+)?)(ms|s)$/.exec(part);
    const err = /^errors<(\d+(?:\.\d+)?)%$/.exec(part);
    if (lat && Number(lat[1]) > 0 && Number(lat[1]) < 100) {
      slo.latency.push({ percentile: Number(lat[1]), max_ms: Number(lat[2]) * (lat[3] === 's' ? 1000 : 1) });
    } else if (err && Number(err[1]) <= 100) {
      slo.max_error_rate = Number(err[1]) / 100;
    } else {
      throw new FaultlineError('INVALID_INPUT', `${field}: cannot read "${raw.trim()}" in "${text}"`, {
        field,
        hint: 'comma-separated clauses: pNN<Xms (or Xs) with 0 < NN < 100, and errors<X%; e.g. "p99<250ms,errors<0.1%"',
      });
    }
  }
  if (slo.latency.length === 0 && slo.max_error_rate === undefined) {
    throw new FaultlineError('INVALID_INPUT', `${field}: empty SLO`, { field, hint: 'e.g. "p99<250ms,errors<0.1%"' });
  }
  return slo;
}

/** One step's numbers and verdict. */
export interface StepResult {
  step: number;
  rate_rps: number;
  seconds: number;
  offered: number;
  completed: number;
  failed: number;
  error_rate: number;
  latency_ms: Record<string, number>;
  /** Median over the step's seconds of the per-second dispatch-lag p99. */
  dispatch_lag_p99_ms: number;
  generator_dropped: number;
  valid: boolean;
  held: boolean;
  broken_by: string[];
}

export interface BreakpointResult {
  type: 'breakpoint';
  /**
   * found: a step broke the SLO and the one before held · not_reached: held up to max_rps ·
   * below_start: the first step already broke it · invalid: the breaking step was generator-bound ·
   * unevaluable: a step had no responses to judge.
   */
  status: 'found' | 'not_reached' | 'below_start' | 'invalid' | 'unevaluable';
  slo: string;
  /** Highest step rate that held the SLO (null when none did). */
  breakpoint_rps: number | null;
  /** Rate of the first step that broke it. */
  broken_at_rps: number | null;
  /** ≈ 65 % of the breakpoint (or of max_rps when it was never reached). */
  recommended_rps: number | null;
  steps: StepResult[];
  summary: LoadSummary;
}

export interface BreakpointOptions extends Omit<LoadOptions, 'schedule' | 'keep_histograms'> {
  start_rps: number;
  step_rps: number;
  step_duration_ms: number;
  max_rps: number;
  slo: Slo | string;
  /** Called as each step is judged (e.g. to print or save it). */
  onStep?: (step: StepResult) => void;
}

export const RECOMMENDED_FRACTION = 0.65;

class StepAccumulator {
  readonly hist: Histogram = newHistogram();
  seconds = 0;
  offered = 0;
  completed = 0;
  failed = 0;
  generatorDropped = 0;
  lagP99: number[] = [];
  constructor(
    readonly step: number,
    readonly rate: number,
  ) {}

  add(s: SecondSample): void {
    this.seconds++;
    const t = s.total;
    this.offered += t.offered;
    this.completed += t.completed;
    this.failed += t.errors.status + t.errors.timeout + t.errors.connection + t.dropped;
    this.generatorDropped += s.generator.generator_dropped;
    this.lagP99.push(s.generator.dispatch_lag_ms.p99);
    if (s.histogram) this.hist.add(s.histogram);
  }

  judge(slo: Slo, maxLagMs: number): StepResult {
    const errorRate = this.offered === 0 ? 0 : this.failed / this.offered;
    const latency: Record<string, number> = {};
    const broken: string[] = [];
    for (const l of slo.latency) {
      const v = this.hist.totalCount === 0 ? 0 : Math.round(this.hist.getValueAtPercentile(l.percentile)) / 1000;
      latency[`p${l.percentile}`] = v;
      if (v >= l.max_ms) broken.push(`p${l.percentile} ${v}ms ≥ ${l.max_ms}ms`);
    }
    if (slo.max_error_rate !== undefined && errorRate >= slo.max_error_rate) {
      broken.push(`errors ${(errorRate * 100).toFixed(3)}% ≥ ${(slo.max_error_rate * 100).toFixed(3)}%`);
    }
    const lags = [...this.lagP99].sort((a, b) => a - b);
    const lag = lags.length === 0 ? 0 : lags[Math.floor(lags.length / 2)];
    return {
      step: this.step,
      rate_rps: this.rate,
      seconds: this.seconds,
      offered: this.offered,
      completed: this.completed,
      failed: this.failed,
      error_rate: Math.round(errorRate * 1e6) / 1e6,
      latency_ms: latency,
      dispatch_lag_p99_ms: lag,
      generator_dropped: this.generatorDropped,
      valid: lag <= maxLagMs && this.generatorDropped === 0,
      held: broken.length === 0,
      broken_by: broken,
    };
  }
}

/**
 * Ramps the rate in steps until the SLO breaks; resolves with the breakpoint and the recommended steady rate.
 * Throws INVALID_INPUT for bad options before any request is sent.
 * @example
 *   const r = await findBreakpoint({ target: 'http://127.0.0.1:8080', start_rps: 100, step_rps: 100,
 *                                    step_duration_ms: 10_000, max_rps: 20_000, slo: 'p99<250ms,errors<0.1%' });
 *   console.log(r.breakpoint_rps, r.recommended_rps);
 */
export async function findBreakpoint(options: BreakpointOptions): Promise<BreakpointResult> {
  const { start_rps, step_rps, step_duration_ms, max_rps, slo: sloIn, onStep, ...load } = options;
  const slo = typeof sloIn === 'string' ? parseSlo(sloIn) : sloIn;
  const maxLagMs = load.max_lag_ms ?? 5;
  const run = runLoad({
    ...load,
    schedule: { executor: 'breakpoint', start_rps, step_rps, step_duration_ms, max_rps },
    keep_histograms: true,
  });
  const steps: StepResult[] = [];
  const rates: number[] = [];
  for (let r = start_rps; r < max_rps; r += step_rps) rates.push(r);
  rates.push(max_rps);
  let current: StepAccumulator | undefined;
  let verdict: Pick<BreakpointResult, 'status' | 'breakpoint_rps' | 'broken_at_rps'> | undefined;

  const close = (acc: StepAccumulator): void => {
    const res = acc.judge(slo, maxLagMs);
    steps.push(res);
    onStep?.(res);
    if (verdict) return;
    if (res.completed === 0) verdict = { status: 'unevaluable', breakpoint_rps: null, broken_at_rps: null };
    else if (!res.held && !res.valid) verdict = { status: 'invalid', breakpoint_rps: null, broken_at_rps: res.rate_rps };
    else if (!res.held && acc.step === 0) verdict = { status: 'below_start', breakpoint_rps: null, broken_at_rps: res.rate_rps };
    else if (!res.held) verdict = { status: 'found', breakpoint_rps: rates[acc.step - 1], broken_at_rps: res.rate_rps };
    if (verdict) run.abort();
  };

  let summary: LoadSummary | undefined;
  for await (const e of run) {
    if (e.type === 'summary') {
      summary = e;
      break;
    }
    if (verdict) continue;
    const stepOf = Math.min(rates.length - 1, Math.floor((e.t_s * 1000) / step_duration_ms));
    if (current && stepOf !== current.step) {
      close(current);
      current = undefined;
    }
    if (verdict) continue;
    // Seconds past the plan (the drain) belong to the last step.
    current ??= new StepAccumulator(stepOf, rates[stepOf]);
    current.add(e);
  }
  if (current && !verdict) close(current);
  summary ??= await run.result;
  verdict ??= { status: 'not_reached', breakpoint_rps: null, broken_at_rps: null };
  const base = verdict.status === 'found' ? verdict.breakpoint_rps : verdict.status === 'not_reached' ? max_rps : null;
  return {
    type: 'breakpoint',
    slo: slo.text,
    ...verdict,
    recommended_rps: base === null ? null : Math.max(1, Math.round(base * RECOMMENDED_FRACTION)),
    steps,
    summary,
  };
}
