/**
 * `faultline breakpoint`: steps the arrival rate up until an SLO breaks or the generator can no longer keep a
 * step's rate, and prints the breakpoint, what stopped the ramp and the recommended steady-state rate (≈ 65 % of
 * the breakpoint). Exit codes: 0 breakpoint found (or SLO held up to --max), 1 it could not be judged exactly
 * (the generator's limit came first, SLO broken at --start, a step without responses), 2 bad input,
 * 130 interrupted.
 */
import type { Command } from 'commander';
import { EXIT } from '../core/exit.ts';
import type { BreakpointResult, StepResult } from '../load/breakpoint.ts';
import { addCommonFlags, commonOptions, onInterrupt, type CommonFlags } from './load.ts';
import { FaultlineError } from '../core/errors.ts';

interface BreakpointFlags extends CommonFlags {
  start: string;
  step: string;
  stepFactor?: string;
  stepDuration: string;
  max?: string;
  slo: string;
}

function stepLine(s: StepResult): string {
  const lat = Object.entries(s.latency_ms).map(([k, v]) => `${k} ${v}ms`).join(' ');
  const verdict = s.held ? 'held' : `BROKEN (${s.broken_by.join(', ')})`;
  const gen = s.valid ? '' : `  [generator-bound: ${s.generator.limited_by.join('; ')}]`;
  return (
    `  step ${s.step}: ${s.rate_rps}/s (sent ${s.sent_rps}/s, done ${s.achieved_rps}/s)  ${lat}  ` +
    `errors ${(s.error_rate * 100).toFixed(3)}%  lag p99 ${s.dispatch_lag_p99_ms}ms  ${verdict}${gen}\n`
  );
}

function verdictText(r: BreakpointResult): string {
  const g = r.generator;
  const figures = g
    ? ` (generator at ${r.stopped_at_rps}/s: ${g.limited_by.join('; ')}; in flight ≤ ${g.in_flight_max}, event-loop delay p99 ${g.event_loop_delay_p99_ms} ms, ` +
      `CPU pressure max ${g.cpu_pressure_max === null ? 'n/a' : `${Math.round(g.cpu_pressure_max * 100)} %`})`
    : '';
  switch (r.status) {
    case 'found':
      return `breakpoint ${r.breakpoint_rps}/s (SLO "${r.slo}" broke at ${r.broken_at_rps}/s); recommended steady rate ${r.recommended_rps}/s\n`;
    case 'generator_limit':
      return (
        `the generator could no longer keep its rate before the SLO broke${figures}: ` +
        `breakpoint ≥ ${r.breakpoint_rps}/s (SLO "${r.slo}" held there); recommended ≤ ${r.recommended_rps}/s\n`
      );
    case 'not_reached':
      return `SLO "${r.slo}" held up to --max (${r.max_rps}/s): breakpoint is higher; recommended ≤ ${r.recommended_rps}/s\n`;
    case 'below_start':
      return `SLO "${r.slo}" already broke at the first step (${r.broken_at_rps}/s): lower --start\n`;
    case 'invalid':
      return `cannot judge: the first step (${r.stopped_at_rps}/s) was already generator-bound${figures}\n`;
    case 'unevaluable':
      return 'cannot judge: a step got no responses (is the target up?)\n';
    case 'interrupted':
      return `interrupted at ${r.stopped_at_rps ?? '-'}/s; the SLO held up to ${r.breakpoint_rps ?? '-'}/s so far\n`;
  }
}

