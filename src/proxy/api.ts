/**
 * The toxiproxy HTTP API, route for route, over a ProxyRegistry. What clients parse is kept exactly: status
 * codes, JSON shapes and key order, `{"error","status"}` bodies (as text/plain, like Go's http.Error), 404/405
 * framing, the browser 403 and the request-id header. faultline adds `code` and `hint` after those keys.
 *
 *   request ─▶ browser check ─▶ route match ─▶ handler (registry / proxy / toxics) ─▶ JSON or error body
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultlineError, isFaultlineError } from '../core/errors.ts';
import { parseBody, pickFields } from './json.ts';
import { PopulateError, type ProxyRegistry } from './registry.ts';
import { toxicJson } from './toxic-collection.ts';

/** Reported on /version: a toxiproxy 2.x semver (≥ 2.6.0 makes the Ruby client use PATCH). */
export const TOXIPROXY_API_VERSION = '2.12.0';
const MAX_BODY_BYTES = 1 << 20;

type Params = { proxy?: string; toxic?: string };
type Handler = (ctx: { req: IncomingMessage; res: ServerResponse; params: Params; body: () => Promise<unknown> }) => Promise<void>;

interface Route {
  pattern: RegExp;
  keys: (keyof Params)[];
  methods: Partial<Record<string, Handler>>;
}

/** Where /metrics gets its text (the proxy's registry, plus whatever else shares the server). */
export interface Exposition {
  readonly contentType: string;
  text(): Promise<string>;
}

export function createApiHandler(registry: ProxyRegistry, metrics: Exposition): (req: IncomingMessage, res: ServerResponse) => void {
  const routes: Route[] = [
    route('/version', {
      GET: async ({ res }) => {
        res.writeHead(200, { 'Content-Type': 'application/json;charset=utf-8' });
        res.end(`{"version": "${TOXIPROXY_API_VERSION}"}\n`);
      },
    }),
    route('/metrics', {
      GET: async ({ res }) => {
        const text = await metrics.text();
        res.writeHead(200, { 'Content-Type': metrics.contentType });
        res.end(text);
      },
    }),
    route('/reset', {
      POST: async ({ res }) => {
        await registry.reset();
        res.writeHead(204).end();
      },
    }),
    route('/populate', {
      POST: async ({ res, body }) => {
        try {
          const proxies = await registry.populate(await body());
          sendJson(res, 201, { proxies: proxies.map((p) => p.toJSON()) });
        } catch (err) {
          // Every populate error carries `proxies` (toxiproxy: created so far, or null), bad bodies included.
          if (isFaultlineError(err)) return sendError(res, err, { proxies: null });
          if (!(err instanceof PopulateError)) throw err;
          const created = err.created.length > 0 ? err.created.map((p) => p.toJSON()) : null;
          sendError(res, err.error, { proxies: created });
        }
      },
    }),
    route('/proxies', {
      GET: async ({ res }) => sendJson(res, 200, registry.toJSON()),
      POST: async ({ res, body }) => sendJson(res, 201, (await registry.create(await body())).toJSON()),
    }),
    route('/proxies/{proxy}', {
      GET: async ({ res, params }) => sendJson(res, 200, registry.get(params.proxy!).toJSON()),
      POST: updateProxy,
      PATCH: updateProxy,
      DELETE: async ({ res, params }) => {
        registry.delete(params.proxy!);
        res.writeHead(204).end();
      },
    }),
    route('/proxies/{proxy}/toxics', {
      GET: async ({ res, params }) => sendJson(res, 200, registry.get(params.proxy!).toxics.list().map(toxicJson)),
      POST: async ({ res, params, body }) => {
        const proxy = registry.get(params.proxy!);
        sendJson(res, 200, toxicJson(await proxy.addToxic(await body())));
      },
    }),
    route('/proxies/{proxy}/toxics/{toxic}', {
      GET: async ({ res, params }) => sendJson(res, 200, toxicJson(registry.get(params.proxy!).toxics.get(params.toxic!))),
      POST: updateToxic,
      PATCH: updateToxic,
      DELETE: async ({ res, params }) => {
        await registry.get(params.proxy!).removeToxic(params.toxic!);
        res.writeHead(204).end();
      },
    }),
  ];

  async function updateProxy({ res, params, body }: Parameters<Handler>[0]): Promise<void> {
    const proxy = registry.get(params.proxy!);
    const f = pickFields(await body(), { listen: 'string', upstream: 'string', enabled: 'boolean' });
    await proxy.update(f as { listen?: string; upstream?: string; enabled?: boolean });
    sendJson(res, 200, proxy.toJSON());
  }

  async function updateToxic({ res, params, body }: Parameters<Handler>[0]): Promise<void> {
    const proxy = registry.get(params.proxy!);
    proxy.toxics.get(params.toxic!);
    sendJson(res, 200, toxicJson(await proxy.updateToxic(params.toxic!, await body())));
  }

  return (req, res) => {
    void dispatch(routes, req, res);
  };
}

async function dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
      res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('User agent not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    for (const r of routes) {
      const match = r.pattern.exec(path);
      if (match === null) continue;
      const handler = r.methods[req.method ?? 'GET'];
      if (handler === undefined) {
        res.writeHead(405).end();
        return;
      }
      res.setHeader('X-Toxiproxy-Request-Id', randomBytes(10).toString('hex'));
      const params: Params = {};
      r.keys.forEach((key, i) => (params[key] = decodeURIComponent(match[i + 1])));
      await handler({ req, res, params, body: () => readBody(req) });
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end('404 page not found\n');
  } catch (err) {
    sendError(res, isFaultlineError(err) ? err : new FaultlineError('INTERNAL', `internal error: ${String(err)}`));
  }
}

function route(path: string, methods: Route['methods']): Route {
  const keys: (keyof Params)[] = [];
  const source = path.replace(/\{(\w+)\}/g, (_m, key: keyof Params) => {
    keys.push(key);
    return '([^/]+)';
  });
  return { pattern: new RegExp(`^${source}$`), keys, methods };
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new FaultlineError('BAD_REQUEST_BODY', `bad request body: larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(parseBody(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** toxiproxy's error body `{"error","status"}` + newline, then faultline's `code`, `field` and `hint`. */
function sendError(res: ServerResponse, err: FaultlineError, extra: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: Record<string, unknown> = { error: err.message, status: err.status, ...extra, code: err.publicCode };
  if (err.field !== undefined) body.field = err.field;
  if (err.hint !== undefined) body.hint = err.hint;
  res.writeHead(err.status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${JSON.stringify(body)}\n`);
}
