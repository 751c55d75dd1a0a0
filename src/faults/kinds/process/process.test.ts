import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { processStartTicks } from '../../../core/process.ts';
import { writeJson } from '../../../core/json-file.ts';
import { kill } from './kill.ts';
import { pause } from './pause.ts';
import { procState } from './pid.ts';

const dir = mkdtempSync(join(tmpdir(), 'faultline-proc-'));
const children: ChildProcess[] = [];

/** A supervised-looking process: its own group, and a pid record like the supervisor writes. */
async function sleeper(name: string): Promise<{ pid: number; pidFile: string }> {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  children.push(child);
  await new Promise((r) => child.once('spawn', r));
  const pidFile = join(dir, `${name}.json`);
  writeJson(pidFile, { name, pid: child.pid, pgid: child.pid, start_ticks: processStartTicks(child.pid!), stop_signal: 'SIGTERM', command: 'sleep 60' });
  return { pid: child.pid!, pidFile };
}

after(() => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGCONT');
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** The supervisor's own record beside the services' (this test process plays the controller). */
function superviseFromHere(): void {
  writeJson(join(dir, 'controller.json'), { name: 'controller', pid: process.pid, pgid: 0, start_ticks: processStartTicks(process.pid), stop_signal: 'SIGTERM', command: 'test' });
}

describe('process faults on a real process', () => {
  it('pause: SIGSTOP shows as state T in /proc; revert SIGCONTs it', async () => {
    const { pid, pidFile } = await sleeper('p');
    const ctx = { id: 'p1', ttl_s: 60 };
    const handle = pause.plan({ name: 'p', pidFile }, {}, ctx);
    await pause.apply(handle, {}, ctx);
    assert.equal(procState(pid), 'T');
    assert.equal(await pause.verify(handle), true);
    await pause.revert(handle);
    assert.notEqual(procState(pid), 'T');
    assert.equal(await pause.verify(handle), false);
    await pause.revert(handle); // idempotent
  });

  it('kill: the pid is gone and the fault is in effect until a new process is in the record', async () => {
    superviseFromHere();
    const { pid, pidFile } = await sleeper('k');
    const ctx = { id: 'k1', ttl_s: 60 };
    const handle = kill.plan({ name: 'k', pidFile }, {}, ctx);
    await kill.apply(handle, {}, ctx);
    assert.equal(processStartTicks(pid), null);
    assert.equal(await kill.verify(handle), true, 'nobody brought it back yet');
    await sleeper('k'); // what the supervisor does: a new process, a rewritten record
    assert.equal(await kill.verify(handle), false);
    await kill.revert(handle);
  });

  it('kill with no live supervisor (the controller died): nothing can bring it back, so the outage is no fault left to wait for', async () => {
    superviseFromHere();
    const { pid, pidFile } = await sleeper('n');
    const ctx = { id: 'n1', ttl_s: 60 };
    const handle = kill.plan({ name: 'n', pidFile }, {}, ctx);
    await kill.apply(handle, {}, ctx);
    assert.equal(await kill.verify(handle), true, 'in effect while the supervisor lives and has not replaced it');
    writeJson(join(dir, 'controller.json'), { name: 'controller', pid, pgid: pid, start_ticks: 1, stop_signal: 'SIGTERM', command: 'dead' });
    assert.equal(await kill.verify(handle), false);
    const t0 = Date.now();
    await kill.revert(handle);
    assert.ok(Date.now() - t0 < 1_000, 'the revert does not wait for a replacement no one will start');
  });

  it('never signals a pid whose start time does not match the record (pid reuse)', async () => {
    const { pid, pidFile } = await sleeper('r');
    writeJson(pidFile, { name: 'r', pid, pgid: pid, start_ticks: 1, stop_signal: 'SIGTERM', command: 'x' });
    const ctx = { id: 'r1', ttl_s: 60 };
    const handle = kill.plan({ name: 'r', pidFile }, {}, ctx);
    await assert.rejects(kill.apply(handle, {}, ctx), /not running/);
    assert.notEqual(processStartTicks(pid), null, 'the unrelated process must be untouched');
  });
});
