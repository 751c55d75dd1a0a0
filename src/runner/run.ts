/**
 * One experiment against the running lab, from file to verdict: warm-up → baseline (steady state must hold, else
 * *invalid*) → faults injected through the controller at their offsets, the hypothesis evaluated every second,
 * stop conditions watched (a trip reverts everything at once: *aborted*) → revert → recovery → integrity check →
 * verdict → run dir. This module alone owns the phase clock and the guarantee that every fault it injected is
 * reverted, whatever happens (error, stop condition, Ctrl-C via the AbortSignal).
 *
 *   runLoad ─ seconds ─▶ LoadSeriesRecorder ─┐
 *   Scraper ─ rounds  ───────────────────────┼─▶ SeriesStore ─▶ evaluate (live + final) ─▶ Verdict ─▶ writeRun
 *   ChaosClient ─ inject / revert ─▶ marks ──┘
 *   (with --prometheus, a PrometheusSource polling range queries takes the Scraper's place)
 */
import { readFileSync } from 'node:fs';
import { ChaosClient } from '../controller/client.ts';
import { chaosToken } from '../controller/token.ts';
import { FaultlineError } from '../core/errors.ts';
import { loadMixFile } from '../load/mix.ts';
import { planRequests, runLoad, type LoadOptions } from '../load/run.ts';
import type { LoadSummary } from '../load/samples.ts';
import { LoadSeriesRecorder } from '../metrics/load-series.ts';
import { RequestLog } from '../metrics/requests.ts';
import { PrometheusSource } from '../metrics/prometheus.ts';
import { Scraper, type ScrapeTarget } from '../metrics/scraper.ts';
import { sumIncrease } from '../metrics/sli.ts';
import { SeriesStore } from '../metrics/store.ts';
import { labStatus } from '../supervisor/control.ts';
import { statePaths } from '../supervisor/state-dir.ts';
import { labToken } from '../supervisor/token.ts';
import { controllerPort, LAB_SERVICES } from '../supervisor/topology.ts';
import { breaches, computeVerdict, integrityNotChecked, sliValue, timeline, type Integrity, type Marks, type Sources, type Verdict } from './evaluate.ts';
import { breachEstablished, estimate } from './evidence.ts';
import { checkIntegrity } from './integrity.ts';
import { liveStatus } from './live-status.ts';
import { applyMitigations } from './mitigations.ts';
import { writeRun, type FaultEventRecord, type RunRecord } from './record.ts';
import type { Experiment } from './schema.ts';

export type Phase = 'warmup' | 'baseline' | 'fault' | 'recovery' | 'judging';

/** What the live terminal line shows, once a second. */
export interface Progress {
  phase: Phase;
  left_s: number;
  slis: { name: string; value: number | null; threshold: number; ok: boolean; unit: 'ms' | 'ratio' }[];
  faults_active: number;
}

export interface RunOptions {
  stateDir: string;
  /** The run directory to write (created). */
  outDir: string;
  /** Abort = Ctrl-C: every fault is reverted, the partial run is written, the verdict is aborted. */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /**
   * Base URL of a Prometheus that scrapes the lab (each process as job or `service` label = its lab name): the
   * runner polls it with range queries each scrape interval instead of scraping the lab itself, so live evaluation,
   * stop conditions and the final verdict read what Prometheus recorded (up to one interval later than a scrape).
   */
  prometheus?: string;
}

/** Ports and URLs of the running lab the runner needs. */
interface LabHandle {
  base: number;
  chaos: ChaosClient;
  apiUrl: string;
  targets: ScrapeTarget[];
}

function labHandle(stateDir: string): LabHandle {
  const status = labStatus(stateDir);
  if (!status.running || !status.controller_url || status.base_port === null) {
    throw new FaultlineError('LAB_NOT_RUNNING', `no running lab in ${status.state_dir} (phase: ${status.phase}); faultline run needs one`);
  }
  const base = status.base_port;
  const targets: ScrapeTarget[] = LAB_SERVICES.filter((r) => r.kind === 'node' && r.port !== undefined).map((r) => ({
    service: r.name,
    url: `http://127.0.0.1:${base + r.port!}/metrics`,
  }));
  targets.push({ service: 'controller', url: `http://127.0.0.1:${controllerPort(base)}/metrics` });
  const api = LAB_SERVICES.find((r) => r.name === 'api')!;
  return { base, chaos: new ChaosClient(status.controller_url, chaosToken(status.state_dir)), apiUrl: `http://127.0.0.1:${base + api.proxy!}`, targets };
}

