import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, afterEach, describe, it } from 'node:test';
import { z } from 'zod';
import { FaultlineError } from '../core/errors.ts';
import { defineInjector, type Target } from '../faults/injector.ts';
import { buildFaultRegistry, FAULT_TYPES } from '../faults/registry.ts';
import { startProxyServer, type ProxyServer } from '../proxy/server.ts';
import { connectTo, roundTrip, SLACK_MS, startEchoServer, type EchoServer } from '../../test/helpers/net.ts';
import { createChaosApi } from './api.ts';
import { Controller } from './controller.ts';
import { Journal } from './journal.ts';

describe('fault controller (network family over a real proxy)', () => {
  let echo: EchoServer;
  let proxies: ProxyServer;
  let port: number;
  let stateDir: string;
  let targets: Target[];
  let controller: Controller;

  before(async () => {
    echo = await startEchoServer();
    proxies = await startProxyServer({ port: 0 });
    port = (await proxies.createProxy({ name: 'payments', upstream: echo.address })).port;
    targets = [{ name: 'payments', proxy: { api: proxies.url, name: 'payments' } }, { name: 'bare' }];
  });
  after(async () => {
    await proxies.close();
    await echo.close();
  });
  beforeEach(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-ctl-'));
    controller = await Controller.open({ stateDir, targets });
  });
  afterEach(async () => {
    await controller.halt();
    controller.close();
    rmSync(stateDir, { recursive: true, force: true });
    assert.equal(proxies.registry.get('payments').toxics.size, 0, 'a test left a toxic behind');
  });

  it('injects latency a client can see, reverts it, verifies it is gone, and journals every step first', async () => {
    const client = await connectTo(port);
    const fault = await controller.inject({ type: 'latency', target: 'payments', params: { delay_ms: 120 } });
    assert.equal(fault.phase, 'injected');
    assert.equal(fault.mechanism, 'proxy toxic (latency)');
    assert.ok((await roundTrip(client, 'slow')) >= 120);
    const reverted = await controller.revert(fault.id);
    assert.equal(reverted.phase, 'reverted');
    assert.equal(reverted.verified, true);
    assert.ok((await roundTrip(client, 'fast')) < 120, 'still as slow as the 120 ms fault');
    client.destroy();
    const phases = readFileSync(join(stateDir, 'faults.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).phase);
    assert.deepEqual(phases, ['pending', 'injected', 'reverted']);
    const events = readFileSync(join(stateDir, 'fault-events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).event);
    assert.deepEqual(events, ['start', 'stop']);
  });

  it('passes the TTL down to the proxy and reverts by itself when it runs out', async () => {
    const fault = await controller.inject({ type: 'latency', target: 'payments', params: { delay_ms: 10 }, duration_s: 0.3 });
    assert.equal(proxies.registry.get('payments').toxics.list()[0].ttl_s, 0.3);
    const deadline = Date.now() + 3000;
    while (controller.get(fault.id).phase !== 'reverted' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(controller.get(fault.id).phase, 'reverted');
  });

  it('takes the target down (connections refused) and brings it back on revert', async () => {
    const fault = await controller.inject({ type: 'down', target: 'payments' });
    await assert.rejects(connectTo(port), /ECONNREFUSED/);
    await controller.revert(fault.id);
    const client = await connectTo(port);
    assert.ok((await roundTrip(client, 'back')) < SLACK_MS);
    client.destroy();
  });

  it('refuses bad input with every problem named, and applies nothing', async () => {
    await assert.rejects(controller.inject({ type: 'latncy', target: 'payments' }), (err: FaultlineError) => {
      assert.equal(err.code, 'UNKNOWN_FAULT_TYPE');
      assert.match(err.message, /one of: latency, jitter/);
      return true;
    });
    await assert.rejects(controller.inject({ type: 'latency', target: 'nope', params: { delay_ms: 1 } }), { code: 'UNKNOWN_TARGET' });
    await assert.rejects(
      controller.inject({ type: 'latency', target: 'payments', params: { delay_ms: -5, bogus: 1 }, duration_s: -1 }),
      (err: FaultlineError) => {
        assert.equal(err.code, 'INVALID_INPUT');
        assert.match(err.message, /duration_s: must be/);
        assert.match(err.message, /params\.delay_ms: .*>=0 \(got -5\)/);
        assert.match(err.message, /bogus/);
        return true;
      },
    );
    await assert.rejects(controller.inject({ type: 'latency', target: 'bare', params: { delay_ms: 1 } }), /no fault proxy/);
    assert.equal(proxies.registry.get('payments').toxics.size, 0);
    assert.equal(controller.list().length, 0);
  });

  it('allows one fault per target unless asked for more', async () => {
    await controller.inject({ type: 'latency', target: 'payments', params: { delay_ms: 5 } });
    await assert.rejects(controller.inject({ type: 'loss', target: 'payments', params: { pct: 5 } }), { code: 'TARGET_BUSY' });
    await controller.inject({ type: 'loss', target: 'payments', params: { pct: 5 }, concurrent: true });
    assert.equal(proxies.registry.get('payments').toxics.size, 2);
  });

  it('a new controller on the same state dir reverts what a dead one left, including a half-applied fault', async () => {
    await controller.inject({ type: 'latency', target: 'payments', params: { delay_ms: 5, direction: 'both' } });
    await controller.inject({ type: 'down', target: 'payments', concurrent: true });
    controller.close(); // the "crash": timers gone, faults still in effect, journal on disk
    // And a crash between journaling a fault and recording it injected: its toxic landed, the journal says pending.
    const journal = new Journal(join(stateDir, 'faults.jsonl'));
    const handle = { api: proxies.url, proxy: 'payments', toxics: ['faultline-deadbeef-downstream'] };
    journal.write({ id: 'deadbeef', type: 'latency', target: 'payments', params: {}, ttl_s: 60, t_start: Date.now() / 1000, expires_at: Date.now() / 1000 + 60, phase: 'pending', mechanism: 'proxy toxic (latency)', handle });
    journal.close();
    await proxies.registry.get('payments').addToxic({ name: 'faultline-deadbeef-downstream', type: 'latency', attributes: { latency: 5 } });
    assert.equal(proxies.registry.get('payments').toxics.size, 3);
    assert.equal(proxies.registry.get('payments').enabled, false);
    const started = performance.now();
    controller = await Controller.open({ stateDir, targets });
    const took = performance.now() - started;
    assert.equal(proxies.registry.get('payments').toxics.size, 0);
    assert.equal(proxies.registry.get('payments').enabled, true);
    assert.ok(controller.list().every((r) => r.phase === 'reverted' && r.verified));
    assert.ok(took < 2000, `reconcile took ${took.toFixed(0)} ms`);
  });

  it('halts 50 active faults at once', async () => {
    for (let i = 0; i < 50; i++) {
      await controller.inject({ type: 'latency', target: 'payments', params: { delay_ms: 1 }, concurrent: true });
    }
    assert.equal(proxies.registry.get('payments').toxics.size, 50);
    const records = await controller.halt();
    assert.equal(records.filter((r) => r.phase === 'reverted').length, 50);
    assert.equal(proxies.registry.get('payments').toxics.size, 0);
  });

  it('serves the chaos API, and asks a browser for the token', async () => {
    const chaos = createChaosApi(controller, { token: 's3cret' });
    const http: Server = createServer((req, res) => {
      void chaos(req, res).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    }).listen(0, '127.0.0.1');
    await new Promise((r) => http.once('listening', r));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const injected = await fetch(`${base}/chaos/inject`, {
        method: 'POST',
        body: JSON.stringify({ type: 'latency', target: 'payments', params: { delay_ms: 200, jitter_ms: 50 } }),
      });
      assert.equal(injected.status, 201);
      const { id, t_start } = (await injected.json()) as { id: string; t_start: number };
      assert.ok(t_start > 0);
      const listed = (await (await fetch(`${base}/chaos/faults`)).json()) as { faults: { id: string; handle?: unknown }[] };
      assert.equal(listed.faults[0].id, id);
      assert.equal(listed.faults[0].handle, undefined, 'internal handles stay internal');
      const fromPage = await fetch(`${base}/chaos/faults`, { method: 'DELETE', headers: { origin: 'http://evil.example' } });
      assert.equal(fromPage.status, 401);
      assert.equal(((await fromPage.json()) as { code: string }).code, 'FL_UNAUTHORIZED');
      const bad = await fetch(`${base}/chaos/inject`, { method: 'POST', body: JSON.stringify({ type: 'latency', target: 'payments', params: { delay_ms: 'x' } }) });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { field: string }).field, 'params.delay_ms');
      const reverted = await fetch(`${base}/chaos/revert/${id}`, { method: 'POST' });
      const first = (await reverted.json()) as { mttr_s: number | null };
      assert.deepEqual(Object.keys(first), ['id', 't_stop', 'mttr_s', 'verified']);
      assert.equal(first.mttr_s, null, 'not known at the moment of the revert');
      // The runner reports what users saw; the fault's record keeps it and a later revert answers with it.
      const observed = await fetch(`${base}/chaos/faults/${id}/mttr`, { method: 'POST', body: JSON.stringify({ mttr_s: 2.35, source: "users' SLIs" }) });
      assert.equal(observed.status, 200);
      const again = (await (await fetch(`${base}/chaos/revert/${id}`, { method: 'POST' })).json()) as { mttr_s: number | null };
      assert.equal(again.mttr_s, 2.35);
      const badMttr = await fetch(`${base}/chaos/faults/${id}/mttr`, { method: 'POST', body: JSON.stringify({ mttr_s: -1 }) });
      assert.equal(badMttr.status, 400);
      const halted = await fetch(`${base}/chaos/faults`, { method: 'DELETE', headers: { origin: 'http://localhost', authorization: 'Bearer s3cret' } });
      assert.equal(halted.status, 200);
    } finally {
      http.close();
    }
  });
});

describe('fault controller: failed reverts', () => {
  it('keeps a fault whose revert fails injected, reports it, and retries until it succeeds', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'faultline-ctl-'));
    // A fault type written for this test: its "system" is a variable, and its revert fails twice.
    const world = { active: false, failuresLeft: 2 };
    const flaky = defineInjector<Record<string, never>, { n: number }>({
      type: 'flaky',
      family: 'test',
      summary: 'a fault whose revert fails twice',
      params: z.strictObject({}),
      unsupported: () => null,
      mechanism: () => 'test variable',
      plan: () => ({ n: 1 }),
      async apply() {
        world.active = true;
      },
      async revert() {
        if (world.failuresLeft-- > 0) throw new Error('device busy');
        world.active = false;
      },
      verify: async () => world.active,
    });
    const types = buildFaultRegistry([[...FAULT_TYPES.values()], [flaky]]);
    const controller = await Controller.open({ stateDir, targets: [{ name: 'x' }], types });
    try {
      const fault = await controller.inject({ type: 'flaky', target: 'x' });
      await assert.rejects(controller.revert(fault.id), { code: 'REVERT_FAILED' });
      assert.equal(controller.get(fault.id).phase, 'injected');
      assert.match(controller.get(fault.id).error ?? '', /device busy/);
      const deadline = Date.now() + 5000;
      while (controller.get(fault.id).phase !== 'reverted' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(controller.get(fault.id).phase, 'reverted');
      assert.equal(world.active, false);
      assert.match(await controller.metrics.metrics(), /faultline_fault_revert_failures_total\{type="flaky",target="x"\} 2/);
    } finally {
      controller.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('fault controller: the lifecycle under races (issue 20 regressions)', () => {
  /**
   * A fault type whose "system" is a variable and whose apply takes as long as the test says, so a revert or a
   * halt can arrive while it is being applied; `fail` makes apply throw after its delay.
   */
  function slowType(world: { active: boolean; applyMs: number; fail: boolean }) {
    return defineInjector<Record<string, never>, { n: number }>({
      type: 'slow',
      family: 'test',
      summary: 'a fault whose apply takes applyMs',
      params: z.strictObject({}),
      unsupported: () => null,
      mechanism: () => 'test variable',
      plan: () => ({ n: 1 }),
      async apply() {
        await new Promise((r) => setTimeout(r, world.applyMs));
        if (world.fail) throw new Error('answered 404: no route /control');
        world.active = true;
      },
      async revert() {
        world.active = false;
      },
      verify: async () => world.active,
    });
  }
  let stateDir: string;
  let controller: Controller;
  let world: { active: boolean; applyMs: number; fail: boolean };
  beforeEach(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-ctl-'));
    world = { active: false, applyMs: 150, fail: false };
    controller = await Controller.open({ stateDir, targets: [{ name: 'x' }, { name: 'y' }], types: buildFaultRegistry([[slowType(world)]]) });
  });
  afterEach(() => {
    controller.close();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const pendingId = (): string => controller.list().find((r) => r.phase === 'pending')!.id;

  it('a revert that arrives while the fault is applied waits for the apply, then reverts: the record ends reverted, never injected again', async () => {
    const injecting = controller.inject({ type: 'slow', target: 'x' });
    await new Promise((r) => setTimeout(r, 20));
    const reverting = controller.revert(pendingId());
    const injected = await injecting;
    const reverted = await reverting;
    assert.equal(reverted.phase, 'reverted');
    assert.equal(controller.get(injected.id).phase, 'reverted');
    assert.equal(world.active, false);
    const phases = readFileSync(join(stateDir, 'faults.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).phase);
    assert.deepEqual(phases, ['pending', 'injected', 'reverted'], 'no stale copy written over a later state');
  });

  it('a failed apply is terminal (failed), does not block its target, and a halt clears it; the API answers without a raw 500 of the cause', async () => {
    world.fail = true;
    await assert.rejects(controller.inject({ type: 'slow', target: 'x' }), { code: 'APPLY_FAILED' });
    assert.equal(controller.list()[0].phase, 'failed');
    world.fail = false;
    const next = await controller.inject({ type: 'slow', target: 'x' });
    assert.equal(next.phase, 'injected', 'the target is not busy after a failed apply');
    const halted = await controller.halt();
    assert.ok(halted.every((r) => r.phase === 'reverted'));
  });

  it('a halt reverts a fault still being applied and refuses injects until it returns (409)', async () => {
    world.applyMs = 300;
    const injecting = controller.inject({ type: 'slow', target: 'x' });
    await new Promise((r) => setTimeout(r, 20));
    const halting = controller.halt();
    await assert.rejects(controller.inject({ type: 'slow', target: 'y' }), { code: 'HALT_IN_PROGRESS' });
    const [record] = await halting;
    await injecting;
    assert.equal(record.phase, 'reverted', 'the halt answered with the fault it saw being applied');
    assert.equal(world.active, false);
    assert.ok(controller.list().every((r) => r.phase === 'reverted'));
    await controller.inject({ type: 'slow', target: 'y' }); // accepted again once the halt has returned
    await controller.halt();
  });

  it('the TTL counts from the moment the fault is in effect, not from the plan', async () => {
    world.applyMs = 400;
    const f = await controller.inject({ type: 'slow', target: 'x', duration_s: 1 });
    assert.ok(f.expires_at > f.t_start, 'expires after it started');
    assert.ok(Math.abs(f.expires_at - f.t_start - 1) < 0.01, `expires ${f.expires_at - f.t_start} s after the start`);
    await controller.halt();
  });
});

describe('fault controller: a halt during a long apply (issue 20: slow halts)', () => {
  it('answers within its bound, stops the apply at its next step, and leaves nothing in effect', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'faultline-ctl-'));
    const world = { steps: 0, active: false };
    // A fault that applies in ten 200 ms steps (a rolling restart of ten instances, say), checking its signal.
    const roll = defineInjector<Record<string, never>, { n: number }>({
      type: 'roll',
      family: 'test',
      summary: 'a slow, stepwise apply',
      params: z.strictObject({}),
      unsupported: () => null,
      mechanism: () => 'test variable',
      plan: () => ({ n: 10 }),
      async apply(_h, _p, ctx) {
        for (let i = 0; i < 10; i++) {
          ctx.signal?.throwIfAborted();
          world.steps++;
          world.active = true;
          await new Promise((r) => setTimeout(r, 200));
        }
      },
      async revert() {
        world.active = false;
      },
      verify: async () => world.active,
    });
    const controller = await Controller.open({ stateDir, targets: [{ name: 'x' }], types: buildFaultRegistry([[roll]]) });
    try {
      const injecting = controller.inject({ type: 'roll', target: 'x' }).catch((err: FaultlineError) => err);
      await new Promise((r) => setTimeout(r, 250));
      const t0 = performance.now();
      const records = await controller.halt({ answerWithinMs: 400 });
      const took = performance.now() - t0;
      assert.ok(took < 400 + SLACK_MS, `halt answered after ${took.toFixed(0)} ms`);
      assert.equal(records.length, 1);
      const outcome = await injecting;
      assert.ok(outcome instanceof FaultlineError, 'the stopped apply reports it was not applied');
      assert.ok(world.steps < 10, `the roll went on to step ${world.steps}`);
      const deadline = Date.now() + 2_000;
      while (controller.list()[0].phase === 'pending' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(controller.list()[0].phase, 'failed');
      assert.equal(world.active, false, 'what the roll did so far was undone');
    } finally {
      controller.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('fault controller: a dry run names every problem before anything is applied', () => {
  it('check() and POST /chaos/validate report type, params, target and capability problems at once', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'faultline-ctl-'));
    const controller = await Controller.open({ stateDir, targets: [{ name: 'payments', proxy: { api: 'http://127.0.0.1:9', name: 'payments' } }, { name: 'worker', pidFile: '/nonexistent.json' }] });
    const server = await startProxyServer({ port: 0 });
    server.mount(createChaosApi(controller, { token: 't' }));
    try {
      assert.deepEqual(controller.check({ type: 'latency', target: 'payments', params: { delay_ms: 10 } }), []);
      const issues = controller.check({ type: 'latency', target: 'worker', params: { delay_ms: -1 }, duration_s: -5 });
      assert.deepEqual(issues.map((i) => i.path).sort(), ['duration_s', 'params.delay_ms', 'target']);
      assert.match(issues.find((i) => i.path === 'target')!.message, /worker cannot take a latency fault: .*targets that can: payments/);
      const dep = controller.check({ type: 'dependency_error', target: 'worker', params: { pct: 50 } });
      assert.match(dep[0].message, /serves no dependency control endpoint/);
      const res = await fetch(`${server.url}/chaos/validate`, {
        method: 'POST',
        body: JSON.stringify({ faults: [{ type: 'latency', target: 'payments', params: { delay_ms: 10 } }, { type: 'nope', target: 'ghost' }] }),
      });
      const body = (await res.json()) as { ok: boolean; faults: { issues: { path: string }[] }[] };
      assert.equal(res.status, 200);
      assert.equal(body.ok, false);
      assert.deepEqual(body.faults.map((f) => f.issues.map((i) => i.path).sort()), [[], ['target', 'type']]);
      assert.equal(controller.list().length, 0, 'nothing was journaled, nothing applied');
    } finally {
      await server.close();
      controller.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
