import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { ReplicaLag } from './degrade.ts';
import { parseMitigations } from './mitigations.ts';

test('replica-lag-aware reads: replica within the threshold, primary (or marked) beyond it, marked when unknown', async () => {
  const registry = new client.Registry();
  // The two series lab/common/replication.ts maintains.
  const lag = new client.Gauge({ name: 'lab_replication_lag_seconds', help: 'h', labelNames: ['replica'], registers: [registry] });
  const up = new client.Gauge({ name: 'lab_replication_lag_up', help: 'h', registers: [registry] });
  const view = new ReplicaLag(registry, 60_000);
  try {
    const on = parseMitigations({ replica_lag: { max_lag_s: 1 } }).replica_lag;
    const mark = parseMitigations({ replica_lag: { max_lag_s: 1, action: 'mark' } }).replica_lag;
    const off = parseMitigations('none').replica_lag;
    up.set(1);
    lag.set({ replica: 'r1' }, 0.2);
    await view.refresh();
    assert.equal(view.plan(on), 'replica');
    lag.set({ replica: 'r1' }, 5);
    await view.refresh();
    assert.equal(view.plan(on), 'primary');
    assert.equal(view.plan(mark), 'replica_marked');
    assert.equal(view.plan(off), 'replica', 'switched off: always the replica');
    up.set(0);
    await view.refresh();
    assert.equal(view.plan(on), 'replica_marked', 'lag unknown');
    up.set(1);
    lag.reset(); // no replica streaming at all
    await view.refresh();
    assert.equal(view.plan(on), 'primary');
  } finally {
    view.stop();
  }
});
