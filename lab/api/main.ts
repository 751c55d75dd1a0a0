/**
 * `api`: the lab's front door. Checks a bearer JWT (HS256, exp/nbf against this process's clock), then
 * spreads requests round-robin over the orders instances it is given (LAB_ORDERS_<n>_URL, each a fault proxy).
 * An instance is taken out of rotation passively (a call that got no response ejects it for a while, longer
 * each time in a row) and actively (a /readyz probe every second; unhealthy until it answers again).
 * Naive by default: one keep-alive pool per instance for reads and writes alike, bounded at LAB_API_MAX_SOCKETS
 * (a request beyond it waits for a socket), a request that fails is not retried elsewhere, and calls have no
 * timeout; each mitigation
 * is a switch (LAB_MITIGATIONS, or live via POST /__lab/mitigations — see lab/README.md).
 *
 *   client ─▶ auth ─▶ validate ─▶ pick instance (healthy, not ejected; all if none) ─▶ forward ─▶ answer
 */
import type { IncomingMessage } from 'node:http';
import client from 'prom-client';
import { env, envNumber, serviceAddress } from '../common/config.ts';
import { call, createAgent, createService, HttpError, parseId, readJsonObject, serve, type CallResult, type Reply } from '../common/http.ts';
import { verifyToken, TokenError } from '../common/jwt.ts';
import { LabMetrics, outcomeOf } from '../common/metrics.ts';
// ── mitigations (switches; all off by default) ──
import type { Deadline } from '../common/deadline.ts';
import type { Pool } from '../common/mitigations-metrics.ts';
import { isTimeout, Resilience } from '../common/mitigations-runtime.ts';

const { name, host, port } = serviceAddress();
const metrics = new LabMetrics(name);
const secret = env('LAB_JWT_SECRET');
const LEEWAY_S = envNumber('LAB_API_TOKEN_LEEWAY_S', 0);
const HEALTH_INTERVAL_MS = envNumber('LAB_API_HEALTH_INTERVAL_MS', 1_000);
const EJECT_BASE_MS = envNumber('LAB_API_EJECT_MS', 5_000);
/** Sockets per orders instance (per pool, with bulkheads on): an HTTP client's usual bounded pool. */
const MAX_SOCKETS = envNumber('LAB_API_MAX_SOCKETS', 16);

interface Upstream {
  name: string;
  url: string;
  agent: ReturnType<typeof createAgent>;
  /** With bulkheads on, writes use their own socket pool, so slow writes cannot queue reads behind them. */
  writeAgent: ReturnType<typeof createAgent>;
  /** Active health: false after a failed /readyz probe, true after a good one. */
  healthy: boolean;
  /** Passive: out of rotation until this monotonic time. */
  ejectedUntil: number;
  /** Ejections in a row: each doubles the next ejection (capped at 8×). */
  streak: number;
}

const upstreams: Upstream[] = Object.entries(process.env)
  .filter(([k, v]) => /^LAB_ORDERS_\d+_URL$/.test(k) && v)
  .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
  .map(([k, v]) => ({
    name: `orders-${/\d+/.exec(k)![0]}`,
    url: v!,
    agent: createAgent(MAX_SOCKETS),
    writeAgent: createAgent(MAX_SOCKETS),
    healthy: true,
    ejectedUntil: 0,
    streak: 0,
  }));
if (upstreams.length === 0) throw new Error('api: no LAB_ORDERS_<n>_URL in the environment');
for (const u of upstreams) metrics.watchAgent(u.name, u.agent);
for (const u of upstreams) metrics.watchAgent(`${u.name}-write`, u.writeAgent);
const resilience = new Resilience(metrics.registry, { dependencies: ['orders'] });

