/**
 * Proxy bench: faultline's TCP proxy next to direct loopback, HAProxy (TCP mode), the real toxiproxy (from
 * ../shared/peers/toxiproxy/, when present) and a naive Node pipe() proxy, measured in one run on this machine.
 * Every proxy runs in its own process (faultline as `bin/faultline proxy`, toxiproxy as `toxiproxy-server`, both
 * configured over their HTTP API); the load source/echo server is a helper child, the upload sink another child;
 * the download sink and the clients are this process. Each figure is measured `--runs` times (targets
 * interleaved, order rotated per run) and printed as median and spread (min–max) next to its target.
 *
 *   this process (sink, clients) ──▶ [direct | faultline | haproxy | toxiproxy | pipe] ──▶ helper child
 *                                                                                   (source, echo, holder)
 *                                                                              ──▶ upload sink child
 *   1. throughput: one connection, --size-mib pulled server → client (sink discards into one static buffer),
 *      and pushed client → server (written from one static buffer, the upload sink counts and discards)
 *   2. latency: 64 B ping-pong on one connection, --round-trips after a warm-up; added = proxy − direct
 *   3. latency toxic: 100 ms on downstream only (so 100 ms per round trip); error = rtt − direct p50 − 100 ms
 *   4. bandwidth toxic: rate R KB/s (downstream), 2 s worth of data; achieved = bytes / time to last byte
 *   5. idle connections: VmRSS growth of a fresh proxy process while it holds --idle connections
 *
 * Run: npm run bench:proxy [-- --runs 3 --size-mib 2048 --round-trips 10000 --idle 10000 --profile
 *                            --faultline-env MALLOC_TRIM_THRESHOLD_=1073741824]
 * Writes bench/out/proxy-<timestamp>.json; --profile also writes a --cpu-prof of the faultline child there;
 * --faultline-env (repeatable) adds to the faultline children's environment, to try tunables without code.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  freePort,
  HAPROXY,
  HOST,
  killAllNow,
  openFileLimit,
  procCpu,
  rssBytes,
  startFaultline,
  startHaproxy,
  startHelper,
  stop,
  stopAll,
  type Helper,
} from './lib/children.ts';
import { percentile, spread, type Spread } from './lib/stats.ts';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '2048' },
    'round-trips': { type: 'string', default: '10000' },
    'toxic-round-trips': { type: 'string', default: '100' },
    idle: { type: 'string', default: '10000' },
    profile: { type: 'boolean', default: false },
    'faultline-env': { type: 'string', multiple: true, default: [] },
  },
});
const RUNS = Math.max(1, Number(opts.runs));
const SIZE = Number(opts['size-mib']) * 2 ** 20;
const ROUND_TRIPS = Number(opts['round-trips']);
const TOXIC_ROUND_TRIPS = Number(opts['toxic-round-trips']);
const LATENCY_MS = 100;
const RATES_KBPS = [10_000, 1_000];
const BANDWIDTH_SECONDS = 2;
const OUT_DIR = new URL('./out/', import.meta.url).pathname;
const MB = 1e6;
const TOXIPROXY_SERVER = new URL('../../shared/peers/toxiproxy/toxiproxy-server', import.meta.url).pathname;
const HAS_TOXIPROXY = existsSync(TOXIPROXY_SERVER);
/** Extra environment for every faultline child, e.g. to try glibc malloc tunables without touching the code. */
const FAULTLINE_ENV = Object.fromEntries(
  (opts['faultline-env'] ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

// ── clients (this process) ──────────────────────────────────────────────────────────────────────────────────

/** One buffer every sink read lands in: the sink discards, so nothing is allocated per read. */
const SINK = Buffer.allocUnsafe(1 << 20);

/** Asks the source for `bytes` through `port`; resolves with the seconds from request to last byte. */
function download(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    let t0 = 0;
    const socket = connect({
      host: HOST,
      port,
      noDelay: true,
      onread: {
        buffer: SINK,
        callback: (n: number) => {
          got += n;
          if (got >= bytes) {
            const seconds = (performance.now() - t0) / 1000;
            socket.destroy();
            resolve(seconds);
          }
          return true;
        },
      },
    });
    socket.once('connect', () => {
      t0 = performance.now();
      socket.write(`${bytes}\n`);
    });
    socket.once('error', reject);
    socket.once('end', () => got < bytes && reject(new Error(`stream ended after ${got} of ${bytes} bytes (port ${port})`)));
  });
}

