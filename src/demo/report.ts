/**
 * The demo's one report (report.md, report.html, summary.json): what the breakpoint ramp found and every step of
 * it, the verdict table of every run, the before/after deltas per experiment, the recovery ranking (experiment 8,
 * recovery.ts), the plot of each sweep (sweep.ts), and a link to each run's own report. This module alone owns
 * those files and the few client-side figures it adds to each verdict (read back from the run dir's series, so
 * they are the same numbers `faultline report` would see): what users saw while the fault was on — write errors
 * including client timeouts, writes accepted as "payment pending" (202), the worst per-second write p99 — and
 * offered vs completed load.
 *
 *   run dir (series.jsonl, verdict.json) ─▶ runFigures ─▶ DemoRun ─┐        ramp.ts · recovery.ts · sweep.ts
 *                                                     DemoSummary ─┴─▶ report.md · report.html · summary.json
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sumIncrease } from '../metrics/sli.ts';
import type { Verdict } from '../runner/evaluate.ts';
import type { SeriesStore } from '../metrics/store.ts';
import type { RunRecord } from '../runner/record.ts';
import type { CpuAccount } from '../runner/cpu-account.ts';
import { esc, htmlTable, mdTable, ms, pc, sec, times } from './format.ts';
import { legText, RAMP_HEAD, rampCells, rampMitigationsText, rampStopText, steadyText, type RampSummary } from './ramp.ts';
import { RECOVERY_HEAD, recoveryCells, type RecoveryRow } from './recovery.ts';
import { runSweepCaption, runSweeps, runSweepSvg, runSweepTable, serviceWindows, type ServiceWindow } from './run-sweep.ts';
import { axisX, axisY, sweeps, sweepSvg, sweepTable, type Sweep } from './sweep.ts';

/** What users (the load generator) saw during the fault window, from the run's stored client series. */
export interface ClientFigures {
  /** Writes that failed for the user (5xx, timeouts at load.timeout_ms, connection errors) / writes offered. */
  write_error_rate: number | null;
  /** Writes answered 202 (accepted, payment pending: graceful degradation) / writes offered. */
  write_pending_rate: number | null;
  /**
   * Reads that failed for the user / reads offered. The server's read availability cannot see a read that waits
   * in the api's socket pool behind hung writes until the user gives up; this does.
   */
  read_error_rate: number | null;
  /** The worst per-second client p99 of writes (latency from the intended start). */
  write_p99_worst_ms: number | null;
  /** Requests of every kind offered and completed while the fault was on. */
  offered: number;
  completed: number;
}

export interface DemoRun {
  key: string;
  variant: string;
  must_hold: boolean;
  title: string;
  dir: string;
  experiment_file: string;
  verdict: Verdict;
  figures: ClientFigures;
  /** The first attempt, when it was invalid (unmeasurable) and the run was repeated once. */
  retried?: { result: Verdict['result']; reasons: string[]; dir: string };
  /** The wait before this run for the system to hold its SLO at a low rate again (after the previous run). */
  settled?: { settled: boolean; waited_s: number; probes: number; last: string };
  /** Faults the run injected, and whether the last was reverted (the recovery window starts there). */
  faults_injected: number;
  reverted: boolean;
  /** The experiment's recovery.intervention: what has to happen beyond the fault ending for it to heal. */
  intervention: string | null;
  /** The faults it injected (type, target, params): what a sweep across runs compares. */
  faults?: { type: string; target: string; params: Record<string, unknown> }[];
  /** Each service's own figures over the fault window (its CPU, event-loop delay, GC pauses, shed requests). */
  services?: Record<string, ServiceWindow>;
  /** Where the machine's CPU went in each phase (the run record's account), when the supervisor ran the lab. */
  cpu?: CpuAccount;
}

export interface DemoSummary {
  title: string;
  plan: string;
  started_at: string;
  wall_s: number;
  interrupted: boolean;
  rate_rps: number | null;
  /** The breakpoint ramp (null with a fixed rate): what stopped it, what it found, every step. */
  breakpoint: RampSummary | null;
  windows: { warmup_s: number; baseline_s: number; fault_s: number; recovery_s: number };
  runs: DemoRun[];
  /** Experiment 8: every run that injected a fault, ranked by MTTR (recovery.ts). */
  recovery: RecoveryRow[];
  /** Runs of a must-hold variant whose verdict was not held (the CI game day fails on any). */
  gate_failures: string[];
  report: { markdown: string; html: string; json: string };
}

/** A finished run's fault window, epoch ms: first inject → last revert (the planned window when none happened). */
function faultWindow(record: RunRecord): [number, number] {
  const m = record.marks;
  return [m.first_inject ?? m.fault_start, m.last_revert ?? m.fault_end];
}

