import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sleep } from '../core/clock.ts';
import { ProcessManager } from './process-manager.ts';
import { ensureStateDir, pidFile, readPidRecords, statePaths } from './state-dir.ts';
import { isRecordAlive } from '../core/process.ts';
import { REPO_ROOT, type ServiceSpec } from './topology.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

function spec(name: string, port: number, after: string[] = [], env: Record<string, string> = {}): ServiceSpec {
  return {
    name,
    service: name,
    kind: 'command',
    after,
    command: ['node', '--import', 'tsx', 'src/supervisor/fixtures/ready-server.ts'],
    cwd: REPO_ROOT,
    clock: false,
    listenPort: port,
    health: { type: 'http', url: `http://127.0.0.1:${port}/readyz`, expect: 200 },
    stopSignal: 'SIGTERM',
    graceMs: 500,
    restart: true,
    env: { LAB_PORT: String(port), ...env },
  };
}

test('starts in order, restarts a crashed process, stops everything (SIGKILL after the grace period)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-pm-'));
  chmodSync(dir, 0o755);
  const paths = statePaths(dir);
  ensureStateDir(paths);
  const lines: string[] = [];
  const [p1, p2] = [await freePort(), await freePort()];
  const manager = new ProcessManager([spec('a', p1), spec('b', p2, ['a'], { FIXTURE_IGNORE_TERM: '1' })], {
    paths,
    basePort: 0,
    log: (l) => lines.push(l),
  });
  try {
    await manager.startAll();
    const started = manager.statuses();
    assert.deepEqual(started.map((s) => s.state), ['running', 'running']);
    assert.ok(lines.findIndex((l) => l.startsWith('a: healthy')) < lines.findIndex((l) => l.startsWith('b: healthy')));
    assert.equal(readPidRecords(paths).length, 2);

    process.kill(started[0].pid!, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(manager.statuses()[0].state === 'running' && manager.statuses()[0].restarts === 1)) await sleep(50);
    const a = manager.statuses()[0];
    assert.equal(a.state, 'running');
    assert.equal(a.restarts, 1);
    assert.equal(a.last_exit?.signal, 'SIGKILL');
    assert.notEqual(a.pid, started[0].pid);

    const records = readPidRecords(paths);
    await manager.stopAll();
    for (const r of records) assert.equal(isRecordAlive(r), false, `${r.name} still alive`);
    assert.ok(lines.some((l) => l.startsWith('b: no exit')), 'b ignored SIGTERM and needed SIGKILL');
    assert.equal(existsSync(pidFile(paths, 'a')), false);
    assert.deepEqual(manager.statuses().map((s) => s.state), ['stopped', 'stopped']);
  } finally {
    await manager.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('adopt keeps a live process that fails its health check for a while (a fault held inside it), and replaces one that stays unhealthy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-pm-'));
  chmodSync(dir, 0o755);
  const paths = statePaths(dir);
  ensureStateDir(paths);
  const sick = join(dir, 'sick');
  const port = await freePort();
  const specs = [spec('a', port, [], { FIXTURE_SICK_FILE: sick })];
  const log = (): void => {};
  // The first manager stands for a controller that died: its process is left running, its pid record in place.
  const first = new ProcessManager(specs, { paths, basePort: 0, log });
  const managers = [first];
  try {
    await first.startAll();
    const pid = first.statuses()[0].pid!;
    writeFileSync(sick, '');
    setTimeout(() => rmSync(sick, { force: true }), 1_500).unref();
    const lines: string[] = [];
    const adopter = new ProcessManager(specs, { paths, basePort: 0, log: (l) => lines.push(l), adopt: true, adoptPatienceMs: 10_000 });
    managers.push(adopter);
    await adopter.startAll();
    assert.equal(adopter.statuses()[0].pid, pid, `replaced instead of adopted: ${lines.join(' | ')}`);
    assert.ok(lines.some((l) => l.includes(`adopted pid ${pid}`)), lines.join(' | '));

    // Sick for longer than the patience: replaced (and the fresh process is healthy once the file is gone).
    writeFileSync(sick, '');
    const lines2: string[] = [];
    const impatient = new ProcessManager(specs, { paths, basePort: 0, log: (l) => lines2.push(l), adopt: true, adoptPatienceMs: 600 });
    managers.push(impatient);
    const started = impatient.startAll();
    await sleep(1_200);
    rmSync(sick, { force: true });
    await started;
    assert.ok(lines2.some((l) => l.includes('stayed unhealthy for 0.6 s')), lines2.join(' | '));
    assert.notEqual(impatient.statuses()[0].pid, pid);
  } finally {
    rmSync(sick, { force: true });
    for (const m of managers.reverse()) await m.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
