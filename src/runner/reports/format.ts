/**
 * The report-format contract: a plugin turns a loaded run (record + verdict) into one file's text. It knows the
 * run's data, never how the run was produced or where the run dir is. Adding a format = one file here + one line
 * in index.ts.
 */
import type { Verdict } from '../evaluate.ts';
import type { RunRecord } from '../record.ts';

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
