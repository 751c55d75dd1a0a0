/**
 * The open-model scheduler: sends request i at its absolute due time t0 + offsetᵢ from the monotonic clock, never
 * waiting for responses; turns arrivals over the in-flight cap into counted drops; measures its own dispatch lag
 * and event-loop delay; closes a SecondSample every second. It alone owns timing — what to send comes from the
 * RequestFactory, when from the Schedule, counting from the Aggregator.
 *
 *   Schedule ─ dueᵢ ─▶ tick(): fire everything due ──▶ cap? drop : client.send ──▶ outcome ──▶ Aggregator
 *      ▲                 │ timers only (default): setTimeout to the next due time, ~1 ms granularity, and a
 *      │                 │   tick after every loop turn that settled a response (setImmediate, once per turn):
 *      │                 │   at high rates the socket reads wake the loop far more often than a timer could,
 *      │                 │   so lag follows the I/O (~0.1 ms at 10k/s) without ever busy-waiting
 *      └─────────────────┘ spin_ms > 0: setTimeout to spin_ms before it, then setImmediate until due (µs lag,
 *                          one busy core)
 *
 * When a caller asks for per-request records (`onRequest`), the engine also keeps the open requests (index →
 * intended start, a number per entry) so `outstanding()` can say what is in flight and for how long: a request
 * that never answers is still evidence. Each second it also watches itself: dispatch lag and event-loop delay
 * (a second either distorts is marked unmeasurable) and the machine's CPU pressure (PSI, recorded per second).
 */
import { readFileSync } from 'node:fs';
import { cpuUsage } from 'node:process';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { now } from '../core/clock.ts';
import type { Aggregator, FailureClass } from './aggregate.ts';
import type { Schedule } from './arrivals.ts';
import type { LoadClient, OutcomeSink } from './client.ts';
import type { RequestFactory } from './mix.ts';
import type { RateProfile } from './profile.ts';
import type { OpenRequest, RequestRecord, SecondSample } from './samples.ts';

/** Thresholds past which a second is unmeasurable (the generator or the machine, not the target, shaped it). */
export interface SelfWatch {
  /** Dispatch lag p99 in one second, ms. */
  lag_ms: number;
  /** Event-loop delay p99 in one second, ms. */
  eld_ms: number;
  /** Share of a judged window in which a runnable task waited for a CPU (PSI `some`), 0–1, on average. */
  cpu_pressure: number;
}

const PSI_FILE = '/proc/pressure/cpu';

