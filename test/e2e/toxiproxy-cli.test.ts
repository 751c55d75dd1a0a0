/**
 * The official `toxiproxy-cli` (from ../shared/peers/toxiproxy/, TOXIPROXY_URL pointing at us) drives
 * `faultline proxy`, running as a child process, through create / list / toggle / toxic add (named and unnamed)
 * / toxic update / toxic remove / inspect / delete. Each step checks the CLI's own words and exit code, what
 * the API then holds, and what a real TCP client through the proxy sees (an echo server behind it).
 *
 *   toxiproxy-cli ─HTTP─▶ faultline proxy (child) ─▶ proxy cli1 ─▶ echo server ◀── test client
 *
 * Skips, saying so, when the peer directory is absent. Every port is chosen by the kernel.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { connectTo, SLACK_MS, startEchoServer, type EchoServer } from '../helpers/net.ts';
import { connectOutcome, echoRoundTrip } from '../helpers/probe.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, '..', 'shared', 'peers', 'toxiproxy', 'toxiproxy-cli');
const skip = existsSync(CLI) ? false : `skipped: no toxiproxy-cli at ${CLI}`;
/** Timers never fire early, but the monotonic clock and timer clock may disagree by up to a millisecond. */
const EARLY_MS = 2;

interface Child {
  readonly url: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
}