/** The block every upload writes from: never mutated, so a write never copies. */
const UPLOAD_BLOCK = Buffer.alloc(1 << 20, 0x62);

/**
 * Pushes `bytes` through `port` to the upload sink (header "N\n", then the bytes, written as fast as the socket
 * drains); resolves with the seconds from the first byte to the sink's one-byte acknowledgement of the last.
 */
function upload(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let t0 = 0;
    const socket = connect({ host: HOST, port, noDelay: true });
    const pump = (): void => {
      while (sent < bytes) {
        const n = Math.min(UPLOAD_BLOCK.length, bytes - sent);
        sent += n;
        if (!socket.write(n === UPLOAD_BLOCK.length ? UPLOAD_BLOCK : UPLOAD_BLOCK.subarray(0, n))) return;
      }
    };
    socket.on('drain', pump);
    socket.once('data', () => {
      const seconds = (performance.now() - t0) / 1000;
      socket.destroy();
      resolve(seconds);
    });
    socket.once('connect', () => {
      t0 = performance.now();
      socket.write(`${bytes}\n`);
      pump();
    });
    socket.once('error', reject);
  });
}

/** Children this file spawns itself (children.ts tracks its own): stopped with them. */
const ownChildren = new Set<ChildProcess>();

/** Reads "N\n", discards N bytes into one buffer, answers one byte: the server side of upload(). */
const UPLOAD_SINK_SOURCE = `
const net = require('node:net');
const scratch = Buffer.allocUnsafe(1 << 20);
const server = net.createServer({ noDelay: true }, (socket) => {
  let header = '', need = -1;
  socket.on('error', () => {});
  socket.on('data', (d) => {
    let body = d;
    if (need < 0) {
      header += d.toString('latin1');
      const nl = header.indexOf('\\n');
      if (nl < 0) return;
      need = Number(header.slice(0, nl));
      body = Buffer.from(header.slice(nl + 1), 'latin1');
    }
    need -= body.length;
    if (need <= 0) socket.write('k');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('disconnect', () => process.exit(0));
`;

async function startUploadSink(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', UPLOAD_SINK_SOURCE], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  ownChildren.add(child);
  child.once('exit', () => ownChildren.delete(child));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`upload sink exited (${code})`)));
    child.stdout!.setEncoding('utf8').once('data', (s: string) => resolve(Number(s.trim())));
  });
  return { child, port };
}

interface ToxiproxyChild {
  child: ChildProcess;
  pid: number;
  createProxy(name: string, upstreamPort: number): Promise<number>;
}

/** The real toxiproxy-server on a free port, proxies created over its API like faultline's. */
async function startToxiproxy(): Promise<ToxiproxyChild> {
  const apiPort = await freePort();
  const child = spawn(TOXIPROXY_SERVER, ['-host', HOST, '-port', String(apiPort)], { stdio: ['ignore', 'ignore', 'ignore'] });
  ownChildren.add(child);
  child.once('exit', () => ownChildren.delete(child));
  const url = `http://${HOST}:${apiPort}`;
  await waitFor('toxiproxy-server to answer', async () => fetch(`${url}/version`).then((r) => r.ok, () => false), 15_000);
  return {
    child,
    pid: child.pid!,
    async createProxy(name, upstreamPort) {
      const res = await fetch(`${url}/proxies`, { method: 'POST', body: JSON.stringify({ name, listen: `${HOST}:0`, upstream: `${HOST}:${upstreamPort}` }) });
      if (res.status !== 201) throw new Error(`toxiproxy: POST /proxies → ${res.status} ${await res.text()}`);
      const listen = ((await res.json()) as { listen: string }).listen;
      return Number(listen.slice(listen.lastIndexOf(':') + 1));
    },
  };
}

