import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statePaths } from './state-dir.ts';
import { CONTROLLER_PORT_OFFSET, labSystem, labTopology, LAB_SERVICES } from './topology.ts';

test('the lab as a system file: valid start order, distinct ports, every client edge through a proxy', () => {
  const specs = labTopology({ basePort: 27_000, paths: statePaths('/tmp/x'), secret: 's' });
  assert.deepEqual(specs.map((s) => s.name), LAB_SERVICES.map((r) => r.name));
  assert.deepEqual(specs.map((s) => s.name), ['postgres-primary', 'redis', 'payments', 'lab-setup', 'postgres-replica', 'orders-1', 'orders-2', 'worker', 'worker-2', 'api']);
  const ports = [27_000 + CONTROLLER_PORT_OFFSET, ...specs.flatMap((s) => [s.listenPort, s.proxyPort]).filter((p) => p !== undefined)];
  assert.equal(new Set(ports).size, ports.length, 'ports clash');
  const proxyPorts = new Set(specs.map((s) => s.proxyPort).filter((p) => p !== undefined).map(String));
  for (const s of specs) {
    for (const [k, v] of Object.entries(s.env)) {
      if (!k.endsWith('_URL')) continue;
      assert.ok(proxyPorts.has(new URL(v).port), `${s.name}: ${k}=${v} bypasses the proxies`);
    }
  }
  const orders = specs.find((s) => s.name === 'orders-1')!;
  assert.equal(orders.env.LAB_POSTGRES_REPLICA_URL, 'postgres://lab@127.0.0.1:27433/lab');
  assert.equal(orders.env.LAB_PORT, '27181');
  assert.equal(specs.find((s) => s.name === 'orders-2')!.env.LAB_PORT, '27182');
  assert.equal(orders.env.LAB_MITIGATIONS, undefined, 'an env value that expands to nothing is left unset');
  assert.deepEqual(specs.find((s) => s.name === 'api')!.after, ['orders-1', 'orders-2'], 'after a replicated service = after each replica');
  assert.equal(specs.find((s) => s.name === 'postgres-primary')!.stopSignal, 'SIGINT');
  assert.equal(specs.find((s) => s.name === 'postgres-replica')!.pg?.primaryPort, 27_532);
  assert.equal(specs.find((s) => s.name === 'payments')!.control, 'http://127.0.0.1:27183/control');
  assert.deepEqual(labSystem(28_000).groups.get('orders'), ['orders-1', 'orders-2']);
  const withMitigations = labTopology({ basePort: 27_000, paths: statePaths('/tmp/x'), secret: 's', mitigations: 'all' });
  assert.equal(withMitigations.find((s) => s.name === 'api')!.env.LAB_MITIGATIONS, 'all');
});
