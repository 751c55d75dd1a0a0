/**
 * The library entry point of the load generator: validates options (every problem, each naming its field), wires
 * schedule + mix + client + engine + aggregator + outputs for one run, and exposes the run as an async iterable of
 * SecondSamples ending with the LoadSummary. Also owns the run's validity verdict (generator-bound or not).
 *
 *   options ─validate─▶ executor.plan ─▶ Schedule ┐
 *                       mix ─▶ RequestFactory ────┼─▶ Engine ─▶ Aggregator ─▶ seconds ─▶ outputs + iterator
 *                       LoadClient (undici Pool) ─┘                          └─ summary (valid?) ─┘
 */
import { z } from 'zod';
import { FaultlineError, type Issue } from '../core/errors.ts';
import { Aggregator } from './aggregate.ts';
import { ARRIVAL_KINDS, Schedule, type ArrivalKind } from './arrivals.ts';
import { LoadClient } from './client.ts';
import { DEFAULT_SELF_WATCH, Engine, type SelfWatch } from './engine.ts';
import { EXECUTORS } from './executors/index.ts';
import { compileMix, DEFAULT_EXPECT, defaultMix, loadMixFile, RequestFactory, type CompiledMix, type MixSpec, type PlannedRequest } from './mix.ts';
import type { LoadOutput, RunInfo } from './outputs/output.ts';
import type { RateProfile } from './profile.ts';
import type { LoadEvent, LoadSummary, OpenRequest, RequestRecord, SecondSample } from './samples.ts';
import { DEFAULT_REHEARSAL_MS, warmConnections, warmUp, type WarmupReport, type WarmupSettings } from './warmup.ts';

/** Which executor and its config, e.g. `{ executor: 'constant', rate_rps: 500, duration_ms: 60_000 }`. */
export type ScheduleSpec =
  | { executor: 'constant'; rate_rps: number; duration_ms: number }
  | { executor: 'ramping'; start_rps?: number; stages: { duration_ms: number; target_rps: number }[] }
  | { executor: 'breakpoint'; start_rps: number; step_rps: number; step_factor?: number; step_duration_ms: number; max_rps: number };

export interface LoadOptions {
  /** Loopback origin (and optional path prefix): `http://127.0.0.1:8080`. */
  target: string;
  schedule: ScheduleSpec;
  /** Default uniform (evenly spaced); poisson draws exponential gaps from the seed. */
  arrivals?: ArrivalKind;
  /** A mix object (the mix file's shape) … */
  mix?: MixSpec;
  /** … or a YAML mix file; neither = GET the target URL. */
  mixFile?: string;
  /** The values the mix's `${NAME}` references read (default: this process's environment). */
  mixEnv?: Record<string, string | undefined>;
  /** uint32; default: a random one, reported in the summary so the run can be repeated. */
  seed?: number;
  /** accuracy: pipelining 1, many connections. throughput: pipelining > 1 (head-of-line blocking skews latency). */
  mode?: 'accuracy' | 'throughput';
  connections?: number;
  pipelining?: number;
  /** Arrivals beyond this many requests in flight (queued in the pool included) are dropped and counted. */
  max_in_flight?: number;
  timeout_ms?: number;
  /** The run is invalid (generator-bound) when dispatch lag p99 exceeds this. Default 5 ms. */
  max_lag_ms?: number;
  /**
   * For endpoints without `expect:` in the mix: statuses from this one up are errors (ok = 200 … this − 1).
   * Default: none, i.e. ok = 200–399.
   */
  error_status_from?: number;
  /** Per-request records, as each request settles (the runner's users' SLIs); also enables `outstanding()`. */
  on_request?: (r: RequestRecord) => void;
  /** When a second is unmeasurable; default lag 100 ms, event-loop delay 100 ms (cpu_pressure: for window judges). */
  self_watch?: Partial<SelfWatch>;
  /**
   * Busy-wait window before each arrival, ms. 0 (default) = timers only: dispatch lag p50 ~0.7 ms, p99 ~2 ms, and
   * the generator leaves the CPU to the system under test. 1 = µs lag, at the price of one busy core — which on a
   * shared machine the OS scheduler punishes with preemptions longer than what it saves.
   */
  spin_ms?: number;
  outputs?: LoadOutput[];
  signal?: AbortSignal;
  /** Attach each second's latency histogram to its sample (for callers that merge them, e.g. breakpoint). */
  keep_histograms?: boolean;
  /**
   * Warm the generator up before t0 (default on): a ~200 ms rehearsal of the run's hot path against a sink in
   * this process, and the target's first connections opened ahead. Nothing is sent to the target and nothing
   * counts in the results; the summary reports it as `warmup`. `false` = start cold.
   */
  warmup?: boolean | WarmupSettings;
}

