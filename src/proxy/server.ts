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
}

export interface CreateProxyInput {
  name: string;
  upstream: string;
  /** Default `127.0.0.1:0` (a free loopback port). */
  listen?: string;
  enabled?: boolean;
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
  const registry = new ProxyRegistry();
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
  const http = createServer((req, res) => {
    void (async () => {
      for (const handler of mounted) if (await handler(req, res)) return;
      proxyApi(req, res);
    })();
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