/**
 * The client-side figures of one finished run, over its fault window, from its series (readRun(dir).store()).
 * @example runFigures(readRun(dir).store(), record).write_error_rate // 0.92
 */
export function runFigures(store: SeriesStore, record: RunRecord): ClientFigures {
  const [t0, t1] = faultWindow(record);
  // The write path is the endpoint the system's writes checks name; the read path, the experiment's availability SLI.
  const write = { endpoint: record.experiment.integrity.write_endpoint ?? '' };
  const offeredWrites = sumIncrease(store, 'faultline_load_offered_total', write, t0, t1);
  const errors = sumIncrease(store, 'faultline_load_errors_total', write, t0, t1) + sumIncrease(store, 'faultline_load_dropped_total', write, t0, t1);
  const pending = sumIncrease(store, 'faultline_load_responses_total', { ...write, code: '202' }, t0, t1);
  const read = { endpoint: record.experiment.hypothesis.sli.find((s) => s.metric === 'availability')?.endpoint ?? '' };
  const offeredReads = sumIncrease(store, 'faultline_load_offered_total', read, t0, t1);
  const readErrors = sumIncrease(store, 'faultline_load_errors_total', read, t0, t1) + sumIncrease(store, 'faultline_load_dropped_total', read, t0, t1);
  let worst: number | null = null;
  for (const s of store.select('faultline_load_latency_p99_ms', write)) {
    for (const [t, v] of s.points) if (t > t0 && t <= t1 + 1000 && Number.isFinite(v)) worst = Math.max(worst ?? 0, v);
  }
  return {
    write_error_rate: offeredWrites > 0 ? errors / offeredWrites : null,
    // Answers to writes offered just before the window can land inside it: the ratio is capped at 100 %.
    write_pending_rate: offeredWrites > 0 ? Math.min(1, pending / offeredWrites) : null,
    read_error_rate: offeredReads > 0 ? readErrors / offeredReads : null,
    write_p99_worst_ms: worst,
    offered: Math.round(sumIncrease(store, 'faultline_load_offered_total', { endpoint: 'all' }, t0, t1)),
    completed: Math.round(sumIncrease(store, 'faultline_load_completed_total', { endpoint: 'all' }, t0, t1)),
  };
}

/**
 * Each service's own figures over a finished run's fault window, from its series (the same store as runFigures').
 * @example runServices(readRun(dir).store(), record)['orders-1'].cpu_pct // 9.9
 */
export function runServices(store: SeriesStore, record: RunRecord): Record<string, ServiceWindow> {
  return serviceWindows(store, ...faultWindow(record));
}

/** The worst rolling (window_s) read availability under the fault: what a cascade verdict is judged on. */
function readWorst(v: Verdict): number | null {
  return v.slis.find((x) => x.metric === 'availability')?.fault_worst ?? null;
}

/** One row of the verdict table, as plain cells (the Markdown and the HTML share them). Each source has its own columns. */
function cells(r: DemoRun, from: string): { cells: string[]; link: string } {
  const v = r.verdict;
  const f = r.figures;
  const u = v.figures?.users ?? null;
  const sv = v.figures?.server ?? null;
  return {
    link: relative(from, join(r.dir, 'report.html')),
    cells: [
      r.key,
      r.variant,
      v.result.toUpperCase(),
      u ? `${ms(u.baseline_p99)} → ${ms(u.fault_p99)}` : '—',
      sv ? `${ms(sv.baseline_p99)} → ${ms(sv.fault_p99)}` : '—',
      u ? `${pc(u.fault_err_rate)} (n ${u.n.fault})` : pc(f.write_error_rate),
      pc(sv?.fault_err_rate ?? null),
      pc(f.write_pending_rate, 1),
      u ? `${pc(u.fault_availability, 3)} (${pc(readWorst(v), 2)})` : '—',
      pc(sv?.fault_availability ?? null, 3),
      `${v.mttr_s === null ? '—' : `${v.mttr_s.toFixed(2)} s`}${v.timing ? ` (${v.timing.source})` : ''}`,
      `${v.blast_radius.endpoints_breached}/${v.blast_radius.endpoints_total}`,
      `${f.offered} → ${f.completed}`,
      amplification(v),
    ],
  };
}

const HEAD = ['experiment', 'mitigations', 'verdict', 'write p99, users (baseline → fault)', 'write p99, server (baseline → fault)', 'write errors, users (incl. timeouts)', 'write 5xx, server', 'writes accepted pending (202)', 'read availability, users (worst rolling)', 'read availability, server', 'MTTR (source)', 'blast radius (endpoints)', 'requests offered → completed', 'offered → effective (counter per endpoint)'];

