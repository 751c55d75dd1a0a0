/**
 * What an experiment needs to know of a running system, read off its System alone: where users come in, the
 * endpoints they use, which services to scrape, where the mitigations switch is, the integrity checks with their
 * connection strings, and the counters. The runner works from this view, never from a service name it knows.
 *
 * @example
 *   const view = runView(loadSystem('examples/shop/faultline.yaml'));
 *   view.entryUrl // 'http://127.0.0.1:30080'
 */
import type { System } from './system.ts';
import { urlFor } from './system.ts';

export interface IntegrityCheck {
  name: string;
  /** SQL run on a postgres service of the system, whose single value must equal `expect`. */
  sql?: { url: string; query: string; expect: string | number | boolean | null };
  /** SQL given $1 = the keys the run's writes to `endpoint` carried; it answers how many the database holds. */
  writes?: { url: string; query: string; endpoint: string; key: string; acknowledged: number[]; wait_s: number };
  /** A command whose exit code (exit0) or JSON `{ok: true}` on stdout (json-ok) says the data is sound. */
  command?: { argv: string[]; expect: 'exit0' | 'json-ok'; cwd: string };
}

export interface CounterSource {
  name: string;
  /** Connections or bytes through a fault proxy (the controller's proxy metrics). */
  proxy?: { name: string; measure: 'connections' | 'bytes_up' | 'bytes_down' };
  /** A Prometheus counter of a service, summed over the given labels. */
  series?: { service: string; name: string; labels: Record<string, string> };
  /** The entry endpoint whose offered requests it is compared with (effective/offered: amplification). */
  per_endpoint?: string;
}

/** A gauge that holds a state (system file: server_metrics.states[]); a run reports when it changed. */
export interface StateSpec {
  name: string;
  series: string;
  /** One track per value of this label (e.g. the dependency a breaker guards). */
  by?: string;
  /** Only the series with these labels. */
  labels?: Record<string, string>;
  /** Value (as written in the file: "0", "1", …) → state name. */
  values?: Record<string, string>;
}

/** The services' own request metrics, when the system file names them (server-source SLIs need them). */
export interface ServerMetrics {
  http_histogram: string;
  dependency_histogram?: string;
  ops_routes: string[];
  /** State gauges whose changes a run reports (runner/state-changes.ts). */
  states?: StateSpec[];
}

export interface RunView {
  system: string;
  controllerUrl: string;
  /** Where load goes: the entry's proxy (or its service), as a base URL. */
  entryUrl?: string;
  /** The instance behind the entry (whose request metrics a server-source SLI reads by default). */
  entryService?: string;
  endpoints: NonNullable<System['decl']['entry']>['endpoints'];
  /** Instances with Prometheus metrics, and where. */
  scrape: { service: string; url: string }[];
  /** The HTTP mitigations switch: instance → URL to send the block to. */
  switches: Record<string, string>;
  integrity: IntegrityCheck[];
  counters: CounterSource[];
  serverMetrics?: ServerMetrics;
  /** Instances by service name (a replicated service has several), for checking SLI and fault references. */
  services: Record<string, string[]>;
}

export function runView(system: System): RunView {
  const decl = system.decl;
  let entryUrl: string | undefined;
  let entryService: string | undefined;
  if (decl.entry) {
    const proxy = system.proxies.find((p) => p.name === decl.entry!.via);
    const upstream = decl.dependencies[decl.entry.via]?.upstream ?? decl.entry.via;
    const inst = system.instances.find((i) => i.service === upstream || i.name === upstream);
    const port = proxy?.listen ?? inst?.port;
    if (port !== undefined) entryUrl = `http://127.0.0.1:${port}`;
    entryService = inst?.name;
  }
  const scrape = system.instances
    .filter((i) => 'metrics' in i.decl && i.decl.metrics !== undefined && i.port !== undefined)
    .map((i) => {
      const m = (i.decl as { metrics: string }).metrics;
      return { service: i.name, url: m.startsWith('/') ? `http://127.0.0.1:${i.port}${m}` : m };
    });
  const switches: Record<string, string> = {};
  if (decl.mitigations && 'http' in decl.mitigations) {
    for (const service of decl.mitigations.http.services) {
      for (const inst of system.instances.filter((i) => i.service === service && i.port !== undefined)) {
        switches[inst.name] = `http://127.0.0.1:${inst.port}${decl.mitigations.http.path}`;
      }
    }
  }
  const integrity: IntegrityCheck[] = Object.entries(decl.integrity).map(([name, c]) => {
    if ('writes' in c) {
      const inst = system.instances.find((i) => i.service === c.on)!;
      return { name, writes: { url: urlFor(inst, inst.port!), query: c.sql, ...c.writes, wait_s: c.wait_s } };
    }
    if ('sql' in c) {
      const inst = system.instances.find((i) => i.service === c.on)!;
      return { name, sql: { url: urlFor(inst, inst.port!), query: c.sql, expect: c.expect } };
    }
    return { name, command: { argv: c.command, expect: c.expect, cwd: system.dir } };
  });
  const counters: CounterSource[] = Object.entries(decl.counters).map(([name, c]) =>
    'proxy' in c
      ? { name, proxy: { name: system.proxies.find((p) => p.name === c.proxy || p.name.startsWith(`${c.proxy}-`))?.name ?? c.proxy, measure: c.measure }, ...(c.per_endpoint ? { per_endpoint: c.per_endpoint } : {}) }
      : { name, series: { service: c.service, name: c.series, labels: c.labels }, ...(c.per_endpoint ? { per_endpoint: c.per_endpoint } : {}) },
  );
  const services: Record<string, string[]> = {};
  for (const i of system.instances) (services[i.service] ??= []).push(i.name);
  return {
    system: system.name,
    controllerUrl: `http://127.0.0.1:${system.controllerPort}`,
    ...(entryUrl !== undefined ? { entryUrl } : {}),
    ...(entryService !== undefined ? { entryService } : {}),
    endpoints: decl.entry?.endpoints ?? {},
    scrape,
    switches,
    integrity,
    counters,
    ...(decl.server_metrics ? { serverMetrics: decl.server_metrics } : {}),
    services,
  };
}
