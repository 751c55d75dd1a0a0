/**
 * Prometheus metrics of a proxy server. The data path only bumps plain numbers on each Proxy; they are read
 * into prom-client at scrape time, so carrying bytes costs nothing extra. Byte counters keep toxiproxy's names,
 * labels, label order (alphabetical: direction, listener, proxy, upstream) and series order, so existing
 * dashboards and scrapers work; connection and toxic gauges are faultline's.
 *
 * When the byte counters move is toxiproxy's rule: `received` when the proxy reads bytes from a direction's
 * source, before any toxic; `sent` when it writes them to the destination, after the toxics (so a timeout toxic
 * moves only `received`). Where the series live is ours: from the proxy's creation, at 0, until its deletion
 * (toxiproxy shows a series from its first byte and keeps it after the proxy is gone).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Proxy } from './proxy.ts';
import type { ProxyRegistry } from './registry.ts';

const STREAMS = ['downstream', 'upstream'] as const;

/** The byte-counter series in toxiproxy's order: by direction, then listener, proxy and upstream. */
function byteSeries(proxies: ProxyRegistry): { labels: Record<string, string>; proxy: Proxy; direction: (typeof STREAMS)[number] }[] {
  const key = (p: Proxy): string[] => [p.listen, p.name, p.upstream];
  const sorted = proxies.list().sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return Buffer.compare(Buffer.from(x[i]), Buffer.from(y[i]));
    return 0;
  });
  return STREAMS.flatMap((direction) =>
    sorted.map((proxy) => ({ labels: { direction, listener: proxy.listen, proxy: proxy.name, upstream: proxy.upstream }, proxy, direction })),
  );
}

const PROCESS_PREFIX = 'faultline_proxy_process_';
/** With `processMetrics`: this process's CPU seconds (prom-client's default metric under our prefix). */
export const PROXY_PROCESS_CPU = `${PROCESS_PREFIX}process_cpu_seconds_total`;

/** `processMetrics` adds heap, GC and event-loop metrics of this process (the CLI turns it on). */
export function createProxyMetrics(proxies: ProxyRegistry, processMetrics = false): Registry {
  const registry = new Registry();
  const byteLabels = ['direction', 'listener', 'proxy', 'upstream'] as const;

  new Counter({
    name: 'toxiproxy_proxy_received_bytes_total',
    help: 'Bytes the proxy read from the source side of each direction.',
    labelNames: byteLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of byteSeries(proxies)) this.inc(s.labels, s.proxy.counters[s.direction].received);
    },
  });
  new Counter({
    name: 'toxiproxy_proxy_sent_bytes_total',
    help: 'Bytes the proxy wrote to the destination side of each direction (after toxics).',
    labelNames: byteLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of byteSeries(proxies)) this.inc(s.labels, s.proxy.counters[s.direction].sent);
    },
  });
  new Gauge({
    name: 'faultline_proxy_connections_active',
    help: 'Client connections currently open through the proxy.',
    labelNames: ['proxy'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of proxies.list()) this.set({ proxy: p.name }, p.connections.size);
    },
  });
  new Counter({
    name: 'faultline_proxy_connections_total',
    help: 'Client connections accepted by the proxy since it was created.',
    labelNames: ['proxy'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of proxies.list()) this.inc({ proxy: p.name }, p.connectionsTotal);
    },
  });
  new Gauge({
    name: 'faultline_proxy_toxics_active',
    help: 'Toxics currently set on the proxy, by type and stream.',
    labelNames: ['proxy', 'type', 'stream'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of proxies.list()) {
        for (const t of p.toxics.list()) this.inc({ proxy: p.name, type: t.type, stream: t.stream });
      }
    },
  });
  new Gauge({
    name: 'faultline_proxy_enabled',
    help: '1 while the proxy accepts connections, 0 while it is disabled (down).',
    labelNames: ['proxy'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of proxies.list()) this.set({ proxy: p.name }, p.enabled ? 1 : 0);
    },
  });
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: PROCESS_PREFIX });
  return registry;
}