/** Offered requests → the counter that declares per_endpoint (e.g. calls reaching a dependency), and the ratio. */
function amplification(v: Verdict): string {
  const c = v.load.counters?.find((x) => x.per_endpoint !== undefined);
  return c?.offered ? `${c.offered.fault} → ${c.fault} (${times(c.ratio)})` : '—';
}

/** Before → after of each experiment that ran in both variants. */
function deltas(s: DemoSummary): { key: string; rows: [string, string, string][] }[] {
  const keys = [...new Set(s.runs.map((r) => r.key))];
  return keys.flatMap((key) => {
    const b = s.runs.find((r) => r.key === key && r.variant === 'before');
    const a = s.runs.find((r) => r.key === key && r.variant === 'after');
    if (!b || !a) return [];
    return [{
      key,
      rows: [
        ['verdict', b.verdict.result, a.verdict.result],
        ['write p99 under fault (server, api)', ms(b.verdict.fault_p99), ms(a.verdict.fault_p99)],
        ['worst per-second write p99 (users)', ms(b.figures.write_p99_worst_ms), ms(a.figures.write_p99_worst_ms)],
        ['write 5xx rate under fault (server)', pc(b.verdict.fault_err_rate), pc(a.verdict.fault_err_rate)],
        ['write error rate under fault (users, incl. timeouts)', pc(b.figures.write_error_rate), pc(a.figures.write_error_rate)],
        ['read availability under fault (whole window)', pc(b.verdict.fault_availability, 3), pc(a.verdict.fault_availability, 3)],
        ['read availability, worst 5 s under fault', pc(readWorst(b.verdict), 2), pc(readWorst(a.verdict), 2)],
        ['read error rate under fault (users, incl. timeouts)', pc(b.figures.read_error_rate ?? null), pc(a.figures.read_error_rate ?? null)],
        ['MTTR', sec(b.verdict.mttr_s), sec(a.verdict.mttr_s)],
        ['blast radius', `${b.verdict.blast_radius.endpoints_breached}/${b.verdict.blast_radius.endpoints_total} endpoints`, `${a.verdict.blast_radius.endpoints_breached}/${a.verdict.blast_radius.endpoints_total} endpoints`],
        ['offered → completed requests (fault window)', `${b.figures.offered} → ${b.figures.completed}`, `${a.figures.offered} → ${a.figures.completed}`],
        [`offered → effective (${b.verdict.load.amplification_of ?? 'no counter per endpoint'})`, amplification(b.verdict), amplification(a.verdict)],
      ],
    }];
  });
}

/** The ramp's tables: one per leg (captioned with what it showed) when it ran in several, else the one. */
function rampParts(bp: RampSummary): { caption: string | null; rows: string[][] }[] {
  if (bp.legs.length <= 1) return [{ caption: null, rows: bp.steps.map(rampCells) }];
  return bp.legs.map((l, i) => ({ caption: `Leg ${i + 1} (${l.role === 'check' ? 'a check' : 'a ramp'}) ${legText(l)}.`, rows: l.steps.map(rampCells) }));
}

function intro(s: DemoSummary): string[] {
  const w = s.windows;
  const bp = s.breakpoint;
  const mix = 'of the default mix (80 % reads, 20 % writes)';
  return [
    `Started ${s.started_at}; ${s.wall_s} s in all${s.interrupted ? ' — INTERRUPTED (partial results)' : ''}.`,
    bp
      ? `${bp.legs.length > 1 ? `Breakpoint ramp in ${bp.legs.length} legs, one mitigations block each (every step below); the steady rate rests on the lowest breakpoint, ${rampMitigationsText(bp)}, where` : `Breakpoint ramp (every step below, ${rampMitigationsText(bp)}):`} it stopped because ${rampStopText(bp)}. Steady rate **${s.rate_rps} req/s** ${mix}: ${steadyText(bp, s.rate_rps ?? bp.min_rps)}.`
      : `Steady rate **${s.rate_rps} req/s** ${mix}, fixed by the plan.`,
    `Windows per run: warm-up ${w.warmup_s} s, baseline ${w.baseline_s} s, fault ${w.fault_s} s, recovery ${w.recovery_s} s (fault offsets and durations scaled to fit; the committed files have their own, longer windows; see docs/findings.md for full-window runs).`,
    `SLOs (DESIGN.md): writes p99 < 250 ms and < 0.1 % errors in steady state, < 1 s and < 1 % under one fault; reads ≥ 99.9 % available always. "before" = the naive lab (mitigations none), "after" = every mitigation on (mitigations all).`,
    `Server columns come from the api's own histograms (what the verdict judges); user columns from the load generator (a request still unanswered after the experiment's client timeout counts as an error there, while the naive server — which has no timeouts — never answers 5xx for it).`,
  ];
}

