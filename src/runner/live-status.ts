/**
 * The runner's live status for the dashboard: each phase (and, at the end, the verdict and the run dir) is
 * posted to the controller's `POST /chaos/experiments/status`. Best effort by design — fire and forget, short
 * timeout, every error swallowed — because a run's verdict must never depend on whether anyone is watching.
 *
 *   runExperiment ─phase(…) / done(…)─▶ POST /chaos/experiments/status ─▶ dashboard banner + report link
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { ChaosClient } from '../controller/client.ts';
import type { Verdict } from './evaluate.ts';

export interface LiveStatus {
  phase(phase: string, left_s: number, faults_active: number): void;
  /** The final post; resolves when it answered or gave up (≤ 2 s), so the CLI can exit right after. */
  done(verdict: Verdict): Promise<void>;
}

/**
 * @example const live = liveStatus(lab.chaos, exp.title, opts.outDir); live.phase('baseline', 42, 0); await live.done(verdict);
 */
export function liveStatus(chaos: ChaosClient, title: string, outDir: string): LiveStatus {
  const run_id = `${new Date().toISOString()}-${randomBytes(3).toString('hex')}`;
  const dir = resolve(outDir);
  const post = (body: Record<string, unknown>): Promise<void> =>
    fetch(`${chaos.baseUrl}/chaos/experiments/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(chaos.token ? { authorization: `Bearer ${chaos.token}` } : {}) },
      body: JSON.stringify({ run_id, title, dir, ...body }),
      signal: AbortSignal.timeout(2000),
    }).then(
      (res) => void res.body?.cancel(),
      () => undefined,
    );
  return {
    phase: (phase, left_s, faults_active) => void post({ phase, left_s, faults_active }),
    done: (v) => post({ phase: 'done', verdict: { result: v.result, baseline_p99: v.baseline_p99, fault_p99: v.fault_p99, fault_err_rate: v.fault_err_rate, mttr_s: v.mttr_s } }),
  };
}
