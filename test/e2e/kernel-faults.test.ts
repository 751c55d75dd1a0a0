/**
 * Kernel-level fault families end to end, on ONE lab for the whole file (`faultline up --detach` in a temp state
 * dir): for nftables, cgroup, disk and clock, inject through the chaos API, observe the effect from outside the
 * controller (a TCP client's retransmissions and timeouts, the cgroup a process is in and its throttling, Postgres
 * failing to write, the Date header and token checks of api), revert, observe it gone. Then the controller's
 * robustness: bad escapes, foreign Hosts and oversized bodies on every route prefix answer 4xx and it stays up.
 * Then the dead-man switch: one fault of every family active, the controller SIGKILLed (and, separately, crashed
 * by a request): with no command run, nothing may be in effect within 2 s, by the same probes, the lab must serve
 * again, and the journal must say the watchdog reverted each fault. Last, controller AND watchdog killed: the
 * next `faultline down` — then, separately, the next `faultline up` — must leave no fault. The after hook proves
 * nothing is left behind: no nft table, no faultline cgroup, no mount, no fill file, no burner, no lab process.
 *
 * Each family probes its capability first and skips, saying why, when this machine lacks it (not root, no nft,
 * no cgroup controller, no loop mount, no libfaketime).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ChaosClient } from '../../src/controller/client.ts';
import { chaosToken } from '../../src/controller/token.ts';
import { hierarchyFor, staticReason as cgroupReason } from '../../src/faults/kinds/cgroup/cgroup.linux.ts';
import { readOffset } from '../../src/faults/kinds/clock/clock_skew.ts';
import { probeNft } from '../../src/faults/kinds/nftables/nft.linux.ts';
import { faketimeFile, pgVolume } from '../../src/supervisor/fault-surfaces.ts';
import { isMounted, libfaketimePath } from '../../src/core/platform.ts';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { labSecret, readPidRecords, statePaths } from '../../src/supervisor/state-dir.ts';
import { isRecordAlive, type PidRecord } from '../../src/core/process.ts';
import { readJson } from '../../src/core/json-file.ts';
import { signToken } from '../../src/supervisor/token.ts';
import { LAB_SERVICES } from '../../src/supervisor/topology.ts';
import { freeBasePort } from '../helpers/lab.ts';
import { SLACK_MS } from '../helpers/net.ts';
import { burners, CLOCK_TARGET, faultsInEffect, fillFiles as fillFilesIn, hasLabTable, labCgroups, labTable, oneFaultPerFamily } from '../helpers/in-effect.ts';
import { kernelScope } from '../../src/core/scope.ts';
import { familyOf, readProcStats } from '../../src/core/proc-usage.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const say = (line: string): void => void process.stdout.write(`# ${line}\n`);

const missing = missingLabPrerequisites();
const skip =
  missing.length > 0
    ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)`
    : process.getuid?.() !== 0
      ? 'kernel-level faults need root (nftables, cgroups, loop mounts)'
      : false;
if (skip) say(`skipping test/e2e/kernel-faults.test.ts — ${skip}`);

/** Per-family capability, probed before the lab starts; a string says why that family's test skips. */
const nftSkip: string | false = skip ? false : ((await probeNft()) ?? false);
const cgroupSkip: string | false = skip ? false : (cgroupReason('cpu') ?? cgroupReason('memory') ?? false);
const clockSkip: string | false = skip ? false : libfaketimePath() ? false : 'libfaketime is not installed (Debian package libfaketime)';
const mountTools = ['mkfs.ext4', 'mount', 'fallocate'].filter((c) => {
  try {
    execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});
for (const [family, why] of [
  ['nftables', nftSkip],
  ['cgroup', cgroupSkip],
  ['clock', clockSkip],
] as const) {
  if (why) say(`skipping the ${family} family — ${why}`);
}

/** The lab of this file mounts the crash hook (`POST /__debug/crash`) the dead-man test uses. */
function faultline(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { timeout: 90_000, env: { ...process.env, FAULTLINE_DEBUG_CRASH: '1' } });
}

/** One HTTP GET, on a fresh connection unless an agent is given. */
function freshGet(
  url: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
  agent: Agent | false = false,
): Promise<{ status: number; ms: number; headers: Record<string, unknown> } | { error: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent, headers, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, headers: res.headers }));
      res.on('error', (err) => resolve({ error: err.message, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message, ms: performance.now() - t0 }));
    req.end();
  });
}

/** TCP segments this host retransmitted so far (/proc/net/snmp): loss on loopback shows up here. */
function retransSegs(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(/\s+/);
  return Number(lines[1].split(/\s+/)[names.indexOf('RetransSegs')]);
}

