/**
 * Prometheus exposition while a run is going: its own prom-client Registry (never the global one) served on
 * 127.0.0.1:<port>/metrics. Updated once per second from the batch — nothing on the request hot path — so a
 * collector can plot offered vs achieved load and the generator's own health next to the server's metrics.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { FaultlineError } from '../../core/errors.ts';
import type { LoadOutput } from './output.ts';
import type { EndpointStats } from '../samples.ts';

export interface PrometheusOutput extends LoadOutput {
  readonly registry: Registry;
  /** The port actually bound (useful with port 0), once started. */
  port(): number;
  close(): Promise<void>;
}

/**
 * @example const prom = prometheusOutput(9464); runLoad({ …, outputs: [prom] }); // curl 127.0.0.1:9464/metrics
 */
export function prometheusOutput(port: number, host = '127.0.0.1'): PrometheusOutput {
  const registry = new Registry();
  const labels = ['endpoint'] as const;
  const c = (name: string, help: string, extra: string[] = []): Counter<string> =>
    new Counter({ name, help, labelNames: [...labels, ...extra], registers: [registry] });
  const offered = c('faultline_load_offered_total', 'arrivals that came due (sent + dropped)');
  const sent = c('faultline_load_sent_total', 'requests sent');
  const dropped = c('faultline_load_dropped_total', 'arrivals dropped at the in-flight cap');
  const completed = c('faultline_load_completed_total', 'responses received', ['code']);
  const errors = c('faultline_load_errors_total', 'requests without a usable answer', ['class']);
  const latency = new Gauge({
    name: 'faultline_load_latency_seconds',
    help: 'latency quantiles over the last second; from="intended" is coordinated-omission-free',
    labelNames: ['endpoint', 'from', 'quantile'],
    registers: [registry],
  });
  const target = new Gauge({ name: 'faultline_load_target_rps', help: 'planned arrival rate', registers: [registry] });
  const inFlight = new Gauge({ name: 'faultline_load_in_flight', help: 'requests in flight', registers: [registry] });
  const lag = new Gauge({
    name: 'faultline_load_dispatch_lag_seconds',
    help: "generator's own lateness vs the schedule over the last second",
    labelNames: ['quantile'],
    registers: [registry],
  });
  const eld = new Gauge({
    name: 'faultline_load_event_loop_delay_seconds',
    help: "generator's event-loop delay over the last second",
    labelNames: ['quantile'],
    registers: [registry],
  });
  let server: Server | undefined;

  const record = (endpoint: string, s: EndpointStats): void => {
    offered.inc({ endpoint }, s.offered);
    sent.inc({ endpoint }, s.sent);
    dropped.inc({ endpoint }, s.dropped);
    for (const [code, n] of Object.entries(s.status_codes)) completed.inc({ endpoint, code }, n);
    for (const [cls, n] of Object.entries(s.errors)) errors.inc({ endpoint, class: cls }, n);
    for (const [from, p] of [['intended', s.latency_ms], ['sent', s.send_latency_ms]] as const) {
      if (s.completed === 0) continue;
      for (const [q, v] of [['0.5', p.p50], ['0.9', p.p90], ['0.99', p.p99], ['0.999', p.p999], ['1', p.max]]) {
        latency.set({ endpoint, from, quantile: q }, Number(v) / 1000);
      }
    }
  };

  return {
    registry,
    port: () => {
      const a = server?.address();
      return a && typeof a === 'object' ? a.port : port;
    },
    async start() {
      server = createServer((req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end('not found\n');
          return;
        }
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', (err) =>
          reject(new FaultlineError('LISTEN_FAILED', `--metrics-port: cannot listen on ${host}:${port}: ${err.message}`, { field: '--metrics-port' })),
        );
        server!.listen(port, host, () => resolve());
      });
    },
    second(s) {
      target.set(s.target_rps);
      inFlight.set(s.generator.in_flight);
      lag.set({ quantile: '0.99' }, s.generator.dispatch_lag_ms.p99 / 1000);
      lag.set({ quantile: '1' }, s.generator.dispatch_lag_ms.max / 1000);
      eld.set({ quantile: '0.99' }, s.generator.event_loop_delay_ms.p99 / 1000);
      for (const [name, st] of Object.entries(s.endpoints)) record(name, st);
    },
    async close() {
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
    },
  };
}
