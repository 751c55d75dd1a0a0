/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no CDN) with the verdict, its numbers and
 * one chart per SLI — the per-interval value (the recovery curve), the rolling value the hypothesis was judged
 * on, the steady-state and SLO thresholds, the fault window shaded and the recovery point marked.
 */
import { markdown } from './markdown.ts';
import { fmtS, fmtValue, cpuTable, perFaultTable, type ReportFormat } from './format.ts';
import type { Verdict } from '../evaluate.ts';
import type { RunRecord } from '../record.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const COLORS: Record<string, string> = { held: '#1a7f37', degraded: '#9a6700', failed: '#cf222e', aborted: '#8250df', invalid: '#57606a', inconclusive: '#0550ae' };

function chart(record: RunRecord, v: Verdict, name: string): string {
  const s = v.slis.find((x) => x.name === name)!;
  const W = 760;
  const H = 220;
  const pad = { l: 64, r: 12, t: 12, b: 28 };
  const t0 = record.marks.start;
  const t1 = Math.max(record.marks.recovery_end, ...record.timeline.map((t) => t.t));
  const scale = s.metric === 'latency_ms' ? 1 : 100;
  const pts = record.timeline.map((t) => ({ x: (t.t - t0) / 1000, i: t.interval[name], r: t.rolling[name], o: t.other_interval?.[name] }));
  const values = pts.flatMap((p) => [p.i, p.r, p.o]).filter((x): x is number => x !== null && x !== undefined).map((x) => x * scale);
  const yMax = Math.max(1e-9, s.steady_state * scale, s.slo_threshold * scale, ...values) * 1.1;
  const yMin = s.metric === 'availability' ? Math.min(s.slo_threshold * scale, ...values) * 0.999 : 0;
  const xMax = Math.max(1, (t1 - t0) / 1000);
  const X = (x: number): number => pad.l + (x / xMax) * (W - pad.l - pad.r);
  const Y = (y: number): number => pad.t + (1 - (y - yMin) / (yMax - yMin || 1)) * (H - pad.t - pad.b);
  const line = (key: 'i' | 'r' | 'o'): string => {
    let d = '';
    let pen = false;
    for (const p of pts) {
      const y = p[key];
      if (y === null || y === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(y * scale).toFixed(1)}`;
      pen = true;
    }
    return d;
  };
  const f0 = record.marks.first_inject;
  const f1 = record.marks.last_revert ?? record.marks.fault_end;
  const shade = f0 === undefined ? '' : `<rect class="fault" x="${X((f0 - t0) / 1000).toFixed(1)}" y="${pad.t}" width="${Math.max(1, X((f1 - t0) / 1000) - X((f0 - t0) / 1000)).toFixed(1)}" height="${H - pad.t - pad.b}"><title>fault window</title></rect>`;
  const mttr = v.mttr_s !== null && record.marks.last_revert !== undefined ? (record.marks.last_revert - t0) / 1000 + v.mttr_s : undefined;
  const recMark = mttr === undefined ? '' : `<line class="recovered" x1="${X(mttr).toFixed(1)}" x2="${X(mttr).toFixed(1)}" y1="${pad.t}" y2="${H - pad.b}"/><text x="${(X(mttr) + 3).toFixed(1)}" y="${pad.t + 12}" class="lbl">recovered (MTTR ${v.mttr_s!.toFixed(1)} s)</text>`;
  const hline = (y: number, cls: string, label: string): string =>
    `<line class="${cls}" x1="${pad.l}" x2="${W - pad.r}" y1="${Y(y * scale).toFixed(1)}" y2="${Y(y * scale).toFixed(1)}"/><text class="lbl" x="${W - pad.r - 4}" y="${(Y(y * scale) - 3).toFixed(1)}" text-anchor="end">${label}</text>`;
  // Each state change (a breaker opening, closing) as a mark along the top edge, labelled on hover.
  const states = (record.state_changes?.changes ?? [])
    .filter((c) => c.at_ms >= t0 && c.at_ms <= t1)
    .map((c) => `<line class="state" x1="${X((c.at_ms - t0) / 1000).toFixed(1)}" x2="${X((c.at_ms - t0) / 1000).toFixed(1)}" y1="${pad.t}" y2="${pad.t + 10}"><title>${esc(`${c.service} ${c.name}${c.of ? ` (${c.of})` : ''}: ${c.from} → ${c.to} at ${c.t_s.toFixed(1)} s`)}</title></line>`)
    .join('');
  const unit = s.metric === 'latency_ms' ? 'ms' : '%';
  const ticksY = [0, 0.5, 1].map((f) => yMin + f * (yMax - yMin));
  const ticksX = Array.from({ length: 6 }, (_, i) => (i * xMax) / 5);
  return `<figure><figcaption>${esc(name)} — ${esc(s.measured_at ?? s.source ?? 'server')} (${esc(s.metric)}${s.metric === 'latency_ms' ? ` p${(record.experiment.hypothesis.sli.find((x) => x.name === name)!.quantile * 100).toFixed(1).replace(/\.0$/, '')}` : ''})</figcaption>
<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(name)} over time">
${shade}
<line class="axis" x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${H - pad.b}"/><line class="axis" x1="${pad.l}" x2="${W - pad.r}" y1="${H - pad.b}" y2="${H - pad.b}"/>
${ticksY.map((y) => `<text class="tick" x="${pad.l - 4}" y="${(Y(y) + 4).toFixed(1)}" text-anchor="end">${y.toFixed(y < 10 ? 2 : 0)} ${unit}</text>`).join('')}
${ticksX.map((x) => `<text class="tick" x="${X(x).toFixed(1)}" y="${H - 8}" text-anchor="middle">${x.toFixed(0)} s</text>`).join('')}
${hline(s.steady_state, 'steady', 'steady state')}
${s.slo_threshold !== s.steady_state ? hline(s.slo_threshold, 'slo', 'SLO under fault') : ''}
<path class="rolling" d="${line('r')}"/>
<path class="interval" d="${line('i')}"/>
${s.other ? `<path class="other" d="${line('o')}"><title>${esc(s.other.source)} (not judged)</title></path>` : ''}
${recMark}
${states}
</svg></figure>`;
}

function page(record: RunRecord, v: Verdict): string {
  const u = v.figures?.users;
  const sv = v.figures?.server;
  // Both sources, each under its own name.
  const both = (k: 'baseline_p99' | 'fault_p99' | 'baseline_err_rate' | 'fault_err_rate' | 'fault_availability', m: string): string =>
    `users ${u ? fmtValue(u[k], m) : 'not recorded'} · server ${sv ? fmtValue(sv[k], m) : '—'}`;
  const from = (u ?? sv)?.from;
  const rows: [string, string][] = [
    ['judged on', `${v.figures_source ?? 'server'} (${v.slis.map((s) => `${s.name}: ${s.source ?? 'server'}`).join(', ')})`],
    ...(from?.latency ? ([[`baseline ${from.latency}`, both('baseline_p99', 'latency_ms')], [`fault ${from.latency}`, both('fault_p99', 'latency_ms')]] as [string, string][]) : []),
    ...(from?.error_rate ? ([[`baseline ${from.error_rate}`, both('baseline_err_rate', 'error_rate')], [`fault ${from.error_rate}`, both('fault_err_rate', 'error_rate')]] as [string, string][]) : []),
    ...(from?.availability ? ([[`${from.availability} (fault)`, both('fault_availability', 'availability')]] as [string, string][]) : []),
    ['time to detect', `${fmtS(v.time_to_detect_s)} (${v.timing?.detect_precision ?? 'one scrape interval'})`],
    ['MTTR', `${v.mttr_s === null ? '—' : `${v.mttr_s.toFixed(2)} s`} (${v.timing?.mttr_precision ?? 'one scrape interval'})`],
    ['blast radius', `${v.blast_radius.endpoints_breached}/${v.blast_radius.endpoints_total} endpoints, ${v.blast_radius.services_breached.join(', ') || 'no service'}`],
    ...(v.load.counters ?? []).map((c): [string, string] => [`counter ${c.name}`, `${c.baseline} → ${c.fault}${c.per_endpoint && c.offered ? ` (×${c.ratio?.toFixed(2) ?? '—'} per offered ${c.per_endpoint}; baseline ×${c.baseline_ratio?.toFixed(2) ?? '—'})` : ''}`]),
    ['data integrity', `${v.integrity.checked ? (v.integrity.ok ? 'ok' : 'BROKEN') : 'not checked'} — ${[...(v.integrity.checks ?? []).map((c) => `${c.ok ? '✓' : '✗'} ${c.name}: expected ${c.expected}, found ${c.found}`), ...v.integrity.notes].join('; ')}`],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(record.experiment.title)} — ${v.result}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:820px;color:#1f2328}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;background:${COLORS[v.result]};font-weight:600}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
figure{margin:18px 0}figcaption{font-weight:600;margin-bottom:4px}
.chart .fault{fill:#cf222e;fill-opacity:.12}.chart .axis{stroke:#8c959f}.chart .tick,.chart .lbl{font-size:10px;fill:#57606a}
.chart .interval{fill:none;stroke:#0969da;stroke-width:1.6}.chart .other{fill:none;stroke:#8c959f;stroke-width:1;stroke-dasharray:1 2}.chart .rolling{fill:none;stroke:#8250df;stroke-width:1;stroke-dasharray:4 3}
.chart .steady{stroke:#1a7f37;stroke-dasharray:6 4}.chart .slo{stroke:#cf222e;stroke-dasharray:2 3}.chart .recovered{stroke:#1a7f37;stroke-width:1.5}
.chart .state{stroke:#bf8700;stroke-width:2}
.legend span{margin-right:14px;font-size:12px}
</style></head><body>
<h1>${esc(record.experiment.title)}</h1>
<p><span class="verdict" id="verdict">${v.result.toUpperCase()}</span> ${esc(v.hypothesis)}</p>
<ul>${v.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>
<table>${rows.map(([k, val]) => `<tr><th>${esc(k)}</th><td>${esc(val)}</td></tr>`).join('')}</table>
${perFaultHtml(v)}
<p class="legend"><span style="color:#0969da">━ per interval (judged source)</span><span style="color:#8c959f">┈ other source (not judged)</span><span style="color:#8250df">┄ rolling ${record.experiment.hypothesis.window_s} s</span><span style="color:#cf222e">▮ fault window</span><span style="color:#1a7f37">┄ steady state</span></p>
${v.slis.map((s) => chart(record, v, s.name)).join('\n')}
${stateTable(record)}
${cpuHtml(record)}
<details><summary>Full report (markdown)</summary><pre>${esc(markdown.render(record, v))}</pre></details>
</body></html>
`;
}

/** The amplification counter per fault of a sweep (perFaultTable says when there is one). */
function perFaultHtml(v: Verdict): string {
  const t = perFaultTable(v);
  return t ? `<h2>${esc(t.title)}</h2>${table(t)}` : '';
}

function table(t: { head: string[]; rows: string[][] }): string {
  const tr = (cells: string[], tag: 'th' | 'td'): string => `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
  return `<table>${tr(t.head, 'th')}${t.rows.map((r) => tr(r, 'td')).join('')}</table>`;
}

/** Where the CPU went in each phase (cpuTable says when a run has it). */
function cpuHtml(record: RunRecord): string {
  const t = cpuTable(record.cpu);
  return t ? `<h2>${esc(t.title)}</h2><p class="legend">${esc(t.legend)}</p>${table(t)}` : '';
}

/** The state changes of the run (a breaker's openings and closings), when the system declares state gauges. */
function stateTable(record: RunRecord): string {
  const sc = record.state_changes;
  if (sc === undefined) return '';
  const head = `<h2>State changes</h2><p class="legend">seconds from the first inject, each to one scrape interval (${sc.precision_s} s); <span style="color:#bf8700">▮ marked on the charts</span></p>`;
  if (sc.changes.length === 0) return `${head}<p>None: every declared state held its value through the run.</p>`;
  return `${head}<table><tr><th>t (s)</th><th>service</th><th>state</th><th>from → to</th></tr>${sc.changes
    .map((c) => `<tr><td>${c.t_s.toFixed(1)}</td><td>${esc(c.service)}</td><td>${esc(`${c.name}${c.of ? ` (${c.of})` : ''}`)}</td><td>${esc(`${c.from} → ${c.to}`)}</td></tr>`)
    .join('')}</table>`;
}

export const html: ReportFormat = { name: 'html', file: 'report.html', render: page };
