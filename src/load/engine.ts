/**
 * The open-model scheduler: sends request i at its absolute due time t0 + offsetᵢ from the monotonic clock, never
 * waiting for responses; turns arrivals over the in-flight cap into counted drops; measures its own dispatch lag
 * and event-loop delay; closes a SecondSample every second. It alone owns timing — what to send comes from the
 * RequestFactory, when from the Schedule, counting from the Aggregator.
 *
 *   Schedule ─ dueᵢ ─▶ tick(): fire everything due ──▶ cap? drop : client.send ──▶ outcome ──▶ Aggregator
 *      ▲                 │ timers only (default): setTimeout to the next due time, ~1 ms granularity
 *      └─────────────────┘ spin_ms > 0: setTimeout to spin_ms before it, then setImmediate until due (µs lag,
 *                          one busy core)
 */
import { cpuUsage } from 'node:process';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { now } from '../core/clock.ts';
import type { Aggregator, FailureClass } from './aggregate.ts';
import type { Schedule } from './arrivals.ts';
import type { LoadClient, OutcomeSink } from './client.ts';
import type { RequestFactory } from './mix.ts';
import type { RateProfile } from './profile.ts';
import type { SecondSample } from './samples.ts';

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
  /** Spin (setImmediate) when the next arrival is due within this many ms; 0 = timers only. */
  spin_ms: number;
  keepHistograms: boolean;
  onSecond: (s: SecondSample) => void;
  signal?: AbortSignal;
}

export interface EngineResult {
  started_at: string;
  t0: number;
  elapsed_ms: number;
  aborted: boolean;
  unfinished: number;
  eventLoopDelay: { p50: number; p99: number; max: number };
  cpu: { user: number; system: number };
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
  #secondTimer: NodeJS.Timeout | undefined;
  #drainTimer: NodeJS.Timeout | undefined;
  #finish: (() => void) | undefined;
  readonly #eldRun = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  readonly #eldSec = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });

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
    this.#advance();
    this.#secondTimer = setTimeout(this.#onSecond, 1000);
    if (this.#o.signal?.aborted) this.#abort();
    else this.#tick();
    await done;
    this.#o.signal?.removeEventListener('abort', onAbort);
    const elapsed = now() - this.#t0;
    clearTimeout(this.#secondTimer);
    clearTimeout(this.#timer);
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
    };
  }

  // ─── outcome sink (called by the client) ──────────────────────────────────────────────────────────────────

  answered(ep: number, status: number, intendedAt: number, sentAt: number): void {
    const t = now();
    this.#o.agg.answered(ep, status, Math.round((t - intendedAt) * 1000), Math.round((t - sentAt) * 1000), t);
    this.#settled();
  }

  failed(ep: number, cls: FailureClass): void {
    // Whatever is cut off by the drain deadline never answered in time: a timeout, not a connection fault.
    this.#o.agg.failed(ep, this.#draining ? 'timeout' : cls, now());
    this.#settled();
  }

  #settled(): void {
    this.#eventsThisSecond++;
    if (--this.#inFlight === 0 && this.#scheduleDone) this.#finish?.();
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

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#scheduleDone) return;
    const { factory, client, agg, maxInFlight, lagThreshold_ms } = this.#o;
    let n = 0;
    let t = now();
    while (this.#nextI >= 0 && this.#nextDue <= t && n < BATCH) {
      const i = this.#nextI;
      const due = this.#nextDue;
      const lagUs = Math.round((t - due) * 1000);
      if (this.#inFlight >= maxInFlight) {
        agg.dropped(factory.pick(i), lagUs, t - due > lagThreshold_ms);
      } else {
        const req = factory.build(i);
        this.#inFlight++;
        agg.dispatched(req.endpoint, lagUs);
        client.send(this, req.endpoint, due, req);
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
    if (wait >= this.#o.spin_ms + 1) {
      // Timers fire late by up to ~1 ms, so aim that much early and spin the rest.
      this.#timer = setTimeout(this.#tick, Math.max(1, Math.floor(wait - this.#o.spin_ms)));
    } else if (wait > 0 && this.#o.spin_ms === 0) {
      this.#timer = setTimeout(this.#tick, Math.max(1, Math.floor(wait)));
    } else {
      setImmediate(this.#tick);
    }
  }

  #endSchedule(): void {
    if (this.#scheduleDone) return;
    this.#scheduleDone = true;
    this.#nextI = -1;
    clearTimeout(this.#timer);
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
    this.#emitSecond();
    this.#secondTimer = setTimeout(this.#onSecond, Math.max(0, this.#t0 + (this.#second + 1) * 1000 - now()));
  };

  #emitSecond(): void {
    const k = this.#second++;
    this.#eventsThisSecond = 0;
    const mid = k * 1000 + 500;
    const f = this.#o.agg.flush(this.#o.keepHistograms);
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
        event_loop_delay_ms: { p99: eldMs(this.#eldSec, 99), max: eldMs(this.#eldSec, 100) },
        generator_dropped: f.generatorDropped,
      },
    };
    if (f.histogram) sample.histogram = f.histogram;
    this.#eldSec.reset();
    this.#o.onSecond(sample);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