/** A running load test: iterate it for per-second samples (then the summary), or await `result`. */
export interface LoadRun extends AsyncIterable<LoadEvent> {
  readonly result: Promise<LoadSummary>;
  /**
   * Wall-clock epoch ms of the schedule's t0, once the warm-up is over and the first arrival is due: what a caller
   * that lays windows over the run (baseline, fault, recovery) should measure them from. Rejects if the run fails
   * before it starts.
   */
  readonly started: Promise<number>;
  readonly info: RunInfo;
  abort(): void;
  /** Requests in flight right now, with their intended starts (only with `on_request`). */
  outstanding(): OpenRequest[];
}

const MODE_DEFAULTS = {
  accuracy: { connections: 128, pipelining: 1 },
  throughput: { connections: 32, pipelining: 16 },
} as const;

const OptionsSchema = z.strictObject({
  target: z.string(),
  schedule: z.looseObject({ executor: z.string() }),
  arrivals: z.enum(ARRIVAL_KINDS).default('uniform'),
  mix: z.unknown().optional(),
  mixFile: z.string().optional(),
  mixEnv: z.record(z.string(), z.string().optional()).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  mode: z.enum(['accuracy', 'throughput']).default('accuracy'),
  connections: z.number().int().min(1).max(10_000).optional(),
  pipelining: z.number().int().min(1).max(1024).optional(),
  max_in_flight: z.number().int().min(1).max(1_000_000).default(10_000),
  timeout_ms: z.number().int().min(1).max(600_000).default(10_000),
  max_lag_ms: z.number().positive().max(60_000).default(5),
  error_status_from: z.number().int().min(201).max(600).optional(),
  on_request: z.function().optional(),
  self_watch: z.strictObject({ lag_ms: z.number().positive(), eld_ms: z.number().positive(), cpu_pressure: z.number().gt(0).max(1) }).partial().optional(),
  spin_ms: z.number().min(0).max(20).default(0),
  outputs: z.array(z.any()).default([]),
  signal: z.any().optional(),
  keep_histograms: z.boolean().default(false),
  warmup: z
    .union([
      z.boolean(),
      z.strictObject({ rehearsal_ms: z.number().int().min(0).max(10_000).optional(), connections: z.number().int().min(0).max(10_000).optional() }),
    ])
    .default(true),
});

interface Resolved {
  url: URL;
  profile: RateProfile;
  executor: string;
  arrivals: ArrivalKind;
  mix: CompiledMix;
  prefix: string;
  seed: number;
  mode: 'accuracy' | 'throughput';
  connections: number;
  pipelining: number;
  maxInFlight: number;
  timeoutMs: number;
  maxLagMs: number;
  errorStatusFrom: number | undefined;
  onRequest: ((r: RequestRecord) => void) | undefined;
  selfWatch: SelfWatch;
  spinMs: number;
  outputs: LoadOutput[];
  signal: AbortSignal | undefined;
  keepHistograms: boolean;
  /** null = no warm-up. */
  warmup: { rehearsal_ms: number; connections: number } | null;
}

function issuesOf(err: z.ZodError, prefix = ''): Issue[] {
  return err.issues.map((i) => ({ path: prefix + i.path.map(String).join('.') || 'options', message: i.message }));
}

function fail(issues: Issue[]): never {
  const text = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new FaultlineError('INVALID_INPUT', text, { field: issues[0].path });
}

