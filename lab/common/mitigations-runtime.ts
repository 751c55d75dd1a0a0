/**
 * One process's mitigations, assembled: this module alone composes the policies around a service's work and
 * serves the live switch. A service makes one `Resilience` and uses three things from it:
 *
 *   admit(pool, handler)      inbound:  limiter (shed, 503 + Retry-After) ─▶ bulkhead (slots per pool) ─▶ handler
 *   guard(dep, deadline, fn)  outbound: retry (budget, backoff) ─▶ breaker ─▶ per-attempt timeout ─▶ fn(timeoutMs)
 *   routes()                  GET/POST /__lab/mitigations (loopback only): read or replace the settings block
 *
 * With every switch off each wrapper is a straight call, so the naive preset behaves exactly as before.
 *
 * A live switch survives the process: each change is kept in $LAB_STATE_DIR/lab-mitigations/<service>.json, and
 * a process restarted after a kill, an OOM or a SIGTERM starts from it rather than from LAB_MITIGATIONS — else a
 * mitigated run would get a naive replacement. The file is used only while LAB_MITIGATIONS is what it was when
 * the file was written, so `up --mitigations X` (a new environment) starts from X.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type client from 'prom-client';
import { Breaker, BrokenCircuitError } from './breaker.ts';
import { Bulkhead, BulkheadFullError } from './bulkhead.ts';
import { Deadline, DeadlineExceededError } from './deadline.ts';
import { HttpError, readJsonObject, type Reply, type Route } from './http.ts';
import { AimdLimit, ConcurrencyLimiter, Gradient2Limit } from './limiter.ts';
import { MitigationMetrics, POOLS, type Pool } from './mitigations-metrics.ts';
import { MitigationsError, MitigationState, parseMitigations, type Mitigations } from './mitigations.ts';
import { withRetries } from './retry.ts';
import { RetryBudget } from './retry-budget.ts';
import { TimeoutError } from './timeouts.ts';

export type TimeoutKind = 'payments_ms' | 'postgres_ms' | 'redis_ms' | 'upstream_ms';

export interface GuardOptions {
  /** Which timeout setting applies to each attempt. */
  timeout: TimeoutKind;
  /** Set only for calls that are safe to repeat; decides which failures are worth a retry. */
  retryable?: (err: unknown) => boolean;
  /** Route attempts through this dependency's breaker (it must be listed in `breakers`). */
  breaker?: boolean;
  /**
   * What the naive client does on its own (timeouts and retries switched off): a short per-attempt timeout and
   * up to `attempts` attempts, the next sent at once after any failure (a timeout included), with no budget.
   */
  naive?: { attempts: number; timeout_ms: number };
}

export interface ResilienceOptions {
  /** Dependencies this process calls (for metric labels). */
  dependencies: readonly string[];
  /** Dependencies that get a circuit breaker. */
  breakers?: readonly string[];
  /**
   * Slots of the one handler pool reads and writes share while bulkheads are off (a worker-thread pool, a
   * Puma/gunicorn thread count): beyond them requests wait in an unbounded queue. Unset: no shared pool.
   */
  handlerConcurrency?: number;
  state?: MitigationState;
}

/** How long a request may wait in a bulkhead's queue: short, since a queued request is already late. */
const BULKHEAD_MAX_WAIT_MS = 200;

export class Resilience {
  readonly state: MitigationState;
  readonly metrics: MitigationMetrics;
  readonly #breakers = new Map<string, Breaker>();
  readonly #budgets = new Map<string, RetryBudget>();
  readonly #limiters = new Map<Pool, ConcurrencyLimiter>();
  readonly #bulkheads = new Map<Pool, Bulkhead>();
  readonly #shared: Bulkhead | undefined;
  readonly #options: ResilienceOptions;

