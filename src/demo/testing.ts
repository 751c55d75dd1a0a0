/**
 * For the demo's tests: a finished run (DemoRun) made without a lab — a real Verdict, computed on an empty
 * synthetic store so that every field a report reads exists, with the fields a test is about set by hand.
 */
import { SeriesStore } from '../metrics/store.ts';
import { computeVerdict, type Verdict } from '../runner/evaluate.ts';
import { parseExperiment } from '../runner/schema.ts';
import { resolvedForTests } from '../runner/testing.ts';
import type { DemoRun } from './report.ts';

const EXPERIMENT = resolvedForTests(
  parseExperiment(
    {
      title: 'synthetic',
      hypothesis: { name: 'h', sli: [{ name: 'write_p99_ms', source: 'server', metric: 'latency_ms', route: '/w', method: 'POST', steady_state: 250 }] },
      windows: { warmup_s: 0, baseline_s: 10, fault_s: 10, recovery_s: 20 },
      load: { rate: 10, seed: 1 },
      faults: [{ type: 'latency', target: 'dep' }],
      integrity: { enabled: false },
    },
    '/tmp/synthetic.yaml',
  ),
);

const BASE: Verdict = computeVerdict({
  experiment: EXPERIMENT,
  store: new SeriesStore(),
  marks: { start: 0, baseline_start: 0, fault_start: 10_000, first_inject: 10_000, last_revert: 20_000, fault_end: 20_000, recovery_end: 40_000 },
});

/**
 * A run of `key` in `variant` with the verdict fields given (load merged into the base's load).
 * @example fakeRun('exp1', 'before', { result: 'held', mttr_s: 2.5 }, { intervention: 'a restart' })
 */
export function fakeRun(key: string, variant: string, verdict: Partial<Omit<Verdict, 'load'>> & { load?: Partial<Verdict['load']> } = {}, run: Partial<DemoRun> = {}): DemoRun {
  const { load, ...rest } = verdict;
  return {
    key,
    variant,
    must_hold: false,
    title: `${key} — ${variant}`,
    dir: `/tmp/demo/runs/${key}-${variant}`,
    experiment_file: `/tmp/demo/experiments/${key}.${variant}.yaml`,
    verdict: { ...BASE, ...rest, load: { ...BASE.load, ...load } },
    figures: { write_error_rate: 0, write_pending_rate: 0, read_error_rate: 0, write_p99_worst_ms: 80, offered: 1000, completed: 1000 },
    faults_injected: 1,
    reverted: true,
    intervention: null,
    ...run,
  };
}