/** Loopback only: the generator is for the lab and the user's own local services, never someone else's host. */
export function checkLoopbackTarget(target: string): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new FaultlineError('INVALID_INPUT', `target: "${target}" is not a URL`, {
      field: 'target',
      hint: 'e.g. http://127.0.0.1:8080',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FaultlineError('INVALID_INPUT', `target: protocol must be http: or https: (got ${url.protocol})`, { field: 'target' });
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))) {
    throw new FaultlineError('INVALID_INPUT', `target: ${url.hostname} is not a loopback address`, {
      field: 'target',
      hint: 'faultline only sends load to 127.0.0.0/8, ::1 or localhost',
    });
  }
  return url;
}

function resolve(options: LoadOptions): Resolved {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) fail(issuesOf(parsed.error));
  const o = parsed.data;
  const url = checkLoopbackTarget(o.target);
  const def = EXECUTORS.get(o.schedule.executor);
  if (!def) {
    fail([{ path: 'schedule.executor', message: `unknown executor "${o.schedule.executor}" (one of: ${[...EXECUTORS.keys()].join(', ')})` }]);
  }
  const cfg = def.schema.safeParse(o.schedule);
  if (!cfg.success) fail(issuesOf(cfg.error, 'schedule.'));
  if (o.mix !== undefined && o.mixFile !== undefined) fail([{ path: 'mix', message: 'give mix or mixFile, not both' }]);
  const mix =
    o.mixFile !== undefined
      ? loadMixFile(o.mixFile, o.mixEnv ?? process.env)
      : o.mix !== undefined
        ? compileMix(o.mix, 'mix', o.mixEnv ?? process.env)
        : defaultMix(url.pathname + url.search);
  const withMix = o.mixFile !== undefined || o.mix !== undefined;
  const dflt = MODE_DEFAULTS[o.mode];
  const pipelining = o.pipelining ?? dflt.pipelining;
  const connections = o.connections ?? dflt.connections;
  const profile = def.plan(cfg.data);
  if (o.mode === 'accuracy' && pipelining > 1) {
    fail([{ path: 'pipelining', message: 'accuracy mode sends one request per connection at a time; use mode "throughput" for pipelining > 1' }]);
  }
  return {
    url,
    profile,
    executor: def.name,
    arrivals: o.arrivals,
    mix,
    prefix: withMix ? url.pathname.replace(/\/+$/, '') : '',
    seed: o.seed ?? (Math.floor(Math.random() * 0x100000000) >>> 0),
    mode: o.mode,
    connections,
    pipelining,
    maxInFlight: o.max_in_flight,
    timeoutMs: o.timeout_ms,
    maxLagMs: o.max_lag_ms,
    errorStatusFrom: o.error_status_from,
    onRequest: o.on_request as ((r: RequestRecord) => void) | undefined,
    selfWatch: { ...DEFAULT_SELF_WATCH, ...o.self_watch },
    spinMs: o.spin_ms,
    outputs: o.outputs as LoadOutput[],
    signal: o.signal as AbortSignal | undefined,
    keepHistograms: o.keep_histograms,
    warmup:
      o.warmup === false
        ? null
        : {
            rehearsal_ms: (o.warmup === true ? undefined : o.warmup.rehearsal_ms) ?? DEFAULT_REHEARSAL_MS,
            connections: (o.warmup === true ? undefined : o.warmup.connections) ?? warmConnections(peakRate(profile), connections),
          },
  };
}

/**
 * The plan's highest rate over its first 10 s (segments are linear, so at an end point or at 10 s): what the
 * warm-up opens connections for. A staircase with no top would otherwise ask for the whole pool at its first step.
 */
function peakRate(profile: RateProfile): number {
  const horizon = Math.min(10_000, profile.total_ms);
  let peak = profile.rateAt(Math.max(0, horizon - 1));
  for (const s of profile.segments) {
    if (s.start_ms >= horizon) break;
    peak = Math.max(peak, s.from_rps, s.start_ms + s.duration_ms <= horizon ? s.to_rps : 0);
  }
  return peak;
}

/** Bound on arrivals whatever the plan: the expected count plus a wide Poisson margin. */
function arrivalLimit(profile: RateProfile): number {
  const e = profile.expected;
  return Math.ceil(e + 10 * Math.sqrt(e) + 1000);
}

