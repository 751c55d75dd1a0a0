/**
 * The toxiproxy HTTP API, route for route, over a ProxyRegistry. What clients parse is kept exactly: status
 * codes, JSON shapes and key order, `{"error","status"}` bodies (text/plain like Go's http.Error, except
 * /populate's, which toxiproxy sends as application/json), 404/405 framing, the browser 403 and the request-id
 * header. faultline adds `code` and `hint` after those keys.
 *
 *   request ─▶ route match (404) ─▶ method (405) ─▶ request id ─▶ browser check (403) ─▶ handler ─▶ JSON or error
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultlineError, isFaultlineError } from '../core/errors.ts';
import { parseBody, pickFields } from './json.ts';
import { PopulateError, type ProxyRegistry } from './registry.ts';
import { toxicJson } from './toxic-collection.ts';

/** Reported on /version: a toxiproxy 2.x semver (≥ 2.6.0 makes the Ruby client use PATCH). */
export const TOXIPROXY_API_VERSION = '2.12.0';
/**
 * Toxiproxy reads bodies of any size; a populate of a few thousand proxies passes 1 MiB. Past this bound the
 * request is answered 413 (never reset) so one client cannot make the process hold unbounded memory.
 */
export const MAX_BODY_BYTES = 64 << 20;

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

export function createApiHandler(registry: ProxyRegistry, metrics: Exposition): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
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
          if (isFaultlineError(err)) return sendError(res, err, { proxies: null }, 'application/json');
          if (!(err instanceof PopulateError)) throw err;
          const created = err.created.length > 0 ? err.created.map((p) => p.toJSON()) : null;
          sendError(res, err.error, { proxies: created }, 'application/json');
        }
      },
    }),
    route('/proxies', {
      GET: async ({ res }) => sendText(res, 200, listJson(registry)),
      POST: async ({ res, body }) => sendJson(res, 201, (await registry.create(await body())).toJSON()),
    }),
    route('/proxies/{proxy}', {
      GET: async ({ res, params }) => sendJson(res, 200, registry.get(params.proxy!).toJSON()),
      POST: updateProxy,
      PATCH: updateProxy,
      DELETE: async ({ res, params }) => {
        await registry.delete(params.proxy!);
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
    registry.get(params.proxy!);
    const f = pickFields(await body(), { listen: 'string', upstream: 'string', enabled: 'boolean' });
    const proxy = await registry.update(params.proxy!, f as { listen?: string; upstream?: string; enabled?: boolean });
    sendJson(res, 200, proxy.toJSON());
  }

  async function updateToxic({ res, params, body }: Parameters<Handler>[0]): Promise<void> {
    const proxy = registry.get(params.proxy!);
    proxy.toxics.get(params.toxic!);
    sendJson(res, 200, toxicJson(await proxy.updateToxic(params.toxic!, await body())));
  }

  return (req, res) => dispatch(routes, req, res);
}

async function dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const path = (req.url ?? '/').split('?')[0];
    for (const r of routes) {
      const match = r.pattern.exec(path);
      if (match === null) continue;
      const handler = r.methods[req.method ?? 'GET'];
      if (handler === undefined) {
        res.writeHead(405, { 'Content-Length': '0' }).end();
        return;
      }
      res.setHeader('X-Toxiproxy-Request-Id', randomBytes(10).toString('hex'));
      // As in toxiproxy, a browser is refused only on a route and method that exist: 404 and 405 come first.
      if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
        sendText(res, 403, 'User agent not allowed\n', 'text/plain; charset=utf-8');
        return;
      }
      const params: Params = {};
      r.keys.forEach((key, i) => (params[key] = decodeURIComponent(match[i + 1])));
      await handler({ req, res, params, body: () => readBody(req) });
      return;
    }
    sendText(res, 404, '404 page not found\n', 'text/plain; charset=utf-8');
  } catch (err) {
    sendError(res, isFaultlineError(err) ? err : new FaultlineError('INTERNAL', `internal error: ${String(err)}`));
  }
}

/** GET /proxies: names sorted by their UTF-8 bytes, as Go encodes a map ("10" before "9", which a JS object reverses). */
function listJson(registry: ProxyRegistry): string {
  const sorted = registry.list().sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  return `{${sorted.map((p) => `${JSON.stringify(p.name)}:${JSON.stringify(p.toJSON())}`).join(',')}}`;
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
      // Past the limit keep reading (and dropping) to the end: answering while the client still sends would
      // make the kernel reset the connection before the client reads the 413.
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        reject(
          new FaultlineError('BODY_TOO_LARGE', `request body too large: ${size} bytes, the limit is ${MAX_BODY_BYTES}`, {
            hint: `send at most ${MAX_BODY_BYTES} bytes (${MAX_BODY_BYTES >> 20} MiB); split a large populate in several`,
          }),
        );
        return;
      }
      try {
        resolve(parseBody(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function sendText(res: ServerResponse, status: number, text: string, contentType = 'application/json'): void {
  const headers: Record<string, string> = { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(text)) };
  if (contentType.startsWith('text/plain')) headers['X-Content-Type-Options'] = 'nosniff';
  res.writeHead(status, headers);
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

/** toxiproxy's error body `{"error","status"}` + newline, then faultline's `code`, `field` and `hint`. */
function sendError(
  res: ServerResponse,
  err: FaultlineError,
  extra: Record<string, unknown> = {},
  contentType = 'text/plain; charset=utf-8',
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: Record<string, unknown> = { error: err.message, status: err.status, ...extra, code: err.publicCode };
  if (err.field !== undefined) body.field = err.field;
  if (err.hint !== undefined) body.hint = err.hint;
  sendText(res, err.status, `${JSON.stringify(body)}\n`, contentType);
}
