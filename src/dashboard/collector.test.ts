import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { loadSystem } from '../system/system.ts';
import { Collector, slosFromEndpoints } from './collector.ts';

// The lab's own declaration of its metrics (lab/faultline.yaml server_metrics): histograms, ops routes, gauges.
const LAB_METRICS = loadSystem(new URL('../../lab/faultline.yaml', import.meta.url).pathname).decl.server_metrics;

/** A fake api /metrics: every scrape, 10 more POST /orders, all in the 0.5 s bucket, and one 503. */
function fakeApi(): { url: Promise<string>; close: () => void } {
  let n = 0;
  const server = createServer((_req, res) => {
    n++;
    const ok = 10 * n;
    const bad = n;
    const bucket = (le: string, status: string, v: number): string =>
      `lab_http_request_duration_seconds_bucket{le="${le}",route="/orders",method="POST",status="${status}"} ${v}\n`;
    let body = '# TYPE lab_http_request_duration_seconds histogram\n';
    for (const [status, count] of [['201', ok], ['503', bad]] as const) {
      body += bucket('0.25', status, 0) + bucket('0.5', status, count) + bucket('+Inf', status, count);
      body += `lab_http_request_duration_seconds_count{route="/orders",method="POST",status="${status}"} ${count}\n`;
    }
    body += 'lab_http_requests_in_flight{route="/orders"} 3\nlab_http_requests_in_flight{route="/healthz"} 1\n';
    body += 'lab_breaker_state{dependency="payments"} 2\n';
    res.end(body);
  });
  const url = new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`)));
  return { url, close: () => server.close() };
}

test('each round becomes panel series and endpoint SLO status', async () => {
  const api = fakeApi();
  // The SLO table as a system file declares it (the lab's entry endpoints).
  const slos = slosFromEndpoints({
    create_order: { method: 'POST', path: '/orders', slo: { latency_p99_ms: 250, error_rate: 0.001 } },
    get_order: { method: 'GET', path: '/orders/:id', slo: { availability: 0.999 } },
  });
  assert.equal(slos[1].endpoint, 'GET /orders/:id');
  assert.ok(Math.abs(slos[1].max_error_ratio - 0.001) < 1e-12, 'availability 99.9 % = at most 0.1 % errors');
  assert.equal(slos[1].max_p99_ms, undefined);
  const collector = new Collector({ targets: [{ service: 'api', url: await api.url }, { service: 'gone', url: 'http://127.0.0.1:9/metrics' }], interval_ms: 250, edge: 'api', slos, metrics: LAB_METRICS });
  try {
    collector.start();
    const deadline = Date.now() + 5000;
    while (collector.ring.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await collector.stop();
    const { series } = collector.ring.since(0);
    const last = (id: string): number | null | undefined => series[id]?.at(-1);
    assert.equal(last('api/up/up'), 1);
    assert.equal(last('gone/up/up'), 0);
    assert.equal(last('api/in_flight/requests'), 3, 'health-probe routes are not counted');
    assert.equal(last('api/breaker_state/payments'), 2);
    // 11 of every 11 requests land in (0.25, 0.5]: p99 interpolates near the top of that bucket.
    const p99 = last('endpoints/p99_ms/POST /orders')!;
    assert.ok(p99 > 450 && p99 <= 500, `p99 ${p99}`);
    const errPct = last('api/error_pct/5xx')!;
    assert.ok(Math.abs(errPct - 100 / 11) < 0.5, `error % ${errPct}`);
    const write = collector.slo().find((s) => s.endpoint === 'POST /orders')!;
    assert.equal(write.state, 'breach');
    assert.equal(collector.slo().find((s) => s.endpoint === 'GET /orders/:id')!.state, 'idle');
  } finally {
    api.close();
  }
});
