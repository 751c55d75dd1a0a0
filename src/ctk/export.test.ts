import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadExperiment } from '../runner/schema.ts';
import { toChaosToolkit } from './export.ts';
import { isCtkExperiment, validateCtk } from './load.ts';

const CI = new URL('../../experiments/payments-latency-ci.yaml', import.meta.url).pathname;

test('a faultline experiment exports as a valid CTK experiment using faultline actions, windows as pauses', () => {
  const exp = loadExperiment(CI);
  const ctk = toChaosToolkit(exp);
  assert.equal(isCtkExperiment(ctk), true);
  validateCtk(structuredClone(ctk));
  const load = (ctk.extensions![0] as unknown as { name: string; load: Record<string, unknown> });
  assert.deepEqual([load.name, load.load.rate, load.load.seed, load.load.mix], ['faultline', 40, 7, exp.mix_path]);
  const probes = ctk['steady-state-hypothesis']!.probes as { name: string; tolerance: { range: number[] }; provider: { func: string; arguments: Record<string, unknown> } }[];
  assert.deepEqual(probes.map((p) => [p.name, p.provider.func, p.tolerance.range]), [
    ['write_p99_ms', 'sli', [0, 250]],
    ['write_error_rate', 'sli', [0, 0.001]],
    ['read_availability', 'sli', [0.999, 1]],
  ]);
  const method = ctk.method as { name: string; pauses?: { before?: number; after?: number }; provider: { func: string; arguments: Record<string, unknown> } }[];
  assert.deepEqual(method.map((m) => m.provider.func), ['inject_fault', 'revert_fault']);
  assert.equal(method[0].pauses?.before, exp.windows.baseline_s);
  assert.deepEqual(method[0].provider.arguments, { type: 'latency', target: 'payments', params: { delay_ms: 200, jitter_ms: 20 }, ttl_s: exp.windows.fault_s + 10 });
  assert.deepEqual(method[1].pauses, { before: exp.windows.fault_s, after: exp.windows.recovery_s });
  assert.match(ctk.description, /not carried: .*stop conditions/);
  assert.equal((ctk.rollbacks![0] as { provider: { func: string } }).provider.func, 'revert_fault');
});
