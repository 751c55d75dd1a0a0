/**
 * Prometheus metrics of a proxy server. The data path only bumps plain numbers on each Proxy; they are read
 * into prom-client at scrape time, so carrying bytes costs nothing extra. Byte counters keep toxiproxy's names
 * and labels so existing dashboards work; connection and toxic gauges are faultline's.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { ProxyRegistry } from './registry.ts';

const STREAMS = ['upstream', 'downstream'] as const;

/** `processMetrics` adds heap, GC and event-loop metrics of this process (the CLI turns it on). */
export function createProxyMetrics(proxies: ProxyRegistry, processMetrics = false): Registry {
  const registry = new Registry();
  const byteLabels = ['direction', 'proxy', 'listener', 'upstream'] as const;

  new Counter({
    name: 'toxiproxy_proxy_received_bytes_total',
    help: 'Bytes the proxy read from the source side of each direction.',
    labelNames: byteLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of proxies.list()) {
        for (const direction of STREAMS) {
          this.inc({ direction, proxy: p.name, listener: p.listen, upstream: p.upstream }, p.counters[direction].received);
        }
      }
    },
  });
  new Counter({
    name: 'toxiproxy_proxy_sent_bytes_total',
    help: 'Bytes the proxy wrote to the destination side of each direction (after toxics).',
    labelNames: byteLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of proxies.list()) {
        for (const direction of STREAMS) {
          this.inc({ direction, proxy: p.name, listener: p.listen, upstream: p.upstream }, p.counters[direction].sent);
        }
      }
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
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'faultline_proxy_process_' });
  return registry;
}
