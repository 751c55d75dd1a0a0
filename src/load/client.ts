/**
 * The HTTP side of the generator: one undici Pool per run (keep-alive connections, pipelining 1 by default so one
 * slow response never delays the requests behind it), driven through `dispatch` with a small handler per request —
 * no fetch, no streams, no promise per request. Owns error classification (timeout vs connection), and the
 * connections opened before the schedule starts (warm-up): the pool's connector hands those out first.
 *
 *   engine ──dispatch(opts, RequestHandler)──▶ Pool ──connector: a pre-opened socket, else a new one──▶ socket
 *                  ▲ onConnect: written to a connection (actual send time)
 *                  └ onComplete / onError ──▶ engine.answered / engine.failed
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import { now } from '../core/clock.ts';
import type { FailureClass } from './aggregate.ts';

export interface ClientOptions {
  /** `http://127.0.0.1:port` — the origin only; paths come from the mix. */
  origin: string;
  connections: number;
  pipelining: number;
  /** Headers and body timeouts, each; a request queued in the pool is not yet timed. */
  timeout_ms: number;
}

/**
 * Opens up to `n` TCP connections to a plain-http origin and resolves with those that connected within
 * `timeout_ms` (none for https:, or when nobody listens): the DNS lookup and handshakes happen before t0, not in
 * the first milliseconds of the schedule. No byte is written on them.
 * @example const spare = await preconnect('http://127.0.0.1:8080', 8, 1000); // → new LoadClient(opts, spare)
 */
export async function preconnect(origin: string, n: number, timeout_ms: number): Promise<Socket[]> {
  const url = new URL(origin);
  if (url.protocol !== 'http:' || n <= 0) return [];
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  const one = (): Promise<Socket | undefined> =>
    new Promise((resolve) => {
      const s = tcpConnect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
      const timer = setTimeout(() => done(undefined), timeout_ms);
      const done = (ok: Socket | undefined): void => {
        clearTimeout(timer);
        s.off('connect', onConnect).off('error', onError);
        if (!ok) s.destroy();
        resolve(ok);
      };
      const onConnect = (): void => done(s);
      const onError = (): void => done(undefined);
      s.once('connect', onConnect).once('error', onError);
    });
  const got = await Promise.all(Array.from({ length: n }, one));
  return got.filter((s): s is Socket => s !== undefined);
}

/** Where a request's outcome goes (the engine). `i` is the request's index in the run. */
export interface OutcomeSink {
  answered(ep: number, i: number, status: number, intendedAt: number, sentAt: number): void;
  failed(ep: number, i: number, cls: FailureClass): void;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
const REFUSED_CODES = new Set(['ECONNREFUSED']);

/**
 * Sorts a request failure into the classes reports show: timeout, refused (nobody listening), reset (every other
 * way a connection breaks: ECONNRESET, EPIPE, the peer closing mid-request, undici's socket errors).
 * @example classify(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })) // 'refused'
 */
export function classify(err: unknown): FailureClass {
  const e = err as { code?: string; cause?: { code?: string } } | null;
  const code = e?.code === 'UND_ERR_CONNECT' || e?.code === undefined ? (e?.cause?.code ?? e?.code) : e.code;
  if (code !== undefined && TIMEOUT_CODES.has(code)) return 'timeout';
  if (code !== undefined && REFUSED_CODES.has(code)) return 'refused';
  return 'reset';
}

/**
 * undici's low-level handler for one request. The legacy callback set is undici's native shape (the newer
 * controller API is wrapped into it), so using it costs one object per request and nothing more.
 */
class RequestHandler {
  readonly #sink: OutcomeSink;
  readonly #ep: number;
  readonly #i: number;
  readonly #intendedAt: number;
  #sentAt = 0;
  #status = 0;

  constructor(sink: OutcomeSink, ep: number, i: number, intendedAt: number) {
    this.#sink = sink;
    this.#ep = ep;
    this.#i = i;
    this.#intendedAt = intendedAt;
  }

  // Called when the request is written to a connection (again, if a pipelined retry re-sends it).
  onConnect(): void {
    this.#sentAt = now();
  }

  onHeaders(statusCode: number): boolean {
    this.#status = statusCode;
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.#sink.answered(this.#ep, this.#i, this.#status, this.#intendedAt, this.#sentAt === 0 ? this.#intendedAt : this.#sentAt);
  }

  onError(err: Error): void {
    this.#sink.failed(this.#ep, this.#i, classify(err));
  }
}

/**
 * A connection pool to one loopback origin.
 * @example
 *   const c = new LoadClient({ origin: 'http://127.0.0.1:8080', connections: 64, pipelining: 1, timeout_ms: 10_000 });
 *   c.send(sink, 0, 0, now(), { method: 'GET', path: '/', headers: [], body: undefined });
 *   await c.close();
 */
export class LoadClient {
  readonly #pool: Pool;
  /** Connections opened before t0, not yet taken by the pool (closed by the peer → dropped from here). */
  readonly #spare: Socket[];

  /** `spare`: connections from `preconnect`, used before the pool opens any of its own. */
  constructor(opts: ClientOptions, spare: Socket[] = []) {
    this.#spare = spare;
    for (const s of spare) s.once('close', () => this.#forget(s)).on('error', () => {});
    const fresh = buildConnector({ timeout: Math.min(opts.timeout_ms, 10_000) });
    this.#pool = new Pool(opts.origin, {
      connections: opts.connections,
      pipelining: opts.pipelining,
      headersTimeout: opts.timeout_ms,
      bodyTimeout: opts.timeout_ms,
      connect: (o, cb) => {
        const s = o.protocol === 'http:' ? this.#takeSpare() : undefined;
        if (s === undefined) return fresh(o, cb);
        // Handed over as a connector's socket would be (asynchronously, like a 'connect' event).
        queueMicrotask(() => cb(null, s));
      },
      keepAliveTimeout: 30_000,
    });
    // A pool with no error listener would crash the process on a connection error between requests.
    this.#pool.on('connectionError', () => {});
  }

  send(
    sink: OutcomeSink,
    ep: number,
    i: number,
    intendedAt: number,
    req: { method: string; path: string; headers: string[]; body: string | undefined },
  ): void {
    this.#pool.dispatch(
      { method: req.method as 'GET', path: req.path, headers: req.headers, body: req.body },
      new RequestHandler(sink, ep, i, intendedAt) as never,
    );
  }

  #takeSpare(): Socket | undefined {
    for (let s = this.#spare.pop(); s !== undefined; s = this.#spare.pop()) {
      s.removeAllListeners('close').removeAllListeners('error');
      if (!s.destroyed && s.readyState === 'open') return s;
      s.destroy();
    }
    return undefined;
  }

  #forget(s: Socket): void {
    const k = this.#spare.indexOf(s);
    if (k >= 0) this.#spare.splice(k, 1);
  }

  /** Pre-opened connections the pool has not needed yet. */
  get spare(): number {
    return this.#spare.length;
  }

  /** Closes gracefully, or at once (failing whatever is still in flight) when `force`. */
  async close(force = false): Promise<void> {
    for (const s of this.#spare.splice(0)) s.destroy();
    if (force) await this.#pool.destroy();
    else await this.#pool.close();
  }
}