const port = (base: number, name: string): number => base + LAB_SERVICES.find((r) => r.name === name)!.port!;

/** Resolves at `at` (epoch ms) or when `signal` aborts, whichever is first. */
function sleepUntil(at: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, at - Date.now()));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs one experiment against the lab in `stateDir` and writes its run dir. Requires a running lab
 * (LAB_NOT_RUNNING otherwise): the runner never starts or stops the lab, so a schedule shares one.
 * @example
 *   const { verdict } = await runExperiment(loadExperiment('experiments/payments-latency-ci.yaml'),
 *                                           { stateDir: '.faultline', outDir: 'runs/x' });
 *   verdict.result // 'degraded'
 */
export async function runExperiment(exp: Experiment, opts: RunOptions): Promise<{ verdict: Verdict; dir: string; record: RunRecord }> {
  const lab = labHandle(opts.stateDir);
  const live = liveStatus(lab.chaos, exp.title, opts.outDir);
  const token = labToken(opts.stateDir, 6 * 3600, 'faultline-run');
  const store = new SeriesStore();
  // One source fills the store, either way with the same series: our own scrapes, or Prometheus' range queries.
  const prometheus = opts.prometheus ? new PrometheusSource({ url: opts.prometheus, store, interval_ms: exp.scrape_interval_ms, services: lab.targets.map((t) => t.service) }) : undefined;
  const scraper = prometheus ?? new Scraper({ targets: lab.targets, store, interval_ms: exp.scrape_interval_ms });
  await prometheus?.probe();
  const w = exp.windows;
  const totalS = w.warmup_s + w.baseline_s + w.fault_s + w.recovery_s;
  const injected: FaultEventRecord[] = [];
  const notes: string[] = [];
  const signal = opts.signal;
  let stop: { condition: string; at: number } | undefined;
  let interrupted = false;

  const before = await lab.chaos.list();
  const busy = before.filter((f) => f.phase === 'injected');
  if (busy.length > 0) notes.push(`faults already active before the run: ${busy.map((f) => `${f.type}@${f.target}`).join(', ')}`);
  const switches = Object.fromEntries(LAB_SERVICES.filter((r) => r.kind === 'node' && r.port !== undefined).map((r) => [r.name, `http://127.0.0.1:${lab.base + r.port!}`]));
  const mitigation = await applyMitigations(switches, exp.mitigations);
  const mitigations = { requested: mitigation.requested, applied: mitigation.applied };

  // Every request the users sent, as they saw it: the default source of every SLI.
  const requests = new RequestLog(
    loadMixFile(exp.mix_path, { ...process.env, FAULTLINE_LAB_TOKEN: token }).endpoints.map((e) => e.name),
    exp.load.timeout_ms,
  );
  const src: Sources = { store, requests };
  // The mix reads the bearer token from the environment when compiled; set it only for that moment.
  const loadOptions: LoadOptions = {
    target: lab.apiUrl,
    schedule: { executor: 'constant', rate_rps: exp.load.rate, duration_ms: (totalS + 2) * 1000 },
    mixFile: exp.mix_path,
    seed: exp.load.seed,
    timeout_ms: exp.load.timeout_ms,
    // The same bar as a second's self-watch (DEFAULT_SELF_WATCH): a 100 ms stall moves a request across a 250 ms SLO.
    max_lag_ms: 100,
    connections: 64,
    on_request: (r) => requests.add(r),
  };
  const prevToken = process.env.FAULTLINE_LAB_TOKEN;
  process.env.FAULTLINE_LAB_TOKEN = token;
  const t0 = Date.now();
  let load;
  try {
    load = runLoad(loadOptions);
  } finally {
    if (prevToken === undefined) delete process.env.FAULTLINE_LAB_TOKEN;
    else process.env.FAULTLINE_LAB_TOKEN = prevToken;
  }
  scraper.start();
  const recorder = new LoadSeriesRecorder(store, t0);
  let summary: LoadSummary | undefined;
  const consumed = (async () => {
    for await (const e of load) {
      if (e.type === 'second') recorder.record(e);
      else summary = e;
    }
  })().catch((err: unknown) => notes.push(`load generator: ${(err as Error).message}`));

  const marks: Marks = {
    start: t0,
    baseline_start: t0 + w.warmup_s * 1000,
    fault_start: t0 + (w.warmup_s + w.baseline_s) * 1000,
    fault_end: t0 + (w.warmup_s + w.baseline_s + w.fault_s) * 1000,
    recovery_end: t0 + totalS * 1000,
  };
  const progress = (phase: Phase, until: number, thresholdOf: 'steady' | 'slo', from: number): void => {
    if (!opts.onProgress) return;
    const now = Date.now();
    const lo = Math.max(from, now - exp.hypothesis.window_s * 1000);
    opts.onProgress({
      phase,
      left_s: Math.max(0, Math.round((until - now) / 1000)),
      faults_active: injected.filter((f) => f.t_stop === undefined).length,
      slis: exp.hypothesis.sli.map((s) => {
        const v = sliValue(src, s, lo, now, load.outstanding());
        const threshold = thresholdOf === 'slo' ? (s.slo_threshold ?? s.steady_state) : s.steady_state;
        return { name: s.name, value: Number.isFinite(v) ? v : null, threshold, ok: !breaches(s, v, threshold), unit: s.metric === 'latency_ms' ? 'ms' : 'ratio' };
      }),
    });
  };
  const phaseLoop = async (phase: Phase, until: number, thresholdOf: 'steady' | 'slo', from: number, each?: () => Promise<void>): Promise<void> => {
    while (!signal?.aborted && Date.now() < until && !stop) {
      await each?.();
      progress(phase, until, thresholdOf, from);
      live.phase(phase, Math.max(0, Math.round((until - Date.now()) / 1000)), injected.filter((f) => f.t_stop === undefined).length);
      await sleepUntil(Math.min(until, Date.now() + 1000), signal);
    }
  };

  const revertAll = async (): Promise<void> => {
    for (const f of injected) {
      if (f.t_stop !== undefined) continue;
      try {
        const r = await lab.chaos.revert(f.id);
        f.t_stop = r.t_stop;
      } catch (err) {
        notes.push(`revert of ${f.id} failed: ${(err as Error).message}`);
      }
    }
  };

  const invalid: string[] = [];
  let integrity: Integrity | undefined;
  try {
    await phaseLoop('warmup', marks.baseline_start, 'steady', t0);
    await phaseLoop('baseline', marks.fault_start, 'steady', marks.baseline_start);
    if (!signal?.aborted) await scraper.scrapeOnce();
    // The same rule as the verdict's: unknown, or shown to be out of steady state (noise alone does not count).
    const bad = exp.hypothesis.sli.filter((s) => {
      const e = estimate(src, s, marks.baseline_start, Date.now(), s.steady_state);
      return e.value === null || breachEstablished(s, e, s.steady_state);
    });
    if (signal?.aborted) interrupted = true;
    else if (bad.length > 0) {
      // Broken steady state: no fault is injected, the run ends here and is judged invalid.
      marks.fault_start = marks.fault_end = marks.recovery_end = Date.now();
    } else {
      marks.fault_start = Date.now();
      marks.fault_end = marks.fault_start + w.fault_s * 1000;
      const pending = exp.faults.map((spec) => ({ spec, at: marks.fault_start + spec.offset_s * 1000, end: marks.fault_start + (spec.duration_s !== undefined ? Math.min(spec.offset_s + spec.duration_s, w.fault_s) : w.fault_s) * 1000, done: false, rec: undefined as FaultEventRecord | undefined }));
      const counters = new Map<number, { n: number; lastTick: number }>();
      const step = async (): Promise<void> => {
        const now = Date.now();
        for (const p of pending) {
          if (!p.done && now >= p.at) {
            p.done = true;
            // TTL a little past the planned end: a runner that dies cannot leave the fault on for long.
            const ttl = Math.ceil((p.end - now) / 1000) + 10;
            let f;
            try {
              f = await lab.chaos.inject({ type: p.spec.type, target: p.spec.target, params: p.spec.params, duration_s: ttl });
            } catch (err) {
              // A fault that could not be applied is recorded as not injected; the run goes on with the others.
              notes.push(`inject of ${p.spec.name ?? `${p.spec.type}@${p.spec.target}`} at +${((now - marks.fault_start) / 1000).toFixed(1)} s failed (not injected): ${(err as Error).message}`);
              continue;
            }
            p.rec = { id: f.id, name: p.spec.name, fault_type: f.type, target: f.target, params: f.params, mechanism: f.mechanism, t_start: f.t_start, t_planned_stop: p.end / 1000 };
            injected.push(p.rec);
            marks.first_inject ??= f.t_start * 1000;
          }
          if (p.rec && p.rec.t_stop === undefined && now >= p.end) {
            const r = await lab.chaos.revert(p.rec.id);
            p.rec.t_stop = r.t_stop;
          }
        }
        // Stop conditions over the rolling window since the first inject: users' SLIs at every step (with what is
        // in flight now), server SLIs on each new scrape tick.
        const up = store.select('up', { service: exp.hypothesis.sli[0].service })[0];
        const scrapeTick = up?.points.at(-1)?.[0];
        if (marks.first_inject === undefined) return;
        const open = load.outstanding();
        exp.hypothesis.stop_condition.forEach((c, i) => {
          const state = counters.get(i) ?? { n: 0, lastTick: 0 };
          const sli = exp.hypothesis.sli.find((s) => s.name === c.sli)!;
          const tick = sli.source === 'users' ? Date.now() : scrapeTick;
          if (tick === undefined || tick <= marks.first_inject! || state.lastTick === tick) return;
          state.lastTick = tick;
          const v = sliValue(src, sli, Math.max(marks.first_inject!, tick - exp.hypothesis.window_s * 1000), tick, sli.source === 'users' ? open : undefined);
          const tripped = Number.isFinite(v) && (c.above !== undefined ? v > c.above : v < c.below!);
          state.n = tripped ? state.n + 1 : 0;
          counters.set(i, state);
          if (state.n >= c.for_s && !stop) {
            const shown = sli.metric === 'latency_ms' ? `${v.toFixed(1)} ms` : v.toFixed(4);
            stop = { condition: `${c.sli} ${c.above !== undefined ? `> ${c.above}` : `< ${c.below}`} for ${c.for_s} s (was ${shown})`, at: tick };
          }
        });
      };
      await phaseLoop('fault', marks.fault_end, 'slo', marks.fault_start, step);
      if (signal?.aborted) interrupted = true;
      await revertAll();
      const stops = injected.map((f) => f.t_stop).filter((t): t is number => t !== undefined);
      marks.last_revert = stops.length > 0 ? Math.max(...stops) * 1000 : undefined;
      if (marks.first_inject !== undefined) marks.fault_end = marks.last_revert ?? Date.now();
      marks.recovery_end = (marks.last_revert ?? Date.now()) + w.recovery_s * 1000;
      if (!interrupted) await phaseLoop('recovery', marks.recovery_end, 'steady', marks.last_revert ?? Date.now());
      if (signal?.aborted) interrupted = true;
      if (interrupted) marks.recovery_end = Date.now();
    }
  } finally {
    // Whatever happened above: nothing this run injected stays on.
    await revertAll();
    load.abort();
    await consumed;
    await scraper.stop();
    if (prometheus) notes.push(`series read from Prometheus at ${opts.prometheus}${prometheus.failures > 0 ? `; ${prometheus.failures} poll(s) failed, last: ${prometheus.lastError}` : ''}${prometheus.collisions.size > 0 ? `; ${prometheus.collisions.size} series skipped (same service and labels as another)` : ''}`);
    await mitigation.restore();
  }
  // A run the generator itself calls unmeasurable is never judged on: its latencies describe the client.
  if (summary && !summary.valid) invalid.push(`load generator: ${summary.invalid_reasons.join('; ')}`);
  if (!summary) invalid.push('the load generator produced no summary: the users\' side of the run is incomplete');
  if (interrupted && !stop) stop = { condition: 'interrupted (Ctrl-C / signal)', at: Date.now() };
  opts.onProgress?.({ phase: 'judging', left_s: 0, slis: [], faults_active: 0 });
  const end = Date.now();
  if (exp.integrity.enabled) {
    integrity = await runIntegrity(exp, lab, loadOptions, summary, store, t0, end, token).catch((err: unknown) =>
      integrityNotChecked(`integrity check could not run: ${(err as Error).message}`),
    );
  }
  const replays = replayShare(summary, exp.integrity.write_endpoint);
  if (replays !== null && replays > 0.5) {
    invalid.push(
      `${(replays * 100).toFixed(0)} % of ${exp.integrity.write_endpoint} answers were idempotent replays (200) rather than new orders (201): ` +
        'this seed already ran on this lab data, so the write path was never exercised; run with another seed',
    );
  }
  const verdict = computeVerdict({ experiment: exp, store, requests, marks, stop, integrity, invalid });
  const floors = [marks.baseline_start, marks.fault_start, marks.first_inject, marks.last_revert].filter((x): x is number => x !== undefined);
  const record: RunRecord = {
    faultline_run: 1,
    experiment: exp,
    experiment_text: readFileSync(exp.source, 'utf8'),
    started_at: new Date(t0).toISOString(),
    ended_at: new Date(end).toISOString(),
    marks,
    fault_events: injected,
    mitigations,
    notes,
    load_summary: summary ?? null,
    lab: { base_port: lab.base, state_dir: statePaths(opts.stateDir).root },
    timeline: timeline(src, exp, t0, end, floors),
  };
  writeRun(opts.outDir, record, verdict, store, controllerEvents(opts.stateDir, injected), requests);
  // The controller keeps the observed MTTR with each fault, so `POST /chaos/revert/{id}` answers with it.
  for (const f of injected) {
    await lab.chaos.reportMttr(f.id, verdict.mttr_s, `users' SLIs of ${exp.title} (${opts.outDir})`).catch((err: Error) => notes.push(`MTTR not recorded on the controller: ${err.message}`));
  }
  await live.done(verdict);
  return { verdict, dir: opts.outDir, record };
}

