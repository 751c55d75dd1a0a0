/**
 * The lab's HTTP plumbing on plain node:http: a route table with per-route metrics, bounded JSON bodies,
 * JSON errors (every refusal is a 4xx `{error, code, …}`, a bug is a 500 without a stack), health/readiness
 * and /metrics on every service, and a keep-alive client for calls between services.
 *
 *   request ─▶ match route (404/405) ─▶ handler ─▶ JSON reply   (in-flight gauge + latency histogram around it)
 */
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { LabMetrics } from './metrics.ts';

/** A refusal with its HTTP status and a stable code; anything else thrown by a handler is a 500. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: string;
  /** Matched against the path; capture groups become `params`. */
  pattern: RegExp;
  /** Route label in metrics, e.g. `/orders/:id`. */
  label: string;
  handler: (req: IncomingMessage, params: string[]) => Promise<Reply> | Reply;
}

export const MAX_BODY_BYTES = 16 * 1024;

/** Requests being answered by this process (not /metrics), and whether it is draining (SIGTERM, drain on). */
const life = { inFlight: 0, draining: false };

export interface ServiceOptions {
  metrics: LabMetrics;
  routes: Route[];
  /** /readyz answers 200 only while this returns true. */
  ready: () => boolean;
}

/** Builds the service's HTTP server (not yet listening) with /healthz, /readyz and /metrics added. */
export function createService(options: ServiceOptions): Server {
  const { metrics } = options;
  const routes: Route[] = [
    ...options.routes,
    { method: 'GET', pattern: /^\/healthz$/, label: '/healthz', handler: () => ({ status: 200, body: { status: 'ok' } }) },
    {
      method: 'GET',
      pattern: /^\/readyz$/,
      label: '/readyz',
      handler: () => (options.ready() && !life.draining ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: 'not ready' } }),
    },
  ];
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      try {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      } catch (err) {
        sendJson(res, { status: 500, body: { error: `metrics failed: ${(err as Error).message}`, code: 'INTERNAL' } });
      }
      return;
    }
    life.inFlight += 1;
    res.once('close', () => (life.inFlight -= 1));
    const matching = routes.filter((r) => r.pattern.test(path));
    const route = matching.find((r) => r.method === req.method);
    const label = route?.label ?? matching[0]?.label ?? 'unmatched';
    const method = req.method ?? 'GET';
    metrics.inFlight.inc({ route: label });
    const end = metrics.httpDuration.startTimer({ route: label, method: route ? method : 'other' });
    let reply: Reply;
    try {
      // Every answer names the service that gave it (blast radius, debugging). Set before any handler runs, so a
      // runtime agent's route_exception (thrown at the response's first touch) lands here, as a bug at a route's
      // entry would: answered 500 by the catch below, with none of the handler's side effects.
      res.setHeader('x-lab-service', metrics.service);
      if (route === undefined) {
        // Unread bodies of refused requests are drained so the connection stays usable.
        req.resume();
        reply =
          matching.length > 0
            ? { status: 405, body: { error: `method ${method} not allowed on ${path}`, code: 'METHOD_NOT_ALLOWED' } }
            : { status: 404, body: { error: `no route ${path}`, code: 'ROUTE_NOT_FOUND' } };
      } else {
        reply = await route.handler(req, route.pattern.exec(path)!.slice(1));
      }
    } catch (err) {
      req.resume();
      if (err instanceof HttpError) reply = { status: err.status, body: { error: err.message, code: err.code, ...err.extra } };
      else {
        process.stderr.write(`${new Date().toISOString()} ${method} ${path}: ${(err as Error)?.stack ?? err}\n`);
        reply = { status: 500, body: { error: 'internal error', code: 'INTERNAL' } };
      }
    }
    metrics.inFlight.dec({ route: label });
    end({ status: String(reply.status) });
    // Draining: answer, then close the connection, so the client opens its next one elsewhere.
    if (life.draining) reply = { ...reply, headers: { ...reply.headers, connection: 'close' } };
    if (!res.destroyed) sendJson(res, reply);
  });
  // A client that never finishes its request body gets a 408 rather than holding a socket for ever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  // Longer than the clients' idle keep-alive, so a client never reuses a socket the server is closing.
  server.keepAliveTimeout = 30_000;
  return server;
}