export function registerBreakpoint(program: Command): void {
  addCommonFlags(
    program
      .command('breakpoint')
      .description('Ramp the arrival rate in steps until the SLO breaks; report the breakpoint and a safe steady rate.')
      .option('--start <rps>', 'first step rate', '100')
      .option('--step <rps>', 'rate added per step (with --step-factor: the least added)', '100')
      .option('--step-factor <x>', 'each step this many times the last (1–10; default 1: --step more each step)')
      .option('--step-duration <duration>', 'length of each step (whole seconds)', '10s')
      .option('--max <rps>', 'safety cap: the last step rate (default: none — the ramp goes on until the SLO or the generator gives out)')
      .option('--slo <slo>', 'what must hold at each step', 'p99<250ms,errors<0.1%'),
  )
    .addHelpText(
      'after',
      `
Each step is judged on its own merged latency histogram (from intended start) and its error rate, where errors
are 5xx (see --error-status), timeouts, connection failures and drops. The ramp also stops when the generator
itself can no longer keep a step's rate (dispatch lag p99 over --max-lag, drops while it was late, drops at
--max-in-flight while latency held, or most seconds stalled); it then says so with its figures and the breakpoint
is a lower bound. The breakpoint is the last step that held; the recommended steady-state rate is 65 % of it.

--json adds to each step line: sent_rps, achieved_rps, generator {dispatch_lag_p99_ms, generator_dropped,
in_flight_cap_dropped, in_flight_max, event_loop_delay_p99_ms, cpu_pressure_max, unmeasurable_seconds,
limited_by}; and to the breakpoint line: stopped_by (slo | generator | max_rps | no_responses | interrupted),
stopped_at_rps, breakpoint_is_lower_bound, max_rps, max_rps_derived, recommended_fraction, generator, and ramp
(per step: rate_rps, sent_rps, achieved_rps, p99_ms, error_rate, dispatch_lag_p99_ms, held, valid).

Examples:
  faultline breakpoint --target http://127.0.0.1:8080 --start 100 --step 100 --step-duration 10s --max 20000 --slo "p99<250ms,errors<0.1%"
  faultline breakpoint --target http://127.0.0.1:8080 --mix experiments/mixes/lab-default.yaml --seed 42 --out ramp.jsonl
  faultline breakpoint --target http://127.0.0.1:8080 --start 1000 --step 1000 --step-duration 5s --max 30000 --json
  faultline breakpoint --target http://127.0.0.1:8080 --start 500 --step 500 --step-duration 5s   # no top: until something gives
  faultline breakpoint --target http://127.0.0.1:8080 --start 50 --step 50 --step-factor 1.5   # ×1.5 a step: wide range, few steps`,
    )
    .action(async (f: BreakpointFlags) => {
      const [{ findBreakpoint, parseSlo }, { parseDuration, parseNumber }] = await Promise.all([import('../load/breakpoint.ts'), import('../core/units.ts')]);
      const slo = parseSlo(f.slo, '--slo');
      const start = parseNumber(f.start, '--start', { min: 0.001, max: 10_000_000 });
      const step = parseNumber(f.step, '--step', { min: 0.001, max: 10_000_000 });
      const factor = f.stepFactor === undefined ? undefined : parseNumber(f.stepFactor, '--step-factor', { min: 1, max: 10 });
      const max = f.max === undefined ? undefined : parseNumber(f.max, '--max', { min: 0.001, max: 10_000_000 });
      const stepMs = parseDuration(f.stepDuration, '--step-duration');
      if (stepMs < 1000 || stepMs % 1000 !== 0) {
        throw new FaultlineError('INVALID_INPUT', `--step-duration: must be whole seconds, ≥ 1s (got "${f.stepDuration}")`, {
          field: '--step-duration',
        });
      }
      if (max !== undefined && max < start) {
        throw new FaultlineError('INVALID_INPUT', `--max: must be ≥ --start (${start}) (got ${max})`, { field: '--max' });
      }
      // Step verdicts and the final one go into the same JSON-lines streams as the series: a saved ramp explains itself.
      const { options, prom, files } = await commonOptions(f, { keepOpen: true });
      const ctrl = new AbortController();
      const signals = onInterrupt(() => ctrl.abort());
      try {
        const result = await findBreakpoint({
          ...options,
          signal: ctrl.signal,
          start_rps: start,
          step_rps: step,
          step_factor: factor,
          step_duration_ms: stepMs,
          max_rps: max,
          slo,
          onStep: (s) => {
            for (const o of files) o.lines({ type: 'step', ...s });
            if (!f.json) process.stdout.write(stepLine(s));
          },
        });
        const { summary: _s, steps, ...rest } = result;
        // The ramp rides along on the verdict line, one compact entry per step (the full steps are the 'step' lines).
        const ramp = steps.map((s) => ({
          rate_rps: s.rate_rps,
          sent_rps: s.sent_rps,
          achieved_rps: s.achieved_rps,
          p99_ms: s.latency_ms.p99 ?? null,
          error_rate: s.error_rate,
          dispatch_lag_p99_ms: s.dispatch_lag_p99_ms,
          held: s.held,
          valid: s.valid,
        }));
        for (const o of files) o.lines({ ...rest, ramp });
        if (!f.json) process.stdout.write(verdictText(result));
        if (signals.interrupted()) process.exitCode = EXIT.INTERRUPTED;
        else if (result.status !== 'found' && result.status !== 'not_reached') process.exitCode = EXIT.HYPOTHESIS_FAILED;
      } finally {
        signals.off();
        for (const o of files) await o.close();
        await prom?.close();
      }
    });
}