const RECOVERY_INTRO = 'Experiment 8, the recovery characterization, from the runs above: every run that injected a fault, fastest recovery first (MTTR from the last revert until the SLIs were back in steady state for the experiment\'s consecutive seconds), the unrecovered last. "needs:" is what has to happen beyond the fault ending (the experiment\'s recovery.intervention).';

/** A sweep's caption: what effective/offered counts, against which parameter. */
const sweepCaption = (w: Sweep): string => `${w.key}: ${axisY(w)} against ${axisX(w)}, one point per fault of the sweep`;

function markdown(s: DemoSummary, dir: string): string {
  const lines = [`# ${s.title}`, '', ...intro(s).flatMap((l) => [l, ''])];
  if (s.breakpoint) lines.push('## Breakpoint ramp', '', ...rampParts(s.breakpoint).flatMap((p) => [...(p.caption ? [p.caption, ''] : []), ...mdTable(RAMP_HEAD, p.rows), '']));
  lines.push('## Verdicts', '');
  lines.push(`| ${HEAD.join(' | ')} | report |`, `|${HEAD.map(() => '---').join('|')}|---|`);
  for (const r of s.runs) {
    const c = cells(r, dir);
    lines.push(`| ${c.cells.join(' | ')} | [${r.variant}](${c.link}) |`);
  }
  lines.push('', '## Before → after', '');
  for (const d of deltas(s)) {
    lines.push(`### ${d.key}`, '', '| | before (naive) | after (mitigated) |', '|---|---|---|', ...d.rows.map((r) => `| ${r.join(' | ')} |`), '');
  }
  lines.push('## Recovery ranking (experiment 8)', '', RECOVERY_INTRO, '', ...mdTable(RECOVERY_HEAD, s.recovery.map(recoveryCells)), '');
  const cpu = cpuRows(s.runs);
  if (cpu.length > 0) lines.push('## Where the CPU went, run by run', '', CPU_INTRO, '', ...mdTable(CPU_HEAD, cpu), '');
  for (const w of sweeps(s.runs)) {
    const t = sweepTable(w);
    lines.push(`## Sweep: ${sweepCaption(w)}`, '', ...mdTable(t.head, t.rows), '');
  }
  for (const w of runSweeps(s.runs)) {
    const t = runSweepTable(w);
    lines.push(`## Sweep across runs: ${runSweepCaption(w)}`, '', ...mdTable(t.head, t.rows), '');
  }
  lines.push('## Why each verdict', '');
  for (const r of s.runs) {
    lines.push(`- **${r.key} ${r.variant}: ${r.verdict.result}** — ${r.verdict.reasons.join('; ')} (experiment file: \`${relative(dir, r.experiment_file)}\`)`);
    if (r.settled && !r.settled.settled) lines.push(`  - started before the system had settled from the run before: after ${r.settled.waited_s.toFixed(0)} s of probes its last one still saw ${r.settled.last}`);
    if (r.retried) lines.push(`  - re-run once: the first attempt was **${r.retried.result}** (${r.retried.reasons.join('; ')}); its run dir: \`${relative(dir, r.retried.dir)}\``);
  }
  if (s.gate_failures.length > 0) lines.push('', `**Gate: ${s.gate_failures.length} must-hold run(s) did not hold:** ${s.gate_failures.join('; ')}`);
  return `${lines.join('\n')}\n`;
}

const COLORS: Record<string, string> = { HELD: '#1a7f37', DEGRADED: '#9a6700', FAILED: '#cf222e', ABORTED: '#8250df', INVALID: '#57606a', INCONCLUSIVE: '#0550ae' };

