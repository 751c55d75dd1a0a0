/**
 * Compatibility with a real toxiproxy client: the npm `toxiproxy-node-client` 4.1.0, unchanged and used the way
 * its README shows, drives `faultline proxy` running as a child process (`bin/faultline proxy --port 0 --json`).
 * Every effect is proven on real loopback sockets through an echo server: latency really delays a round trip,
 * disabling really refuses connections, reset really removes toxics while live connections stay.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Toxiproxy, ToxiproxyError, type Latency, type Proxy } from 'toxiproxy-node-client';
import { connectTo, startEchoServer, type EchoServer } from '../helpers/net.ts';
import { connectOutcome, echoRoundTrip, endedBy } from '../helpers/probe.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Timers never fire early, but the monotonic clock and timer clock may disagree by up to a millisecond. */
const EARLY_MS = 2;

interface Child {
  readonly url: string;
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Spawns `faultline proxy --port 0 --json` and reads the API URL from its first stdout line. */
async function startFaultlineProxy(timeoutMs = 15_000): Promise<Child> {
  const child = spawn(process.execPath, ['bin/faultline', 'proxy', '--port', '0', '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no start-up line after ${timeoutMs} ms`), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      try {
        resolve((JSON.parse(stdout.slice(0, newline)) as { url: string }).url);
      } catch {
        fail(`start-up line is not JSON: ${stdout.slice(0, newline)}`);
      }
    });
    void exited.then(({ code, signal }) => fail(`exited early (code ${code}, signal ${signal})`));
    function fail(why: string): void {
      clearTimeout(timer);
      reject(new Error(`faultline proxy: ${why}\nstderr: ${stderr}`));
    }
  });
  return { url, process: child, exited, stderr: () => stderr };
}

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

