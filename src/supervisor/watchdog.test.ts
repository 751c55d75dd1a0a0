/**
 * The watchdog as it really runs: the prebuilt bundle (dist/watchdog.mjs, rebuilt here when a source changed), a
 * real process, a real state dir. It must start (a bundle that fails at load would leave every lab without a
 * dead-man switch), record itself, and exit on its own once the controller has stopped in order.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeJson } from '../core/json-file.ts';
import { processStartTicks } from '../core/process.ts';
import { stopLab } from './control.ts';
import { ensureWatchdogBundle } from './watchdog-bundle.ts';

test('the bundled watchdog starts, records itself, reverts nothing on a clean state dir, and exits once the controller stopped in order', async () => {
  const bundle = await ensureWatchdogBundle();
  const dir = mkdtempSync(join(tmpdir(), 'faultline-watchdog-'));
  try {
    mkdirSync(join(dir, 'pids'));
    mkdirSync(join(dir, 'logs'));
    // A live "controller" (this test process) with a fresh heartbeat, while the lab runs.
    writeJson(join(dir, 'pids', 'controller.json'), { name: 'controller', pid: process.pid, pgid: 0, start_ticks: processStartTicks(process.pid), stop_signal: 'SIGTERM', command: 'test' });
    writeJson(join(dir, 'status.json'), { phase: 'running', controller_pid: process.pid });
    writeFileSync(join(dir, 'heartbeat'), `${Date.now()}\n`);
    const child = spawn(process.execPath, [bundle, '--state-dir', dir, '--bin', '/nonexistent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !out.includes('watchdog_started')) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /watchdog_started/, `the bundle did not start:\n${out}`);
    assert.equal(JSON.parse(readFileSync(join(dir, 'pids', 'watchdog.json'), 'utf8')).pid, child.pid);
    // An orderly stop: phase stopped, then the controller's record removed last.
    writeJson(join(dir, 'status.json'), { phase: 'stopped', controller_pid: process.pid });
    rmSync(join(dir, 'pids', 'controller.json'));
    assert.equal(await exited, 0, out);
    assert.match(out, /watchdog_stopped \{"reason":"the lab stopped"\}/);
    assert.doesNotMatch(out, /controller_died|controller_restarted/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('down while the watchdog is restarting a dead controller: the restart is stopped and down says the lab was stopped', async () => {
  const bundle = await ensureWatchdogBundle();
  const dir = mkdtempSync(join(tmpdir(), 'faultline-watchdog-'));
  const started = join(dir, 'restarted-controller.pid');
  try {
    mkdirSync(join(dir, 'pids'));
    mkdirSync(join(dir, 'logs'));
    // The "faultline" the watchdog restarts with: a controller that never gets to running (it stands for one
    // still adopting its services when `down` comes), and stops on SIGTERM.
    const bin = join(dir, 'slow-controller.mjs');
    writeFileSync(bin, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(started)}, String(process.pid));\nprocess.on('SIGTERM', () => process.exit(0));\nsetInterval(() => {}, 1000);\n`);
    // A controller that was SIGKILLed while the lab ran: its record names a dead process.
    const dead = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const ticks = await waitFor(() => processStartTicks(dead.pid!) ?? undefined);
    dead.kill('SIGKILL');
    await new Promise((r) => dead.once('exit', r));
    writeJson(join(dir, 'pids', 'controller.json'), { name: 'controller', pid: dead.pid, pgid: 0, start_ticks: ticks, stop_signal: 'SIGTERM', command: 'test' });
    writeJson(join(dir, 'status.json'), { phase: 'running', controller_pid: dead.pid });
    const child = spawn(process.execPath, [bundle, '--state-dir', dir, '--bin', bin], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const restarted = Number(await waitFor(() => (out.includes('controller_restarted') && existsSync(started) ? readFileSync(started, 'utf8') : undefined)));
    assert.ok(processStartTicks(restarted) !== null, 'the restarted controller is running');
    const result = await stopLab(dir);
    assert.equal(await exited, 0, out);
    assert.equal(result.watchdog, 'stopped');
    assert.equal(processStartTicks(restarted), null, 'the controller the watchdog was starting is still alive');
    assert.match(out, /watchdog_stopped \{"reason":"told to stop"\}/);
  } finally {
    if (existsSync(started)) {
      try {
        process.kill(Number(readFileSync(started, 'utf8')), 'SIGKILL');
      } catch {
        /* stopped, as it should be */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

async function waitFor<T>(value: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = value();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
