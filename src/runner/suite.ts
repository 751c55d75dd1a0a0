/**
 * The default chaos suite of a running system (`faultline suite`): its system file's entry endpoints with their
 * SLOs become the steady-state hypothesis (the SLO must hold, under the fault too), and each fault family gets one
 * experiment with a representative fault on the first target that can take it — asked of the controller itself
 * (`POST /chaos/validate`), so a family the system cannot take (no volume, no libfaketime, no nftables here) is
 * left out with its reason rather than guessed. The files are plain experiments: edit them, commit them.
 *
 *   System file entry.endpoints ──▶ hypothesis (one SLI per declared SLO)
 *   controller targets × CANDIDATES ──validate──▶ one fault per family ──▶ <family>.yaml + suite.yaml
 *
 * @example const suite = await planSuite(runTarget('.faultline'), { rate: 20, mix: 'mix.yaml' });
 */
import type { RunTarget } from './target.ts';

/** One representative fault per family, and where it is most telling: a dependency edge, or the entry's own process. */
const CANDIDATES: { family: string; type: string; params: Record<string, unknown>; on: 'dependency' | 'entry'; http?: true; what: string }[] = [
  { family: 'network', type: 'latency', params: { delay_ms: 200, jitter_ms: 20 }, on: 'dependency', what: '200 ms on every byte to and from' },
  { family: 'http', type: 'http_error', params: { status: 503, pct: 50 }, on: 'dependency', http: true, what: 'half the HTTP requests answered 503 by' },
  { family: 'dependency', type: 'dependency_error', params: { pct: 50 }, on: 'dependency', what: 'half the calls failed by' },
  { family: 'nftables', type: 'packet_loss', params: { pct: 5 }, on: 'dependency', what: '5 % of packets dropped in the kernel on the way to' },
  { family: 'process', type: 'kill', params: {}, on: 'entry', what: 'SIGKILL (the supervisor restarts it) of' },
  { family: 'cgroup', type: 'cpu_quota', params: { pct: 25 }, on: 'entry', what: 'a quarter of a core for' },
  { family: 'clock', type: 'clock_skew', params: { offset_s: 300 }, on: 'entry', what: 'the clock 5 min ahead in' },
  { family: 'disk', type: 'disk_fill', params: { pct: 100 }, on: 'dependency', what: 'the data volume filled to full under' },
];

export interface SuiteOptions {
  /** Offered load (req/s) for every experiment. */
  rate: number;
  /** The mix file the experiments use, relative to where they are written. */
  mix: string;
  /** Seconds of each window. */
  windows?: { warmup_s: number; baseline_s: number; fault_s: number; recovery_s: number };
  seed?: number;
}

export interface SuitePlan {
  experiments: { family: string; file: string; target: string; type: string; body: Record<string, unknown> }[];
  /** Families left out, each with why (every target's refusal from the controller). */
  skipped: { family: string; type: string; why: string }[];
  hypothesis: Record<string, unknown>;
}

/** The hypothesis a system's entry endpoints declare: each SLO must hold in steady state and under the fault. */
export function defaultHypothesis(target: Pick<RunTarget, 'view'>): Record<string, unknown> {
  const sli: Record<string, unknown>[] = [];
  for (const [name, e] of Object.entries(target.view.endpoints)) {
    const critical = e.slo.critical;
    if (e.slo.latency_p99_ms !== undefined) sli.push({ name: `${name}_p99_ms`, metric: 'latency_ms', quantile: 0.99, endpoint: name, steady_state: e.slo.latency_p99_ms, critical });
    if (e.slo.error_rate !== undefined) sli.push({ name: `${name}_error_rate`, metric: 'error_rate', endpoint: name, steady_state: e.slo.error_rate, critical });
    if (e.slo.availability !== undefined) sli.push({ name: `${name}_availability`, metric: 'availability', endpoint: name, steady_state: e.slo.availability, critical });
  }
  return { name: `${target.view.system}'s endpoints stay within their SLOs under the fault`, window_s: 5, sli };
}

export async function planSuite(target: RunTarget, opts: SuiteOptions): Promise<SuitePlan> {
  const hypothesis = defaultHypothesis(target);
  const targets = await target.chaos.targets();
  const entry = target.view.entryService;
  const entryProxy = targets.find((t) => t.name === entry)?.proxy;
  // Dependencies first for edge faults (never the users' own way in); the entry's process first for process faults.
  const order = (on: 'dependency' | 'entry'): string[] => {
    const names = targets.map((t) => t.name);
    const isEntry = (n: string): boolean => n === entry || (entryProxy !== null && entryProxy !== undefined && targets.find((t) => t.name === n)?.proxy === entryProxy);
    return on === 'entry' ? [...names.filter(isEntry), ...names.filter((n) => !isEntry(n))] : names.filter((n) => !isEntry(n));
  };
  const speaksHttp = new Set(targets.filter((t) => t.http !== null).map((t) => t.name));
  const tries = CANDIDATES.flatMap((c) => order(c.on).filter((name) => !c.http || speaksHttp.has(name)).map((name) => ({ c, name })));
  const used = new Map<string, number>();
  const checked = tries.length === 0 ? { faults: [] } : await target.chaos.validate(tries.map((t) => ({ type: t.c.type, target: t.name, params: t.c.params, duration_s: 120 })));
  const windows = opts.windows ?? { warmup_s: 5, baseline_s: 20, fault_s: 20, recovery_s: 20 };
  const plan: SuitePlan = { experiments: [], skipped: [], hypothesis };
  CANDIDATES.forEach((c, ci) => {
    const mine = tries.map((t, i) => ({ ...t, issues: checked.faults[i]?.issues ?? [] })).filter((t) => t.c === c);
    // Among the targets that can take it, the one used least so far: the suite spreads over the system's edges.
    const able = mine.filter((t) => t.issues.length === 0);
    const ok = able.sort((a, b) => (used.get(a.name) ?? 0) - (used.get(b.name) ?? 0))[0];
    if (!ok) {
      const why = mine.length === 0 ? 'no target to try' : [...new Set(mine.map((t) => t.issues.map((x) => x.message).join('; ')))].slice(0, 2).join(' / ');
      plan.skipped.push({ family: c.family, type: c.type, why });
      return;
    }
    used.set(ok.name, (used.get(ok.name) ?? 0) + 1);
    plan.experiments.push({
      family: c.family,
      file: `${c.family}.yaml`,
      target: ok.name,
      type: c.type,
      body: {
        title: `${target.view.system} ${c.family}: ${c.type} on ${ok.name}`,
        description: `${c.what} ${ok.name}, under ${opts.rate} req/s of the mix. Generated by faultline suite: edit the SLOs, params and windows to taste.`,
        tags: ['suite', c.family, ok.name],
        hypothesis,
        windows,
        load: { rate: opts.rate, mix: opts.mix, seed: (opts.seed ?? 1000) + ci },
        faults: [{ name: `${c.type}-${ok.name}`, type: c.type, target: ok.name, params: c.params }],
        recovery: { consecutive_s: 3 },
      },
    });
  });
  return plan;
}
