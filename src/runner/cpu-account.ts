/**
 * Where the machine's CPU went in each phase of a run: every instance's processes (the supervisor's /proc figures,
 * scraped with the rest), faultline's own processes (the controller; the runner with its load generator), the
 * machine's busy time, and what none of them accounts for (the kernel's own work, anything else on the box). Evidence beside the verdict, never judged: it says
 * whether a run was starved by the system under test, by faultline itself or by something else.
 *
 *   SeriesStore ─ ProcessSeries (cpu, resident, host busy) ─▶ per phase: increase ÷ seconds ─▶ CpuAccount
 */
import { increase } from '../metrics/sli.ts';
import { LOAD_PROCESS_CPU } from '../metrics/load-series.ts';
import type { SeriesStore } from '../metrics/store.ts';
import type { Marks } from './evaluate.ts';
import type { ProcessSeries } from './target.ts';

export interface CpuAccountRow {
  instance: string;
  /** % of one core in each phase (null: no scrape of it in that phase). */
  cpu_pct: (number | null)[];
  /** Highest resident memory any scrape saw in each phase, MiB. */
  peak_mib: (number | null)[];
}

export interface CpuAccount {
  phases: { name: 'baseline' | 'fault' | 'recovery'; from_ms: number; to_ms: number }[];
  /** The system's instances, busiest first (by the fault phase). */
  rows: CpuAccountRow[];
  /** faultline's own processes: the controller, and the runner with its load generator. */
  faultline: CpuAccountRow[];
  /** The machine's busy CPU in each phase, % of one core (a 2-CPU machine tops out at 200 %). */
  host_pct: (number | null)[];
  cpus: number | null;
  /** Host busy minus every row: what no process faultline knows of used (the kernel's own work, other programs). */
  other_pct: (number | null)[];
  /** How the figures were taken. */
  source: string;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * The account of one run's phases, or undefined when the store has none of the series (no supervisor ran it).
 * @example cpuAccount(store, PROCESS_SERIES, marks)?.rows[0] // { instance: 'postgres-primary', cpu_pct: [31.2, 30.8, 29.9], … }
 */
export function cpuAccount(store: SeriesStore, series: ProcessSeries, marks: Marks): CpuAccount | undefined {
  const cpu = store.select(series.cpu);
  if (cpu.length === 0) return undefined;
  const phases: CpuAccount['phases'] = [
    { name: 'baseline', from_ms: marks.baseline_start, to_ms: marks.fault_start },
    { name: 'fault', from_ms: marks.first_inject ?? marks.fault_start, to_ms: marks.fault_end },
    { name: 'recovery', from_ms: marks.fault_end, to_ms: marks.recovery_end },
  ];
  // A phase's figure covers the scrapes inside it: the counter's growth from the last scrape before it.
  const pct = (points: [number, number][], s: Parameters<typeof increase>[0], p: CpuAccount['phases'][number]): number | null => {
    const inside = points.filter(([t]) => t > p.from_ms && t <= p.to_ms);
    const before = points.filter(([t]) => t <= p.from_ms).at(-1);
    const first = before ?? inside[0];
    const last = inside.at(-1);
    if (first === undefined || last === undefined || last[0] <= first[0]) return null;
    return round1((increase(s, first[0], last[0]) / ((last[0] - first[0]) / 1000)) * 100);
  };
  const byInstance = new Map<string, CpuAccountRow>();
  const row = (instance: string): CpuAccountRow => {
    let r = byInstance.get(instance);
    if (r === undefined) byInstance.set(instance, (r = { instance, cpu_pct: phases.map(() => null), peak_mib: phases.map(() => null) }));
    return r;
  };
  for (const s of cpu) {
    const instance = s.labels[series.by];
    if (instance === undefined) continue;
    row(instance).cpu_pct = phases.map((p) => pct(s.points, s, p));
  }
  for (const s of store.select(series.resident)) {
    const instance = s.labels[series.by];
    if (instance === undefined) continue;
    row(instance).peak_mib = phases.map((p) => {
      const inside = s.points.filter(([t]) => t > p.from_ms && t <= p.to_ms).map(([, v]) => v);
      return inside.length === 0 ? null : round1(Math.max(...inside) / 2 ** 20);
    });
  }
  // faultline's own processes: the controller (proxies, chaos API) and this one (the runner, its load generator).
  const self = store.select(LOAD_PROCESS_CPU)[0];
  const controller = series.controller ? store.select(series.controller.series, series.controller.labels)[0] : undefined;
  const sameProcess = series.controller?.pid === process.pid;
  const faultline: CpuAccountRow[] = [];
  if (controller && !sameProcess) faultline.push({ instance: 'faultline controller (proxies, chaos API)', cpu_pct: phases.map((p) => pct(controller.points, controller, p)), peak_mib: phases.map(() => null) });
  if (self) faultline.push({ instance: sameProcess ? 'faultline (controller, runner and load generator: one process)' : 'faultline runner and load generator', cpu_pct: phases.map((p) => pct(self.points, self, p)), peak_mib: phases.map(() => null) });
  const host = store.select(series.host_busy)[0];
  const host_pct = phases.map((p) => (host ? pct(host.points, host, p) : null));
  const rows = [...byInstance.values()].sort((a, b) => (b.cpu_pct[1] ?? -1) - (a.cpu_pct[1] ?? -1) || a.instance.localeCompare(b.instance));
  const other_pct = phases.map((_, i) => {
    const h = host_pct[i];
    if (h === null) return null;
    return round1(Math.max(0, h - [...rows, ...faultline].reduce((sum, r) => sum + (r.cpu_pct[i] ?? 0), 0)));
  });
  const cpus = store.select(series.host_cpus)[0]?.points.at(-1)?.[1] ?? null;
  return { phases, rows, faultline, host_pct, cpus, other_pct, source: 'each instance\'s processes (its process group and every descendant) and the machine, from /proc via the supervisor, at its scrape interval (1/100 s CPU precision)' };
}
