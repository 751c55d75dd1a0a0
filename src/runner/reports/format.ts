/**
 * The report-format contract: a plugin turns a loaded run (record + verdict) into one file's text. It knows the
 * run's data, never how the run was produced or where the run dir is. Adding a format = one file here + one line
 * in index.ts.
 */
import type { Verdict } from '../evaluate.ts';
import type { CpuAccount } from '../cpu-account.ts';
import type { FaultEventRecord, RunRecord } from '../record.ts';

export interface ReportFormat {
  /** Unique, e.g. "html". */
  readonly name: string;
  /** File name inside the run dir. */
  readonly file: string;
  render(record: RunRecord, verdict: Verdict): string;
}

/** Shared formatting: an SLI value in its unit. */
export function fmtValue(v: number | null | undefined, metric: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return metric === 'latency_ms' ? `${v.toFixed(1)} ms` : `${(v * 100).toFixed(3)} %`;
}

/** Seconds with one decimal, or a dash. */
export function fmtS(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : `${v.toFixed(1)} s`;
}

/** An interval in the SLI's unit: "[12.0 ms, 40.1 ms]". */
export function fmtInterval(ci: readonly [number, number] | null | undefined, metric: string): string {
  if (!ci) return '—';
  return `[${fmtValue(ci[0], metric)}, ${fmtValue(ci[1], metric)}]`;
}

/** A difference in the SLI's unit, signed: "+1 480.2 ms", "−99.500 %". */
export function fmtDiff(v: number | null | undefined, metric: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const sign = v > 0 ? '+' : v < 0 ? '−' : '±';
  return `${sign}${fmtValue(Math.abs(v), metric)}`;
}

/** An estimate as "value (n = 123, 95 % CI …)" with "unknown: why" / "needs ≥ N" when it cannot carry a judgement. */
export function fmtEstimate(e: { value: number | null; n: number; ci: readonly [number, number] | null; enough: boolean; needed: number | null; unknown?: string; exceed?: { x: number } } | undefined, metric: string): string {
  if (!e) return '—';
  if (e.value === null) return `unknown (${e.unknown ?? 'no data'})`;
  const parts = [`n = ${e.n}`];
  if (e.ci) parts.push(`CI ${fmtInterval(e.ci, metric)}`);
  if (e.exceed) parts.push(`${e.exceed.x} over threshold`);
  if (!e.enough && e.needed !== null) parts.push(`too few: needs ≥ ${e.needed}`);
  return `${fmtValue(e.value, metric)} (${parts.join(', ')})`;
}

/**
 * The verdict's amplification counter per injected fault, as a table — only for a run with ≥ 2 faults (a sweep in
 * one window, e.g. 1 %, 5 %, 10 % loss), where one ratio over the whole window would hide the steps.
 * @example perFaultTable(v)?.rows[0] // ['loss-1', 'loss', '{"pct":1}', '0–10', '440', '441', '×1.00']
 */
export function perFaultTable(v: Verdict): { title: string; head: string[]; rows: string[][] } | null {
  const segs = v.load.per_fault ?? [];
  if (segs.length < 2) return null;
  return {
    title: `Per fault: ${v.load.amplification_of ?? 'the counter'} per offered request while each fault was on`,
    head: ['fault', 'type', 'params', 'on (s into the fault window)', 'offered', 'effective', 'effective/offered'],
    rows: segs.map((g) => [g.fault, g.type, JSON.stringify(g.params), `${g.from_s}–${g.to_s}`, String(g.offered), String(g.effective), g.ratio === null ? '—' : `×${g.ratio.toFixed(2)}`]),
  };
}

/**
 * One injected fault as a line: what, where, how, when, and what it did while it was on.
 * @example faultLine(f) // 'memory_limit on orders-2 {"mb":48} via cgroup memory limit: 2026-…Z → 2026-…Z; observed: oom_kills 1, peak_mib 48'
 */
export function faultLine(f: FaultEventRecord): string {
  const when = `${new Date(f.t_start * 1000).toISOString()} → ${f.t_stop ? new Date(f.t_stop * 1000).toISOString() : 'not reverted!'}`;
  const observed = f.observed && Object.keys(f.observed).length > 0 ? `; observed: ${Object.entries(f.observed).map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
  return `${f.fault_type} on ${f.target} ${JSON.stringify(f.params)} via ${f.mechanism}: ${when}${observed}`;
}

/**
 * Where the CPU went in each phase (record.cpu), as one table for every format: the machine, each instance's
 * process group, and what no instance accounts for; peak resident memory beside. Null for runs without it.
 * @example cpuTable(record.cpu)?.rows[0] // ['machine (busy, 2 CPUs)', '151.0 %', '163.2 %', '149.8 %', '']
 */
export function cpuTable(cpu: CpuAccount | undefined): { title: string; legend: string; head: string[]; rows: string[][] } | null {
  if (cpu === undefined) return null;
  const p = (x: number | null): string => (x === null ? '—' : `${x.toFixed(1)} %`);
  const mib = (x: number | null): string => (x === null ? '—' : `${x.toFixed(0)} MiB`);
  const names = cpu.phases.map((ph) => ph.name);
  return {
    title: 'Where the CPU went (% of one core)',
    legend: `${cpu.source}; the rows below the machine's add up to it: the system's instances, faultline's own processes, and the rest`,
    head: ['', ...names, ...names.map((n) => `peak RSS, ${n}`)],
    rows: [
      [`machine (busy${cpu.cpus === null ? '' : `, ${cpu.cpus} CPUs = ${cpu.cpus * 100} %`})`, ...cpu.host_pct.map(p), ...names.map(() => '')],
      ...cpu.rows.map((r) => [r.instance, ...r.cpu_pct.map(p), ...r.peak_mib.map(mib)]),
      ...(cpu.faultline ?? []).map((r) => [r.instance, ...r.cpu_pct.map(p), ...names.map(() => '')]),
      ['the rest (the kernel\'s own work, other programs)', ...cpu.other_pct.map(p), ...names.map(() => '')],
    ],
  };
}
