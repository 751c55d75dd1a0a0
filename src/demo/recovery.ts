/**
 * Experiment 8, the recovery characterization, built from the runs a demo made rather than run on its own: one row
 * per run that injected a fault, ranked by MTTR (the unrecovered last), with whether it was back in steady state
 * within the recovery window, how soon the fault showed, and how the system heals — what has to happen beyond the
 * fault ending (the experiment's `recovery.intervention`), or that it heals by itself. This module alone owns that
 * ranking and its words.
 *
 *   DemoRun[] (verdict.mttr_s, timing, time_to_detect_s · faults injected, reverted · intervention) ─▶ recoveryRanking
 */
import type { Result } from '../runner/evaluate.ts';
import { sec } from './format.ts';

/** What the ranking reads of one run. */
export interface RecoveryInput {
  key: string;
  variant: string;
  verdict: {
    result: Result;
    mttr_s: number | null;
    time_to_detect_s: number | null;
    timing?: { source: string };
    windows: { recovery_s: number };
  };
  /** Faults the run injected, and whether the last of them was reverted (the recovery window starts there). */
  faults_injected: number;
  reverted: boolean;
  /** The experiment's recovery.intervention: what has to happen beyond the fault ending for it to heal. */
  intervention: string | null;
}

export interface RecoveryRow {
  rank: number;
  key: string;
  variant: string;
  result: Result;
  mttr_s: number | null;
  /** Whose records the MTTR comes from (users or server). */
  mttr_source: string | null;
  /** Back in steady state before the recovery window ended; null when nothing was reverted (not measured). */
  recovered_in_window: boolean | null;
  recovery_window_s: number;
  time_to_detect_s: number | null;
  intervention: string | null;
  /** In words: "needs: <intervention>", "self-heals once the fault ends", "did not recover in the window". */
  heals: string;
}

/** How a run heals, in words. */
function heals(r: RecoveryInput): string {
  const needs = r.intervention === null ? '' : `needs: ${r.intervention}`;
  if (!r.reverted) return 'no revert recorded: recovery not measured';
  if (r.verdict.mttr_s === null) return `did not recover in the window${needs ? `; ${needs}` : ''}`;
  return needs || 'self-heals once the fault ends';
}

/**
 * The runs that injected a fault, fastest recovery first; the unrecovered (and the unmeasured) last, in plan order.
 * @example recoveryRanking(summary.runs)[0].heals // 'self-heals once the fault ends'
 */
export function recoveryRanking(runs: readonly RecoveryInput[]): RecoveryRow[] {
  const rows = runs
    .filter((r) => r.faults_injected > 0)
    .map((r): Omit<RecoveryRow, 'rank'> => ({
      key: r.key,
      variant: r.variant,
      result: r.verdict.result,
      mttr_s: r.verdict.mttr_s,
      mttr_source: r.verdict.timing?.source ?? null,
      recovered_in_window: r.reverted ? r.verdict.mttr_s !== null : null,
      recovery_window_s: r.verdict.windows.recovery_s,
      time_to_detect_s: r.verdict.time_to_detect_s,
      intervention: r.intervention,
      heals: heals(r),
    }));
  // Array.prototype.sort is stable: equal MTTRs, and every unrecovered run, keep the plan's order.
  const byMttr = (a: number | null, b: number | null): number => (a === null ? (b === null ? 0 : 1) : b === null ? -1 : a - b);
  return rows.sort((a, b) => byMttr(a.mttr_s, b.mttr_s)).map((r, i) => ({ rank: i + 1, ...r }));
}

export const RECOVERY_HEAD = ['rank', 'experiment', 'mitigations', 'MTTR (source)', 'recovered within the recovery window', 'time to detect', 'how it heals', 'verdict'];

/** One row of the ranking table (RECOVERY_HEAD). */
export function recoveryCells(r: RecoveryRow): string[] {
  const mttr = r.mttr_s === null ? '—' : `${r.mttr_s.toFixed(2)} s${r.mttr_source ? ` (${r.mttr_source})` : ''}`;
  const within = r.recovered_in_window === null ? '—' : `${r.recovered_in_window ? 'yes' : 'no'} (${sec(r.recovery_window_s)} window)`;
  return [String(r.rank), r.key, r.variant, mttr, within, sec(r.time_to_detect_s), r.heals, r.result];
}
