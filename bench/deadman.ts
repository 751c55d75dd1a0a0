/**
 * Dead-man switch bench: on one running lab, with one fault of every family active, the controller is SIGKILLed
 * `--tries` times. For each kill it measures, from outside and with no command run:
 *   - kill → every fault reverted: until the probes of test/helpers/in-effect.ts (nftables table, faultline
 *     cgroups, burners, fill files, skewed clock file, SIGSTOPped processes) all read clean;
 *   - kill → the watchdog's journal line: when `faults_reverted` was written (its own figure);
 *   - kill → lab serving: until a new controller reports running and a real read (GET /orders/1 through the api
 *     proxy: api → orders → Redis/Postgres, each through its proxy) answers 200 or 404.
 * Prints median and spread (min–max) of each, with the machine's load. Goal (issue 21): reverted ≤ 2 s.
 *
 * Run: npm run bench:deadman [-- --tries 10]
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { ChaosClient } from '../src/controller/client.ts';
import { chaosToken } from '../src/controller/token.ts';
import { readJson } from '../src/core/json-file.ts';
import { type PidRecord } from '../src/core/process.ts';
import { labToken } from '../src/supervisor/token.ts';
import { LAB_SERVICES } from '../src/supervisor/topology.ts';
import { CLOCK_TARGET, faultsInEffect, oneFaultPerFamily } from '../test/helpers/in-effect.ts';
import { freeBasePort } from '../test/helpers/lab.ts';
import { spread } from './lib/stats.ts';

const { values } = parseArgs({ options: { tries: { type: 'string', default: '10' } } });
const TRIES = Number(values.tries);
const BIN = new URL('../bin/faultline', import.meta.url).pathname;
const run = promisify(execFile);
const stateDir = mkdtempSync(join(tmpdir(), 'faultline-deadman-bench-'));
// This bench kills the controller every few seconds on purpose: widen the watchdog's crash-loop guard for it.
const env = { ...process.env, FAULTLINE_WATCHDOG_RESTARTS: `${TRIES + 2}/600` };
chmodSync(stateDir, 0o755);
const base = await freeBasePort();
const apiProxy = base + LAB_SERVICES.find((s) => s.name === 'api')!.proxy!;
const record = (name: string): PidRecord | undefined => readJson<PidRecord>(join(stateDir, 'pids', `${name}.json`));
const status = (): { phase: string; controller_pid: number; controller_url: string } | undefined => readJson(join(stateDir, 'status.json'));

const FAULTS = oneFaultPerFamily();

async function serving(token: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${apiProxy}/orders/1`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status === 200 || res.status === 404;
  } catch {
    return false;
  }
}

function watchdogRevertMs(killedAtEpochMs: number): number | null {
  const lines = readFileSync(join(stateDir, 'fault-events.jsonl'), 'utf8').trim().split('\n');
  for (const line of lines.reverse()) {
    const e = JSON.parse(line) as { event: string; ts: number };
    if (e.event === 'faults_reverted' && e.ts * 1000 >= killedAtEpochMs) return e.ts * 1000 - killedAtEpochMs;
  }
  return null;
}

const reverted: number[] = [];
const journaled: number[] = [];
const back: number[] = [];
const loads: number[] = [];
try {
  await run(process.execPath, [BIN, 'up', '--detach', '--state-dir', stateDir, '--base-port', String(base)], { timeout: 120_000, env });
  const token = labToken(stateDir, 3600, 'deadman-bench');
  for (let i = 0; i < TRIES; i++) {
    const chaos = new ChaosClient(status()!.controller_url, chaosToken(stateDir));
    for (const f of FAULTS) await chaos.inject({ ...f, duration_s: 300, concurrent: true });
    const inEffect = faultsInEffect(stateDir, CLOCK_TARGET);
    if (inEffect.length === 0) throw new Error('no fault in effect before the kill: the probes see nothing');
    const victim = record('controller')!.pid;
    loads.push(loadavg()[0]);
    const killedAt = Date.now();
    const t0 = performance.now();
    process.kill(victim, 'SIGKILL');
    let cleanMs = -1;
    while (performance.now() - t0 < 30_000) {
      if (faultsInEffect(stateDir, CLOCK_TARGET).length === 0) {
        cleanMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    let backMs = -1;
    while (performance.now() - t0 < 60_000) {
      const s = status();
      if (s && s.controller_pid !== victim && s.phase === 'running' && (await serving(token))) {
        backMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (backMs < 0) throw new Error(`try ${i + 1}: the lab did not serve again within 60 s (see ${stateDir}/logs/watchdog.log)`);
    const journalMs = watchdogRevertMs(killedAt);
    reverted.push(cleanMs);
    back.push(backMs);
    if (journalMs !== null) journaled.push(journalMs);
    console.log(`try ${i + 1}/${TRIES}: in effect before: ${inEffect.join(',')}; all reverted after ${cleanMs.toFixed(0)} ms (watchdog's own line: ${journalMs?.toFixed(0) ?? '?'} ms); serving again after ${backMs.toFixed(0)} ms; load ${loads.at(-1)!.toFixed(2)}`);
  }
} finally {
  await run(process.execPath, [BIN, 'down', '--state-dir', stateDir], { timeout: 120_000 }).catch((err: Error) => console.error(`down failed: ${err.message}`));
  rmSync(stateDir, { recursive: true, force: true });
}
const show = (name: string, xs: number[]): void => {
  const s = spread(xs);
  console.log(`${name.padEnd(34)} median ${s.median.toFixed(0)} ms  (min ${s.min.toFixed(0)} – max ${s.max.toFixed(0)}, ${xs.length} tries)`);
};
console.log(`\nmachine: ${cpus().length} cores, load average during the tries ${spread(loads).median.toFixed(2)} (median)`);
show('kill → every fault reverted', reverted);
show("kill → watchdog's faults_reverted", journaled);
show('kill → lab serving again', back);
