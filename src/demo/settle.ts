/**
 * Between two demo runs: wait until the system answers like a system at rest again. A run that overloads a naive
 * system (requests queued behind a slow dependency, with no timeout to shed them) leaves that queue behind when it
 * ends; the next run's baseline would then measure the previous run's aftermath and be judged invalid. This module
 * alone owns that wait: short probes of the plan's mix at the given rate (the demo gives its runs' own), each
 * judged on the plan's SLO, until one holds or the patience runs out (then the next run starts anyway and its own baseline check decides).
 *
 *   probe (rate_rps for probe_s) ─ SLO held? ─yes─▶ settled
 *                                 └─no─▶ pause, probe again … until max_wait_s ─▶ not settled (said so)
 */
import { parseSlo, sloBreaches, type Slo, type SloSubject } from '../load/breakpoint.ts';
import { runLoad } from '../load/run.ts';
import { failedArrivals, type EndpointStats, type LoadSummary } from '../load/samples.ts';

export interface SettleOptions {
  target: string;
  /** The plan's mix (default: GET the target URL). */
  mixFile?: string;
  mixEnv?: Record<string, string | undefined>;
  /** "p99<250ms,errors<0.1%": what a probe must hold. */
  slo: string;
  /** A fresh seed per probe (a seed replays the same idempotency keys). */
  seed: () => number;
  rate_rps?: number;
  probe_s?: number;
  max_wait_s?: number;
  signal?: AbortSignal;
}

export interface SettleResult {
  settled: boolean;
  waited_s: number;
  probes: number;
  /** The last probe's figures, in words. */
  last: string;
}

/** A summary keeps p50/p90/p99/p99.9/max: a bound on another percentile is judged on the next one up (stricter). */
const KEPT: [number, keyof EndpointStats['latency_ms']][] = [[50, 'p50'], [90, 'p90'], [99, 'p99'], [99.9, 'p999'], [100, 'max']];

/**
 * Whether one probe holds the SLO, judged as the breakpoint's steps are (sloBreaches: endpoint by endpoint), and
 * every arrival answered.
 */
export function probeHolds(summary: LoadSummary, slo: Slo): { held: boolean; text: string } {
  const t = summary.total;
  const subject = (name: string, e: EndpointStats): SloSubject => ({
    name,
    offered: e.offered,
    completed: e.completed,
    failed: failedArrivals(e),
    latency_ms: (q) => e.latency_ms[KEPT.find(([k]) => k >= q)![1]],
  });
  const each = Object.entries(summary.endpoints);
  const broken = sloBreaches(slo, each.length > 0 ? each.map(([name, e]) => subject(name, e)) : [subject('all', t)]);
  const errorRate = t.offered > 0 ? failedArrivals(t) / t.offered : 1;
  const p99 = t.latency_ms.p99;
  const text = `${t.completed}/${t.offered} answered, p99 ${Number.isFinite(p99) ? `${p99.toFixed(0)} ms` : '—'}, errors ${(errorRate * 100).toFixed(1)} %${broken.length > 0 ? ` (${broken.join('; ')})` : ''}`;
  return { held: t.offered > 0 && t.completed === t.offered && broken.length === 0, text };
}

/**
 * Probes until the system holds the SLO at a low rate again (or `max_wait_s` passed).
 * @example const s = await settle({ target, mixFile, mixEnv, slo: 'p99<250ms,errors<0.1%', seed: () => next++ }); s.settled
 */
export async function settle(opts: SettleOptions): Promise<SettleResult> {
  const slo = parseSlo(opts.slo);
  const rate = opts.rate_rps ?? 20;
  const probeMs = (opts.probe_s ?? 2) * 1000;
  const maxMs = (opts.max_wait_s ?? 90) * 1000;
  const t0 = Date.now();
  let probes = 0;
  let last = 'no probe ran';
  while (!opts.signal?.aborted) {
    const run = runLoad({
      target: opts.target,
      schedule: { executor: 'constant', rate_rps: rate, duration_ms: probeMs },
      mixFile: opts.mixFile,
      mixEnv: opts.mixEnv,
      seed: opts.seed(),
      timeout_ms: 1000,
      max_lag_ms: 50,
      signal: opts.signal,
    });
    for await (const _ of run) {
      // events are not needed: only the summary
    }
    const verdict = probeHolds(await run.result, slo);
    probes += 1;
    last = verdict.text;
    if (verdict.held) return { settled: true, waited_s: (Date.now() - t0) / 1000, probes, last };
    if (Date.now() - t0 + probeMs > maxMs) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { settled: false, waited_s: (Date.now() - t0) / 1000, probes, last };
}