/**
 * The planned requests of a run, in order, without sending anything: index, due time (ms from start) and the
 * request itself. Two calls with the same options and seed yield identical sequences.
 * @example
 *   for (const p of planRequests({ target: 'http://127.0.0.1:8080', seed: 42,
 *        schedule: { executor: 'constant', rate_rps: 10, duration_ms: 1000 } })) console.log(p.due_ms, p.request.path);
 */
export function* planRequests(options: LoadOptions): Generator<{ i: number; due_ms: number; request: PlannedRequest }> {
  const r = resolve(options);
  const schedule = new Schedule(r.profile, r.arrivals, r.seed, arrivalLimit(r.profile));
  const factory = new RequestFactory(r.mix, r.seed, r.prefix);
  for (let a = schedule.next(); a; a = schedule.next()) yield { i: a.i, due_ms: a.due_ms, request: factory.build(a.i) };
}

/**
 * Starts an open-model load run at once. Throws INVALID_INPUT (naming the field) before sending anything when the
 * options are wrong. Iterate the run right away to receive every per-second sample, then the summary.
 * @example
 *   const run = runLoad({ target: 'http://127.0.0.1:8080', seed: 42,
 *                         schedule: { executor: 'constant', rate_rps: 500, duration_ms: 10_000 } });
 *   for await (const e of run) if (e.type === 'second') console.log(e.t_s, e.total.latency_ms.p99);
 *   const summary = await run.result; // also the last event
 */
