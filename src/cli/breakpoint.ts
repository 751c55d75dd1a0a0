/**
 * `faultline breakpoint`: steps the arrival rate up until an SLO breaks and prints the breakpoint and the
 * recommended steady-state rate (≈ 65 % of it). Exit codes: 0 breakpoint found (or SLO held up to --max),
 * 1 it could not be judged (generator-bound step, SLO broken at --start, a step without responses), 2 bad input.
 */
import type { Command } from 'commander';
import { EXIT } from '../core/exit.ts';
import type { BreakpointResult, StepResult } from '../load/breakpoint.ts';
import { addCommonFlags, commonOptions, onInterrupt, type CommonFlags } from './load.ts';
import { FaultlineError } from '../core/errors.ts';

interface BreakpointFlags extends CommonFlags {
  start: string;
  step: string;
  stepDuration: string;
  max: string;
  slo: string;
}

function stepLine(s: StepResult): string {
  const lat = Object.entries(s.latency_ms).map(([k, v]) => `${k} ${v}ms`).join(' ');
  const verdict = s.held ? 'held' : `BROKEN (${s.broken_by.join(', ')})`;
  return `  step ${s.step}: ${s.rate_rps}/s  ${lat}  errors ${(s.error_rate * 100).toFixed(3)}%  ${verdict}${s.valid ? '' : '  [generator-bound]'}\n`;
}

function verdictText(r: BreakpointResult, max: number): string {
  switch (r.status) {
    case 'found':
      return `breakpoint ${r.breakpoint_rps}/s (SLO "${r.slo}" broke at ${r.broken_at_rps}/s); recommended steady rate ${r.recommended_rps}/s\n`;
    case 'not_reached':
      return `SLO "${r.slo}" held up to --max (${max}/s): breakpoint is higher; recommended ≤ ${r.recommended_rps}/s\n`;
    case 'below_start':
      return `SLO "${r.slo}" already broke at the first step (${r.broken_at_rps}/s): lower --start\n`;
    case 'invalid':
      return `cannot judge: the step that broke the SLO (${r.broken_at_rps}/s) was generator-bound (dispatch lag or generator drops)\n`;
    case 'unevaluable':
      return 'cannot judge: a step got no responses (is the target up?)\n';
  }
}

export function registerBreakpoint(program: Command): void {
  addCommonFlags(
    program
      .command('breakpoint')
      .description('Ramp the arrival rate in steps until the SLO breaks; report the breakpoint and a safe steady rate.')
      .option('--start <rps>', 'first step rate', '100')
      .option('--step <rps>', 'rate added per step', '100')
      .option('--step-duration <duration>', 'length of each step (whole seconds)', '10s')
      .option('--max <rps>', 'last step rate', '20000')
      .option('--slo <slo>', 'what must hold at each step', 'p99<250ms,errors<0.1%'),
  )
    .addHelpText(
      'after',
      `
Each step is judged on its own merged latency histogram (from intended start) and its error rate, where errors
are 5xx (see --error-status), timeouts, connection failures and drops. The breakpoint is the last step that held;
the recommended steady-state rate is 65 % of it.

Examples:
  faultline breakpoint --target http://127.0.0.1:8080 --start 100 --step 100 --step-duration 10s --max 20000 --slo "p99<250ms,errors<0.1%"
  faultline breakpoint --target http://127.0.0.1:8080 --mix experiments/mixes/lab-default.yaml --seed 42 --out ramp.jsonl
  faultline breakpoint --target http://127.0.0.1:8080 --start 1000 --step 1000 --step-duration 5s --max 30000 --json`,
    )
    .action(async (f: BreakpointFlags) => {
      const [{ findBreakpoint, parseSlo }, { parseDuration, parseNumber }] = await Promise.all([import('../load/breakpoint.ts'), import('../core/units.ts')]);
      const slo = parseSlo(f.slo, '--slo');
      const start = parseNumber(f.start, '--start', { min: 0.001, max: 10_000_000 });
      const step = parseNumber(f.step, '--step', { min: 0.001, max: 10_000_000 });
      const max = parseNumber(f.max, '--max', { min: 0.001, max: 10_000_000 });
      const stepMs = parseDuration(f.stepDuration, '--step-duration');
      if (stepMs < 1000 || stepMs % 1000 !== 0) {
        throw new FaultlineError('INVALID_INPUT', `--step-duration: must be whole seconds, ≥ 1s (got "${f.stepDuration}")`, {
          field: '--step-duration',
        });
      }
      if (max < start) {
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
          step_duration_ms: stepMs,
          max_rps: max,
          slo,
          onStep: (s) => {
            for (const o of files) o.lines({ type: 'step', ...s });
            if (!f.json) process.stdout.write(stepLine(s));
          },
        });
        const { summary: _s, steps: _st, ...head } = result;
        for (const o of files) o.lines(head);
        if (!f.json) process.stdout.write(verdictText(result, max));
        if (signals.interrupted()) process.exitCode = EXIT.INTERRUPTED;
        else if (result.status !== 'found' && result.status !== 'not_reached') process.exitCode = EXIT.HYPOTHESIS_FAILED;
      } finally {
        signals.off();
        for (const o of files) await o.close();
        await prom?.close();
      }
    });
}