export function sendJson(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...reply.headers,
  });
  res.end(text);
}

/**
 * Reads a JSON object body of at most MAX_BODY_BYTES: 413 when larger (refused from Content-Length before
 * reading when declared), 415 for a non-JSON content type, 400 for invalid JSON or a non-object.
 */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type must be application/json (got ${type})`);
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'BODY_TOO_LARGE', `body larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'BODY_TOO_LARGE', `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'BAD_REQUEST_BODY', 'request body is empty; expected a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, 'BAD_REQUEST_BODY', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'BAD_REQUEST_BODY', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** A validation problem with one field; handlers collect all of them, then throw `invalid(issues)`. */
export interface Issue {
  path: string;
  message: string;
}

export function invalid(issues: Issue[]): HttpError {
  return new HttpError(400, 'INVALID_INPUT', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
}

/** Parses a path id: a positive safe integer, else 400. */
export function parseId(raw: string): number {
  const id = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id) || id < 1) throw new HttpError(400, 'INVALID_ID', `order id must be a positive integer (got "${raw.slice(0, 40)}")`);
  return id;
}

/** A keep-alive pool for one dependency. Naive by default: no socket timeout, no request timeout. */
export function createAgent(maxSockets = 64): Agent {
  return new Agent({ keepAlive: true, maxSockets, scheduling: 'lifo' });
}

export interface CallResult {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
}

/**
 * One HTTP call; resolves with any response (any status), rejects only when no response arrived
 * (refused, reset, …). No timeout unless `timeoutMs` is given: that is the naive default.
 */
export function call(
  agent: Agent,
  baseUrl: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
  timeoutMs?: number,
): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, baseUrl);
    const req = request(
      url,
      {
        method,
        agent,
        headers: body === undefined ? headers : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
        signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Listens and installs the stop on SIGTERM/SIGINT. Naive: stop accepting, drop every connection (requests in
 * flight get no answer), run `close`, exit. With `drainMs()` returning a grace (the drain mitigation) a SIGTERM
 * drains instead: /readyz turns 503, no new connections, requests in flight (and ones already on an open
 * keep-alive connection) are answered with `connection: close` for up to the grace, then `close` and exit.
 *
 *   SIGTERM ─drain on─▶ not ready, close listener ─▶ wait in-flight = 0 (≤ grace) ─▶ drop idle ─▶ close() ─▶ exit
 *           └drain off▶ close listener, drop all connections ─▶ close() ─▶ exit
 */
export async function serve(server: Server, host: string, port: number, close: () => Promise<void>, drainMs?: () => number | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  let stopping = false;
  const finish = (forceMs = 3_000): void => {
    server.closeAllConnections();
    const force = setTimeout(() => process.exit(0), forceMs);
    force.unref();
    close()
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    const grace = signal === 'SIGTERM' ? drainMs?.() : undefined;
    server.close();
    if (grace === undefined) {
      finish();
      return;
    }
    life.draining = true;
    server.closeIdleConnections();
    const t0 = performance.now();
    const log = (event: string): void =>
      void process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), event, service: process.env.LAB_SERVICE, in_flight: life.inFlight, ms: Math.round(performance.now() - t0) })}\n`);
    log('drain_start');
    const tick = setInterval(() => {
      server.closeIdleConnections();
      if (life.inFlight > 0 && performance.now() - t0 < grace) return;
      clearInterval(tick);
      log(life.inFlight > 0 ? 'drain_cut' : 'drain_done');
      // `close` may finish work of its own (the worker's batch) within the same grace.
      finish(Math.max(3_000, grace + 500));
    }, 10);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
