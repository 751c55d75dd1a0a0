/**
 * A Chaos Toolkit-style journal (journal.json): CTK's top-level fields (status, deviated, steady_states
 * {before, after, during}, run, rollbacks) so tools that read CTK journals can read ours. Mapping: the baseline
 * is `before`, the recovery window `after`, each fault-window tick one `during` entry; injections are `run`
 * actions, reverts are `rollbacks`. Status follows CTK: a broken baseline is `completed` without deviation
 * (the method never ran), a stop condition or Ctrl-C is `interrupted`, a hypothesis that left its SLO is
 * `completed` with `deviated: true`.
 */
import { VERSION } from '../../core/version.ts';
import type { Verdict } from '../evaluate.ts';
import type { RunRecord } from '../record.ts';
import type { ReportFormat } from './format.ts';

const iso = (unixS: number | undefined): string | null => (unixS === undefined ? null : new Date(unixS * 1000).toISOString());

function probes(record: RunRecord, verdict: Verdict, which: 'baseline' | 'recovery') {
  return verdict.slis.map((s) => {
    const threshold = s.steady_state;
    const output = which === 'baseline' ? s.baseline : s.recovery;
    const evidence = s.evidence ? (which === 'baseline' ? s.evidence.baseline : s.evidence.recovery) : undefined;
    const met = output !== null && (s.direction === 'max' ? output <= threshold : output >= threshold);
    return {
      activity: {
        type: 'probe',
        name: s.name,
        provider: { type: 'faultline-sli', metric: s.metric, ...record.experiment.hypothesis.sli.find((x) => x.name === s.name) },
        tolerance: { type: 'range', range: s.direction === 'max' ? [0, threshold] : [threshold, 1] },
      },
      output,
      // Where the number came from, on how many requests, how exact: the same figures as the verdict's.
      source: s.source ?? 'server',
      sample_size: evidence?.n ?? null,
      confidence_interval_95: evidence?.ci ?? null,
      enough_data: evidence?.enough ?? null,
      precision: s.precision ?? null,
      status: output === null ? 'failed' : 'succeeded',
      tolerance_met: met,
    };
  });
}

export const journal: ReportFormat = {
  name: 'journal',
  file: 'journal.json',
  render(record, verdict) {
    const before = probes(record, verdict, 'baseline');
    const ran = verdict.result !== 'invalid';
    const after = ran ? probes(record, verdict, 'recovery') : [];
    const f0 = record.marks.first_inject ?? record.marks.fault_start;
    const f1 = record.marks.last_revert ?? record.marks.fault_end;
    const during = record.timeline
      .filter((t) => t.t > f0 && t.t <= f1)
      .map((t) => ({
        t: new Date(t.t).toISOString(),
        steady_state_met: verdict.slis.every((s) => {
          const v = t.rolling[s.name];
          return v === null || v === undefined || (s.direction === 'max' ? v <= s.slo_threshold : v >= s.slo_threshold);
        }),
        probes: verdict.slis.map((s) => ({ name: s.name, output: t.rolling[s.name] ?? null, tolerance: s.slo_threshold })),
      }));
    const status = verdict.result === 'aborted' ? 'interrupted' : 'completed';
    const start = new Date(record.started_at).getTime();
    const end = new Date(record.ended_at).getTime();
    return `${JSON.stringify(
      {
        'chaoslib-version': `faultline ${VERSION}`,
        platform: `${process.platform} ${process.arch}`,
        node: process.version,
        experiment: { title: record.experiment.title, description: record.experiment.description, tags: record.experiment.tags, hypothesis: record.experiment.hypothesis, method: record.experiment.faults },
        start: record.started_at,
        end: record.ended_at,
        duration: (end - start) / 1000,
        status,
        deviated: verdict.result === 'degraded' || verdict.result === 'failed',
        steady_states: {
          before: { steady_state_met: before.every((p) => p.tolerance_met), probes: before },
          after: ran ? { steady_state_met: after.every((p) => p.tolerance_met), probes: after } : null,
          during,
        },
        run: record.fault_events.map((f) => ({
          activity: { type: 'action', name: f.name ?? `${f.fault_type}-${f.target}`, provider: { type: 'faultline-fault', fault_type: f.fault_type, target: f.target, params: f.params } },
          output: { id: f.id, mechanism: f.mechanism },
          start: iso(f.t_start),
          end: iso(f.t_stop),
          duration: f.t_stop === undefined ? null : f.t_stop - f.t_start,
          status: 'succeeded',
        })),
        rollbacks: record.fault_events.map((f) => ({
          activity: { type: 'action', name: `revert ${f.id}`, provider: { type: 'faultline-revert', id: f.id } },
          output: { t_stop: f.t_stop ?? null },
          start: iso(f.t_stop),
          end: iso(f.t_stop),
          status: f.t_stop === undefined ? 'failed' : 'succeeded',
        })),
        faultline: {
          verdict: verdict.result,
          reasons: verdict.reasons,
          figures_source: verdict.figures_source ?? 'server',
          figures: verdict.figures ?? null,
          mttr_s: verdict.mttr_s,
          time_to_detect_s: verdict.time_to_detect_s,
          timing: verdict.timing ?? null,
          slis: verdict.slis.map((s) => ({ name: s.name, source: s.source, status: s.status, evidence: s.evidence, other: s.other, comparisons: s.comparisons, precision: s.precision, recovery_curve: s.recovery_curve })),
          samples: verdict.samples ?? [],
          measurement: verdict.measurement ?? null,
        },
      },
      null,
      2,
    )}\n`;
  },
};
