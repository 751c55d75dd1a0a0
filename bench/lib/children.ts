/**
 * The processes a bench runs besides itself (proxies under test, load helpers), started on loopback and always
 * killed: on success, on error and on Ctrl-C. Also owns the bench's temp files, removed the same way.
 *
 *   bench ──spawn──▶ faultline proxy child (HTTP API → POST /proxies, toxics)
 *         ──spawn──▶ haproxy -db -f <tmp>/haproxy.cfg
 *         ──spawn──▶ helper.ts servers | pipe   (IPC)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { HelperCommand, HelperMessage, HelperRequest } from './helper.ts';

export const HOST = '127.0.0.1';
export const HAPROXY = '/usr/sbin/haproxy';
const REPO = new URL('../../', import.meta.url).pathname;

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function track(child: ChildProcess, label: string): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', (err) => process.stderr.write(`${label}: ${err.message}\n`));
  return child;
}

/** Stops a child: SIGTERM (lets faultline write a --cpu-prof profile), SIGKILL if it lingers. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stop(c)));
  removeTempDirs();
}

/** Last resort (process 'exit'): no waiting possible, so SIGKILL what is left. */
export function killAllNow(): void {
  for (const child of live) child.kill('SIGKILL');
  removeTempDirs();
}

function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export function makeTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-proxy-bench-'));
  tempDirs.add(dir);
  return dir;
}

/** Resolves with the first stdout line, or rejects with the child's stderr if it exits first. */
function firstLine(child: ChildProcess, label: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${label} did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const eol = out.indexOf('\n');
      if (eol >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, eol));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? signal}) before it was ready: ${err.trim()}`));
    });
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: HOST, port: 0 }, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, label: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label()} exited before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: HOST, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${label()} is not listening on ${port} after ${timeoutMs} ms`);
    await delay(50);
  }
}

/** VmRSS of a process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (kb === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user, system) and minor page faults a process has used so far, from /proc/PID/stat. */
export function procCpu(pid: number): { user: number; sys: number; minflt: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { minflt: Number(f[7]), user: Number(f[11]) / CLOCK_TICKS, sys: Number(f[12]) / CLOCK_TICKS };
}

/** The soft limit on open files of a process, from /proc (Node has no getrlimit). */
export function openFileLimit(pid: number | 'self' = 'self'): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

// ── helper.ts children ──────────────────────────────────────────────────────────────────────────────────────

export interface Helper {
  child: ChildProcess;
  ports: number[];
  request(req: HelperCommand): Promise<{ port?: number; count?: number }>;
}

export async function startHelper(args: string[]): Promise<Helper> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/lib/helper.ts'), ...args], {
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
    `helper ${args[0]}`,
  );
  const pending = new Map<number, (m: { port?: number; count?: number }) => void>();
  let nextId = 1;
  const ports = await new Promise<number[]>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`helper ${args.join(' ')} exited (${code}) before it was ready`)));
    child.on('message', (m: HelperMessage) => {
      if ('ready' in m) resolve(m.ready);
      else pending.get(m.id)?.(m);
    });
  });
  return {
    child,
    ports,
    request(req) {
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, (m) => {
          pending.delete(id);
          resolve(m);
        });
        child.send({ ...req, id } satisfies HelperRequest);
      });
    },
  };
}

// ── faultline proxy child ───────────────────────────────────────────────────────────────────────────────────

export interface FaultlineChild {
  child: ChildProcess;
  pid: number;
  url: string;
  /** Creates a proxy on a free loopback port and returns that port. */
  createProxy(name: string, upstreamPort: number): Promise<number>;
  /** Adds a toxic, or updates it when one of that name exists. */
  setToxic(proxy: string, toxic: { name: string; type: string; stream: 'upstream' | 'downstream'; attributes: Record<string, number> }): Promise<void>;
}

async function api(url: string, method: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return text.length > 0 ? JSON.parse(text) : undefined;
}

/**
 * Runs `bin/faultline proxy --port 0 --json` in its own process; nodeFlags (e.g. --cpu-prof) go to node, env
 * entries (e.g. MALLOC_TRIM_THRESHOLD_) are added to the child's environment.
 */
export async function startFaultline(nodeFlags: string[] = [], env: Record<string, string> = {}): Promise<FaultlineChild> {
  const child = track(
    spawn(process.execPath, [...nodeFlags, join(REPO, 'bin/faultline'), 'proxy', '--port', '0', '--json'], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    'faultline proxy',
  );
  const { url } = JSON.parse(await firstLine(child, 'faultline proxy')) as { url: string };
  const toxicsSet = new Set<string>();
  return {
    child,
    pid: child.pid!,
    url,
    async createProxy(name, upstreamPort) {
      const json = (await api(`${url}/proxies`, 'POST', { name, listen: `${HOST}:0`, upstream: `${HOST}:${upstreamPort}` })) as { listen: string };
      return Number(json.listen.slice(json.listen.lastIndexOf(':') + 1));
    },
    async setToxic(proxy, toxic) {
      const key = `${proxy}/${toxic.name}`;
      if (toxicsSet.has(key)) await api(`${url}/proxies/${proxy}/toxics/${toxic.name}`, 'POST', { attributes: toxic.attributes });
      else await api(`${url}/proxies/${proxy}/toxics`, 'POST', toxic);
      toxicsSet.add(key);
    },
  };
}

// ── HAProxy child ───────────────────────────────────────────────────────────────────────────────────────────

export interface HaproxyChild {
  child: ChildProcess;
  pid: number;
  /** Listen port per upstream port, in the order given. */
  ports: number[];
  stderr: () => string;
}

/**
 * HAProxy 2.x in TCP mode as shipped by Debian: default threads (one per core), no splicing, one `listen`
 * section per upstream, idle timeouts long enough never to cut a measurement. HAProxy refuses to start when
 * maxconn × 2 + ~17 fds exceed the open-file limit it cannot raise, so size maxconn to what is needed.
 */
export async function startHaproxy(upstreamPorts: number[], maxconn: number): Promise<HaproxyChild> {
  const dir = makeTempDir();
  const ports: number[] = [];
  for (const _ of upstreamPorts) ports.push(await freePort());
  const sections = upstreamPorts.map(
    (up, i) => `listen l${i}\n  bind ${HOST}:${ports[i]}\n  server s${i} ${HOST}:${up}\n`,
  );
  const config = [
    'global',
    `  maxconn ${maxconn}`,
    '',
    'defaults',
    '  mode tcp',
    `  maxconn ${maxconn}`,
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    '',
    ...sections,
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child = track(spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] }), 'haproxy');
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  for (const port of ports) await waitForPort(port, child, () => `haproxy (${err.trim()})`);
  return { child, pid: child.pid!, ports, stderr: () => err };
}