/** The `some` line's cumulative stall time (µs) from /proc/pressure/cpu, or null where there is no PSI. */
export function readCpuStallUs(file = PSI_FILE): number | null {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export interface EngineOptions {
  profile: RateProfile;
  schedule: Schedule;
  factory: RequestFactory;
  client: LoadClient;
  agg: Aggregator;
  maxInFlight: number;
  /** Dispatch lag above which a drop is blamed on the generator. */
  lagThreshold_ms: number;
  /** How long to wait for in-flight requests after the last arrival. */
  drain_ms: number;
  /**
   * What a user waits, from the request's intended start, before giving up: an answer later than this is a
   * timeout whatever its status. (undici times from the send, on a coarse timer, and lets late answers through;
   * a user who arrived on schedule has been waiting since the intended start.) 0 = no such check.
   */
  timeout_ms?: number;
  /** Spin (setImmediate) when the next arrival is due within this many ms; 0 = timers only. */
  spin_ms: number;
  keepHistograms: boolean;
  onSecond: (s: SecondSample) => void;
  /** Every request's outcome as it settles (dropped ones included); enables `outstanding()`. */
  onRequest?: (r: RequestRecord) => void;
  /** When a second counts as unmeasurable; default: lag and event-loop delay 100 ms (CPU pressure: see SelfWatch). */
  selfWatch?: SelfWatch;
  signal?: AbortSignal;
}

/**
 * 100 ms: a stall that long moves a request across a 250 ms SLO by itself. (Per second, p99 of a few dozen lags is
 * nearly the maximum, so a lower bar would condemn seconds for one GC pause.)
 */
export const DEFAULT_SELF_WATCH: SelfWatch = { lag_ms: 100, eld_ms: 100, cpu_pressure: 0.9 };

export interface EngineResult {
  started_at: string;
  t0: number;
  elapsed_ms: number;
  aborted: boolean;
  unfinished: number;
  eventLoopDelay: { p50: number; p99: number; max: number };
  cpu: { user: number; system: number };
  unmeasurableSeconds: number;
  cpuPressureMax: number | null;
}

const BATCH = 4096;
const ELD_RESOLUTION_MS = 10;
const eldMs = (h: IntervalHistogram, p: number): number =>
  h.count === 0 ? 0 : Math.max(0, Math.round((p === 100 ? h.max : h.percentile(p)) / 1e3 - ELD_RESOLUTION_MS * 1e3) / 1e3);

/**
 * Runs a schedule to the end (or the abort) and resolves once every request has an outcome or the drain ran out.
 * @example const result = await new Engine(opts).run();
 */
export class Engine implements OutcomeSink {
  readonly #o: EngineOptions;
  #t0 = 0;
  #nextI = -1;
  #nextDue = 0;
  #inFlight = 0;
  #scheduleDone = false;
  #draining = false;
  #aborted = false;
  #second = 0;
  #eventsThisSecond = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Monotonic ms the armed timer was set for (a later need keeps it; an earlier one re-arms). */
  #timerAt = 0;
  #immediate: NodeJS.Immediate | undefined;
  #secondTimer: NodeJS.Timeout | undefined;
  #drainTimer: NodeJS.Timeout | undefined;
  #finish: (() => void) | undefined;
  readonly #eldRun = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  readonly #eldSec = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  /** Wall-clock ms at monotonic t0, so records carry epoch times on the monotonic clock's scale. */
  #wall0 = 0;
  /** Open requests: index → intended start (monotonic ms); only kept when someone wants records. */
  readonly #open = new Map<number, number>();
  #psiPrev: { us: number | null; at: number } = { us: null, at: 0 };
  #unmeasurable = 0;
  #psiMax: number | null = null;

  constructor(opts: EngineOptions) {
    this.#o = opts;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async run(): Promise<EngineResult> {
    const startedAt = new Date().toISOString();
    const cpu0 = cpuUsage();
    this.#eldRun.enable();
    this.#eldSec.enable();
    const done = new Promise<void>((resolve) => (this.#finish = resolve));
    const onAbort = (): void => this.#abort();
    this.#o.signal?.addEventListener('abort', onAbort, { once: true });
    this.#t0 = now();
    this.#wall0 = Date.now();
    this.#psiPrev = { us: readCpuStallUs(), at: this.#t0 };
    this.#advance();
    this.#secondTimer = setTimeout(this.#onSecond, 1000);
    if (this.#o.signal?.aborted) this.#abort();
    else this.#tick();
    await done;
    this.#o.signal?.removeEventListener('abort', onAbort);
    const elapsed = now() - this.#t0;
    clearTimeout(this.#secondTimer);
    clearTimeout(this.#timer);
    clearImmediate(this.#immediate);
    clearTimeout(this.#drainTimer);
    const unfinished = this.#inFlight;
    if (unfinished > 0) {
      // Fails what is left (counted as timeouts) before the last second is closed, so the totals include them.
      this.#draining = true;
      await this.#o.client.close(true);
    } else {
      await this.#o.client.close(false);
    }
    if (this.#eventsThisSecond > 0 || this.#second === 0) this.#emitSecond();
    this.#eldRun.disable();
    this.#eldSec.disable();
    const cpu = cpuUsage(cpu0);
    return {
      started_at: startedAt,
      t0: this.#t0,
      elapsed_ms: elapsed,
      aborted: this.#aborted,
      unfinished,
      eventLoopDelay: { p50: eldMs(this.#eldRun, 50), p99: eldMs(this.#eldRun, 99), max: eldMs(this.#eldRun, 100) },
      cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 },
      unmeasurableSeconds: this.#unmeasurable,
      cpuPressureMax: this.#psiMax,
    };
  }

  /** Wall-clock epoch ms of the schedule's t0 (0 until `run()` has started). */
  get startedAtWall(): number {
    return this.#wall0;
  }

  /** Wall-clock epoch ms of a monotonic instant. */
  wallOf(t: number): number {
    return this.#wall0 + (t - this.#t0);
  }

  /**
   * The requests sent and not yet settled, with their intended starts (epoch ms). Empty unless `onRequest` is set.
   * @example engine.outstanding().map((r) => Date.now() - r.intended_ms) // their ages
   */
  outstanding(): OpenRequest[] {
    const out: OpenRequest[] = [];
    for (const [i, at] of this.#open) out.push({ i, endpoint: this.#o.factory.pick(i), intended_ms: this.wallOf(at) });
    return out;
  }

  // ─── outcome sink (called by the client) ──────────────────────────────────────────────────────────────────

  answered(ep: number, i: number, status: number, intendedAt: number, sentAt: number): void {
    const t = now();
    const limit = this.#o.timeout_ms ?? 0;
    if (limit > 0 && t - intendedAt > limit) {
      // The user gave up before this answer came: it is the timeout they saw.
      this.failed(ep, i, 'timeout');
      return;
    }
    const outcome = this.#o.agg.answered(ep, status, Math.round((t - intendedAt) * 1000), Math.round((t - sentAt) * 1000), t);
    if (this.#o.onRequest) {
      this.#open.delete(i);
      this.#o.onRequest({ i, endpoint: ep, intended_ms: this.wallOf(intendedAt), done_ms: this.wallOf(t), outcome, status });
    }
    this.#settled();
  }

  failed(ep: number, i: number, cls: FailureClass): void {
    // Whatever is cut off by the drain deadline never answered in time: a timeout, not a connection fault.
    const outcome = this.#draining ? 'timeout' : cls;
    const t = now();
    this.#o.agg.failed(ep, outcome, t);
    if (this.#o.onRequest) {
      const intendedAt = this.#open.get(i) ?? t;
      this.#open.delete(i);
      this.#o.onRequest({ i, endpoint: ep, intended_ms: this.wallOf(intendedAt), done_ms: this.wallOf(t), outcome, status: 0 });
    }
    this.#settled();
  }

  #settled(): void {
    this.#eventsThisSecond++;
    if (--this.#inFlight === 0 && this.#scheduleDone) this.#finish?.();
    // Once per loop turn: look at the schedule right after the I/O that woke the loop (see the header).
    else if (this.#immediate === undefined && !this.#scheduleDone) this.#immediate = setImmediate(this.#onImmediate);
  }

  // ─── scheduling ───────────────────────────────────────────────────────────────────────────────────────────

  #advance(): void {
    const a = this.#o.schedule.next();
    if (a === undefined) {
      this.#nextI = -1;
    } else {
      this.#nextI = a.i;
      this.#nextDue = this.#t0 + a.due_ms;
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#tick();
  };

  readonly #onImmediate = (): void => {
    this.#immediate = undefined;
    this.#tick();
  };

  /** Sends (or drops) every arrival that is due; safe to call at any time (timer, immediate, second boundary). */
  readonly #tick = (): void => {
    if (this.#scheduleDone) return;
    const { factory, client, agg, maxInFlight, lagThreshold_ms } = this.#o;
    let n = 0;
    let t = now();
    while (this.#nextI >= 0 && this.#nextDue <= t && n < BATCH) {
      const i = this.#nextI;
      const due = this.#nextDue;
      const lagUs = Math.round((t - due) * 1000);
      if (this.#inFlight >= maxInFlight) {
        const ep = factory.pick(i);
        agg.dropped(ep, lagUs, t - due > lagThreshold_ms);
        this.#o.onRequest?.({ i, endpoint: ep, intended_ms: this.wallOf(due), done_ms: this.wallOf(t), outcome: 'dropped', status: 0 });
      } else {
        const req = factory.build(i);
        this.#inFlight++;
        agg.dispatched(req.endpoint, lagUs);
        if (this.#o.onRequest) this.#open.set(i, due);
        client.send(this, req.endpoint, i, due, req);
      }
      this.#eventsThisSecond++;
      n++;
      this.#advance();
      t = now();
    }
    if (this.#nextI < 0) return this.#endSchedule();
    this.#wake(t);
  };

  #wake(t: number): void {
    const wait = this.#nextDue - t;
    const spin = this.#o.spin_ms;
    if (wait >= spin + 1) {
      // Timers fire late by up to ~1 ms, so (when spinning) aim that much early and spin the rest.
      this.#arm(t, Math.max(1, Math.floor(wait - spin)));
    } else if (wait > 0 && spin === 0) {
      this.#arm(t, Math.max(1, Math.floor(wait)));
    } else {
      this.#immediate ??= setImmediate(this.#onImmediate);
    }
  }

  /** One timer at a time: keep the armed one unless this need comes earlier. */
  #arm(t: number, ms: number): void {
    const at = t + ms;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, ms);
  }

  #endSchedule(): void {
    if (this.#scheduleDone) return;
    this.#scheduleDone = true;
    this.#nextI = -1;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
    if (this.#inFlight === 0) {
      this.#finish?.();
      return;
    }
    // After an abort nobody waits for answers; otherwise give in-flight requests their full timeout.
    const drain = this.#aborted ? Math.min(1000, this.#o.drain_ms) : this.#o.drain_ms;
    this.#drainTimer = setTimeout(() => this.#finish?.(), drain);
  }

  #abort(): void {
    this.#aborted = true;
    this.#endSchedule();
  }

  readonly #onSecond = (): void => {
    // Arrivals due now go out before the second's bookkeeping, which would otherwise make them late.
    this.#tick();
    this.#emitSecond();
    this.#secondTimer = setTimeout(this.#onSecond, Math.max(0, this.#t0 + (this.#second + 1) * 1000 - now()));
  };

  #emitSecond(): void {
    const k = this.#second++;
    this.#eventsThisSecond = 0;
    const mid = k * 1000 + 500;
    const f = this.#o.agg.flush(this.#o.keepHistograms);
    const t = now();
    const us = readCpuStallUs();
    const prev = this.#psiPrev;
    const pressure = us !== null && prev.us !== null && t > prev.at ? Math.min(1, Math.max(0, (us - prev.us) / ((t - prev.at) * 1000))) : null;
    this.#psiPrev = { us, at: t };
    if (pressure !== null) this.#psiMax = Math.max(this.#psiMax ?? 0, pressure);
    const eld = { p99: eldMs(this.#eldSec, 99), max: eldMs(this.#eldSec, 100) };
    const watch = this.#o.selfWatch ?? DEFAULT_SELF_WATCH;
    const why: string[] = [];
    if (f.lag.p99 > watch.lag_ms) why.push(`dispatch lag p99 ${f.lag.p99} ms > ${watch.lag_ms} ms`);
    if (eld.p99 > watch.eld_ms) why.push(`event-loop delay p99 ${eld.p99} ms > ${watch.eld_ms} ms`);
    // CPU pressure alone does not condemn a second (a loaded 2-core box reads 20–65 % every second): it is
    // recorded, and judged over whole windows by whoever knows the windows (the runner).
    if (f.generatorDropped > 0) why.push(`${f.generatorDropped} arrivals dropped while the generator was behind`);
    if (why.length > 0) this.#unmeasurable++;
    const sample: SecondSample = {
      type: 'second',
      t_s: k,
      stage: this.#o.profile.segmentAt(Math.min(mid, this.#o.profile.total_ms - 1)),
      target_rps: mid < this.#o.profile.total_ms ? round3(this.#o.profile.rateAt(mid)) : 0,
      total: f.total,
      endpoints: f.endpoints,
      generator: {
        in_flight: this.#inFlight,
        dispatch_lag_ms: f.lag,
        event_loop_delay_ms: eld,
        generator_dropped: f.generatorDropped,
        cpu_pressure: pressure === null ? null : Math.round(pressure * 1000) / 1000,
        process_cpu_s: processCpuS(),
        unmeasurable: why.length > 0 ? why.join('; ') : null,
      },
    };
    if (f.histogram) sample.histogram = f.histogram;
    if (f.endpointHistograms) sample.endpoint_histograms = f.endpointHistograms;
    this.#eldSec.reset();
    this.#o.onSecond(sample);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** This process's CPU seconds since it started (user + system, every thread), to 1 ms. */
function processCpuS(): number {
  const u = cpuUsage();
  return Math.round((u.user + u.system) / 1000) / 1000;
}
