/** The supervisor's process metrics against a real process (a node child burning a little CPU). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { parseExposition } from '../metrics/exposition.ts';
import { sleep } from '../core/clock.ts';
import type { ServiceStatus } from './process-manager.ts';
import { PROCESS_SERIES, serviceMetrics } from './service-metrics.ts';

const status = (name: string, pid: number | null, state: ServiceStatus['state'], restarts = 0): ServiceStatus => ({
  name,
  kind: 'command',
  state,
  pid,
  port: null,
  proxy_port: null,
  restarts,
  since: null,
  last_exit: null,
  detail: '',
});

test('each instance: its lifecycle, restarts, the CPU and memory of its processes; the machine; finished jobs left out', async (t) => {
  const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 700; while (Date.now() < end) {} setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await sleep(900);
  let list = [status('app', child.pid!, 'running', 2), status('setup', null, 'done'), status('db', null, 'crashed')];
  const registry = serviceMetrics(() => list);
  const read = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (const s of parseExposition(await registry.metrics()).samples) out.set(`${s.name}${s.labels.instance ? `{${s.labels.instance}}` : ''}`, s.value);
    return out;
  };
  const m = await read();
  assert.equal(m.get(`${PROCESS_SERIES.state.series}{app}`), 2);
  assert.equal(m.get(`${PROCESS_SERIES.state.series}{db}`), 0, 'a crashed instance is down');
  assert.equal(m.has(`${PROCESS_SERIES.state.series}{setup}`), false, 'a finished job is no instance to watch');
  assert.equal(m.get('faultline_service_restarts_total{app}'), 2);
  assert.ok((m.get(`${PROCESS_SERIES.cpu}{app}`) ?? 0) >= 0.5, `app burned ~0.7 s: ${m.get(`${PROCESS_SERIES.cpu}{app}`)}`);
  assert.ok((m.get(`${PROCESS_SERIES.resident}{app}`) ?? 0) > 10 * 2 ** 20);
  assert.equal(m.get('faultline_service_processes{app}'), 1);
  assert.equal(m.has(`${PROCESS_SERIES.cpu}{db}`), false, 'no process, no CPU figure');
  assert.ok((m.get(PROCESS_SERIES.host_busy) ?? 0) > 0 && (m.get(PROCESS_SERIES.host_cpus) ?? 0) >= 1);
  // The next scrape reads the manager again: the instance restarting shows as starting.
  await sleep(250);
  list = [status('app', null, 'restarting', 3)];
  const again = await read();
  assert.equal(again.get(`${PROCESS_SERIES.state.series}{app}`), 1);
  assert.equal(again.get('faultline_service_restarts_total{app}'), 3);
});
