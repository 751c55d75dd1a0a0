/** report.md: the verdict and its numbers for a review or a PR comment. */
import { fmtS, fmtValue, type ReportFormat } from './format.ts';

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)} %`);

export const markdown: ReportFormat = {
  name: 'markdown',
  file: 'report.md',
  render(record, v) {
    const e = record.experiment;
    const lines: string[] = [];
    lines.push(`# ${e.title}`, '', `**Verdict: ${v.result.toUpperCase()}** — ${v.hypothesis}`, '');
    for (const r of v.reasons) lines.push(`- ${r}`);
    lines.push('', `Run ${record.started_at} → ${record.ended_at}; load ${e.load.rate} req/s, seed ${e.load.seed}; windows: baseline ${v.windows.baseline_s.toFixed(0)} s, fault ${v.windows.fault_s.toFixed(1)} s, recovery ${v.windows.recovery_s.toFixed(1)} s.`, '');
    lines.push('## Numbers', '', '| | value |', '|---|---|');
    lines.push(`| baseline p99 | ${fmtValue(v.baseline_p99, 'latency_ms')} |`);
    lines.push(`| fault p99 | ${fmtValue(v.fault_p99, 'latency_ms')} |`);
    lines.push(`| baseline error rate | ${fmtValue(v.baseline_err_rate, 'error_rate')} |`);
    lines.push(`| fault error rate | ${fmtValue(v.fault_err_rate, 'error_rate')} |`);
    lines.push(`| read availability (fault) | ${fmtValue(v.read_availability, 'availability')} |`);
    lines.push(`| time to detect | ${fmtS(v.time_to_detect_s)} |`);
    lines.push(`| MTTR | ${fmtS(v.mttr_s)} |`);
    lines.push(`| blast radius | ${v.blast_radius.endpoints_breached}/${v.blast_radius.endpoints_total} endpoints (${pct(v.blast_radius.fraction)}), ${v.blast_radius.services_breached.length}/${v.blast_radius.services_total} services (${pct(v.blast_radius.services_fraction)}) |`);
    lines.push(`| offered writes → payments calls | ${v.load.offered_writes} → ${v.load.effective_payments_calls} (×${v.load.amplification?.toFixed(2) ?? '—'}; baseline ×${v.load.baseline_amplification?.toFixed(2) ?? '—'}) |`);
    lines.push(`| data integrity | ${v.integrity.checked ? (v.integrity.ok ? 'ok' : 'BROKEN') : 'not checked'}: ${v.integrity.notes.join('; ')} |`);
    lines.push('', '## SLIs', '', '| SLI | steady state | SLO under fault | baseline | fault | worst (rolling) | recovery |', '|---|---|---|---|---|---|---|');
    for (const s of v.slis) {
      const op = s.direction === 'max' ? '≤' : '≥';
      lines.push(`| ${s.name} | ${op} ${fmtValue(s.steady_state, s.metric)} | ${op} ${fmtValue(s.slo_threshold, s.metric)} | ${fmtValue(s.baseline, s.metric)} | ${fmtValue(s.fault, s.metric)} | ${fmtValue(s.fault_worst, s.metric)}${s.breached_under_fault ? ' ✗' : ''} | ${fmtValue(s.recovery, s.metric)} |`);
    }
    if (v.blast_radius.endpoints.length > 0) {
      lines.push('', '## Blast radius', '', '| service | endpoint | SLI | baseline | fault | threshold | over by |', '|---|---|---|---|---|---|---|');
      for (const b of v.blast_radius.endpoints) {
        const m = b.sli.includes('ms') || b.sli.includes('p99') ? 'latency_ms' : 'error_rate';
        lines.push(`| ${b.service} | ${b.endpoint} | ${b.sli} | ${fmtValue(b.baseline, m)} | ${fmtValue(b.fault, m)} | ${fmtValue(b.threshold, m)} | ${pct(b.excess)} |`);
      }
    }
    lines.push('', '## Faults', '');
    for (const f of record.fault_events) {
      lines.push(`- ${f.fault_type} on ${f.target} ${JSON.stringify(f.params)} via ${f.mechanism}: ${new Date(f.t_start * 1000).toISOString()} → ${f.t_stop ? new Date(f.t_stop * 1000).toISOString() : 'not reverted!'}`);
    }
    if (record.fault_events.length === 0) lines.push('- none injected');
    lines.push('', `Mitigations: ${Object.keys(record.mitigations.requested).length ? JSON.stringify(record.mitigations.requested) : '{}'} — ${record.mitigations.applied}.`);
    if (record.notes.length > 0) lines.push('', '## Notes', '', ...record.notes.map((n) => `- ${n}`));
    return `${lines.join('\n')}\n`;
  },
};