  constructor(registry: client.Registry, options: ResilienceOptions) {
    this.#options = options;
    this.#shared = options.handlerConcurrency === undefined ? undefined : new Bulkhead('shared', options.handlerConcurrency, Infinity);
    this.state = options.state ?? persistedState() ?? MitigationState.fromEnv();
    if (options.state === undefined) this.state.onChange(persist);
    this.metrics = new MitigationMetrics(registry, this.state, options.dependencies);
    this.#build(this.state.current, undefined);
    this.state.onChange((next) => this.#build(next, this.#last));
  }

  #last: Mitigations | undefined;

  /** (Re)builds what holds state; a policy whose settings did not change keeps its state. */
  #build(m: Mitigations, prev: Mitigations | undefined): void {
    const changed = (k: keyof Mitigations): boolean => prev === undefined || JSON.stringify(prev[k]) !== JSON.stringify(m[k]);
    if (changed('breaker')) {
      for (const b of this.#breakers.values()) b.dispose();
      this.#breakers.clear();
      for (const dep of this.#options.breakers ?? []) this.#breakers.set(dep, new Breaker(dep, m.breaker, this.metrics));
    }
    if (changed('retries')) {
      this.#budgets.clear();
      for (const dep of this.#options.dependencies) {
        this.#budgets.set(dep, new RetryBudget({ percent: m.retries.budget_percent / 100, minPerSec: m.retries.min_per_s, ttlS: m.retries.ttl_s }));
      }
    }
    if (changed('limiter')) {
      const l = m.limiter;
      for (const pool of POOLS) {
        const algo = l.algorithm === 'aimd' ? new AimdLimit(l) : new Gradient2Limit(l);
        this.#limiters.set(pool, new ConcurrencyLimiter(algo));
        this.metrics.limit.set({ pool }, algo.limit);
      }
    }
    for (const pool of POOLS) {
      const limit = pool === 'read' ? m.bulkheads.read_limit : m.bulkheads.write_limit;
      const existing = this.#bulkheads.get(pool);
      if (existing) existing.resize(limit, m.bulkheads.queue);
      else this.#bulkheads.set(pool, new Bulkhead(pool, limit, m.bulkheads.queue));
    }
    this.#last = m;
  }

  get current(): Mitigations {
    return this.state.current;
  }

  /** The request's deadline when timeouts are on (from `x-deadline-ms`, capped by the default); none otherwise. */
  deadline(req: IncomingMessage): Deadline {
    const t = this.current.timeouts;
    return t.enabled ? Deadline.fromRequest(req, t.default_deadline_ms) : Deadline.none();
  }

  /** The timeout for one step: the setting cut to the deadline; undefined when timeouts are off. */
  timeout(kind: TimeoutKind, deadline: Deadline, step: string): number | undefined {
    const t = this.current.timeouts;
    try {
      return deadline.budget(t.enabled ? t[kind] : undefined, step);
    } catch (err) {
      if (err instanceof DeadlineExceededError) this.metrics.deadlineExceeded.inc({ step });
      throw err;
    }
  }

  /** True while `dependency`'s breaker is on and not closed (open or probing). */
  breakerOpen(dependency: string): boolean {
    return this.current.breaker.enabled && (this.#breakers.get(dependency)?.state ?? 0) !== 0;
  }

  /**
   * One outbound call with every outbound mitigation that is switched on. `fn` gets the attempt's timeout
   * (undefined when off) and must throw on a failure the breaker should count.
   * @example await res.guard('payments', deadline, (ms) => chargeOnce(ms), { timeout: 'payments_ms', breaker: true, retryable });
   */
  async guard<T>(dependency: string, deadline: Deadline, fn: (timeoutMs: number | undefined, attempt: number) => Promise<T>, options: GuardOptions): Promise<T> {
    const m = this.current;
    const once = async (n: number): Promise<T> => {
      let ms = this.timeout(options.timeout, deadline, dependency);
      if (ms === undefined && !m.timeouts.enabled && options.naive) ms = options.naive.timeout_ms;
      try {
        return await fn(ms, n);
      } catch (err) {
        if (isTimeout(err)) this.metrics.timeouts.inc({ dependency });
        throw err;
      }
    };
    const breaker = options.breaker && m.breaker.enabled ? this.#breakers.get(dependency) : undefined;
    const attempt = breaker ? (n: number) => breaker.execute(() => once(n)) : once;
    const budget = this.#budgets.get(dependency);
    if (!m.retries.enabled && options.naive !== undefined) {
      // The naive client: again at once, whatever failed, no budget, no backoff.
      for (let n = 1; ; n++) {
        try {
          return await attempt(n);
        } catch (err) {
          if (n >= options.naive.attempts || err instanceof BrokenCircuitError) throw err;
          this.metrics.retries.inc({ dependency });
        }
      }
    }
    if (!m.retries.enabled || options.retryable === undefined || budget === undefined) return attempt(1);
    const retryable = options.retryable;
    return withRetries(
      {
        dependency,
        settings: m.retries,
        budget,
        deadline,
        metrics: this.metrics,
        // Never retry what the breaker refused or what ran out of deadline: both mean "stop now".
        retryable: (err) => !(err instanceof BrokenCircuitError) && !(err instanceof DeadlineExceededError) && retryable(err),
      },
      attempt,
    );
  }

  /** Wraps a route handler with the inbound mitigations of its pool. */
  admit(pool: Pool, handler: Route['handler']): Route['handler'] {
    return async (req, params) => {
      const m = this.current;
      let permit: ReturnType<ConcurrencyLimiter['tryAcquire']>;
      const limiter = this.#limiters.get(pool)!;
      if (m.limiter.enabled) {
        permit = limiter.tryAcquire();
        if (permit === undefined) {
          this.metrics.shed.inc({ pool });
          return overloaded(req, 'SHED', `${pool} path at its concurrency limit (${limiter.limit}); retry later`);
        }
      }
      let release: (() => void) | undefined;
      let sharedRelease: (() => void) | undefined;
      const bulkhead = this.#bulkheads.get(pool)!;
      const shared = this.#shared;
      if (!m.bulkheads.enabled && shared) {
        // Naive: one pool for reads and writes, an unbounded queue; a slow write holds a slot a read waits for.
        const wait = shared.acquire();
        this.metrics.handlerWaiting.set(shared.waiting);
        sharedRelease = await wait;
        this.metrics.handlerWaiting.set(shared.waiting);
        this.metrics.handlerActive.set(shared.active);
      }
      if (m.bulkheads.enabled) {
        try {
          const wait = bulkhead.acquire(BULKHEAD_MAX_WAIT_MS);
          this.metrics.bulkheadWaiting.set({ pool }, bulkhead.waiting);
          release = await wait;
        } catch (err) {
          if (!(err instanceof BulkheadFullError)) throw err;
          permit?.release(true);
          this.metrics.bulkheadRejections.inc({ pool });
          return overloaded(req, 'BULKHEAD_FULL', `${pool} bulkhead full (${bulkhead.limit} in flight); retry later`);
        } finally {
          this.metrics.bulkheadWaiting.set({ pool }, bulkhead.waiting);
        }
        this.metrics.bulkheadActive.set({ pool }, bulkhead.active);
      }
      let dropped = true;
      try {
        const reply = await handler(req, params);
        dropped = reply.status === 503 || reply.status === 504;
        return reply;
      } catch (err) {
        dropped = !(err instanceof HttpError) || err.status === 503 || err.status === 504;
        // Out of time (ours or a dependency's): a clear 504 rather than a 500 that looks like a bug.
        if (err instanceof DeadlineExceededError || isTimeout(err)) {
          req.resume();
          return { status: 504, body: { error: (err as Error).message, code: err instanceof DeadlineExceededError ? 'DEADLINE_EXCEEDED' : 'DEPENDENCY_TIMEOUT' } };
        }
        throw err;
      } finally {
        if (sharedRelease && shared) {
          sharedRelease();
          this.metrics.handlerActive.set(shared.active);
          this.metrics.handlerWaiting.set(shared.waiting);
        }
        if (release) {
          release();
          this.metrics.bulkheadActive.set({ pool }, bulkhead.active);
        }
        if (permit) {
          permit.release(dropped);
          this.metrics.limit.set({ pool }, limiter.limit);
        }
      }
    };
  }

  /** GET/POST /__lab/mitigations: the live switch (loopback callers only). */
  routes(): Route[] {
    const path = /^\/__lab\/mitigations$/;
    return [
      {
        method: 'GET',
        pattern: path,
        label: '/__lab/mitigations',
        handler: (req) => {
          loopbackOnly(req);
          req.resume();
          return { status: 200, body: this.current };
        },
      },
      {
        method: 'POST',
        pattern: path,
        label: '/__lab/mitigations',
        handler: async (req) => {
          loopbackOnly(req);
          const body = await readJsonObject(req);
          let next: Mitigations;
          try {
            next = parseMitigations(body);
          } catch (err) {
            if (!(err instanceof MitigationsError)) throw err;
            throw new HttpError(400, 'INVALID_INPUT', err.message, { issues: err.issues });
          }
          this.state.set(next);
          return { status: 200, body: next };
        },
      },
    ];
  }
}

/** Where this process keeps its live settings, or undefined without LAB_STATE_DIR / LAB_SERVICE. */
function persistedFile(): string | undefined {
  const dir = process.env.LAB_STATE_DIR;
  const service = process.env.LAB_SERVICE;
  return dir && service && /^[A-Za-z0-9_.-]+$/.test(service) ? join(dir, 'lab-mitigations', `${service}.json`) : undefined;
}

function persistedState(): MitigationState | undefined {
  const file = persistedFile();
  if (file === undefined) return undefined;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { env?: string; block?: unknown };
    if (saved.env !== (process.env.LAB_MITIGATIONS ?? '')) return undefined;
    return new MitigationState(parseMitigations(saved.block));
  } catch {
    return undefined; // none yet, or unreadable: the environment decides
  }
}

function persist(m: Mitigations): void {
  const file = persistedFile();
  if (file === undefined) return;
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ env: process.env.LAB_MITIGATIONS ?? '', block: m }));
    renameSync(tmp, file);
  } catch (err) {
    process.stderr.write(`mitigations: could not keep the live settings (${(err as Error).message})\n`);
  }
}

/** A timeout of any origin: ours (pg, Redis) or an aborted HTTP request. */
export function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'));
}

function overloaded(req: IncomingMessage, code: string, message: string): Reply {
  req.resume();
  return { status: 503, body: { error: message, code }, headers: { 'retry-after': '1' } };
}

function loopbackOnly(req: IncomingMessage): void {
  const addr = req.socket.remoteAddress ?? '';
  if (!(addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'))) {
    req.resume();
    throw new HttpError(403, 'FORBIDDEN', 'the mitigation switch answers loopback callers only');
  }
}