new client.Gauge({
  name: 'lab_upstream_available',
  help: '1 when an orders instance is in rotation (healthy and not ejected).',
  labelNames: ['upstream'] as const,
  registers: [metrics.registry],
  collect() {
    for (const u of upstreams) this.set({ upstream: u.name }, available(u, performance.now()) ? 1 : 0);
  },
});
const ejections = new client.Counter({
  name: 'lab_upstream_ejections_total',
  help: 'Times an orders instance was taken out of rotation, by upstream and reason (passive, active).',
  labelNames: ['upstream', 'reason'] as const,
  registers: [metrics.registry],
});
const routed = new client.Counter({
  name: 'lab_upstream_requests_total',
  help: 'Requests forwarded to each orders instance, by outcome (ok, http_4xx, http_5xx, error).',
  labelNames: ['upstream', 'outcome'] as const,
  registers: [metrics.registry],
});
const authFailures = new client.Counter({
  name: 'lab_auth_failures_total',
  help: 'Requests refused for their token, by reason.',
  labelNames: ['reason'] as const,
  registers: [metrics.registry],
});
for (const u of upstreams) for (const reason of ['passive', 'active']) ejections.inc({ upstream: u.name, reason }, 0);

function available(u: Upstream, now: number): boolean {
  return u.healthy && now >= u.ejectedUntil;
}

let cursor = 0;
/** Round-robin over the instances in rotation; with none in rotation, over all (better than refusing all). */
function pick(): Upstream {
  const now = performance.now();
  const pool = upstreams.filter((u) => available(u, now));
  const from = pool.length > 0 ? pool : upstreams;
  cursor = (cursor + 1) % from.length;
  return from[cursor];
}

function eject(u: Upstream): void {
  const now = performance.now();
  if (now < u.ejectedUntil) return;
  u.streak = Math.min(u.streak + 1, 4);
  u.ejectedUntil = now + EJECT_BASE_MS * 2 ** (u.streak - 1);
  ejections.inc({ upstream: u.name, reason: 'passive' });
}

function authenticate(req: IncomingMessage): void {
  const header = req.headers.authorization;
  try {
    if (header === undefined || header === '') throw new TokenError('missing');
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match) throw new TokenError('malformed');
    const skew = resilience.current.clock_skew;
    verifyToken(match[1], secret, Date.now() / 1000, skew.enabled ? skew.leeway_s : LEEWAY_S);
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    authFailures.inc({ reason: err.reason });
    throw new HttpError(401, 'UNAUTHORIZED', err.message, { reason: err.reason });
  }
}

const PASSED_HEADERS = ['x-lab-source', 'x-lab-instance', 'idempotent-replayed', 'x-lab-degraded', 'x-lab-stale'];

/** An orders instance refused before doing any work (shed, bulkhead full): safe and useful to try another. */
class RefusedAnswer extends Error {
  constructor(
    readonly u: Upstream,
    readonly res: CallResult,
  ) {
    super(`${u.name} answered ${res.status}`);
  }
}

/** No response from an instance; a timeout is not the instance's fault (it is likely waiting on payments). */
class NoResponse extends Error {
  constructor(
    readonly u: Upstream,
    override readonly cause: unknown,
  ) {
    super(`${u.name} gave no response (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`);
  }
}

/**
 * Forwards to one instance; with retries on, a refused or unanswered request is tried on another instance.
 * Both routes are safe to repeat: GET is idempotent and POST /orders carries the client's idempotency key,
 * which orders dedupes on (and derives the payments key from), so a retried POST never makes a second charge.
 */