async function runIntegrity(exp: Experiment, lab: LabHandle, loadOptions: LoadOptions, summary: LoadSummary | undefined, store: SeriesStore, t0: number, end: number, token: string): Promise<Integrity> {
  const mix = loadMixFile(exp.mix_path, { ...process.env, FAULTLINE_LAB_TOKEN: token });
  const writeIndex = mix.endpoints.findIndex((e) => e.name === exp.integrity.write_endpoint);
  if (writeIndex < 0) {
    return integrityNotChecked(`the mix has no endpoint "${exp.integrity.write_endpoint}": not checked`);
  }
  const sentUntil = (summary?.elapsed_s ?? (end - t0) / 1000) * 1000;
  const keys: string[] = [];
  const prev = process.env.FAULTLINE_LAB_TOKEN;
  process.env.FAULTLINE_LAB_TOKEN = token;
  try {
    // The same seed replays the same requests: the keys of every write this run could have sent.
    for (const p of planRequests(loadOptions)) {
      if (p.due_ms > sentUntil) break;
      if (p.request.endpoint !== writeIndex || p.request.body === undefined) continue;
      const key = (JSON.parse(p.request.body) as { idempotency_key?: unknown }).idempotency_key;
      if (typeof key === 'string') keys.push(key);
    }
  } finally {
    if (prev === undefined) delete process.env.FAULTLINE_LAB_TOKEN;
    else process.env.FAULTLINE_LAB_TOKEN = prev;
  }
  const codes = summary?.endpoints[exp.integrity.write_endpoint]?.status_codes ?? {};
  const acknowledged = (codes['200'] ?? 0) + (codes['201'] ?? 0);
  return checkIntegrity({
    primaryPort: port(lab.base, 'postgres-primary'),
    replicaPort: port(lab.base, 'postgres-replica'),
    keys,
    acknowledged,
    duplicateCharges: sumIncrease(store, 'lab_payments_duplicate_charges_total', { service: 'payments' }, t0, end),
    maxDuplicateCharges: exp.integrity.max_duplicate_charges,
  });
}

/**
 * Share of acknowledged writes the lab answered as replays of a known idempotency key (200) instead of new
 * orders (201, or 202 when degraded); null when the run had no acknowledged write. A seed replays its keys, so a second run with one
 * seed on the same data would otherwise judge a write path that never called payments.
 */
export function replayShare(summary: LoadSummary | undefined, endpoint: string): number | null {
  const codes = summary?.endpoints[endpoint]?.status_codes ?? {};
  const replayed = codes['200'] ?? 0;
  const created = (codes['201'] ?? 0) + (codes['202'] ?? 0); // 202: accepted as payment_pending (degraded)
  return replayed + created === 0 ? null : replayed / (replayed + created);
}

/** The controller's annotation events for this run's faults (its fault-events.jsonl), as written. */
function controllerEvents(stateDir: string, faults: FaultEventRecord[]): string {
  const ids = new Set(faults.map((f) => f.id));
  try {
    return readFileSync(`${statePaths(stateDir).root}/fault-events.jsonl`, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && ids.has((JSON.parse(l) as { id?: string }).id ?? ''))
      .map((l) => `${l}\n`)
      .join('');
  } catch {
    return '';
  }
}