/** The message of the ToxiproxyError the client's promise rejected with. */
async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ToxiproxyError, `a ToxiproxyError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the call to fail');
}

describe('toxiproxy-node-client 4.1.0 against `faultline proxy`', () => {
  let child: Child;
  let echo: EchoServer;
  let toxiproxy: Toxiproxy;
  const sockets: Socket[] = [];

  async function openThrough(proxy: Proxy): Promise<Socket> {
    const socket = await connectTo(portOf(proxy.listen));
    socket.on('error', () => {});
    sockets.push(socket);
    return socket;
  }

  before(async () => {
    echo = await startEchoServer();
    child = await startFaultlineProxy();
    toxiproxy = new Toxiproxy(child.url);
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await echo.close();
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
  });

  test('getVersion: toxiproxy\'s exact body, a semver ≥ 2.6.0 (so clients pick PATCH)', async () => {
    const text = await toxiproxy.getVersion();
    assert.equal(text, '{"version": "2.12.0"}\n');
    const [major, minor] = (JSON.parse(text) as { version: string }).version.split('.').map(Number);
    assert.ok(major > 2 || (major === 2 && minor >= 6));
  });

  test('createProxy, get, getAll; a duplicate is refused with 409; a missing proxy is 404', async () => {
    const proxy = await toxiproxy.createProxy({ name: 'echo', listen: 'localhost:0', upstream: echo.address });
    assert.equal(proxy.name, 'echo');
    assert.match(proxy.listen, /^127\.0\.0\.1:\d+$/);
    assert.equal(proxy.upstream, echo.address);
    assert.equal(proxy.enabled, true);
    const socket = await openThrough(proxy);
    assert.equal((await echoRoundTrip(socket, 'hello')).reply, 'hello');

    assert.deepEqual((await toxiproxy.get('echo')).toJson(), proxy.toJson());
    assert.deepEqual((await toxiproxy.getAll()).echo.toJson(), proxy.toJson());
    assert.equal(
      await rejection(toxiproxy.createProxy({ name: 'echo', listen: 'localhost:0', upstream: echo.address })),
      'Request failed with status code 409',
    );
    assert.equal(await rejection(toxiproxy.get('nope')), 'Request failed with status code 404');
  });

  test('toxics: addToxic, getToxic, update, remove, each felt on a live connection', async () => {
    const proxy = await toxiproxy.createProxy({ name: 'lat', listen: 'localhost:0', upstream: echo.address });
    const socket = await openThrough(proxy);
    assert.equal((await echoRoundTrip(socket, 'warm')).reply, 'warm');

    const toxic = await proxy.addToxic<Latency>({
      name: 'lag',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 200, jitter: 0 },
    });
    assert.deepEqual(toxic.toJson(), {
      attributes: { latency: 200, jitter: 0 },
      name: 'lag',
      stream: 'downstream',
      toxicity: 1,
      type: 'latency',
    });
    const slow = await echoRoundTrip(socket, 'slow');
    assert.equal(slow.reply, 'slow');
    assert.ok(slow.ms >= 200 - EARLY_MS && slow.ms < 200 + 1000, `round trip ${slow.ms.toFixed(1)} ms with latency 200 ms`);

    assert.deepEqual((await proxy.getToxic<Latency>('lag')).toJson(), toxic.toJson());

    const updated = await toxic.update({ ...toxic.toJson(), attributes: { latency: 50, jitter: 0 } });
    assert.deepEqual(updated.attributes, { latency: 50, jitter: 0 });
    assert.equal(updated.toxicity, 1);
    const lighter = await echoRoundTrip(socket, 'lighter');
    assert.equal(lighter.reply, 'lighter');
    assert.ok(lighter.ms >= 50 - EARLY_MS && lighter.ms < 200, `round trip ${lighter.ms.toFixed(1)} ms after update to 50 ms`);

    await updated.remove();
    assert.equal(await rejection(proxy.getToxic('lag')), 'Request failed with status code 404');
    const fast = await echoRoundTrip(socket, 'fast');
    assert.equal(fast.reply, 'fast');
    assert.ok(fast.ms < 50, `round trip ${fast.ms.toFixed(1)} ms with no toxic`);
  });

  test('proxy update: disabling drops live connections and refuses new ones; enabling listens again', async () => {
    const proxy = await toxiproxy.createProxy({ name: 'gate', listen: 'localhost:0', upstream: echo.address });
    const port = portOf(proxy.listen);
    const live = await openThrough(proxy);
    assert.equal((await echoRoundTrip(live, 'a')).reply, 'a');

    const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    assert.equal(down.enabled, false);
    assert.equal(down.listen, proxy.listen);
    assert.ok(['end', 'reset'].includes(await endedBy(live)), 'the live connection was closed');
    assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    assert.equal((await toxiproxy.get('gate')).enabled, false);

    const up = await down.update({ enabled: true, listen: down.listen, upstream: down.upstream });
    assert.equal(up.enabled, true);
    assert.equal(up.listen, proxy.listen, 'same port again');
    const again = await openThrough(up);
    assert.equal((await echoRoundTrip(again, 'b')).reply, 'b');
  });

  test('populate creates proxies in one call, and keeps them when sent again unchanged', async () => {
    const proxies = await toxiproxy.populate([
      { name: 'pop_a', listen: 'localhost:0', upstream: echo.address },
      { name: 'pop_b', listen: 'localhost:0', upstream: echo.address },
    ]);
    assert.deepEqual(Object.keys(proxies), ['pop_a', 'pop_b']);
    for (const proxy of Object.values(proxies)) {
      assert.equal(proxy.enabled, true);
      const socket = await openThrough(proxy);
      assert.equal((await echoRoundTrip(socket, proxy.name)).reply, proxy.name);
    }
    await proxies.pop_a.addToxic<Latency>({ name: 'kept', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 1, jitter: 0 } });
    const again = await toxiproxy.populate([
      { name: 'pop_a', listen: proxies.pop_a.listen, upstream: echo.address },
      { name: 'pop_b', listen: proxies.pop_b.listen, upstream: echo.address },
    ]);
    assert.deepEqual(again.pop_a.toJson(), proxies.pop_a.toJson());
    assert.equal((await again.pop_a.getToxic('kept')).name, 'kept', 'an unchanged proxy keeps its toxics');
    await (await again.pop_a.getToxic('kept')).remove();
  });

  test('reset removes every toxic and enables every proxy; live connections stay', async () => {
    const a = await toxiproxy.get('pop_a');
    const b = await toxiproxy.get('pop_b');
    await a.addToxic<Latency>({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 200, jitter: 0 } });
    await b.update({ enabled: false, listen: b.listen, upstream: b.upstream });
    const live = await openThrough(a);
    const slow = await echoRoundTrip(live, 'before');
    assert.ok(slow.ms >= 200 - EARLY_MS, `round trip ${slow.ms.toFixed(1)} ms before reset`);

    await toxiproxy.reset();

    assert.equal(await rejection(a.getToxic('lag')), 'Request failed with status code 404');
    const fast = await echoRoundTrip(live, 'after');
    assert.equal(fast.reply, 'after', 'the live connection survived the reset');
    assert.ok(fast.ms < 200, `round trip ${fast.ms.toFixed(1)} ms after reset`);
    const b2 = await toxiproxy.get('pop_b');
    assert.equal(b2.enabled, true);
    assert.equal(b2.listen, b.listen);
    assert.equal(await connectOutcome(portOf(b2.listen)), 'connected');
  });

  test('remove deletes the proxy: 404 afterwards, its port refuses connections', async () => {
    const proxy = await toxiproxy.get('gate');
    const live = await openThrough(proxy);
    assert.equal((await echoRoundTrip(live, 'x')).reply, 'x');
    await proxy.remove();
    assert.equal(await rejection(toxiproxy.get('gate')), 'Request failed with status code 404');
    assert.ok(!('gate' in (await toxiproxy.getAll())));
    assert.ok(['end', 'reset'].includes(await endedBy(live)));
    assert.equal(await connectOutcome(portOf(proxy.listen)), 'ECONNREFUSED');
  });

  test('SIGTERM stops the child cleanly (exit code 0) and closes its ports', async () => {
    const proxy = await toxiproxy.get('echo');
    const live = await openThrough(proxy);
    child.process.kill('SIGTERM');
    const deadline = setTimeout(() => child.process.kill('SIGKILL'), 5000);
    const { code, signal } = await child.exited;
    clearTimeout(deadline);
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, `stderr: ${child.stderr()}`);
    assert.doesNotMatch(child.stderr(), /error/i);
    assert.ok(['end', 'reset'].includes(await endedBy(live)));
    assert.equal(await connectOutcome(portOf(proxy.listen)), 'ECONNREFUSED');
    assert.equal(await connectOutcome(Number(new URL(child.url).port)), 'ECONNREFUSED');
  });
});
