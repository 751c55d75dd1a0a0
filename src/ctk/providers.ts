/**
 * CTK's `http` and `process` providers with chaoslib's exact result shapes and failure rules (sheet A3):
 *   http    → {status, headers, body}; a 4xx/5xx is a result, not a failure; a connection error or a timeout
 *             fails the activity. GET sends `arguments` as the query string; other methods send JSON when the
 *             request's Content-Type is exactly application/json, form data otherwise. The body is parsed as
 *             JSON only when the response's Content-Type is exactly application/json.
 *   process → {status: exit code, stdout, stderr}; a non-zero exit is a result (CTK logs a warning); a timeout
 *             kills the process and fails the activity. A string of arguments runs through a shell, a list is
 *             argv, an object is flattened to key/value pairs.
 * Every wait takes the run's AbortSignal (Ctrl-C ends an activity at once).
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'undici';
import { which } from './load.ts';
import { ActivityFailed, type HttpProvider, type ProcessProvider } from './types.ts';

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const insecure = new Agent({ connect: { rejectUnauthorized: false } });

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  // requests' CaseInsensitiveDict serialises with the server's spelling; Node gives lower case.
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.replace(/(^|-)([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase())] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Runs an http provider (already substituted). */
export async function runHttp(p: HttpProvider, signal?: AbortSignal): Promise<HttpResult> {
  const method = (p.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = { ...(p.headers ?? {}) };
  let url = p.url;
  let body: string | undefined;
  const args = p.arguments;
  if (args && Object.keys(args).length > 0) {
    if (method === 'GET') {
      const u = new URL(url);
      for (const [k, v] of Object.entries(args)) for (const x of Array.isArray(v) ? v : [v]) u.searchParams.append(k, typeof x === 'string' ? x : JSON.stringify(x));
      url = u.toString();
    } else {
      const ct = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
      if (ct === 'application/json') body = JSON.stringify(args);
      else {
        const form = new URLSearchParams();
        for (const [k, v] of Object.entries(args)) for (const x of Array.isArray(v) ? v : [v]) form.append(k, typeof x === 'string' ? x : String(x));
        body = form.toString();
        if (!ct) headers['content-type'] = 'application/x-www-form-urlencoded';
      }
    }
  }
  const [connectS, readS] = Array.isArray(p.timeout) ? p.timeout : [p.timeout, p.timeout];
  const retries = Math.max(0, p.max_retries ?? 0);
  for (let attempt = 0; ; attempt++) {
    const timeout = AbortSignal.timeout(((connectS ?? 0) + (readS ?? 0)) * 1000 || 2 ** 31 - 1);
    try {
      const res = await request(url, {
        method: method as 'GET',
        headers,
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headersTimeout: readS !== undefined ? readS * 1000 : 0,
        bodyTimeout: readS !== undefined ? readS * 1000 : 0,
        dispatcher: p.verify_tls === false ? insecure : undefined,
      });
      const text = await res.body.text();
      const ct = res.headers['content-type'];
      let parsed: unknown = text;
      if (ct === 'application/json') {
        try {
          parsed = JSON.parse(text);
        } catch {
          /* CTK keeps the text when it is not JSON after all */
        }
      }
      return { status: res.statusCode, headers: flatHeaders(res.headers), body: parsed };
    } catch (err) {
      if (signal?.aborted) throw new ActivityFailed('interrupted');
      const e = err as Error & { code?: string };
      const timedOut = timeout.aborted || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT';
      if (timedOut) throw new ActivityFailed('activity took too long to complete');
      if (attempt < retries) continue;
      throw new ActivityFailed(`failed to connect to ${p.url}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' ').trim());
    }
  }
}

export interface ProcessResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** argv for a list, or CTK's flattening of an object: key, then its value unless empty. */
function argvOf(args: ProcessProvider['arguments']): string[] {
  if (args === undefined || args === null) return [];
  if (Array.isArray(args)) return args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)));
  if (typeof args === 'object') {
    const out: string[] = [];
    for (const [k, v] of Object.entries(args)) {
      out.push(k);
      if (v !== null && v !== undefined && v !== '') out.push(typeof v === 'string' ? v : JSON.stringify(v));
    }
    return out;
  }
  return [];
}

/** Runs a process provider (already substituted); `env` is the environment the process gets. */
export function runProcess(p: ProcessProvider, opts: { signal?: AbortSignal; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<ProcessResult> {
  const env = opts.env ?? process.env;
  const path = which(p.path, env);
  if (path === undefined) return Promise.reject(new ActivityFailed(`path '${p.path}' cannot be found`));
  const shell = typeof p.arguments === 'string';
  const child = shell
    ? spawn(`${path} ${p.arguments as string}`, { shell: true, env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(path, argvOf(p.arguments), { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  return new Promise((resolve, reject) => {
    let why: string | undefined;
    // Its own process group: a timeout or Ctrl-C ends the shell and whatever it started.
    const kill = (reason: string): void => {
      why ??= reason;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = p.timeout !== undefined ? setTimeout(() => kill('activity took too long to complete'), p.timeout * 1000) : undefined;
    const onAbort = (): void => kill('interrupted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    child.on('error', (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new ActivityFailed(`failed to run ${p.path}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (why) return reject(new ActivityFailed(why));
      resolve({ status: code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