async function forward(method: string, path: string, body: string | undefined, headers: Record<string, string>, deadline: Deadline, pool: Pool): Promise<Reply> {
  const bulkheads = resilience.current.bulkheads.enabled;
  const once = async (timeoutMs: number | undefined): Promise<{ u: Upstream; res: CallResult }> => {
    const u = pick();
    const agent = bulkheads && pool === 'write' ? u.writeAgent : u.agent;
    let res: CallResult;
    try {
      res = await metrics.timeDependency(
        u.name,
        method === 'POST' ? 'create_order' : 'get_order',
        () => call(agent, u.url, method, path, body, { ...headers, ...deadline.header() }, timeoutMs),
        (r) => outcomeOf(r.status),
      );
    } catch (err) {
      routed.inc({ upstream: u.name, outcome: 'error' });
      if (!isTimeout(err)) eject(u);
      throw new NoResponse(u, err);
    }
    routed.inc({ upstream: u.name, outcome: outcomeOf(res.status) });
    u.streak = 0;
    if (res.status === 503 && resilience.current.retries.enabled) throw new RefusedAnswer(u, res);
    return { u, res };
  };
  let u: Upstream;
  let res: CallResult;
  try {
    ({ u, res } = await resilience.guard('orders', deadline, once, {
      timeout: 'upstream_ms',
      retryable: (err) => err instanceof RefusedAnswer || (err instanceof NoResponse && !isTimeout(err.cause)),
    }));
  } catch (err) {
    if (err instanceof RefusedAnswer) ({ u, res } = err);
    else if (err instanceof NoResponse && isTimeout(err.cause)) {
      throw new HttpError(504, 'UPSTREAM_TIMEOUT', err.message, { upstream: err.u.name });
    } else if (err instanceof NoResponse) throw new HttpError(502, 'UPSTREAM_FAILED', err.message, { upstream: err.u.name });
    else throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.text);
  } catch {
    throw new HttpError(502, 'UPSTREAM_BAD_RESPONSE', `${u.name} answered ${res.status} without JSON`, { upstream: u.name });
  }
  const out: Record<string, string> = { 'x-lab-upstream': u.name };
  if (res.status === 503 && typeof res.headers['retry-after'] === 'string') out['retry-after'] = res.headers['retry-after'];
  for (const h of PASSED_HEADERS) {
    const v = res.headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  return { status: res.status, body: parsed, headers: out };
}

async function postOrder(req: IncomingMessage): Promise<Reply> {
  authenticate(req);
  const deadline = resilience.deadline(req);
  // Parse here so malformed or oversized bodies are refused at the edge; orders validates the fields.
  const body = await readJsonObject(req);
  // Who the order is for travels as a header too, as request context does between real services (logs, tracing,
  // and a fault matched on one customer: route_exception with headers {x-customer-id: "42"}).
  const customer: Record<string, string> = Number.isSafeInteger(body.customer_id) ? { 'x-customer-id': String(body.customer_id) } : {};
  return forward('POST', '/orders', JSON.stringify(body), customer, deadline, 'write');
}

async function getOrder(req: IncomingMessage, [raw]: string[]): Promise<Reply> {
  authenticate(req);
  req.resume();
  const id = parseId(raw);
  const cc = req.headers['cache-control'];
  return forward('GET', `/orders/${id}`, undefined, typeof cc === 'string' ? { 'cache-control': cc } : {}, resilience.deadline(req), 'read');
}

/** Active health checks: probes have a timeout (they are the checker, not the request path). */
function startHealthChecks(): () => void {
  let stopped = false;
  const timers = upstreams.map((u) => {
    const tick = async (): Promise<void> => {
      let ok = false;
      try {
        ok = (await call(u.agent, u.url, 'GET', '/readyz', undefined, {}, HEALTH_INTERVAL_MS)).status === 200;
      } catch {
        ok = false;
      }
      if (!ok && u.healthy) ejections.inc({ upstream: u.name, reason: 'active' });
      if (ok && !u.healthy) u.streak = 0;
      u.healthy = ok;
      if (!stopped) timer = setTimeout(tick, HEALTH_INTERVAL_MS);
    };
    let timer = setTimeout(tick, HEALTH_INTERVAL_MS);
    return () => clearTimeout(timer);
  });
  return () => {
    stopped = true;
    for (const stop of timers) stop();
  };
}

const server = createService({
  metrics,
  ready: () => upstreams.some((u) => available(u, performance.now())),
  routes: [
    { method: 'POST', pattern: /^\/orders$/, label: '/orders', handler: resilience.admit('write', postOrder) },
    { method: 'GET', pattern: /^\/orders\/([^/]*)$/, label: '/orders/:id', handler: resilience.admit('read', getOrder) },
    ...resilience.routes(),
  ],
});
const stopChecks = startHealthChecks();
await serve(server, host, port, async () => stopChecks(), () => (resilience.current.drain.enabled ? resilience.current.drain.grace_ms : undefined));
process.stdout.write(`${name} listening on ${host}:${port}, upstreams ${upstreams.map((u) => u.name).join(', ')}\n`);
