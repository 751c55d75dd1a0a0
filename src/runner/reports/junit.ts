/** junit.xml: one test suite per run, so CI shows the verdict and each check as test cases. */
import { fmtEstimate, fmtValue, type ReportFormat } from './format.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const junit: ReportFormat = {
  name: 'junit',
  file: 'junit.xml',
  render(record, v) {
    const cases: { name: string; failure?: string }[] = [];
    cases.push({ name: `verdict: ${v.result}`, failure: v.result === 'held' ? undefined : v.reasons.join('; ') });
    for (const s of v.slis) {
      const op = s.direction === 'max' ? '≤' : '≥';
      const src = s.source ? ` (${s.source})` : '';
      const n = (e: { n: number } | undefined): string => (e ? `, n = ${e.n}` : '');
      cases.push({ name: `baseline ${s.name}${src} ${op} ${fmtValue(s.steady_state, s.metric)}`, failure: s.baseline_ok ? undefined : `was ${fmtEstimate(s.evidence?.baseline, s.metric) === '—' ? fmtValue(s.baseline, s.metric) : fmtEstimate(s.evidence?.baseline, s.metric)}` });
      if (v.result !== 'invalid') {
        const status = s.status ?? (s.breached_under_fault ? 'breached' : 'held');
        const failure =
          status === 'breached'
            ? `reached ${fmtValue(s.fault_worst, s.metric)} (fault window ${fmtValue(s.fault, s.metric)}${n(s.evidence?.fault)})`
            : status === 'held'
              ? undefined
              : `${status}: ${fmtEstimate(s.evidence?.fault, s.metric)}`;
        cases.push({ name: `under fault ${s.name}${src} ${op} ${fmtValue(s.slo_threshold, s.metric)}`, failure });
      }
    }
    if (v.result !== 'invalid') cases.push({ name: 'recovered (MTTR)', failure: v.mttr_s === null ? 'did not recover within the recovery window' : undefined });
    // One case per integrity check, so CI shows which one broke.
    for (const c of v.integrity.checks ?? []) cases.push({ name: `integrity ${c.name}`, failure: c.ok ? undefined : `expected ${c.expected}, found ${c.found}` });
    if (v.integrity.checked && !v.integrity.checks?.length) cases.push({ name: 'data integrity', failure: v.integrity.ok ? undefined : v.integrity.notes.join('; ') });
    const failures = cases.filter((c) => c.failure !== undefined).length;
    const duration = (new Date(record.ended_at).getTime() - new Date(record.started_at).getTime()) / 1000;
    const suite = esc(record.experiment.title);
    const body = cases
      .map((c) => `    <testcase classname="${suite}" name="${esc(c.name)}">${c.failure !== undefined ? `<failure message="${esc(c.failure)}"/>` : ''}</testcase>`)
      .join('\n');
    return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="${cases.length}" failures="${failures}" time="${duration.toFixed(1)}">\n  <testsuite name="${suite}" tests="${cases.length}" failures="${failures}" time="${duration.toFixed(1)}" timestamp="${record.started_at}">\n${body}\n  </testsuite>\n</testsuites>\n`;
  },
};
