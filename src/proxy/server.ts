/**
 * The library entry point for the proxy: start a toxiproxy-compatible server in-process (port 0 in tests),
 * create proxies and toxics through typed calls or over HTTP, close it all with one call.
 *
 * @example
 *   const server = await startProxyServer({ port: 0 });
 *   const redis = await server.createProxy({ name: 'redis', upstream: '127.0.0.1:6379' });
 *   await redis.addToxic({ type: 'latency', attributes: { latency: 100 } });
 *   // … point the code under test at 127.0.0.1:${redis.port} …
 *   await server.close();
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FaultlineError, isFaultlineError } from '../core/errors.ts';
import { formatHostPort } from './address.ts';
import { createApiHandler } from './api.ts';
import type { Registry } from 'prom-client';
import { createProxyMetrics } from './metrics.ts';
import { PopulateError, ProxyRegistry } from './registry.ts';
import type { Proxy } from './proxy.ts';

export interface ProxyServerOptions {
  /** Address of the HTTP API; default 127.0.0.1. */
  host?: string;
  /** Port of the HTTP API; default 8474, 0 for any free port. */
  port?: number;
  /** A JSON file of proxies (with optional toxics) to create at start-up. */
  configFile?: string;
  /** Proxies to create at start-up, in the config file's shape. */
  proxies?: unknown[];
  /** Export heap, GC and event-loop metrics of this process on /metrics. */
  processMetrics?: boolean;
  /**
   * Host names (without port) every request must carry, e.g. the controller's loopback names: anything else is
   * refused with 403 before any route runs, which defeats DNS rebinding. Default: any Host (toxiproxy's way).
   */
  allowedHosts?: readonly string[];
  /** Where a request that failed inside a handler is logged (default: stderr). */
  log?: (line: string) => void;
  /**
   * The local CA's directory (see ca.ts), created on first use, that proxies declared with `"tls": {}` mint
   * their certificates from. Without it such a proxy is refused (400) and only given certificates work.
   */
  caDir?: string;
}

export interface CreateProxyInput {
  name: string;
  upstream: string;
  /** Default `127.0.0.1:0` (a free loopback port). */
  listen?: string;
  enabled?: boolean;
  /** Terminate TLS: `{}` mints from the CA, `{cert, key}` uses PEM files (see tls.ts). */
  tls?: { cert?: string; key?: string; hosts?: string[] };
  /** Originate TLS to the upstream. */
  upstream_tls?: { servername?: string; ca?: string; verify?: boolean };
}

/** An extra set of routes served beside the toxiproxy API; answers false for requests that are not its own. */
export type MountedHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface ProxyServer {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:8474`. */
  readonly url: string;
  readonly port: number;
  readonly registry: ProxyRegistry;
  createProxy(input: CreateProxyInput): Promise<Proxy>;
  /** Serves more routes on the same port (the controller mounts /chaos/* here); tried before the proxy API. */
  mount(handler: MountedHandler): void;
  /** Adds a registry whose metrics /metrics serves beside the proxy's (names must not clash). */
  addMetrics(registry: Registry): void;
  close(): Promise<void>;
}

export async function startProxyServer(options: ProxyServerOptions = {}): Promise<ProxyServer> {
  const registry = new ProxyRegistry({ caDir: options.caDir });
  const declared = [...(options.proxies ?? []), ...(options.configFile ? await readConfig(options.configFile) : [])];
  try {
    if (declared.length > 0) await registry.populate(declared);
  } catch (err) {
    registry.closeAll();
    const cause = err instanceof PopulateError ? err.error : err;
    if (!isFaultlineError(cause)) throw cause;
    const where = options.configFile ? ` in ${options.configFile}` : '';
    throw new FaultlineError(cause.code, `${cause.message}${where}`, { field: cause.field, hint: cause.hint });
  }
  const metrics = createProxyMetrics(registry, options.processMetrics ?? false);
  const registries: Registry[] = [metrics];
  const exposition = {
    contentType: metrics.contentType,
    text: async () => (await Promise.all(registries.map((r) => r.metrics()))).join('\n'),
  };
  const proxyApi = createApiHandler(registry, exposition);
  const mounted: MountedHandler[] = [];
  const hosts = options.allowedHosts ? new Set(options.allowedHosts.map((h) => h.toLowerCase())) : undefined;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // The error boundary: every request goes through here, and nothing a request does can reach the process as an
  // unhandled rejection. A daemon that holds live faults must outlive any input.
  const http = createServer((req, res) => {
    void (async () => {
      const refusal = refuse(req, hosts);
      if (refusal) return answerError(res, refusal);
      for (const handler of mounted) if (await handler(req, res)) return;
      await proxyApi(req, res);
    })().catch((err: unknown) => {
      log(`faultline: ${req.method} ${String(req.url).slice(0, 200)} failed: ${(err as Error)?.stack ?? String(err)}`);
      answerError(res, new FaultlineError('INTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`));
    });
  });
  // Requests Node cannot even parse (bad request line, headers too large) answer 400/431 instead of a reset.
  http.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  const host = options.host ?? '127.0.0.1';
  await listen(http, host, options.port ?? 8474).catch((err) => {
    registry.closeAll();
    throw err;
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://${formatHostPort(host, port)}`,
    port,
    registry,
    createProxy: (input) => registry.create({ listen: '127.0.0.1:0', ...input }),
    mount: (handler) => mounted.push(handler),
    addMetrics: (r) => registries.push(r),
    async close() {
      registry.closeAll();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The longest path a route may be asked for; any real route is far shorter. */
const MAX_PATH_BYTES = 2048;

/**
 * Why a request is refused before routing, or null: a foreign Host (when hosts are set), a path longer than any
 * route, or a percent-escape that does not decode (every route decodes its path, and a URIError there is the
 * user's mistake, not ours).
 */
export function refuse(req: IncomingMessage, hosts: ReadonlySet<string> | undefined): FaultlineError | null {
  if (hosts !== undefined) {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (!hosts.has(host)) return new FaultlineError('FORBIDDEN_HOST', `Host ${JSON.stringify(req.headers.host ?? '')} is not one of ${[...hosts].join(', ')}`);
  }
  const url = req.url ?? '/';
  const path = url.split('?')[0];
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return new FaultlineError('BAD_URL', `the path is ${Buffer.byteLength(path)} bytes; at most ${MAX_PATH_BYTES}`);
  try {
    decodeURIComponent(path);
    new URL(url, 'http://x').searchParams.forEach(() => {});
  } catch {
    return new FaultlineError('BAD_URL', `malformed percent-escape in ${JSON.stringify(url.slice(0, 200))}`);
  }
  return null;
}

/** Answers a JSON error (toxiproxy's {error, status} first), or ends the response if it already started. */
function answerError(res: ServerResponse, e: FaultlineError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(e.status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: e.message, status: e.status, code: e.publicCode, ...(e.hint ? { hint: e.hint } : {}) }));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new FaultlineError('LISTEN_FAILED', `API cannot listen on ${formatHostPort(host, port)}: ${err.code ?? err.message}`)),
    );
    server.listen({ host, port }, () => resolve());
  });
}

async function readConfig(file: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FaultlineError('CONFIG_INVALID', `cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FaultlineError('CONFIG_INVALID', `config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) {
    throw new FaultlineError('CONFIG_INVALID', `config ${file} must be a JSON array of proxies`, {
      hint: '[{"name":"redis","listen":"127.0.0.1:26379","upstream":"127.0.0.1:6379","toxics":[…]}]',
    });
  }
  return parsed;
}