/** Spawns `faultline proxy --port 0 --json` and reads the API URL from its first stdout line. */
async function startFaultlineProxy(timeoutMs = 15_000): Promise<Child> {
  const child = spawn(process.execPath, ['bin/faultline', 'proxy', '--port', '0', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`faultline proxy: no start-up line after ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      resolve((JSON.parse(stdout.slice(0, newline)) as { url: string }).url);
    });
    void exited.then((code) => reject(new Error(`faultline proxy exited early (code ${code})\n${stderr}`)));
  });
  return { url, process: child, exited };
}

interface CliResult {
  code: number;
  /** stdout then stderr, as a user sees them. */
  out: string;
}

describe('toxiproxy-cli against `faultline proxy`', { skip }, () => {
  let child: Child;
  let echo: EchoServer;
  const sockets: Socket[] = [];

  function cli(...args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(CLI, args, { env: { ...process.env, TOXIPROXY_URL: child.url }, timeout: 15_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, out: `${stdout}${stderr}` });
      });
    });
  }

  // JSON from our own API, read field by field.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function api(path: string): Promise<any> {
    const res = await fetch(child.url + path);
    return { status: res.status, body: res.status === 200 ? await res.json() : undefined };
  }

  async function proxyPort(): Promise<number> {
    const listen: string = (await api('/proxies/cli1')).body.listen;
    return Number(listen.slice(listen.lastIndexOf(':') + 1));
  }

  async function roundTrip(): Promise<number> {
    const socket = await connectTo(await proxyPort());
    socket.on('error', () => {});
    sockets.push(socket);
    const { reply, ms } = await echoRoundTrip(socket, 'ping');
    assert.equal(reply, 'ping');
    socket.destroy();
    return ms;
  }

  /** The CLI's `list` line for a proxy, split on tabs: name, listen, upstream, enabled|disabled, toxic count. */
  async function listLine(name: string): Promise<string[] | undefined> {
    const r = await cli('list');
    assert.equal(r.code, 0, r.out);
    return r.out
      .split('\n')
      .map((l) => l.split('\t'))
      .find((cols) => cols[0] === name);
  }

  before(async () => {
    echo = await startEchoServer();
    child = await startFaultlineProxy();
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    child.process.kill('SIGTERM');
    await child.exited;
    await echo.close();
  });

  test('create: the proxy exists, listens and reaches its upstream', async () => {
    const r = await cli('create', '-l', '127.0.0.1:0', '-u', echo.address, 'cli1');
    assert.deepEqual(r, { code: 0, out: 'Created new proxy cli1\n' });
    const proxy = (await api('/proxies/cli1')).body;
    assert.equal(proxy.upstream, echo.address);
    assert.equal(proxy.enabled, true);
    await roundTrip();
  });

  test('list: one tab-separated line with the bound listen address, enabled, 0 toxics', async () => {
    const line = await listLine('cli1');
    assert.deepEqual(line, ['cli1', (await api('/proxies/cli1')).body.listen, echo.address, 'enabled', '0']);
  });

  test('toggle: disables (connections refused), then enables on the same port', async () => {
    const port = await proxyPort();
    const off = await cli('toggle', 'cli1');
    assert.deepEqual(off, { code: 0, out: 'Proxy cli1 is now disabled\n' });
    assert.equal((await api('/proxies/cli1')).body.enabled, false);
    assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    assert.equal((await listLine('cli1'))?.[3], 'disabled');
    const on = await cli('toggle', 'cli1');
    assert.deepEqual(on, { code: 0, out: 'Proxy cli1 is now enabled\n' });
    assert.equal(await proxyPort(), port);
    await roundTrip();
  });

  test('toxic add without a name: toxiproxy’s default <type>_<stream>, and the latency is real', async () => {
    const down = await cli('toxic', 'add', '-t', 'latency', '-a', 'latency=400', 'cli1');
    assert.deepEqual(down, { code: 0, out: "Added downstream latency toxic 'latency_downstream' on proxy 'cli1'\n" });
    const up = await cli('toxic', 'add', '-t', 'latency', '-u', '-a', 'latency=5', 'cli1');
    assert.deepEqual(up, { code: 0, out: "Added upstream latency toxic 'latency_upstream' on proxy 'cli1'\n" });
    const toxics = (await api('/proxies/cli1/toxics')).body;
    assert.deepEqual(
      toxics.map((t: { name: string; stream: string; attributes: { latency: number } }) => [t.name, t.stream, t.attributes.latency]),
      [
        ['latency_upstream', 'upstream', 5],
        ['latency_downstream', 'downstream', 400],
      ],
    );
    assert.ok((await roundTrip()) >= 405 - EARLY_MS, 'both latencies apply');
    const again = await cli('toxic', 'add', '-t', 'latency', '-a', 'latency=1', 'cli1');
    assert.equal(again.code, 1);
    assert.match(again.out, /HTTP 409: toxic already exists/);
  });

  test('toxic add with a name and toxicity; toxic update changes it (the CLI resends toxicity 1.0)', async () => {
    const add = await cli('toxic', 'add', '-n', 'named', '-t', 'bandwidth', '--tox', '0.5', '-a', 'rate=100', 'cli1');
    assert.deepEqual(add, { code: 0, out: "Added downstream bandwidth toxic 'named' on proxy 'cli1'\n" });
    const before = (await api('/proxies/cli1/toxics/named')).body;
    assert.deepEqual([before.attributes.rate, before.toxicity], [100, 0.5]);
    const upd = await cli('toxic', 'update', '-n', 'named', '-a', 'rate=200', 'cli1');
    assert.deepEqual(upd, { code: 0, out: "Updated toxic 'named' on proxy 'cli1'\n" });
    const afterUpdate = (await api('/proxies/cli1/toxics/named')).body;
    assert.deepEqual([afterUpdate.attributes.rate, afterUpdate.toxicity], [200, 1]);
  });

  test('inspect: every toxic with its stream, toxicity and attributes', async () => {
    const r = await cli('inspect', 'cli1');
    assert.equal(r.code, 0, r.out);
    const lines = r.out.trim().split('\n');
    assert.deepEqual(lines, [
      'latency_upstream\ttype=latency\tstream=upstream\ttoxicity=1.00\tattributes=[\tjitter=0\tlatency=5\t]',
      'latency_downstream\ttype=latency\tstream=downstream\ttoxicity=1.00\tattributes=[\tjitter=0\tlatency=400\t]',
      'named\ttype=bandwidth\tstream=downstream\ttoxicity=1.00\tattributes=[\trate=200\t]',
    ]);
    assert.equal((await listLine('cli1'))?.[4], '3');
  });

  test('toxic remove: by the default name and by a given one; the latency is gone', async () => {
    const a = await cli('toxic', 'remove', '-n', 'latency_downstream', 'cli1');
    assert.deepEqual(a, { code: 0, out: "Removed toxic 'latency_downstream' on proxy 'cli1'\n" });
    const b = await cli('toxic', 'delete', '-n', 'named', 'cli1');
    assert.deepEqual(b, { code: 0, out: "Removed toxic 'named' on proxy 'cli1'\n" });
    assert.deepEqual(
      (await api('/proxies/cli1/toxics')).body.map((t: { name: string }) => t.name),
      ['latency_upstream'],
    );
    // 5 ms upstream latency remains; the 400 ms one must not (a loaded machine gets SLACK_MS on top).
    const ms = await roundTrip();
    assert.ok(ms >= 5 - EARLY_MS && ms < 5 + SLACK_MS, `round trip ${ms.toFixed(1)} ms`);
    const missing = await cli('toxic', 'remove', '-n', 'latency_downstream', 'cli1');
    assert.equal(missing.code, 1);
    assert.match(missing.out, /HTTP 404: toxic not found/);
  });

  test('delete: gone from the API and the list, the port refuses; inspect then fails with 404', async () => {
    const port = await proxyPort();
    const r = await cli('delete', 'cli1');
    assert.deepEqual(r, { code: 0, out: 'Deleted proxy cli1\n' });
    assert.equal((await api('/proxies/cli1')).status, 404);
    assert.equal(await listLine('cli1'), undefined);
    assert.equal(await connectOutcome(port), 'ECONNREFUSED');
    const inspect = await cli('inspect', 'cli1');
    assert.equal(inspect.code, 1);
    assert.match(inspect.out, /Failed to retrieve proxy cli1: HTTP 404: proxy not found/);
    const toxic = await cli('toxic', 'add', '-t', 'latency', 'cli1');
    assert.equal(toxic.code, 1);
    assert.match(toxic.out, /HTTP 404: proxy not found/);
  });
});
