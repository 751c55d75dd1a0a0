/**
 * /proc accounting against real processes: a group leader with a child that leaves its process group (setsid,
 * as postgres's backends do) and burns CPU. Linux only (the project runs nowhere else).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { sleep } from './clock.ts';
import { familyOf, familyUsage, hostCpu, parseProcStat, readProcStats } from './proc-usage.ts';

// The leader spawns a detached child (its own session and group), then idles; the child spins for 4 s.
const LEADER = `
const { spawn } = require('node:child_process');
const c = spawn(process.execPath, ['-e', 'const end = Date.now() + 4000; while (Date.now() < end) {}'], { detached: true, stdio: 'ignore' });
process.stdout.write(String(c.pid) + '\\n');
setInterval(() => {}, 1000);
`;

test('a leader and its setsid child are one family; their CPU and memory add up, and the machine counts it too', async (t) => {
  const leader = spawn(process.execPath, ['-e', LEADER], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    for (const pid of [leader.pid!, childPid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  let childPid = 0;
  childPid = await new Promise<number>((resolve) => leader.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  const host0 = hostCpu();
  await sleep(1500);
  const stats = readProcStats();
  const child = stats.find((s) => s.pid === childPid);
  assert.ok(child, 'the child is in /proc');
  assert.notEqual(child.pgrp, leader.pid, 'the child left the leader’s process group (setsid)');
  assert.deepEqual(familyOf(stats, leader.pid!).map((s) => s.pid).sort(), [leader.pid!, childPid].sort());
  const u = familyUsage(stats, leader.pid!)!;
  assert.equal(u.processes, 2);
  assert.ok(u.cpu_s >= 0.8, `the spinning child used about 1.5 s of CPU, the family shows ${u.cpu_s} s`);
  assert.ok(u.rss_bytes > 20 * 2 ** 20, `two node processes hold more than 20 MiB resident: ${u.rss_bytes}`);
  const host1 = hostCpu()!;
  assert.ok(host0 && host1.cpus >= 1 && host1.busy_s - host0.busy_s >= 0.8, `the machine was busy at least as long: ${host0?.busy_s} → ${host1.busy_s}`);
  // Unrelated processes are not family; a pid that is gone has none.
  assert.ok(!familyOf(stats, leader.pid!).some((s) => s.pid === process.pid));
  assert.equal(familyUsage(stats, 2 ** 22 + 1), undefined);
});

test('a stat line whose command holds spaces and parentheses parses by the fields after the last one', () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime … rss
  const line = '77 (a (b) c) S 1 77 77 0 -1 4194560 10 0 0 0 250 50 30 20 20 0 1 0 123 1000 64';
  const s = parseProcStat(77, line)!;
  assert.deepEqual({ state: s.state, ppid: s.ppid, pgrp: s.pgrp, cpu_s: s.cpu_s, children_cpu_s: s.children_cpu_s, start_ticks: s.start_ticks }, { state: 'S', ppid: 1, pgrp: 77, cpu_s: 3, children_cpu_s: 0.5, start_ticks: 123 });
  assert.ok(s.rss_bytes >= 64 * 4096);
});
