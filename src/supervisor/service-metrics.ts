/**
 * What the supervisor knows of every process group it runs, as metrics on the controller's /metrics: each
 * instance's lifecycle state and restarts, the CPU and resident memory of all its processes read from /proc (its
 * process group and every descendant: postgres's backends, a service's children), and the machine's busy CPU time. A run scrapes the controller, so
 * every run records them for every instance, whether or not the service exports metrics of its own.
 *
 *   ProcessManager.statuses() ─┐
 *   /proc (one scan a scrape) ─┴─▶ faultline_service_* {instance}, faultline_host_*  ─▶ /metrics
 *
 * PROCESS_SERIES tells a run (through its RunTarget) which series these are, so the runner reads them without
 * knowing who exports them.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { familyUsage, hostCpu, readProcStats, type FamilyUsage } from '../core/proc-usage.ts';
import type { ProcessSeries } from '../runner/target.ts';
import type { ServiceState, ServiceStatus } from './process-manager.ts';

/** Lifecycle states as one gauge: down (crashed, stopped, failed, not started), starting, running. */
const STATE_VALUE: Partial<Record<ServiceState, number>> = { running: 2, starting: 1, restarting: 1, preparing: 1 };

export const PROCESS_SERIES: ProcessSeries = {
  by: 'instance',
  state: { name: 'process', series: 'faultline_service_state', by: 'instance', values: { '0': 'down', '1': 'starting', '2': 'running' } },
  cpu: 'faultline_service_cpu_seconds_total',
  resident: 'faultline_service_resident_bytes',
  host_busy: 'faultline_host_cpu_busy_seconds_total',
  host_cpus: 'faultline_host_cpus',
};

/**
 * A registry whose every scrape reads `statuses()` and one /proc scan. Jobs that finished are left out.
 * @example proxies.addMetrics(serviceMetrics(() => manager.statuses()));
 */
export function serviceMetrics(statuses: () => ServiceStatus[]): Registry {
  const registry = new Registry();
  const labelNames = ['instance'];
  const highest = new Map<string, { pid: number; cpu_s: number }>();
  // One /proc scan serves every metric of one scrape.
  let cached: { at: number; rows: [ServiceStatus, FamilyUsage | undefined][] } | undefined;
  const forEach = (fn: (s: ServiceStatus, u: FamilyUsage | undefined) => void): void => {
    if (cached === undefined || Date.now() - cached.at > 200) {
      const stats = readProcStats();
      const services = statuses().filter((s) => s.state !== 'done');
      cached = { at: Date.now(), rows: services.map((s) => [s, s.pid === null ? undefined : familyUsage(stats, s.pid)]) };
    }
    for (const [s, u] of cached.rows) fn(s, u);
  };
  new Gauge({
    name: PROCESS_SERIES.state.series,
    help: 'Lifecycle of each instance the supervisor runs: 0 down (crashed, stopped, not started), 1 starting, 2 running (healthy).',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      forEach((s) => this.set({ instance: s.name }, STATE_VALUE[s.state] ?? 0));
    },
  });
  new Counter({
    name: 'faultline_service_restarts_total',
    help: 'Restarts of each instance after it exited on its own (a crash, a kill, the OOM killer).',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      forEach((s) => this.inc({ instance: s.name }, s.restarts));
    },
  });
  new Counter({
    name: PROCESS_SERIES.cpu,
    help: "CPU seconds used by each instance's processes (its process group and every descendant, and the children they reaped), from /proc at 1/100 s; starts again from 0 when the instance restarts.",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      forEach((s, u) => {
        if (!u || s.pid === null) return;
        // A counter never goes down while its process lives: a member that exited but is not reaped yet drops out
        // of the sum for a moment, and a drop would read as a restart (everything counted again). Hold the highest.
        const seen = highest.get(s.name);
        const value = seen && seen.pid === s.pid ? Math.max(seen.cpu_s, u.cpu_s) : u.cpu_s;
        highest.set(s.name, { pid: s.pid, cpu_s: value });
        this.inc({ instance: s.name }, value);
      });
    },
  });
  new Gauge({
    name: PROCESS_SERIES.resident,
    help: "Resident memory of each instance's processes, summed over the live ones (a shared page counts once per process).",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      forEach((s, u) => u && this.set({ instance: s.name }, u.rss_bytes));
    },
  });
  new Gauge({
    name: 'faultline_service_processes',
    help: "Live processes of each instance (its process group and every descendant).",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      forEach((s, u) => this.set({ instance: s.name }, u?.processes ?? 0));
    },
  });
  new Counter({
    name: PROCESS_SERIES.host_busy,
    help: "The machine's busy CPU seconds since boot, summed over its CPUs (everything but idle and iowait), from /proc/stat.",
    registers: [registry],
    collect() {
      const h = hostCpu();
      this.reset();
      if (h) this.inc(h.busy_s);
    },
  });
  new Gauge({
    name: PROCESS_SERIES.host_cpus,
    help: 'CPUs the machine has (/proc/stat).',
    registers: [registry],
    collect() {
      const h = hostCpu();
      if (h) this.set(h.cpus);
    },
  });
  return registry;
}
