/**
 * Discovery: what the process was seen doing, kept as counts and log-bucket latency histograms, cheap enough to
 * run on every call. It owns the map the controller shows under the target (and a later explorer walks): each
 * dependency (library, host:port), its operations (HTTP method + path shape, SQL shape, Redis command), and the
 * incoming route shapes. Caps bound the memory: past them new shapes fold into `(other)`.
 */
import type { CallMatch, ClientLibrary, DiscoverySnapshot, Dependency, LatencySummary, Operation, Route } from './protocol.ts';

const MAX_DEPENDENCIES = 64;
const MAX_OPERATIONS = 64;
const MAX_ROUTES = 128;
const OTHER = '(other)';

/** Buckets: upper bounds 0.05 ms × 1.25^i, up to ~10 min. */
const BUCKETS = 80;
const BASE_MS = 0.05;
const LOG_GROWTH = Math.log(1.25);

class Latency {
  readonly counts = new Uint32Array(BUCKETS + 1);
  count = 0;
  sum = 0;
  max = 0;

  add(ms: number): void {
    const i = ms <= BASE_MS ? 0 : Math.min(BUCKETS, Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH));
    this.counts[i]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  #quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, BASE_MS * 1.25 ** i);
    }
    return this.max;
  }

  summary(): LatencySummary {
    const r = (x: number): number => Math.round(x * 100) / 100;
    return { count: this.count, mean_ms: r(this.count ? this.sum / this.count : 0), p50_ms: r(this.#quantile(0.5)), p99_ms: r(this.#quantile(0.99)), max_ms: r(this.max) };
  }
}

interface OpState {
  calls: number;
  errors: number;
  latency: Latency;
  match: CallMatch;
}

interface DepState {
  library: ClientLibrary;
  host: string;
  port: number;
  first: number;
  last: number;
  calls: number;
  errors: number;
  latency: Latency;
  ops: Map<string, OpState>;
}

interface RouteState {
  method: string;
  path: string;
  calls: number;
  statuses: Record<string, number>;
  latency: Latency;
}

const PROTOCOL: Record<ClientLibrary, Dependency['protocol']> = { http: 'http', https: 'http', fetch: 'http', pg: 'postgres', ioredis: 'redis' };

export class Discovery {
  readonly #deps = new Map<string, DepState>();
  /** method → path shape → route (two levels: no key string is built per request). */
  readonly #routes = new Map<string, Map<string, RouteState>>();
  #routeCount = 0;
  #truncated = false;
  /** Bumped on every record: the channel sends a snapshot only when it moved. */
  version = 0;

  /**
   * One finished outgoing call.
   * `match` is called once per new operation (the params that aim a fault at exactly it).
   * @example discovery.call('pg', '127.0.0.1', 5432, 'SELECT 1', () => ({ library: ['pg'], statement: '^SELECT 1' }), 0.8, false)
   */
  call(library: ClientLibrary, host: string, port: number, op: string, match: () => CallMatch, ms: number, failed: boolean): void {
    this.version++;
    const key = `${library}://${host}:${port}`;
    let dep = this.#deps.get(key);
    if (dep === undefined) {
      if (this.#deps.size >= MAX_DEPENDENCIES) {
        this.#truncated = true;
        return;
      }
      const now = Date.now() / 1000;
      dep = { library, host, port, first: now, last: now, calls: 0, errors: 0, latency: new Latency(), ops: new Map() };
      this.#deps.set(key, dep);
    }
    dep.last = Date.now() / 1000;
    dep.calls++;
    dep.latency.add(ms);
    if (failed) dep.errors++;
    let o = dep.ops.get(op);
    if (o === undefined) {
      if (dep.ops.size >= MAX_OPERATIONS) {
        this.#truncated = true;
        op = OTHER;
        o = dep.ops.get(op);
      }
      if (o === undefined) {
        o = { calls: 0, errors: 0, latency: new Latency(), match: op === OTHER ? { library: [library], host: `${host}:${port}` } : match() };
        dep.ops.set(op, o);
      }
    }
    o.calls++;
    o.latency.add(ms);
    if (failed) o.errors++;
  }

  /** One answered incoming request. */
  route(method: string, shape: string, status: number, ms: number): void {
    this.version++;
    let byShape = this.#routes.get(method);
    if (byShape === undefined) {
      byShape = new Map();
      this.#routes.set(method, byShape);
    }
    let r = byShape.get(shape);
    if (r === undefined) {
      if (this.#routeCount >= MAX_ROUTES) {
        this.#truncated = true;
        shape = OTHER;
        r = byShape.get(shape);
      }
      if (r === undefined) {
        r = { method, path: shape, calls: 0, statuses: {}, latency: new Latency() };
        byShape.set(shape, r);
        this.#routeCount++;
      }
    }
    r.calls++;
    const cls = status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : status >= 200 ? '2xx' : '1xx';
    r.statuses[cls] = (r.statuses[cls] ?? 0) + 1;
    r.latency.add(ms);
  }

  snapshot(): DiscoverySnapshot {
    const dependencies: Dependency[] = [...this.#deps.entries()].map(([id, d]) => ({
      id,
      library: d.library,
      protocol: PROTOCOL[d.library],
      host: d.host,
      port: d.port,
      first_seen: Math.round(d.first),
      last_seen: Math.round(d.last),
      calls: d.calls,
      errors: d.errors,
      latency: d.latency.summary(),
      operations: [...d.ops.entries()].map(([op, o]): Operation => ({ op, calls: o.calls, errors: o.errors, latency: o.latency.summary(), match: o.match })),
      faults: ['call_latency', 'call_error'],
    }));
    const routes: Route[] = [...this.#routes.values()].flatMap((m) => [...m.values()]).map((r) => ({
      method: r.method,
      path: r.path,
      calls: r.calls,
      statuses: { ...r.statuses },
      latency: r.latency.summary(),
      match: { method: [r.method], path: r.path },
    }));
    return { at: Date.now() / 1000, dependencies, routes, truncated: this.#truncated };
  }
}
