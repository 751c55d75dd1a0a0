/**
 * Sweeps across runs: the experiments of one plan that inject one fault type on the same targets, with params
 * that differ from experiment to experiment in exactly one numeric field (experiment 5's CPU quota on orders:
 * pct 100, 50, 25, 10), seen as a curve per variant of the users' write p99 under the fault against that field,
 * beside what each target itself went through in the fault window: the CPU it got, its event-loop delay p99, its
 * GC pause time, and the requests the system's limiters shed. This module alone owns that rule, the per-service
 * window figures it reads from a run's series, and the table and plot of one. (A sweep inside one run, such as
 * experiment 3's loss steps, is sweep.ts's.)
 *
 *   run dir series ─ serviceWindows ─▶ DemoRun.services ─┐
 *   run.json fault_events ─▶ DemoRun.faults ─────────────┴─▶ runSweeps (the rule) ─┬─ runSweepTable ─▶ report.md · html
 *                                                                                  └─ runSweepSvg   ─▶ report.html
 */
import { increase, sumIncrease } from '../metrics/sli.ts';
import type { SeriesStore } from '../metrics/store.ts';
import type { Verdict } from '../runner/evaluate.ts';
import { ms, pc } from './format.ts';
import { lineChart, sweepOf } from './sweep.ts';

/** One service over a run's fault window, from its own metrics (null where it exports no such series). */
export interface ServiceWindow {
  /** CPU used, % of one core (process_cpu_seconds_total). */
  cpu_pct: number | null;
  /** Worst event-loop delay p99 any scrape saw (lab_event_loop_delay_p99_seconds), ms. */
  eld_p99_ms: number | null;
  /** Time spent in GC pauses (lab_gc_pause_seconds_total), ms. */
  gc_pause_ms: number | null;
  /** Requests its limiter refused early (lab_shed_requests_total, every pool). */
  shed: number | null;
}

/**
 * Every service's window figures over (t0, t1] (epoch ms), by the series' `service` label.
 * @example serviceWindows(store, t0, t1)['orders-1'].cpu_pct // 9.8 under a 10 % quota
 */
