/**
 * The whole loop on a user's own system: examples/shop (Node HTTP API + PostgreSQL + Redis + a third-party
 * pricing API, with no faultline code in it) described by its faultline.yaml. `up` starts it behind its fault
 * proxies, and one `faultline run` of the walkthrough schedule judges three faults from the users' side, each
 * with numbers and the shop's integrity check: 150 ms on its Redis edge, a SIGKILL of its process, an outage of
 * its pricing dependency. A run the load generator itself marks unmeasurable (a busy machine) is run once more;
 * if it is unmeasurable again the test says so and skips rather than judge numbers the verdict disowns.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { Verdict } from '../../src/runner/evaluate.ts';
import { isPortFree } from '../../src/supervisor/health.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const SHOP = new URL('../../examples/shop/', import.meta.url).pathname;

async function faultline(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 300_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A base port whose shop ports (services, proxies, controller) are free, below the ephemeral range. */
async function freeBase(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const base = 12_000 + Math.floor(Math.random() * 14) * 1_000 + 500;
    if ((await Promise.all([80, 90, 379, 432, 474, 1080, 1090, 1379, 1432].map((o) => isPortFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

describe('the shop example: a user system judged end to end', { timeout: 600_000 }, () => {
  let dir = '';
  let state = '';
  const verdicts = new Map<string, Verdict>();
  let unmeasurable: string | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faultline-shop-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as its own user when we are root: it must reach its data dir
    state = join(dir, 'state');
    const up = await faultline(['up', '--detach', '--system', join(SHOP, 'faultline.yaml'), '--state-dir', state, '--base-port', String(await freeBase())]);
    assert.equal(up.code, 0, up.stderr);
    const first = await faultline(['run', join(SHOP, 'experiments', 'suite.yaml'), '--json', '--state-dir', state, '--out', join(dir, 'runs')]);
    const all = JSON.parse(first.stdout) as Verdict[];
    assert.equal(all.length, 3, first.stderr);
    for (const v of all) verdicts.set(v.experiment, v);
    // Unmeasurable runs (the generator says the machine shaped them) get one more try each, alone.
    const files: Record<string, string> = { 'shop redis latency': 'redis-latency.yaml', 'shop process kill': 'kill-shop.yaml', 'shop pricing outage': 'pricing-outage.yaml' };
    for (const v of all.filter((x) => x.result === 'invalid')) {
      process.stdout.write(`# ${v.experiment}: INVALID (${v.reasons[0]}) — re-running once\n`);
      const again = await faultline(['run', join(SHOP, 'experiments', files[v.experiment]), '--json', '--state-dir', state, '--out', join(dir, 'retry', files[v.experiment])]);
      const w = JSON.parse(again.stdout) as Verdict;
      verdicts.set(w.experiment, w);
      if (w.result === 'invalid') unmeasurable = `${w.experiment}: ${w.reasons[0]}`;
    }
  });

  after(async () => {
    if (state) await faultline(['down', '--state-dir', state]);
    rmSync(dir, { recursive: true, force: true });
  });

  const judged = (t: TestContext, title: string): Verdict | undefined => {
    const v = verdicts.get(title);
    assert.ok(v, `no verdict for ${title}`);
    if (v.result === 'invalid') {
      t.skip(`unmeasurable twice on this machine (${unmeasurable})`);
      return undefined;
    }
    process.stdout.write(`# ${title}: ${v.result} — ${v.reasons.join(' | ')}\n`);
    // Every verdict rests on users' requests, and the shop's own integrity check ran after it.
    assert.equal(v.figures_source, 'users');
    assert.ok(v.slis.every((s) => s.source === 'users' && s.evidence.fault.n > 0), JSON.stringify(v.slis.map((s) => [s.name, s.source, s.evidence.fault.n])));
    assert.equal(v.integrity.checked, true, v.integrity.notes.join('; '));
    assert.deepEqual(v.integrity.checks.map((c) => [c.name, c.ok]), [['orders_priced', true]], JSON.stringify(v.integrity.checks));
    return v;
  };

  test('150 ms on the Redis edge: product reads slow down by about the delay, and say how much', (t) => {
    const v = judged(t, 'shop redis latency');
    if (!v) return;
    const p99 = v.slis.find((s) => s.name === 'read_p99_ms')!;
    assert.ok(p99.fault! > p99.baseline! + 100, `read p99 ${p99.baseline} → ${p99.fault} ms`);
    assert.ok(['held', 'degraded', 'failed'].includes(v.result), v.result);
  });

  test('a SIGKILL of the shop process: users see failures until the supervisor restarts it, then recovery', (t) => {
    const v = judged(t, 'shop process kill');
    if (!v) return;
    const reads = v.slis.find((s) => s.name === 'read_availability')!;
    assert.ok(reads.fault_worst! < 0.9, `worst rolling read availability ${reads.fault_worst}`);
    assert.ok(['degraded', 'failed'].includes(v.result), `${v.result}: ${v.reasons.join('; ')}`);
    assert.equal(typeof v.mttr_s, 'number', 'the users saw it recover');
  });

  test('the pricing dependency down: orders fail, product reads are untouched (the blast radius says so)', (t) => {
    const v = judged(t, 'shop pricing outage');
    if (!v) return;
    const orders = v.slis.find((s) => s.name === 'order_error_rate')!;
    const reads = v.slis.find((s) => s.name === 'read_availability')!;
    assert.ok(orders.fault! > 0.8, `order error rate under the outage ${orders.fault}`);
    assert.equal(reads.breached_under_fault, false, `reads ${reads.fault}`);
    assert.equal(v.result, 'degraded', v.reasons.join('; '));
    assert.ok(v.blast_radius_endpoints.includes('users create_order') && !v.blast_radius_endpoints.includes('users get_product'), v.blast_radius_endpoints.join(', '));
  });
});