export function runLoad(options: LoadOptions): LoadRun {
  const r = resolve(options);
  const ctrl = new AbortController();
  const onOuterAbort = (): void => ctrl.abort();
  r.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (r.signal?.aborted) ctrl.abort();
  const info: RunInfo = {
    target: r.url.href,
    seed: r.seed,
    mix: r.mix.name,
    endpoints: r.mix.endpoints.map((e) => e.name),
    executor: r.executor,
    arrivals: r.arrivals,
    mode: r.mode,
    connections: r.connections,
    pipelining: r.pipelining,
    max_in_flight: r.maxInFlight,
    planned_duration_s: r.profile.total_ms / 1000,
    expected_requests: Math.round(r.profile.expected),
  };
  const queue = new EventQueue<LoadEvent>();
  let engine: Engine | undefined;
  let markStarted: (t: number) => void = () => {};
  let failStarted: (err: unknown) => void = () => {};
  const started = new Promise<number>((resolve, reject) => {
    markStarted = resolve;
    failStarted = reject;
  });
  started.catch(() => {});

  const result = (async (): Promise<LoadSummary> => {
    try {
      for (const o of r.outputs) await o.start?.(info);
      const from = r.errorStatusFrom;
      const agg = new Aggregator(
        info.endpoints,
        r.mix.endpoints.map((e) => (from !== undefined && e.expect === DEFAULT_EXPECT ? [[200, from - 1] as const] : e.expect)),
      );
      const onSecond = (s: SecondSample): void => {
        queue.push(s);
        for (const o of r.outputs) o.second(s);
      };
      let warmup: WarmupReport | null = null;
      let spare: Awaited<ReturnType<typeof warmUp>>['spare'] = [];
      if (r.warmup) {
        ({ report: warmup, spare } = await warmUp({
          mix: r.mix,
          seed: r.seed,
          prefix: r.prefix,
          origin: r.url.origin,
          connections: r.warmup.connections,
          timeout_ms: r.timeoutMs,
          rehearsal_ms: r.warmup.rehearsal_ms,
          signal: ctrl.signal,
        }));
      }
      engine = new Engine({
        profile: r.profile,
        schedule: new Schedule(r.profile, r.arrivals, r.seed, arrivalLimit(r.profile)),
        factory: new RequestFactory(r.mix, r.seed, r.prefix),
        client: new LoadClient({
          origin: r.url.origin,
          connections: r.connections,
          pipelining: r.pipelining,
          timeout_ms: r.timeoutMs,
        }, spare),
        agg,
        maxInFlight: r.maxInFlight,
        lagThreshold_ms: r.maxLagMs,
        drain_ms: r.timeoutMs + 1000,
        timeout_ms: r.timeoutMs,
        spin_ms: r.spinMs,
        keepHistograms: r.keepHistograms,
        onSecond,
        onRequest: r.onRequest,
        selfWatch: r.selfWatch,
        signal: ctrl.signal,
      });
      const running = engine.run();
      // run() has set t0 synchronously, before its first await.
      markStarted(engine.startedAtWall);
      const res = await running;
      const t = agg.totals();
      const plannedS = r.profile.total_ms / 1000;
      const windowS = res.aborted ? res.elapsed_ms / 1000 : plannedS;
      const outcomeS = Math.max(windowS, (agg.lastOutcomeAt - res.t0) / 1000);
      const reasons: string[] = [];
      if (t.lag.p99 > r.maxLagMs) {
        reasons.push(`dispatch lag p99 ${t.lag.p99} ms > ${r.maxLagMs} ms: the generator could not keep to the schedule`);
      }
      if (t.generatorDropped > 0) {
        reasons.push(`${t.generatorDropped} arrivals were dropped while the generator itself was behind schedule`);
      }
      if (res.eventLoopDelay.p99 > r.selfWatch.eld_ms) {
        reasons.push(`event-loop delay p99 ${res.eventLoopDelay.p99} ms > ${r.selfWatch.eld_ms} ms: the generator's own process was stalled`);
      }
      const round = (x: number): number => Math.round(x * 100) / 100;
      const summary: LoadSummary = {
        type: 'summary',
        target: info.target,
        seed: r.seed,
        mix: r.mix.name,
        executor: r.executor,
        arrivals: r.arrivals,
        mode: r.mode,
        connections: r.connections,
        pipelining: r.pipelining,
        max_in_flight: r.maxInFlight,
        started_at: res.started_at,
        planned_duration_s: plannedS,
        elapsed_s: round(res.elapsed_ms / 1000),
        aborted: res.aborted,
        unfinished: res.unfinished,
        planned_requests: info.expected_requests,
        total: t.total,
        endpoints: t.endpoints,
        rate_rps: {
          target: round(r.profile.expected / plannedS),
          sent: round(t.total.sent / windowS),
          completed: round(t.total.completed / outcomeS),
        },
        generator: {
          dispatch_lag_ms: t.lag,
          event_loop_delay_ms: res.eventLoopDelay,
          generator_dropped: t.generatorDropped,
          cpu_s: { user: round(res.cpu.user), system: round(res.cpu.system) },
          unmeasurable_seconds: res.unmeasurableSeconds,
          cpu_pressure_max: res.cpuPressureMax === null ? null : Math.round(res.cpuPressureMax * 1000) / 1000,
        },
        warmup,
        valid: reasons.length === 0,
        invalid_reasons: reasons,
      };
      for (const o of r.outputs) await o.end?.(summary);
      queue.push(summary);
      queue.end();
      return summary;
    } catch (err) {
      failStarted(err);
      queue.fail(err);
      throw err;
    } finally {
      r.signal?.removeEventListener('abort', onOuterAbort);
    }
  })();
  // The iterator reports the failure too; an unobserved `result` must not crash the process.
  result.catch(() => {});

  return {
    info,
    result,
    started,
    abort: () => ctrl.abort(),
    outstanding: () => engine?.outstanding() ?? [],
    [Symbol.asyncIterator]: () => queue.iterator(),
  };
}

/**
 * A single-consumer queue bridging push-style events to an async iterator. It keeps nothing until someone
 * iterates, so a caller that only awaits `result` (the CLI) does not hold a day of samples in memory.
 */
class EventQueue<T> {
  readonly #items: T[] = [];
  #active = false;
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #failWaiter: ((err: unknown) => void) | undefined;
  #ended = false;
  #error: unknown;
  #failed = false;

  push(item: T): void {
    if (!this.#active) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = this.#failWaiter = undefined;
      w({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  end(): void {
    this.#ended = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = this.#failWaiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  fail(err: unknown): void {
    this.#failed = true;
    this.#error = err;
    if (this.#failWaiter) {
      const f = this.#failWaiter;
      this.#waiter = this.#failWaiter = undefined;
      f(err);
    }
  }

  iterator(): AsyncIterator<T> {
    this.#active = true;
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
        if (this.#failed) return Promise.reject(this.#error);
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#waiter = resolve;
          this.#failWaiter = reject;
        });
      },
    };
  }
}
