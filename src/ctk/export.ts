/**
 * A faultline experiment written as a Chaos Toolkit experiment that uses faultline's actions, so a team can keep
 * one format (`faultline export --format chaostoolkit`):
 *
 *   load            → extensions[faultline].load (rate, mix, seed; warmup_s = windows.warmup_s)
 *   hypothesis.sli  → steady-state probes faultline.probes.sli with a range tolerance at steady_state
 *   windows+faults  → method: inject_fault per fault (pauses.before = baseline, then the offsets; ttl_s = its
 *                     duration, or to the end of the fault window + 10 s), then revert_fault (pauses.before =
 *                     what is left of the fault window, pauses.after = the recovery window)
 *   (always)        → rollbacks: revert_fault (everything this run injected)
 * Not carried: slo_threshold under fault, stop conditions, mitigations, integrity (listed in the description).
 */
import { relative, dirname, resolve } from 'node:path';
import type { Experiment } from '../runner/schema.ts';
import type { CtkExperiment } from './types.ts';

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** @example toChaosToolkit(loadExperiment('experiments/payments-latency-ci.yaml'), 'out/exp.json').method.length */
export function toChaosToolkit(exp: Experiment, outFile?: string): CtkExperiment {
  const w = exp.windows;
  const rel = outFile ? relative(dirname(resolve(outFile)), exp.mix_path) : '';
  const mix = rel && !rel.startsWith('..') ? rel : exp.mix_path;
  const faults = [...exp.faults].sort((a, b) => a.offset_s - b.offset_s);
  const method: CtkExperiment['method'] = [];
  let at = 0;
  faults.forEach((f, i) => {
    const wait = (i === 0 ? w.baseline_s : 0) + (f.offset_s - at);
    at = f.offset_s;
    const ttl = f.duration_s ?? w.fault_s - f.offset_s + 10;
    method.push({
      type: 'action',
      name: f.name ?? `inject-${f.type}-${f.target}${faults.length > 1 ? `-${i + 1}` : ''}`,
      provider: { type: 'python', module: 'faultline.actions', func: 'inject_fault', arguments: { type: f.type, target: f.target, params: f.params, ttl_s: round(ttl) } },
      ...(wait > 0 ? { pauses: { before: round(wait) } } : {}),
    });
  });
  method.push({
    type: 'action',
    name: 'revert-faults',
    provider: { type: 'python', module: 'faultline.actions', func: 'revert_fault', arguments: {} },
    pauses: { before: round(Math.max(0, w.fault_s - at)), after: round(w.recovery_s) },
  });
  const dropped = [
    exp.hypothesis.sli.some((s) => s.slo_threshold !== undefined && s.slo_threshold !== s.steady_state) ? 'under-fault SLO thresholds (slo_threshold)' : '',
    exp.hypothesis.stop_condition.length ? 'stop conditions' : '',
    Object.keys(exp.mitigations).length ? 'mitigations' : '',
    exp.integrity.enabled ? 'the integrity check' : '',
  ].filter(Boolean);
  return {
    version: '1.0.0',
    title: exp.title,
    description: `${exp.description}${dropped.length ? ` (exported from faultline; not carried: ${dropped.join(', ')})` : ' (exported from faultline)'}`,
    tags: exp.tags,
    extensions: [{ name: 'faultline', load: { rate: exp.load.rate, mix, seed: exp.load.seed, timeout_ms: exp.load.timeout_ms, warmup_s: w.warmup_s } } as { name: string }],
    'steady-state-hypothesis': {
      title: exp.hypothesis.name,
      probes: exp.hypothesis.sli.map((s) => ({
        type: 'probe' as const,
        name: s.name,
        tolerance: { type: 'range' as const, range: (s.metric === 'availability' ? [s.steady_state, 1] : [0, s.steady_state]) as [number, number] },
        provider: { type: 'python' as const, module: 'faultline.probes', func: 'sli', arguments: { metric: s.metric, ...(s.endpoint ? { endpoint: s.endpoint } : {}), ...(s.metric === 'latency_ms' ? { quantile: s.quantile } : {}), window_s: exp.hypothesis.window_s } },
      })),
    },
    method,
    rollbacks: [{ type: 'action', name: 'revert-everything-injected', provider: { type: 'python', module: 'faultline.actions', func: 'revert_fault', arguments: {} } }],
  };
}