/** 64-byte ping-pong on one connection: `warmup` unrecorded round trips, then `count` recorded, in µs. */
function pingPong(port: number, warmup: number, count: number): Promise<Float64Array> {
  const message = Buffer.alloc(64, 0x61);
  const rtts = new Float64Array(count);
  return new Promise((resolve, reject) => {
    let i = -warmup;
    let need = 0;
    let t0 = 0;
    const next = (): void => {
      need = message.length;
      t0 = performance.now();
      socket.write(message);
    };
    const socket: Socket = connect({
      host: HOST,
      port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(4096),
        callback: (n: number) => {
          need -= n;
          if (need > 0) return true;
          const rtt = (performance.now() - t0) * 1000;
          if (i >= 0) rtts[i] = rtt;
          if (++i < count) next();
          else {
            socket.destroy();
            resolve(rtts);
          }
          return true;
        },
      },
    });
    socket.once('connect', next);
    socket.once('error', reject);
  });
}

/** Opens `n` connections to `port` (at most 256 connecting at once) and keeps them open. */
async function openIdle(port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let failed: Error | null = null;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ host: HOST, port });
      s.once('connect', () => {
        sockets.push(s);
        resolve();
      });
      s.once('error', (err) => {
        failed ??= err;
        resolve();
      });
    });
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < n && failed === null) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  if (failed !== null) {
    for (const s of sockets) s.destroy();
    throw new Error(`opening idle connection ${sockets.length + 1}: ${(failed as Error).message}`);
  }
  return sockets;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

/**
 * RSS growth of `pid` while `n` idle connections go through `port` to the helper's holder `holderPort`.
 * Before: after a warm-up of 100 short connections (code paths compiled, listener ready) and a settle.
 */
async function idleGrowth(label: string, servers: Helper, holderPort: number, pid: number, port: number, n: number): Promise<{ before: number; after: number }> {
  const count = async (): Promise<number> => (await servers.request({ op: 'hold-count', port: holderPort })).count ?? 0;
  // Closed only once the proxy has dialled them all: when this was written, a client that left while
  // faultline was still dialling its upstream left that upstream socket open, which would inflate the baseline.
  const warm = await openIdle(port, 100);
  await waitFor('warm-up connections to reach the holder', async () => (await count()) >= 100);
  for (const s of warm) s.destroy();
  await waitFor('warm-up connections to close', async () => (await count()) === 0);
  await delay(500);
  const before = rssBytes(pid);
  const sockets = await openIdle(port, n);
  try {
    let reached = 0;
    await waitFor(`${n} connections through ${label} to reach the holder`, async () => (reached = await count()) >= n).catch((err: Error) => {
      throw new Error(`${err.message} (${reached} did)`);
    });
    await delay(1000);
    return { before, after: rssBytes(pid) };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

// ── the bench ───────────────────────────────────────────────────────────────────────────────────────────────

type TargetKey = 'direct' | 'faultline' | 'haproxy' | 'toxiproxy' | 'pipe';
interface Target {
  key: TargetKey;
  label: string;
  /** The proxy's process, whose CPU time and page faults are read around each transfer. */
  pid?: number;
  /** Port leading to the source, to the echo server and to the upload sink. */
  source: number;
  echo: number;
  sink: number;
}

function machine(): Record<string, string | number> {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  const haproxy = execFileSync(HAPROXY, ['-v'], { encoding: 'utf8' }).split('\n')[0].replace(/ - https?:.*$/, '');
  return { cpu, cores: cpus().length, kernel: release(), node: process.version, haproxy, loadavg_start: loadavg()[0].toFixed(2) };
}

/** How many idle connections fit: a proxy holds two fds per connection and this limit cannot be raised here. */
function idleCount(requested: number): { n: number; fdLimit: number } {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), '--nofile=65536:65536'], { stdio: 'ignore' });
  } catch {
    // Not permitted (no CAP_SYS_RESOURCE): keep the inherited limit; the children inherit it too.
  }
  const fdLimit = openFileLimit();
  const fit = Math.floor((fdLimit - 200) / 2 / 100) * 100;
  return { n: Math.min(requested, fit), fdLimit };
}