function html(s: DemoSummary, dir: string): string {
  const md = (t: string): string => esc(t).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>');
  const rows = s.runs
    .map((r) => {
      const c = cells(r, dir);
      const tds = c.cells.map((x, i) => (i === 2 ? `<td style="color:#fff;background:${COLORS[x] ?? '#57606a'};font-weight:600">${esc(x)}</td>` : `<td>${esc(x)}</td>`)).join('');
      return `<tr>${tds}<td><a href="${esc(c.link)}">${esc(r.variant)} report</a></td></tr>`;
    })
    .join('\n');
  const deltaTables = deltas(s)
    .map((d) => `<h3>${esc(d.key)}</h3><table><tr><th></th><th>before (naive)</th><th>after (mitigated)</th></tr>${d.rows.map((r) => `<tr>${r.map((x, i) => (i === 0 ? `<th>${esc(x)}</th>` : `<td>${esc(x)}</td>`)).join('')}</tr>`).join('')}</table>`)
    .join('\n');
  const reasons = s.runs.map((r) => `<li><b>${esc(`${r.key} ${r.variant}: ${r.verdict.result}`)}</b> — ${esc(r.verdict.reasons.join('; '))}</li>`).join('\n');
  const ramp = s.breakpoint ? `<h2>Breakpoint ramp</h2>\n${rampParts(s.breakpoint).map((p) => `${p.caption ? `<p>${esc(p.caption)}</p>\n` : ''}${htmlTable(RAMP_HEAD, p.rows)}`).join('\n')}` : '';
  const plots = sweeps(s.runs)
    .map((w) => {
      const t = sweepTable(w);
      return `<h2>Sweep: ${esc(w.key)}</h2><figure><figcaption>${esc(sweepCaption(w))}</figcaption>\n${sweepSvg(w)}</figure>\n${htmlTable(t.head, t.rows)}`;
    })
    .join('\n');
  const runPlots = runSweeps(s.runs)
    .map((w) => {
      const t = runSweepTable(w);
      return `<h2>Sweep across runs: ${esc(`${w.type} ${w.param}`)}</h2><figure><figcaption>${esc(runSweepCaption(w))}</figcaption>\n${runSweepSvg(w)}</figure>\n${htmlTable(t.head, t.rows)}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(s.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1f2328;max-width:1400px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td:nth-child(n+4){font-variant-numeric:tabular-nums}
</style></head><body>
<h1>${esc(s.title)}</h1>
${intro(s).map((l) => `<p>${md(l)}</p>`).join('\n')}
${ramp}
<h2>Verdicts</h2>
<table><tr>${HEAD.map((h) => `<th>${esc(h)}</th>`).join('')}<th>report</th></tr>
${rows}
</table>
<h2>Before → after</h2>
${deltaTables}
<h2>Recovery ranking (experiment 8)</h2>
<p>${esc(RECOVERY_INTRO)}</p>
${htmlTable(RECOVERY_HEAD, s.recovery.map(recoveryCells))}
${cpuRows(s.runs).length > 0 ? `<h2>Where the CPU went, run by run</h2>\n<p>${esc(CPU_INTRO)}</p>\n${htmlTable(CPU_HEAD, cpuRows(s.runs))}` : ''}
${plots}
${runPlots}
<h2>Why each verdict</h2><ul>${reasons}</ul>
${s.gate_failures.length > 0 ? `<p><b>Gate: must-hold runs that did not hold:</b> ${esc(s.gate_failures.join('; '))}</p>` : ''}
</body></html>
`;
}

const CPU_INTRO =
  "% of one core, baseline → fault, from /proc (each run's own report has every instance and the recovery): the machine's busy time, the lab's instances together, faultline's own processes (controller, runner and load generator), what is left, and the instance busiest under the fault. A late run whose baseline is busier than an early one's at the same rate shows here which part grew.";
const CPU_HEAD = ['experiment', 'mitigations', 'machine busy', "the lab's instances", 'faultline', 'the rest', 'busiest under the fault'];

/** One row per run that has a CPU account. */
function cpuRows(runs: DemoRun[]): string[][] {
  const two = (xs: (number | null)[]): string => xs.slice(0, 2).map((x) => (x === null ? '—' : `${x.toFixed(0)} %`)).join(' → ');
  const sum = (rows: CpuAccount['rows'], i: number): number | null => (rows.some((r) => r.cpu_pct[i] !== null) ? rows.reduce((a, r) => a + (r.cpu_pct[i] ?? 0), 0) : null);
  return runs
    .filter((r) => r.cpu !== undefined)
    .map((r) => {
      const c = r.cpu!;
      const top = c.rows[0];
      return [r.key, r.variant, two(c.host_pct), two([sum(c.rows, 0), sum(c.rows, 1)]), two([sum(c.faultline, 0), sum(c.faultline, 1)]), two(c.other_pct), top ? `${top.instance} (${two(top.cpu_pct)})` : '—'];
    });
}

/**
 * Writes report.md, report.html and summary.json into `dir`.
 * @example writeDemoReport('runs/demo-20261123', summary)
 */
export function writeDemoReport(dir: string, s: DemoSummary): void {
  writeFileSync(join(dir, 'report.md'), markdown(s, dir));
  writeFileSync(join(dir, 'report.html'), html(s, dir));
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(s, null, 2)}\n`);
}
