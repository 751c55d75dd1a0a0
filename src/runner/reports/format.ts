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