async function main(): Promise<void> {
  const started = performance.now();
  const host = machine();
  const idle = idleCount(Number(opts.idle));
  process.stderr.write(`faultline proxy bench: ${RUNS} runs, starting children…\n`);

  const servers = await startHelper(['servers']);
  const [sourcePort, echoPort] = servers.ports;
  const uploadSink = await startUploadSink();
  const sinkPort = uploadSink.port;
  mkdirSync(OUT_DIR, { recursive: true });
  const faultline = await startFaultline(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${OUT_DIR}`] : [], FAULTLINE_ENV);
  const fl = {
    source: await faultline.createProxy('bench_source', sourcePort),
    echo: await faultline.createProxy('bench_echo', echoPort),
    sink: await faultline.createProxy('bench_sink', sinkPort),
    latency: await faultline.createProxy('bench_latency', echoPort),
    bandwidth: await faultline.createProxy('bench_bandwidth', sourcePort),
  };
  await faultline.setToxic('bench_latency', { name: 'latency_downstream', type: 'latency', stream: 'downstream', attributes: { latency: LATENCY_MS } });
  const haproxy = await startHaproxy([sourcePort, echoPort, sinkPort], 4096);
  const pipe = await startHelper(['pipe', `${sourcePort},${echoPort},${sinkPort}`]);
  if (!HAS_TOXIPROXY) process.stderr.write(`no toxiproxy at ${TOXIPROXY_SERVER}: its column is skipped\n`);
  const toxiproxy = HAS_TOXIPROXY ? await startToxiproxy() : undefined;

  const targets: Target[] = [
    { key: 'direct', label: 'direct loopback', source: sourcePort, echo: echoPort, sink: sinkPort },
    { key: 'faultline', label: 'faultline (no toxic)', pid: faultline.pid, source: fl.source, echo: fl.echo, sink: fl.sink },
    { key: 'haproxy', label: 'HAProxy (tcp mode)', pid: haproxy.pid, source: haproxy.ports[0], echo: haproxy.ports[1], sink: haproxy.ports[2] },
    ...(toxiproxy === undefined
      ? []
      : [
          {
            key: 'toxiproxy' as const,
            label: 'toxiproxy (no toxic)',
            pid: toxiproxy.pid,
            source: await toxiproxy.createProxy('bench_source', sourcePort),
            echo: await toxiproxy.createProxy('bench_echo', echoPort),
            sink: await toxiproxy.createProxy('bench_sink', sinkPort),
          },
        ]),
    { key: 'pipe', label: 'naive Node pipe()', pid: pipe.child.pid, source: pipe.ports[0], echo: pipe.ports[1], sink: pipe.ports[2] },
  ];
  const rotated = (run: number): Target[] => targets.map((_, i) => targets[(i + run) % targets.length]);
  const perTarget = <T>(): Record<TargetKey, T[]> => ({ direct: [], faultline: [], haproxy: [], toxiproxy: [], pipe: [] });

  process.stderr.write('warm-up…\n');
  for (const t of targets) {
    await download(t.source, 256 * 2 ** 20);
    await upload(t.sink, 256 * 2 ** 20);
    await pingPong(t.echo, 2000, 1);
  }

  process.stderr.write(`1. throughput (${RUNS} × ${targets.length} × ${SIZE / 2 ** 20} MiB, each way)…\n`);
  const throughput = perTarget<number>();
  const throughputUp = perTarget<number>();
  const cpuUser = perTarget<number>();
  const cpuSys = perTarget<number>();
  const faults = perTarget<number>();
  for (let run = 0; run < RUNS; run++) {
    for (const t of rotated(run)) {
      const before = t.pid === undefined ? undefined : procCpu(t.pid);
      throughput[t.key].push(SIZE / (await download(t.source, SIZE)) / MB);
      if (t.pid === undefined || before === undefined) continue;
      const after = procCpu(t.pid);
      const gb = SIZE / 1e9;
      cpuUser[t.key].push((after.user - before.user) / gb);
      cpuSys[t.key].push((after.sys - before.sys) / gb);
      faults[t.key].push((after.minflt - before.minflt) / gb);
    }
    for (const t of rotated(run)) throughputUp[t.key].push(SIZE / (await upload(t.sink, SIZE)) / MB);
  }

  process.stderr.write(`2. ping-pong latency (${RUNS} × ${targets.length} × ${ROUND_TRIPS} round trips)…\n`);
  const p50 = perTarget<number>();
  const p99 = perTarget<number>();
  for (let run = 0; run < RUNS; run++) {
    for (const t of rotated(run)) {
      const rtts = await pingPong(t.echo, 500, ROUND_TRIPS);
      p50[t.key].push(percentile(rtts, 50));
      p99[t.key].push(percentile(rtts, 99));
    }
  }

  process.stderr.write(`3. latency toxic (${RUNS} × ${TOXIC_ROUND_TRIPS} round trips at ${LATENCY_MS} ms)…\n`);
  const toxicP50: number[] = [];
  const toxicP99: number[] = [];
  const toxicMax: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const rtts = await pingPong(fl.latency, 3, TOXIC_ROUND_TRIPS);
    const errorsMs = Array.from(rtts, (us) => (us - p50.direct[run]) / 1000 - LATENCY_MS);
    toxicP50.push(percentile(errorsMs, 50));
    toxicP99.push(percentile(errorsMs, 99));
    toxicMax.push(Math.max(...errorsMs));
  }

  process.stderr.write(`4. bandwidth toxic (${RUNS} × ${RATES_KBPS.join(', ')} KB/s, ${BANDWIDTH_SECONDS} s each)…\n`);
  const achieved: Record<number, number[]> = {};
  for (const rate of RATES_KBPS) achieved[rate] = [];
  for (let run = 0; run < RUNS; run++) {
    for (const rate of RATES_KBPS) {
      await faultline.setToxic('bench_bandwidth', { name: 'bandwidth_downstream', type: 'bandwidth', stream: 'downstream', attributes: { rate } });
      const bytes = rate * 1000 * BANDWIDTH_SECONDS;
      achieved[rate].push(bytes / (await download(fl.bandwidth, bytes)) / 1000);
    }
  }

  // The data-path processes are done; fresh ones are measured for memory so earlier transfers do not count.
  await Promise.all([stop(faultline.child), stop(haproxy.child), stop(pipe.child), ...(toxiproxy ? [stop(toxiproxy.child)] : [])]);

  process.stderr.write(`5. idle connections (${RUNS} × ${idle.n} per proxy, fresh process each)…\n`);
  const growth = { faultline: [] as number[], haproxy: [] as number[], toxiproxy: [] as number[] };
  const baseline = { faultline: [] as number[], haproxy: [] as number[], toxiproxy: [] as number[] };
  for (let run = 0; run < RUNS; run++) {
    {
      const holder = (await servers.request({ op: 'hold-open' })).port!;
      const child = await startFaultline([], FAULTLINE_ENV);
      const port = await child.createProxy('bench_idle', holder);
      const { before, after } = await idleGrowth('faultline', servers, holder, child.pid, port, idle.n);
      growth.faultline.push((after - before) / MB);
      baseline.faultline.push(before / MB);
      await stop(child.child);
      await servers.request({ op: 'hold-close', port: holder });
    }
    {
      const holder = (await servers.request({ op: 'hold-open' })).port!;
      const child = await startHaproxy([holder], idle.n + 40);
      const { before, after } = await idleGrowth('haproxy', servers, holder, child.pid, child.ports[0], idle.n);
      growth.haproxy.push((after - before) / MB);
      baseline.haproxy.push(before / MB);
      await stop(child.child);
      await servers.request({ op: 'hold-close', port: holder });
    }
    if (HAS_TOXIPROXY) {
      const holder = (await servers.request({ op: 'hold-open' })).port!;
      const child = await startToxiproxy();
      const port = await child.createProxy('bench_idle', holder);
      const { before, after } = await idleGrowth('toxiproxy', servers, holder, child.pid, port, idle.n);
      growth.toxiproxy.push((after - before) / MB);
      baseline.toxiproxy.push(before / MB);
      await stop(child.child);
      await servers.request({ op: 'hold-close', port: holder });
    }
  }
  await stop(uploadSink.child);

  await stopAll();
  const seconds = (performance.now() - started) / 1000;
  host.loadavg_end = loadavg()[0].toFixed(2);

  const results = {
    throughput_MBps: mapValues(only(throughput, targets), spread),
    throughput_up_MBps: mapValues(only(throughputUp, targets), spread),
    proxy_cpu_s_per_GB: Object.fromEntries(
      targets.filter((t) => t.pid !== undefined).map((t) => [t.key, { user: spread(cpuUser[t.key]), sys: spread(cpuSys[t.key]), minor_faults: spread(faults[t.key]) }]),
    ),
    latency_us: Object.fromEntries(
      targets.map((t) => [
        t.key,
        {
          p50: spread(p50[t.key]),
          p99: spread(p99[t.key]),
          added_p50: t.key === 'direct' ? undefined : spread(p50[t.key].map((v, i) => v - p50.direct[i])),
          added_p99: t.key === 'direct' ? undefined : spread(p99[t.key].map((v, i) => v - p99.direct[i])),
        },
      ]),
    ),
    latency_toxic_error_ms: { configured_ms: LATENCY_MS, stream: 'downstream', p50: spread(toxicP50), p99: spread(toxicP99), max: spread(toxicMax) },
    bandwidth_toxic: Object.fromEntries(
      RATES_KBPS.map((rate) => [rate, { achieved_KBps: spread(achieved[rate]), error_pct: spread(achieved[rate].map((a) => (a / rate - 1) * 100)) }]),
    ),
    idle_connections: {
      connections: idle.n,
      fd_limit: idle.fdLimit,
      faultline: { rss_growth_MB: spread(growth.faultline), rss_before_MB: spread(baseline.faultline) },
      haproxy: { rss_growth_MB: spread(growth.haproxy), rss_before_MB: spread(baseline.haproxy) },
      ...(HAS_TOXIPROXY ? { toxiproxy: { rss_growth_MB: spread(growth.toxiproxy), rss_before_MB: spread(baseline.toxiproxy) } } : {}),
    },
  };

  const lines = report(host, idle, results, targets, seconds);
  process.stdout.write(`${lines.join('\n')}\n`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = `${OUT_DIR}proxy-${stamp}.json`;
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: host,
        options: { faultline_env: FAULTLINE_ENV, runs: RUNS, size_bytes: SIZE, round_trips: ROUND_TRIPS, toxic_round_trips: TOXIC_ROUND_TRIPS, rates_KBps: RATES_KBPS, idle_requested: Number(opts.idle) },
        seconds,
        results,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nwritten: ${file}\n`);
}

