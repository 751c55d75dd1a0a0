/** report.md: the verdict and its numbers for a review or a PR comment. */
import { fmtDiff, fmtEstimate, fmtInterval, fmtS, faultLine, fmtValue, cpuTable, perFaultTable, type ReportFormat } from './format.ts';
import type { Headline, Verdict } from '../evaluate.ts';

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
    // Each source in its own column: a figure is never shown under the other source's name.
    const h = (x: Headline | null | undefined, k: Exclude<keyof Headline, 'n' | 'from'>, m: string): string => (x ? fmtValue(x[k], m) : 'not recorded');
    const u = v.figures?.users;
    const sv = v.figures?.server;
    const from = (u ?? sv)?.from;
    lines.push(`## Numbers (headline source: ${v.figures_source ?? 'server'})`, '', '| | users (load generator) | server (its own histograms) |', '|---|---|---|');
    if (from?.latency) {
      lines.push(`| baseline ${from.latency} | ${h(u, 'baseline_p99', 'latency_ms')} | ${h(sv, 'baseline_p99', 'latency_ms')} |`);
      lines.push(`| fault ${from.latency} | ${h(u, 'fault_p99', 'latency_ms')} | ${h(sv, 'fault_p99', 'latency_ms')} |`);
    }
    if (from?.error_rate) {
      lines.push(`| baseline ${from.error_rate} | ${h(u, 'baseline_err_rate', 'error_rate')} | ${h(sv, 'baseline_err_rate', 'error_rate')} |`);
      lines.push(`| fault ${from.error_rate} | ${h(u, 'fault_err_rate', 'error_rate')} | ${h(sv, 'fault_err_rate', 'error_rate')} |`);
    }
    if (from?.availability) lines.push(`| ${from.availability} (fault) | ${h(u, 'fault_availability', 'availability')} | ${h(sv, 'fault_availability', 'availability')} |`);
    lines.push(`| requests (baseline / fault${from?.availability ? ` / ${from.availability} under fault` : ''}) | ${u ? `${u.n.baseline} / ${u.n.fault} / ${u.n.fault_availability}` : '—'} | ${sv ? `${sv.n.baseline} / ${sv.n.fault} / ${sv.n.fault_availability}` : '—'} |`);
    lines.push('', '| | value |', '|---|---|');
    lines.push(`| time to detect | ${fmtS(v.time_to_detect_s)} (${v.timing?.source ?? 'server'}; ${v.timing?.detect_precision ?? 'one scrape interval'}) |`);
    lines.push(`| MTTR | ${v.mttr_s === null ? '—' : `${v.mttr_s.toFixed(2)} s`} (${v.timing?.source ?? 'server'}; ${v.timing?.mttr_precision ?? 'one scrape interval'}) |`);
    lines.push(`| blast radius | ${v.blast_radius.endpoints_breached}/${v.blast_radius.endpoints_total} endpoints (${pct(v.blast_radius.fraction)}), ${v.blast_radius.services_breached.length}/${v.blast_radius.services_total} services (${pct(v.blast_radius.services_fraction)}) |`);
    for (const c of v.load.counters ?? []) {
      const per = c.per_endpoint && c.offered ? `; per offered ${c.per_endpoint}: ×${c.ratio?.toFixed(2) ?? '—'} (baseline ×${c.baseline_ratio?.toFixed(2) ?? '—'}, ${c.offered.fault} offered)` : '';
      lines.push(`| counter ${c.name} (baseline → fault window) | ${c.baseline} → ${c.fault}${per} |`);
    }
    lines.push(`| data integrity | ${v.integrity.checked ? (v.integrity.ok ? 'ok' : 'BROKEN') : 'not checked'}: ${integrityText(v.integrity)} |`);
    const perFault = perFaultTable(v);
    if (perFault) lines.push('', `### ${perFault.title}`, '', ...table(perFault));
    lines.push('', '## SLIs', '', '| SLI | judged on | status | steady state | SLO under fault | baseline | fault | worst (rolling) | recovery |', '|---|---|---|---|---|---|---|---|---|');
    for (const s of v.slis) {
      const op = s.direction === 'max' ? '≤' : '≥';
      lines.push(`| ${s.name} | ${s.measured_at ?? s.source ?? 'server'} | ${s.status ?? (s.breached_under_fault ? 'breached' : 'held')} | ${op} ${fmtValue(s.steady_state, s.metric)} | ${op} ${fmtValue(s.slo_threshold, s.metric)} | ${s.evidence ? fmtEstimate(s.evidence.baseline, s.metric) : fmtValue(s.baseline, s.metric)} | ${s.evidence ? fmtEstimate(s.evidence.fault, s.metric) : fmtValue(s.fault, s.metric)} | ${fmtValue(s.fault_worst, s.metric)}${s.breached_under_fault ? ' ✗' : ''} | ${s.evidence ? fmtEstimate(s.evidence.recovery, s.metric) : fmtValue(s.recovery, s.metric)} |`);
    }
    if (v.slis.some((s) => s.other)) {
      lines.push('', '### The other source, beside (not judged)', '', '| SLI | source | baseline | fault | worst (rolling) | recovery |', '|---|---|---|---|---|---|');
      for (const s of v.slis) {
        if (!s.other) continue;
        lines.push(`| ${s.name} | ${s.other.source} | ${fmtEstimate(s.other.baseline, s.metric)} | ${fmtEstimate(s.other.fault, s.metric)} | ${fmtValue(s.other.fault_worst, s.metric)} | ${fmtEstimate(s.other.recovery, s.metric)} |`);
      }
    }
    if (v.slis.some((s) => s.comparisons)) {
      lines.push('', '### Comparisons (95 % intervals)', '', '| SLI | comparison | difference | interval | n | method | beyond chance |', '|---|---|---|---|---|---|---|');
      for (const s of v.slis) {
        for (const c of [s.comparisons?.fault_vs_baseline, s.comparisons?.recovery_vs_fault]) {
          if (!c) continue;
          lines.push(`| ${s.name} | ${c.what} | ${fmtDiff(c.diff, s.metric)} | ${fmtInterval(c.ci, s.metric)} | ${c.n[0]} vs ${c.n[1]} | ${c.method}${c.note ? ` (${c.note})` : ''} | ${c.significant ? 'yes' : 'no'} |`);
        }
      }
      lines.push('', 'Precision:', ...v.slis.map((s) => `- ${s.name} (${s.source}): ${s.precision}`));
    }
    if (v.samples && v.samples.length > 0) {
      lines.push('', '### Samples too small or unknown', '', '| SLI | phase | n | needed | why |', '|---|---|---|---|---|');
      for (const x of v.samples) lines.push(`| ${x.sli} | ${x.phase} | ${x.n} | ${x.needed ?? '—'} | ${x.why} |`);
    }
    if (v.slis.some((s) => (s.recovery_curve?.users.length ?? 0) + (s.recovery_curve?.server.length ?? 0) > 0)) {
      lines.push('', '### Recovery curves (value vs seconds since the revert)', '');
      for (const s of v.slis) {
        const c = s.recovery_curve;
        if (!c) continue;
        const show = (pts: { t_s: number; value: number | null; n: number }[]): string => pts.slice(0, 24).map((p) => `${p.t_s}s ${fmtValue(p.value, s.metric)}`).join(' · ') + (pts.length > 24 ? ' …' : '');
        if (c.users.length) lines.push(`- ${s.name}, users (per 0.5 s of arrivals): ${show(c.users)}`);
        if (c.server.length) lines.push(`- ${s.name}, server (per scrape interval): ${show(c.server)}`);
      }
    }
    if (v.measurement) {
      const w = v.measurement.worst;
      lines.push('', `Measurement: ${v.measurement.unmeasurable_seconds} unmeasurable second(s) in the judged windows; worst dispatch lag p99 ${w.dispatch_lag_p99_ms ?? '—'} ms, event-loop delay p99 ${w.event_loop_delay_p99_ms ?? '—'} ms, CPU pressure ${w.cpu_pressure === null ? '—' : `${(w.cpu_pressure * 100).toFixed(0)} %`} in a second, ${w.cpu_pressure_window_mean == null ? '—' : `${(w.cpu_pressure_window_mean * 100).toFixed(0)} %`} over the worst window.`);
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
      lines.push(`- ${faultLine(f)}`);
    }
    if (record.fault_events.length === 0) lines.push('- none injected');
    const sc = record.state_changes;
    if (sc !== undefined) {
      lines.push('', `## State changes (seconds from the first inject; each to one scrape interval, ${sc.precision_s} s)`, '');
      if (sc.changes.length === 0) lines.push('- none: every declared state held its value through the run');
      else {
        lines.push('| t (s) | service | state | from → to |', '|---|---|---|---|');
        for (const c of sc.changes) lines.push(`| ${c.t_s.toFixed(1)} | ${c.service} | ${c.name}${c.of ? ` (${c.of})` : ''} | ${c.from} → ${c.to} |`);
      }
    }
    const cpu = cpuTable(record.cpu);
    if (cpu) lines.push('', `## ${cpu.title}`, '', cpu.legend, '', ...table(cpu));
    lines.push('', `Mitigations: ${Object.keys(record.mitigations.requested).length ? JSON.stringify(record.mitigations.requested) : '{}'} — ${record.mitigations.applied}.`);
    if (record.notes.length > 0) lines.push('', '## Notes', '', ...record.notes.map((n) => `- ${n}`));
    return `${lines.join('\n')}\n`;
  },
};

function table(t: { head: string[]; rows: string[][] }): string[] {
  return [`| ${t.head.join(' | ')} |`, `|${t.head.map(() => '---').join('|')}|`, ...t.rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** Each check with what it expected and found (older run records carry notes only). */
function integrityText(i: Verdict['integrity']): string {
  const checks = (i.checks ?? []).map((c) => `${c.ok ? '✓' : '✗'} ${c.name}: expected ${c.expected}, found ${c.found}`);
  return [...checks, ...i.notes].join('; ');
}