/** Wall-clock seconds (epoch) a process started at: its /proc start ticks against /proc/uptime (10 ms steps). */
function processStartSeconds(ticks: number | null): number {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return ticks === null ? Infinity : Date.now() / 1000 - (uptime - ticks / 100); // USER_HZ is 100 on Linux
}

/** CPU seconds a process has used (utime + stime). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The cgroup path of `pid` for a v1 controller or v2 (from /proc/<pid>/cgroup). */
function cgroupLine(pid: number, controller: 'cpu' | 'memory'): string {
  const h = hierarchyFor(controller)!;
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .trim()
    .split('\n')
    .find((l) => (h.version === 2 ? l.startsWith('0::') : l.split(':')[1].split(',').includes(controller)))!;
  return line.split(':').slice(2).join(':');
}

describe('kernel-level faults on the lab', { skip, timeout: 300_000 }, () => {
  let stateDir = '';
  let base = 0;
  let chaos: ChaosClient;
  let token = '';
  const port = (name: string, which: 'port' | 'proxy'): number => base + LAB_SERVICES.find((r) => r.name === name)![which]!;
  /** The marker prefix of this lab's burners (its scope: another lab's are not ours to count). */
  const ownBurners = (): string => `faultline-burner-${kernelScope(statePaths(stateDir).root)}-`;
  const pidOf = (name: string): number => readJson<PidRecord>(join(stateDir, 'pids', `${name}.json`))!.pid;
  const volume = (): string => pgVolume(statePaths(stateDir)).mountpoint;
  const fillFiles = (): string[] => fillFilesIn(stateDir);
  let diskSkip: string | false = false;

  async function postOrder(key: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${port('api', 'proxy')}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ customer_id: 5, amount_cents: 1200, idempotency_key: key }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  async function startLab(): Promise<void> {
    const t0 = Date.now();
    await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(base)]);
    say(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const status = JSON.parse(readFileSync(join(stateDir, 'status.json'), 'utf8')) as { controller_url: string };
    chaos = new ChaosClient(status.controller_url, chaosToken(stateDir));
    token = (await faultline(['token', '--state-dir', stateDir])).stdout.trim();
  }

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-kernel-'));
    chmodSync(stateDir, 0o755); // the postgres user must reach its data dir inside
    base = await freeBasePort();
    await startLab();
    diskSkip = mountTools.length > 0 ? `missing ${mountTools.join(', ')}` : isMounted(volume()) ? false : 'the lab could not mount its bounded postgres volume (see logs/controller.log)';
    if (diskSkip) say(`skipping the disk family — ${diskSkip}`);
  });

  after(async () => {
    if (!stateDir) return;
    await faultline(['down', '--state-dir', stateDir]).catch(() => {});
    // Nothing may be left behind: checked here so a failed test above cannot hide a leak.
    const leftovers: string[] = [];
    if (hasLabTable(stateDir)) leftovers.push(`nft table inet ${labTable(stateDir)}`);
    if (readFileSync('/proc/mounts', 'utf8').includes(stateDir)) leftovers.push(`a mount under ${stateDir}`);
    leftovers.push(...labCgroups(stateDir));
    if (burners(ownBurners()).length > 0) leftovers.push(`burner pids ${burners(ownBurners()).join(',')}`);
    for (const r of readPidRecords(statePaths(stateDir))) if (isRecordAlive(r)) leftovers.push(`${r.name} (pid ${r.pid})`);
    if (leftovers.length === 0) rmSync(stateDir, { recursive: true, force: true });
    assert.deepEqual(leftovers, [], `left behind (state dir kept: ${stateDir})`);
  });

  test('nftables packet_loss: a loopback TCP client sees retransmissions and RTO-sized delays; none after revert', { skip: nftSkip }, async () => {
    const url = `http://127.0.0.1:${port('payments', 'port')}/healthz`;
    // One kept-alive connection, opened before the loss starts: a lost data segment or ACK then costs one
    // retransmission timeout (≥ 200 ms on Linux), not the 1 s, 3 s, 7 s back-off of a lost SYN.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.ok('status' in (await freshGet(url, 2_000, {}, agent)));
    const fault = await chaos.inject({ type: 'packet_loss', target: 'payments', params: { pct: 20 }, duration_s: 60 });
    assert.match(fault.mechanism, /nftables/);
    const chain = `fault_${fault.id}`;
    assert.match(execFileSync('nft', ['list', 'table', 'inet', labTable(stateDir)], { encoding: 'utf8' }), new RegExp(`chain ${chain}[\\s\\S]*numgen random mod 10000 < 2000 drop comment "faultline ${fault.id}"`));
    const retrans0 = retransSegs();
    const lossy = [];
    // Until three requests waited out a retransmission (a few seconds at 20 %), at most 60.
    while (lossy.length < 60 && lossy.filter((r) => r.ms >= 190).length < 3) lossy.push(await freshGet(url, 10_000, {}, agent));
    agent.destroy();
    const retrans = retransSegs() - retrans0;
    const slowest = Math.max(...lossy.map((r) => r.ms));
    const median = lossy.map((r) => r.ms).sort((a, b) => a - b)[lossy.length >> 1];
    say(`packet_loss 20 %: ${retrans} retransmitted segments; ${lossy.length} keep-alive requests, median ${median.toFixed(1)} ms, slowest ${slowest.toFixed(0)} ms`);
    assert.ok(retrans > 0, 'no TCP retransmission seen under 20 % loss');
    assert.ok(slowest >= 190, `no request waited for a retransmission timeout (slowest ${slowest.toFixed(0)} ms)`);

    await chaos.revert(fault.id);
    assert.equal(hasLabTable(stateDir), false, 'the table goes with its last chain');
    const clean = [];
    for (let i = 0; i < 10; i++) clean.push(await freshGet(url, 2_000));
    assert.ok(clean.every((r) => 'status' in r && r.status === 200), JSON.stringify(clean));
  });

  test('nftables partition: connects to the port hang until timeout; normal service after revert', { skip: nftSkip }, async () => {
    const url = `http://127.0.0.1:${port('payments', 'port')}/healthz`;
    const fault = await chaos.inject({ type: 'partition', target: 'payments', duration_s: 60 });
    assert.equal(await (await fetch(`${chaos.baseUrl}/chaos/faults`)).status, 200);
    const cut = await freshGet(url, 1_000);
    assert.ok('error' in cut && cut.ms >= 900, `expected a timeout, got ${JSON.stringify(cut)}`);
    await chaos.revert(fault.id);
    const back = await freshGet(url, 2_000);
    assert.ok('status' in back && back.status === 200, JSON.stringify(back));
    assert.equal(hasLabTable(stateDir), false);
  });

  test('cgroup cpu_quota: the process moves into a throttled cgroup and its CPU share stays within the quota; back after revert', { skip: cgroupSkip }, async () => {
    const pid = pidOf('orders-1');
    const metricsUrl = `http://127.0.0.1:${port('orders-1', 'port')}/metrics`;
    // 20 concurrent /metrics scrapes: serializing every metric is CPU work in the process.
    const burst = async (): Promise<number> => {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 20 }, () => fetch(metricsUrl).then((r) => r.text())));
      return performance.now() - t0;
    };
    await burst(); // warm
    const baseline = await burst();
    const before = cgroupLine(pid, 'cpu');
    const fault = await chaos.inject({ type: 'cpu_quota', target: 'orders-1', params: { pct: 5 }, duration_s: 60 });
    const inside = cgroupLine(pid, 'cpu');
    assert.ok(inside.endsWith(`/faultline-${kernelScope(statePaths(stateDir).root)}-${fault.id}`), `orders-1 is in ${inside}`);
    const dir = join(hierarchyFor('cpu')!.mount, inside);
    const quota = readFileSync(join(dir, hierarchyFor('cpu')!.version === 1 ? 'cpu.cfs_quota_us' : 'cpu.max'), 'utf8').trim();
    assert.match(quota, /^5000\b/);
    // The claim is about CPU, so it is measured in CPU: under a 5 % quota the process gets at most ~5 ms of CPU per
    // 100 ms period, however busy the machine is (contention can only lower its share, never raise it).
    const cpu0 = cpuSeconds(pid);
    const w0 = performance.now();
    let limited = 0;
    while (performance.now() - w0 < 1_000) limited = await burst();
    const share = (cpuSeconds(pid) - cpu0) / ((performance.now() - w0) / 1000);
    const throttled = /nr_throttled (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1];
    say(`cpu_quota 5 %: 20 concurrent /metrics in ${baseline.toFixed(0)} ms before, ${limited.toFixed(0)} ms under quota; CPU share while busy ${(share * 100).toFixed(1)} %; nr_throttled ${throttled}`);
    assert.ok(Number(throttled) > 0, 'the cgroup never throttled');
    // Twice the quota, for CFS's per-period slack and accounting granularity; unthrottled, this burst takes a core.
    assert.ok(share <= 0.1, `the process used ${(share * 100).toFixed(1)} % of a CPU under a 5 % quota`);
    // The revert keeps what the cgroup counted: at least the throttled periods seen above.
    const reverted = await chaos.revert(fault.id);
    assert.ok((reverted.observed?.throttled_periods ?? 0) >= Number(throttled) && (reverted.observed?.periods ?? 0) > 0, `observed: ${JSON.stringify(reverted.observed)}`);
    assert.equal(cgroupLine(pid, 'cpu'), before);
    assert.equal(existsSync(dir), false);
  });

  test('cgroup memory_limit: the process sits in a cgroup with the limit; back where it was after revert', { skip: cgroupSkip }, async () => {
    const pid = pidOf('orders-2');
    const before = cgroupLine(pid, 'memory');
    const fault = await chaos.inject({ type: 'memory_limit', target: 'orders-2', params: { mb: 200 }, duration_s: 60 });
    const inside = cgroupLine(pid, 'memory');
    assert.ok(inside.endsWith(`/faultline-${kernelScope(statePaths(stateDir).root)}-${fault.id}`), `orders-2 is in ${inside}`);
    const h = hierarchyFor('memory')!;
    const dir = join(h.mount, inside);
    assert.equal(readFileSync(join(dir, h.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'), 'utf8').trim(), String(200 * 1024 * 1024));
    // The service keeps serving inside its limit.
    const res = await freshGet(`http://127.0.0.1:${port('orders-2', 'port')}/healthz`, 2_000);
    assert.ok('status' in res && res.status === 200);
    await chaos.revert(fault.id);
    assert.equal(cgroupLine(pid, 'memory'), before);
    assert.equal(existsSync(dir), false);
  });

  test('cgroup faults take every process of a target: postgres\'s backends (they call setsid) move in with the postmaster, and back', { skip: cgroupSkip }, async () => {
    const leader = pidOf('postgres-primary');
    const family = familyOf(readProcStats(), leader).filter((s) => s.state !== 'Z').map((s) => s.pid);
    assert.ok(family.length >= 4 && family.some((p) => readProcStats().find((s) => s.pid === p)!.pgrp !== leader), `postgres's processes: ${family.join(', ')}`);
    const before = new Map(family.map((p) => [p, cgroupLine(p, 'memory')]));
    const fault = await chaos.inject({ type: 'memory_limit', target: 'postgres-primary', params: { mb: 4096 }, duration_s: 60 });
    const inside = family.filter((p) => existsSync(`/proc/${p}`)).map((p) => cgroupLine(p, 'memory'));
    assert.ok(inside.length > 0 && inside.every((l) => l.endsWith(`-${fault.id}`)), `postgres's processes in: ${inside.join(', ')}`);
    await chaos.revert(fault.id);
    for (const [p, where] of before) if (existsSync(`/proc/${p}`)) assert.equal(cgroupLine(p, 'memory'), where, `pid ${p} went back`);
  });

  test('cgroup memory_limit with a leak inside it (heap_growth, stacked on purpose): the kernel OOM-kills the replica, the supervisor restarts it, the revert counts the kill', { skip: cgroupSkip }, async () => {
    const victim = pidOf('orders-2');
    const cap = await chaos.inject({ type: 'memory_limit', target: 'orders-2', params: { mb: 32 }, duration_s: 60 });
    const leak = await chaos.inject({ type: 'heap_growth', target: 'orders-2', params: { mb_per_s: 16, max_mb: 512 }, duration_s: 60, concurrent: true });
    const t0 = Date.now();
    // A fresh replica answers health checks again: the supervisor replaced the killed process.
    let now = victim;
    while (Date.now() - t0 < 30_000) {
      const record = readPidRecords(statePaths(stateDir)).find((r) => r.name === 'orders-2');
      if (record && record.pid !== victim && isRecordAlive(record)) {
        const res = await freshGet(`http://127.0.0.1:${port('orders-2', 'port')}/readyz`, 1_000);
        if ('status' in res && res.status === 200) {
          now = record.pid;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    say(`memory_limit 32 MiB + heap_growth 16 MiB/s: orders-2 pid ${victim} → ${now} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.notEqual(now, victim, 'orders-2 was never killed and replaced within 30 s');
    await chaos.revert(leak.id);
    const reverted = await chaos.revert(cap.id);
    assert.ok((reverted.observed?.oom_kills ?? 0) >= 1, `the cap's own count of OOM kills: ${JSON.stringify(reverted.observed)}`);
  });

  test('cgroup cpu_burner: a noisy neighbour burns about pct % of a CPU until reverted', async () => {
    const fault = await chaos.inject({ type: 'cpu_burner', target: 'orders-2', params: { cores: 1, pct: 50 }, duration_s: 60 });
    const marker = `${ownBurners()}${fault.id}`;
    await new Promise((r) => setTimeout(r, 200));
    const [pid] = burners(marker);
    assert.ok(pid, 'no burner process found');
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 1_000));
    const share = cpuSeconds(pid) - c0;
    say(`cpu_burner pct 50: burner used ${(share * 100).toFixed(0)} % of a CPU over 1 s`);
    // Loose: other processes compete for the 2 CPUs; an idle burner would be ~0.
    assert.ok(share > 0.1, `burner used only ${(share * 100).toFixed(0)} % of a CPU`);
    await chaos.revert(fault.id);
    assert.deepEqual(burners(marker), []);
  });

  test('disk_fill: Postgres cannot write (POST /orders fails) while the volume is full; writes succeed after revert', async (t) => {
    if (diskSkip) return t.skip(diskSkip);
    assert.equal(await postOrder(`disk-pre-${Date.now()}`), 201);
    const fault = await chaos.inject({ type: 'disk_fill', target: 'postgres-primary', duration_s: 60 });
    const fs = statfsSync(volume());
    assert.ok(fs.bavail * fs.bsize < 1024 * 1024, `volume still has ${fs.bavail * fs.bsize} bytes free`);
    assert.deepEqual(fillFiles(), [`faultline-fill-${fault.id}`]);
    // Inserts fill what is left of the table's last page first; the first one that must extend the file fails.
    let failedAfter = -1;
    for (let i = 0; i < 400 && failedAfter < 0; i++) {
      if ((await postOrder(`disk-full-${Date.now()}-${i}`)) >= 500) failedAfter = i;
    }
    say(`disk_fill: first POST /orders failure after ${failedAfter} successful writes`);
    assert.ok(failedAfter >= 0, 'POST /orders never failed on a full volume');
    const log = readFileSync(join(stateDir, 'logs', 'postgres-primary.log'), 'utf8');
    assert.match(log, /No space left on device/);
    await chaos.revert(fault.id);
    assert.deepEqual(fillFiles(), []);
    // Writes come back once Postgres has room again; if it PANICked on a WAL write while full, it first goes
    // through crash recovery (or the supervisor restarts it), so allow for that and report how long it took.
    const t0 = Date.now();
    let status = 0;
    for (let i = 0; Date.now() - t0 < 30_000; i++) {
      status = await postOrder(`disk-post-${Date.now()}-${i}`);
      if (status === 201) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    say(`disk_fill: POST /orders back to 201 ${Date.now() - t0} ms after the revert`);
    assert.equal(status, 201);
  });

  test('clock_skew: api reads a clock 10 minutes ahead (Date header, short tokens expire); true time after revert', { skip: clockSkip }, async () => {
    const healthz = `http://127.0.0.1:${port('api', 'port')}/healthz`;
    const secret = labSecret(statePaths(stateDir), false)!;
    const now = Math.floor(Date.now() / 1000);
    const shortToken = signToken({ sub: 'clock', iat: now, nbf: now, exp: now + 120 }, secret);
    const read = async (): Promise<number> => (await freshGet(`http://127.0.0.1:${port('api', 'proxy')}/orders/1`, 5_000, { authorization: `Bearer ${shortToken}` }) as { status: number }).status;
    const skewOf = async (): Promise<number> => {
      const r = (await freshGet(healthz, 2_000)) as { headers: Record<string, string> };
      return (Date.parse(r.headers.date) - Date.now()) / 1000;
    };
    assert.notEqual(await read(), 401);
    const fault = await chaos.inject({ type: 'clock_skew', target: 'api', params: { offset_s: 600 }, duration_s: 60 });
    // Node refreshes its cached Date header once a second: give the new clock that long to show.
    let skew = await skewOf();
    for (const deadline = Date.now() + 3_000; Math.abs(skew - 600) >= 5 && Date.now() < deadline; skew = await skewOf()) {
      await new Promise((r) => setTimeout(r, 100));
    }
    say(`clock_skew +600 s: api's Date header is ${skew.toFixed(1)} s ahead`);
    assert.ok(Math.abs(skew - 600) < 5, `skew seen: ${skew}`);
    assert.equal(await read(), 401, 'a token with 2 minutes left must look expired 10 minutes ahead');
    await chaos.revert(fault.id);
    let back = await skewOf();
    for (const deadline = Date.now() + 3_000; Math.abs(back) >= 5 && Date.now() < deadline; back = await skewOf()) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(Math.abs(back) < 5, `still skewed by ${back} s after revert`);
    assert.notEqual(await read(), 401);
    assert.equal(readOffset(faketimeFile(statePaths(stateDir), 'api')), 0);
  });

  /** Every fault of every family, each on its own target or stacked (concurrent), long TTLs. */
  const injectAll = async (): Promise<string[]> => {
    const faults = oneFaultPerFamily({ nftables: Boolean(nftSkip), cgroup: Boolean(cgroupSkip), disk: Boolean(diskSkip), clock: Boolean(clockSkip) });
    const ids: string[] = [];
    for (const f of faults) ids.push((await chaos.inject({ ...f, duration_s: 300, concurrent: true })).id);
    injectedIds = ids;
    return faults.map((f) => f.type);
  };
  let injectedIds: string[] = [];
  const expectedInEffect = (): string[] =>
    ['cpu_burner', 'pause', ...(nftSkip ? [] : ['nftables']), ...(cgroupSkip ? [] : ['cgroup']), ...(diskSkip ? [] : ['disk_fill']), ...(clockSkip ? [] : ['clock_skew'])].sort();
  /** Every fault still in effect, by the same probes the injectors verify with, read from outside. */
  const inEffect = (): string[] => faultsInEffect(stateDir, CLOCK_TARGET);
  const record = (name: string): PidRecord | undefined => readJson<PidRecord>(join(stateDir, 'pids', `${name}.json`));
  /** Polls the probes from `t0` until nothing is in effect: ms since t0 (or -1 at the deadline). */
  const msUntilClean = async (t0: number, deadlineMs: number): Promise<number> => {
    while (performance.now() - t0 < deadlineMs) {
      if (inEffect().length === 0) return performance.now() - t0;
      // The probes run `nft` and walk /proc: polled every 50 ms so they do not compete with the revert they time.
      await new Promise((r) => setTimeout(r, 50));
    }
    return -1;
  };
  /** Polls until the lab answers a real read (api → orders → Redis/Postgres, each through its proxy) with a new controller: ms since t0. */
  const msUntilServing = async (t0: number, oldPid: number): Promise<number> => {
    while (performance.now() - t0 < 90_000) {
      const controller = record('controller');
      const status = readJson<{ phase: string; controller_pid: number }>(join(stateDir, 'status.json'));
      if (controller && controller.pid !== oldPid && status?.phase === 'running' && status.controller_pid === controller.pid) {
        // 200 or 404 (no such order) both mean the whole read path answered; a 5xx or no answer does not.
        const res = await freshGet(`http://127.0.0.1:${port('api', 'proxy')}/orders/1`, 1_000, { authorization: `Bearer ${token}` });
        if ('status' in res && (res.status === 200 || res.status === 404)) return performance.now() - t0;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return -1;
  };
  /** The watchdog reverted every injected fault, says so in the journal, and logged its steps in the event stream. */
  const assertWatchdogRecorded = async (): Promise<void> => {
    // The test sees the lab serve as soon as the watchdog does; its 'lab_serving' line may land a moment later.
    const watchdogSteps = (): string[] => {
      const evs = readFileSync(join(stateDir, 'fault-events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; by?: string; id?: string });
      return evs.slice(evs.map((e) => e.event).lastIndexOf('controller_died')).filter((e) => e.by === 'watchdog' && e.id === undefined).map((e) => e.event);
    };
    for (const until = performance.now() + 5_000; !watchdogSteps().includes('lab_serving') && performance.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    const journal = new Map<string, { phase: string; reverted_by?: string }>();
    for (const line of readFileSync(join(stateDir, 'faults.jsonl'), 'utf8').trim().split('\n')) {
      const r = JSON.parse(line) as { id: string; phase: string; reverted_by?: string };
      journal.set(r.id, r);
    }
    for (const id of injectedIds) {
      assert.equal(journal.get(id)?.phase, 'reverted', `fault ${id}`);
      assert.equal(journal.get(id)?.reverted_by, 'watchdog', `fault ${id} reverted by`);
    }
    const events = readFileSync(join(stateDir, 'fault-events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; by?: string; id?: string });
    const sinceDeath = events.slice(events.map((e) => e.event).lastIndexOf('controller_died'));
    assert.deepEqual(
      sinceDeath.filter((e) => e.by === 'watchdog' && e.id === undefined).map((e) => e.event),
      ['controller_died', 'faults_reverted', 'controller_restarted', 'lab_serving'],
    );
    assert.equal(sinceDeath.filter((e) => e.event === 'stop' && e.by === 'watchdog').length, injectedIds.length, 'one stop event per fault, by the watchdog');
  };
  const refreshClient = (): void => {
    const status = JSON.parse(readFileSync(join(stateDir, 'status.json'), 'utf8')) as { controller_url: string };
    chaos = new ChaosClient(status.controller_url, chaosToken(stateDir));
  };

  test('bad input on every route prefix of the controller answers 4xx, and the controller stays up', async () => {
    const before = record('controller')!.pid;
    const controller = `http://127.0.0.1:${base + 474}`;
    for (const path of ['/chaos/revert/%zz', '/chaos/faults/%E0%A4%A', '/proxies/%E0%A4%A', '/proxies/x/toxics/%C0', '/ui/runs/%E0%A4%A/report.html', '/metrics%ZZ', '/__lab/%E0%A4%A', `/${'a'.repeat(5000)}`]) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const res = await fetch(`${controller}${path}`, { method });
        const body = await res.text();
        assert.equal(res.status, 400, `${method} ${path.slice(0, 40)} → ${res.status} ${body.slice(0, 120)}`);
        assert.match(body, /FL_BAD_URL/);
      }
    }
    // A foreign Host (DNS rebinding) is refused on every prefix, not only /ui/.
    for (const path of ['/chaos/faults', '/chaos/targets', '/chaos/experiments', '/proxies', '/ui/', '/metrics']) {
      const res = await freshGet(`${controller}${path}`, 5_000, { host: 'attacker.example:80' });
      assert.ok('status' in res && res.status === 403, `${path} with a foreign Host → ${JSON.stringify(res)}`);
    }
    // A body over the chaos API's limit gets 413 naming it, not a reset connection.
    const big = await fetch(`${controller}/chaos/inject`, { method: 'POST', body: 'x'.repeat(200_000) });
    assert.equal(big.status, 413);
    assert.match(await big.text(), /65536/);
    assert.equal(record('controller')!.pid, before, 'the controller is the same process');
    assert.ok(isRecordAlive(record('controller')!));
  });

  test('a watchdog that dies is replaced by the controller within moments', async () => {
    const first = record('watchdog')!;
    assert.ok(isRecordAlive(first), 'up started a watchdog');
    process.kill(first.pid, 'SIGKILL');
    const t0 = performance.now();
    let next: PidRecord | undefined;
    while (performance.now() - t0 < 10_000) {
      next = record('watchdog');
      if (next && next.pid !== first.pid && isRecordAlive(next)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    say(`a new watchdog after ${(performance.now() - t0).toFixed(0)} ms`);
    assert.ok(next && next.pid !== first.pid && isRecordAlive(next), 'no new watchdog');
  });

  test('dead-man switch: controller SIGKILLed with one fault of every family active; within 2 s nothing is in effect with no command run, then the lab serves again', async () => {
    await chaos.halt(); // whatever a failed test above left active
    const types = await injectAll();
    assert.deepEqual(inEffect().sort(), expectedInEffect());
    const victim = record('controller')!.pid;
    const t0 = performance.now();
    process.kill(victim, 'SIGKILL');
    const cleanMs = await msUntilClean(t0, 10_000);
    const servingMs = await msUntilServing(t0, victim);
    say(`dead-man (SIGKILL; ${types.join(', ')}): nothing in effect ${cleanMs.toFixed(0)} ms after the kill; lab serving again after ${servingMs.toFixed(0)} ms`);
    assert.deepEqual(inEffect(), []);
    assert.ok(cleanMs >= 0 && cleanMs <= 2_000 + SLACK_MS, `faults were still in effect ${cleanMs.toFixed(0)} ms after the controller died`);
    assert.ok(servingMs >= 0, 'the lab never served again');
    await assertWatchdogRecorded();
    refreshClient();
    const proxy = (await (await fetch(`http://127.0.0.1:${base + 474}/proxies/payments`)).json()) as { toxics: unknown[] };
    assert.deepEqual(proxy.toxics, [], 'the restarted controller has no toxic');
    assert.ok((await chaos.list()).every((f) => f.phase !== 'injected' && f.phase !== 'pending'));
  });

  test('dead-man switch: controller crashed by a request (an exception outside any handler): its fatal handler and the watchdog leave nothing in effect, then the lab serves again', async () => {
    const types = await injectAll();
    assert.deepEqual(inEffect().sort(), expectedInEffect());
    const victim = record('controller')!.pid;
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${base + 474}/__debug/crash`, { method: 'POST' });
    assert.equal(res.status, 202);
    const cleanMs = await msUntilClean(t0, 10_000);
    const servingMs = await msUntilServing(t0, victim);
    say(`dead-man (crash by request; ${types.length} faults): nothing in effect ${cleanMs.toFixed(0)} ms after the request; serving again after ${servingMs.toFixed(0)} ms`);
    assert.ok(cleanMs >= 0 && cleanMs <= 2_000 + SLACK_MS, `faults were still in effect ${cleanMs.toFixed(0)} ms after the crash`);
    assert.ok(servingMs >= 0, 'the lab never served again');
    // The dying controller reverted what it could itself; whatever was left, the watchdog did. Either way: recorded.
    const journal = readFileSync(join(stateDir, 'faults.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; phase: string; reverted_by?: string });
    for (const id of injectedIds) assert.ok(journal.some((r) => r.id === id && r.phase === 'reverted' && r.reverted_by !== undefined), `fault ${id} has a reverted record naming who`);
    assert.match(readFileSync(join(stateDir, 'logs', 'controller.log'), 'utf8'), /fatal: Error: deliberate crash/);
    refreshClient();
  });

  test('controller and watchdog both SIGKILLed: the next down, and separately the next up, leave none', async () => {
    const killBoth = (): void => {
      process.kill(record('watchdog')!.pid, 'SIGKILL');
      process.kill(record('controller')!.pid, 'SIGKILL');
    };
    /** Runs a faultline command, polling the probes meanwhile: ms from its start until no fault is in effect. */
    const timeToClean = async (args: string[]): Promise<{ cleanMs: number; totalMs: number; lastSeen: string }> => {
      const t0 = performance.now();
      let cleanMs = -1;
      let done = false;
      // When each family was last seen in effect: which one the cleanup ended last.
      const seen: Record<string, number> = {};
      const probe = (): string[] => {
        const now = inEffect();
        for (const f of now) seen[f] = performance.now() - t0;
        return now;
      };
      const command = faultline(args).finally(() => (done = true));
      while (!done) {
        if (cleanMs < 0 && probe().length === 0) cleanMs = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 25));
      }
      await command;
      if (cleanMs < 0 && probe().length === 0) cleanMs = performance.now() - t0;
      const lastSeen = Object.entries(seen).sort((a, b) => b[1] - a[1]).map(([f, ms]) => `${f} ${ms.toFixed(0)} ms`).join(', ');
      return { cleanMs, totalMs: performance.now() - t0, lastSeen };
    };

    await chaos.halt();
    // The 2 s budget starts once faultline is running: what `down` costs with nothing to do (node's start, loading
    // the CLI and the controller, an empty journal and no pid file) is measured right before, on the machine as
    // it is now, and allowed on top. `--version` alone would not measure it: it answers before loading any module.
    const idle = mkdtempSync(join(tmpdir(), 'faultline-idle-'));
    const b0 = performance.now();
    await faultline(['down', '--state-dir', idle]);
    const bootMs = performance.now() - b0;
    rmSync(idle, { recursive: true, force: true });
    // Round 1: the next `down`.
    const types = await injectAll();
    assert.deepEqual(inEffect().sort(), expectedInEffect());
    killBoth();
    const down = await timeToClean(['down', '--state-dir', stateDir]);
    say(`crash of both → down (${types.join(', ')}): no fault in effect ${down.cleanMs.toFixed(0)} ms after down started (down took ${down.totalMs.toFixed(0)} ms; a down with nothing to do takes ${bootMs.toFixed(0)} ms; last seen in effect: ${down.lastSeen})`);
    assert.deepEqual(inEffect(), []);
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(stateDir), 'down left the volume mounted');
    assert.ok(down.cleanMs <= 2_000 + bootMs, `cleanup took ${down.cleanMs.toFixed(0)} ms (a down with nothing to do: ${bootMs.toFixed(0)} ms)`);

    // Round 2: the next `up` (on a warm state dir) reconciles before any service starts.
    await startLab();
    await injectAll();
    killBoth();
    const up = await timeToClean(['up', '--detach', '--state-dir', stateDir]);
    say(`crash of both → up: no fault in effect ${up.cleanMs.toFixed(0)} ms after up started (up took ${up.totalMs.toFixed(0)} ms)`);
    assert.deepEqual(inEffect(), []);
    // What `up` promises is an order, whatever the machine's speed: every fault the dead controller left is
    // reverted before any service of the new lab starts (the wall-clock figure above is reported, not judged).
    const journal = new Map(readFileSync(join(stateDir, 'faults.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; phase: string; t_stop?: number }).map((r) => [r.id, r]));
    const lastRevert = Math.max(...injectedIds.map((id) => journal.get(id)?.t_stop ?? Infinity));
    const firstStart = Math.min(...readPidRecords(statePaths(stateDir)).filter((r) => r.name !== 'controller' && r.name !== 'watchdog').map((r) => processStartSeconds(r.start_ticks)));
    assert.ok(lastRevert < firstStart, `a service started (${firstStart}) before the last fault was reverted (${lastRevert})`);
    refreshClient();
    const proxy = (await (await fetch(`http://127.0.0.1:${base + 474}/proxies/payments`)).json()) as { toxics: unknown[] };
    assert.deepEqual(proxy.toxics, [], 'the new controller has no toxic left');
    assert.ok((await chaos.list()).every((f) => f.phase !== 'injected' && f.phase !== 'pending'));
    assert.ok(record('watchdog') !== undefined && isRecordAlive(record('watchdog')!), 'the new up started a new watchdog');
  });
});