/** The entries of targets that ran (toxiproxy's is empty without the peer). */
function only<T>(record: Record<TargetKey, T[]>, targets: Target[]): Record<TargetKey, T[]> {
  return Object.fromEntries(targets.map((t) => [t.key, record[t.key]])) as Record<TargetKey, T[]>;
}

function mapValues<K extends string, A, B>(record: Record<K, A>, f: (a: A) => B): Record<K, B> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v as A)])) as Record<K, B>;
}

// ── the table ───────────────────────────────────────────────────────────────────────────────────────────────

function fmt(s: Spread | undefined, digits = 0, unit = ''): string {
  if (s === undefined) return '';
  const n = (v: number): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${n(s.median)}${unit} (${n(s.min)}–${n(s.max)})`;
}

const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');

function report(
  host: Record<string, string | number>,
  idle: { n: number; fdLimit: number },
  r: {
    throughput_MBps: Record<TargetKey, Spread>;
    throughput_up_MBps: Record<TargetKey, Spread>;
    proxy_cpu_s_per_GB: Record<string, { user: Spread; sys: Spread; minor_faults: Spread }>;
    latency_us: Record<string, { p50: Spread; p99: Spread; added_p50?: Spread; added_p99?: Spread }>;
    latency_toxic_error_ms: { p50: Spread; p99: Spread; max: Spread };
    bandwidth_toxic: Record<string, { achieved_KBps: Spread; error_pct: Spread }>;
    idle_connections: Record<'faultline' | 'haproxy', { rss_growth_MB: Spread; rss_before_MB: Spread }> & {
      toxiproxy?: { rss_growth_MB: Spread; rss_before_MB: Spread };
    };
  },
  targets: Target[],
  seconds: number,
): string[] {
  const out: string[] = [];
  const row = (cols: string[], widths: number[]): string => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  out.push('faultline proxy bench');
  out.push(`machine: ${host.cpu}, ${host.cores} cores, Linux ${host.kernel}, node ${host.node}, ${host.haproxy}`);
  out.push(`load average (1 min): ${host.loadavg_start} at start, ${host.loadavg_end} at end; bench took ${seconds.toFixed(0)} s`);
  out.push(`runs: ${RUNS}; every figure is median (min–max) over the runs; MB = 10^6 B, KB = 10^3 B`);
  const env = Object.entries(FAULTLINE_ENV).map(([k, v]) => `${k}=${v}`);
  if (env.length > 0) out.push(`faultline child environment: ${env.join(' ')}`);
  out.push('');

  const tp = r.throughput_MBps;
  out.push(`1. Throughput, one connection, ${SIZE / 2 ** 20} MiB server→client, sink discards`);
  out.push('   (proxy CPU: seconds of the proxy process per GB moved, user + sys; faults: its minor page faults per GB)');
  const w1 = [24, 24, 28, 16, 30];
  out.push(row(['', 'MB/s', 'proxy CPU s/GB user + sys', 'faults/GB', 'target'], w1));
  for (const t of targets) {
    const target = t.key === 'faultline' ? `≥ HAProxy (${tp.haproxy.median.toFixed(0)}): ${mark(tp.faultline.median >= tp.haproxy.median)}` : '';
    const c = r.proxy_cpu_s_per_GB[t.key];
    const cpu = c === undefined ? '' : `${c.user.median.toFixed(2)} + ${c.sys.median.toFixed(2)} = ${(c.user.median + c.sys.median).toFixed(2)}`;
    const flt = c === undefined ? '' : c.minor_faults.median.toLocaleString('en-US', { maximumFractionDigits: 0 });
    out.push(row([`  ${t.label}`, fmt(tp[t.key]), cpu, flt, target], w1));
  }
  out.push(`  faultline / HAProxy: ${((tp.faultline.median / tp.haproxy.median) * 100).toFixed(0)} %, faultline / direct: ${((tp.faultline.median / tp.direct.median) * 100).toFixed(0)} %`);
  out.push('');

  const up = r.throughput_up_MBps;
  out.push(`1b. Throughput, one connection, ${SIZE / 2 ** 20} MiB client→server (upload), the sink child discards`);
  const w1b = [24, 24, 30];
  out.push(row(['', 'MB/s', 'target'], w1b));
  for (const t of targets) {
    const target = t.key === 'faultline' ? `≥ HAProxy (${up.haproxy.median.toFixed(0)}): ${mark(up.faultline.median >= up.haproxy.median)}` : '';
    out.push(row([`  ${t.label}`, fmt(up[t.key]), target], w1b));
  }
  out.push(`  faultline / HAProxy: ${((up.faultline.median / up.haproxy.median) * 100).toFixed(0)} %, faultline / direct: ${((up.faultline.median / up.direct.median) * 100).toFixed(0)} %`);
  out.push('');

  out.push(`2. Latency, 64 B ping-pong, one connection, ${ROUND_TRIPS.toLocaleString('en-US')} round trips per run after 500 warm-up (µs)`);
  const w2 = [24, 18, 20, 20, 20];
  out.push(row(['', 'p50', 'p99', 'added p50', 'added p99'], w2));
  for (const t of targets) {
    const l = r.latency_us[t.key];
    out.push(row([`  ${t.label}`, fmt(l.p50), fmt(l.p99), fmt(l.added_p50), fmt(l.added_p99)], w2));
  }
  const added = r.latency_us.faultline.added_p50!;
  out.push(`  target: faultline added p50 ≤ 100 µs: ${mark(added.median <= 100)} (${added.median.toFixed(0)} µs)`);
  const tx = r.latency_us.toxiproxy;
  if (tx !== undefined) {
    const fl = r.latency_us.faultline;
    out.push(`  target: faultline p50 ≤ toxiproxy's (${tx.p50.median.toFixed(0)}): ${mark(fl.p50.median <= tx.p50.median)}; p99 ≤ toxiproxy's (${tx.p99.median.toFixed(0)}): ${mark(fl.p99.median <= tx.p99.median)}`);
  }
  out.push('');

  const tox = r.latency_toxic_error_ms;
  out.push(`3. Latency toxic ${LATENCY_MS} ms on downstream only (= ${LATENCY_MS} ms per round trip), ${TOXIC_ROUND_TRIPS} round trips per run`);
  out.push('   error = round trip − direct p50 − 100 ms (ms)');
  out.push(`  p50 error  ${fmt(tox.p50, 2)}`);
  out.push(`  p99 error  ${fmt(tox.p99, 2)}    target ≤ 2 ms: ${mark(tox.p99.median <= 2)}`);
  out.push(`  max error  ${fmt(tox.max, 2)}`);
  out.push('');

  out.push(`4. Bandwidth toxic (downstream), ${BANDWIDTH_SECONDS} s worth of data per transfer`);
  const w4 = [24, 30, 26, 20];
  out.push(row(['  configured', 'achieved KB/s', 'error %', 'target |error| ≤ 2 %'], w4));
  for (const rate of RATES_KBPS) {
    const b = r.bandwidth_toxic[rate];
    const worst = Math.max(Math.abs(b.error_pct.min), Math.abs(b.error_pct.max));
    out.push(row([`  ${rate.toLocaleString('en-US')} KB/s`, fmt(b.achieved_KBps), fmt(b.error_pct, 2, ' %'), mark(worst <= 2)], w4));
  }
  out.push('');

  const ic = r.idle_connections;
  const scale = 10_000 / idle.n;
  const scaled = idle.n === 10_000 ? '' : ` (measured × ${scale.toFixed(3)})`;
  out.push(`5. Idle connections: RSS growth of the proxy process holding ${idle.n.toLocaleString('en-US')} idle connections (MB)`);
  if (idle.n < 10_000) out.push(`   (open-file limit ${idle.fdLimit} per process and not raisable here: a proxy needs 2 fds per connection; scaled linearly)`);
  const w5 = [24, 24, 22, 16, 30];
  out.push(row(['', 'RSS growth', 'RSS before', 'per connection', 'for 10,000 (target < 200 MB)'], w5));
  const names = { faultline: 'faultline', haproxy: 'HAProxy', toxiproxy: 'toxiproxy' } as const;
  for (const key of ['faultline', 'haproxy', 'toxiproxy'] as const) {
    const entry = ic[key];
    if (entry === undefined) continue;
    const g = entry.rss_growth_MB;
    const per = (g.median * MB) / idle.n / 1000;
    const at10k = g.median * scale;
    const target = `${at10k.toFixed(0)} MB${scaled}${key === 'faultline' ? `: ${mark(at10k < 200)}` : ''}`;
    out.push(row([`  ${names[key]}`, fmt(g, 1), fmt(entry.rss_before_MB, 1), `${per.toFixed(1)} KB`, target], w5));
  }
  if (ic.toxiproxy !== undefined) {
    out.push(`  target: faultline growth ≤ toxiproxy's: ${mark(ic.faultline.rss_growth_MB.median <= ic.toxiproxy.rss_growth_MB.median)}`);
  }
  return out;
}

// ── lifecycle: every child goes, whatever happens ───────────────────────────────────────────────────────────

process.on('exit', () => {
  killAllNow();
  for (const child of ownChildren) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping children…\n`);
    void Promise.all([stopAll(), ...[...ownChildren].map((c) => stop(c))]).finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
  await Promise.all([stopAll(), ...[...ownChildren].map((c) => stop(c))]);
}