export function serviceWindows(store: SeriesStore, t0: number, t1: number): Record<string, ServiceWindow> {
  const out: Record<string, ServiceWindow> = {};
  const of = (svc: string): ServiceWindow => (out[svc] ??= { cpu_pct: null, eld_p99_ms: null, gc_pause_ms: null, shed: null });
  const seconds = (t1 - t0) / 1000;
  for (const s of store.select('process_cpu_seconds_total')) {
    const svc = s.labels.service;
    if (svc !== undefined && seconds > 0) of(svc).cpu_pct = round1((increase(s, t0, t1) / seconds) * 100);
  }
  for (const s of store.select('lab_event_loop_delay_p99_seconds')) {
    const svc = s.labels.service;
    if (svc === undefined) continue;
    for (const [t, v] of s.points) {
      if (t > t0 && t <= t1 && Number.isFinite(v)) of(svc).eld_p99_ms = round1(Math.max(of(svc).eld_p99_ms ?? 0, v * 1000));
    }
  }
  for (const svc of new Set(store.select('lab_gc_pause_seconds_total').map((s) => s.labels.service).filter((x) => x !== undefined))) {
    of(svc).gc_pause_ms = round1(sumIncrease(store, 'lab_gc_pause_seconds_total', { service: svc }, t0, t1) * 1000);
  }
  for (const svc of new Set(store.select('lab_shed_requests_total').map((s) => s.labels.service).filter((x) => x !== undefined))) {
    of(svc).shed = Math.round(sumIncrease(store, 'lab_shed_requests_total', { service: svc }, t0, t1));
  }
  return out;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** What the rule reads of one run. */
export interface RunSweepInput {
  key: string;
  variant: string;
  verdict: Pick<Verdict, 'result' | 'figures' | 'fault_p99' | 'fault_availability'>;
  /** The faults it injected (run.json's fault_events). */
  faults?: { type: string; target: string; params: Record<string, unknown> }[];
  services?: Record<string, ServiceWindow>;
}

export interface RunSweepPoint {
  x: number;
  key: string;
  result: string;
  /** The users' write p99 over the fault window (the verdict's headline; the server's when no records were kept). */
  write_p99_ms: number | null;
  read_availability: number | null;
  /** Each target's window figures. */
  targets: Record<string, ServiceWindow | null>;
  /** Requests shed by every service together (null when none exports the counter). */
  shed_total: number | null;
}

export interface RunSweep {
  type: string;
  param: string;
  targets: string[];
  lines: { variant: string; points: RunSweepPoint[] }[];
}

/** A run's one fault signature, or null when its faults are not one type with one set of params. */
function signature(r: RunSweepInput): { type: string; targets: string[]; params: Record<string, unknown> } | null {
  const f = r.faults ?? [];
  if (f.length === 0 || f.some((x) => x.type !== f[0].type || JSON.stringify(x.params) !== JSON.stringify(f[0].params))) return null;
  return { type: f[0].type, targets: [...new Set(f.map((x) => x.target))].sort(), params: f[0].params };
}

/**
 * Every sweep across the runs, in plan order: for each variant, the runs (≥ 2 experiments) whose faults are one
 * type on the same targets with params that differ in exactly one field, numeric in each; the variants of one
 * such sweep share it (one line each).
 * @example runSweeps(summary.runs).map((s) => `${s.type} ${s.param}`) // ['cpu_quota pct']
 */
export function runSweeps(runs: readonly RunSweepInput[]): RunSweep[] {
  const groups = new Map<string, { type: string; targets: string[]; byVariant: Map<string, { r: RunSweepInput; params: Record<string, unknown> }[]> }>();
  for (const r of runs) {
    const sig = signature(r);
    if (!sig) continue;
    const id = `${sig.type}@${sig.targets.join(',')}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { type: sig.type, targets: sig.targets, byVariant: new Map() }));
    const list = g.byVariant.get(r.variant) ?? [];
    list.push({ r, params: sig.params });
    g.byVariant.set(r.variant, list);
  }
  const out: RunSweep[] = [];
  for (const g of groups.values()) {
    const lines: RunSweep['lines'] = [];
    let param: string | undefined;
    for (const [variant, list] of g.byVariant) {
      // The in-run sweep's rule, over the runs' params: ≥ 2, exactly one field differs, numeric in each.
      const swept = sweepOf(list.map((x) => ({ type: g.type, params: x.params })));
      if (!swept || (param !== undefined && swept.param !== param)) continue;
      param = swept.param;
      lines.push({ variant, points: list.map((x) => point(x.r, x.params[swept.param] as number, g.targets)).sort((a, b) => a.x - b.x) });
    }
    if (param !== undefined && lines.length > 0) out.push({ type: g.type, param, targets: g.targets, lines });
  }
  return out;
}

function point(r: RunSweepInput, x: number, targets: string[]): RunSweepPoint {
  const u = r.verdict.figures?.users ?? null;
  const sheds = Object.values(r.services ?? {}).map((s) => s.shed).filter((n): n is number => n !== null);
  return {
    x,
    key: r.key,
    result: r.verdict.result,
    write_p99_ms: u ? u.fault_p99 : r.verdict.fault_p99,
    read_availability: u ? u.fault_availability : r.verdict.fault_availability,
    targets: Object.fromEntries(targets.map((t) => [t, r.services?.[t] ?? null])),
    shed_total: sheds.length === 0 ? null : sheds.reduce((a, b) => a + b, 0),
  };
}

const axis = (s: RunSweep): string => `${s.type} ${s.param}`;
const num = (x: number | null, unit: string): string => (x === null ? '—' : `${x}${unit}`);

/**
 * The sweep's numbers: one row per variant and parameter value, the targets' own figures beside the users'.
 * @example runSweepTable(s).rows[0] // ['10', 'before', 'FAILED', '2311 ms', '97.2 %', '9.9 % · 480 ms · 31 ms', …]
 */
export function runSweepTable(s: RunSweep): { head: string[]; rows: string[][] } {
  return {
    head: [axis(s), 'mitigations', 'verdict', 'write p99, users (fault window)', 'read availability, users', ...s.targets.map((t) => `${t}: CPU · event-loop delay p99 · GC pause`), 'requests shed (all services)'],
    rows: s.lines.flatMap((l) =>
      l.points.map((p) => [
        String(p.x),
        l.variant,
        p.result.toUpperCase(),
        ms(p.write_p99_ms),
        pc(p.read_availability, 2),
        ...s.targets.map((t) => {
          const w = p.targets[t];
          return w ? `${num(w.cpu_pct, ' %')} · ${num(w.eld_p99_ms, ' ms')} · ${num(w.gc_pause_ms, ' ms')}` : '—';
        }),
        p.shed_total === null ? '—' : String(p.shed_total),
      ]),
    ),
  };
}

/** The caption of one sweep's plot and table. */
export const runSweepCaption = (s: RunSweep): string => `users' write p99 under the fault against ${axis(s)} on ${s.targets.join(', ')}, one run per point`;

/** The sweep as an inline SVG: write p99 (y, from 0) against the parameter, one line per variant. */
export function runSweepSvg(s: RunSweep): string {
  return lineChart({
    label: runSweepCaption(s),
    xTitle: axis(s),
    yTitle: 'write p99 (ms)',
    yFmt: (y) => `${Math.round(y)}`,
    lines: s.lines.map((l) => ({
      variant: l.variant,
      points: l.points.map((p) => ({ x: p.x, y: p.write_p99_ms, title: `${l.variant} ${p.key}: ${p.result}, write p99 ${ms(p.write_p99_ms)}, reads ${pc(p.read_availability, 2)}` })),
    })),
  });
}
