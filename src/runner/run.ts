/**
 * One experiment against a running system, from file to verdict:
 *
 *   preflight (every problem at once, nothing started) ─▶ mitigations ─▶ load + scrape
 *     ─▶ warm-up ─▶ baseline (steady state must hold, else *invalid*)
 *     ─▶ fault phase: faults injected through the controller at their offsets, stop conditions watched
 *        (a trip reverts everything at once: *aborted*) ─▶ revert ─▶ recovery
 *     ─▶ teardown (always: revert, stop load, restore mitigations) ─▶ integrity ─▶ verdict ─▶ run dir
 *
 * This module alone owns the phase clock and the guarantee that every fault it injected is reverted and every
 * setting it changed restored, whatever happens: an error in any phase ends the run as *invalid* with its run
 * dir written; Ctrl-C (the AbortSignal) ends it as *aborted*. It knows the system only through its RunTarget.
 *
 *   runLoad ─ seconds ─▶ LoadSeriesRecorder ─┐
 *   Scraper ─ rounds  ───────────────────────┼─▶ SeriesStore ─▶ evaluate (live + final) ─▶ Verdict ─▶ writeRun
 *   ChaosClient ─ inject / revert ─▶ marks ──┘
 *   (with --prometheus, a PrometheusSource polling range queries takes the Scraper's place)
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FaultlineError } from '../core/errors.ts';
import { planRequests, runLoad, type LoadOptions } from '../load/run.ts';
import type { LoadSummary } from '../load/samples.ts';
import { k6Endpoints, readK6Results } from '../load/k6/results.ts';
import { loadMixFile } from '../load/mix.ts';
import { LoadSeriesRecorder } from '../metrics/load-series.ts';
import { PrometheusSource } from '../metrics/prometheus.ts';
import { RequestLog } from '../metrics/requests.ts';
import { Scraper } from '../metrics/scraper.ts';
import { sumIncrease } from '../metrics/sli.ts';
import { SeriesStore } from '../metrics/store.ts';
import { runIntegrityChecks, type WritesOf } from './checks.ts';
import { stateChanges } from './state-changes.ts';
import { cpuAccount } from './cpu-account.ts';
import { breaches, computeVerdict, integrityNotChecked, sliValue, stopJudge, timeline, type Integrity, type Marks, type Sources, type Verdict } from './evaluate.ts';
import { breachEstablished, estimate } from './evidence.ts';
import { liveStatus } from './live-status.ts';
import { applyMitigations, type MitigationsApplied } from './mitigations.ts';
import { preflight } from './preflight.ts';
import { writeRun, type FaultEventRecord, type RunRecord } from './record.ts';
import type { Experiment } from './schema.ts';
import type { RunTarget } from './target.ts';

export type Phase = 'warmup' | 'baseline' | 'fault' | 'recovery' | 'judging';

/** What the live terminal line shows, once a second. */
export interface Progress {
  phase: Phase;
  left_s: number;
  slis: { name: string; value: number | null; threshold: number; ok: boolean; unit: 'ms' | 'ratio' }[];
  faults_active: number;
}

export interface RunOptions {
  /** The run directory to write (created). */
  outDir: string;
  /** Abort = Ctrl-C: every fault is reverted, the partial run is written, the verdict is aborted. */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /**
   * Base URL of a Prometheus that scrapes the system (each process as job or `service` label = its instance
   * name): the runner polls it with range queries each scrape interval instead of scraping the system itself.
   */
  prometheus?: string;
}

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

/** Everything one run shares between its phases. */
interface RunState {
  exp: Experiment;
  target: RunTarget;
  opts: RunOptions;
  store: SeriesStore;
  requests: RequestLog;
  src: Sources;
  scraper: Scraper | PrometheusSource;
  prometheus?: PrometheusSource;
  loadOptions: LoadOptions;
  load?: ReturnType<typeof runLoad>;
  consumed?: Promise<unknown>;
  summary?: LoadSummary;
  mitigation?: MitigationsApplied;
  marks: Marks;
  injected: FaultEventRecord[];
  notes: string[];
  invalid: string[];
  stop?: { condition: string; at: number };
  interrupted: boolean;
  live: ReturnType<typeof liveStatus>;
}

/**
 * Runs one experiment against the system `target` describes and writes its run dir. The system must be running
 * (the runner never starts or stops it, so a schedule shares one). Throws INVALID_INPUT, before anything starts,
 * when the experiment does not fit the system (every problem named).
 * @example
 *   const { verdict } = await runExperiment(loadExperiment('experiments/payments-latency-ci.yaml'),
 *                                           runTarget('.faultline'), { outDir: 'runs/x' });
 *   verdict.result // 'degraded'
 */
export async function runExperiment(file: Experiment, target: RunTarget, opts: RunOptions): Promise<{ verdict: Verdict; dir: string; record: RunRecord }> {
  const exp = await preflight(file, target);
  if (target.view.entryUrl === undefined) throw new FaultlineError('INVALID_INPUT', `${target.view.system}'s system file declares no entry (entry.via): there is nowhere to send load`, { field: 'entry' });
  const st = prepare(exp, target, opts);
  const before = await target.chaos.list();
  const busy = before.filter((f) => f.phase === 'injected');
  if (busy.length > 0) st.notes.push(`faults already active before the run: ${busy.map((f) => `${f.type}@${f.target}`).join(', ')}`);
  let integrity: Integrity | undefined;
  try {
    st.mitigation = await applyMitigations(target.view.switches, exp.mitigations);
    await startLoad(st);
    const steady = await baseline(st);
    if (st.opts.signal?.aborted) st.interrupted = true;
    else if (!steady) st.marks.fault_start = st.marks.fault_end = st.marks.recovery_end = Date.now();
    else {
      await faultPhase(st);
      await recovery(st);
    }
  } catch (err) {
    // Whatever broke, the run is written and judged invalid: a claim about users cannot rest on half a run.
    st.invalid.push(`the run failed in flight: ${(err as Error).message}`);
    const now = Date.now();
    st.marks.fault_end = Math.min(st.marks.fault_end, now);
    st.marks.recovery_end = Math.min(st.marks.recovery_end, now);
  } finally {
    await teardown(st);
  }
  if (exp.load.engine === 'k6') await readK6(st);
  // A run the generator itself calls unmeasurable is never judged on: its latencies describe the client.
  else if (st.summary && !st.summary.valid) st.invalid.push(`load generator: ${st.summary.invalid_reasons.join('; ')}`);
  else if (!st.summary) st.invalid.push("the load generator produced no summary: the users' side of the run is incomplete");
  if (st.interrupted && !st.stop) st.stop = { condition: 'interrupted (Ctrl-C / signal)', at: Date.now() };
  opts.onProgress?.({ phase: 'judging', left_s: 0, slis: [], faults_active: 0 });
  const end = Date.now();
  if (exp.integrity.enabled) {
    integrity = await judgeIntegrity(st, end).catch((err: unknown) => integrityNotChecked(`integrity check could not run: ${(err as Error).message}`));
  }
  const replays = exp.integrity.write_endpoint === undefined ? null : replayShare(st.summary, exp.integrity.write_endpoint);
  if (replays !== null && replays > 0.5) {
    st.invalid.push(
      `${(replays * 100).toFixed(0)} % of ${exp.integrity.write_endpoint} answers were idempotent replays (200) rather than new writes (201/202): ` +
        'this seed already ran on this data, so the write path was never exercised; run with another seed',
    );
  }
  const { marks, store, requests, injected } = st;
  const verdict = computeVerdict({ experiment: exp, store, requests, marks, faults: injected, stop: st.stop, integrity, invalid: st.invalid });
  const floors = [marks.baseline_start, marks.fault_start, marks.first_inject, marks.last_revert].filter((x): x is number => x !== undefined);
  // The system's own states, and each instance's process lifecycle when a supervisor runs it.
  const states = [...(target.view.serverMetrics?.states ?? []), ...(target.processes ? [target.processes.state] : [])];
  const cpu = target.processes ? cpuAccount(store, target.processes, marks) : undefined;
  const record: RunRecord = {
    faultline_run: 1,
    experiment: exp,
    experiment_text: readFileSync(exp.source, 'utf8'),
    started_at: new Date(marks.start).toISOString(),
    ended_at: new Date(end).toISOString(),
    marks,
    fault_events: injected,
    mitigations: { requested: exp.mitigations, applied: st.mitigation?.applied ?? 'not applied (the run stopped before)' },
    notes: st.notes,
    load_summary: st.summary ?? null,
    lab: { base_port: target.where.base_port, state_dir: target.where.state_dir, system: target.view.system, system_file: target.where.system_file },
    timeline: timeline(st.src, exp, marks.start, end, floors),
    ...(states.length > 0 ? { state_changes: stateChanges(store, states, marks.start, end, marks.first_inject ?? marks.fault_start, exp.scrape_interval_ms) } : {}),
    ...(cpu ? { cpu } : {}),
  };
  writeRun(opts.outDir, record, verdict, store, controllerEvents(target.eventsFile, injected), requests);
  // The controller keeps the observed MTTR with each fault, so `POST /chaos/revert/{id}` answers with it.
  for (const f of injected) {
    await target.chaos.reportMttr(f.id, verdict.mttr_s, `users' SLIs of ${exp.title} (${opts.outDir})`).catch((err: Error) => st.notes.push(`MTTR not recorded on the controller: ${err.message}`));
  }
  await st.live.done(verdict);
  return { verdict, dir: opts.outDir, record };
}

/** The run's shared state, before anything is sent: store, sources, load options, the planned marks. */
function prepare(exp: Experiment, target: RunTarget, opts: RunOptions): RunState {
  const store = new SeriesStore();
  // One source fills the store, either way with the same series: our own scrapes, or Prometheus' range queries.
  const prometheus = opts.prometheus ? new PrometheusSource({ url: opts.prometheus, store, interval_ms: exp.scrape_interval_ms, services: target.scrape.map((t) => t.service) }) : undefined;
  const scraper = prometheus ?? new Scraper({ targets: target.scrape, store, interval_ms: exp.scrape_interval_ms });
  // Every request the users sent, as they saw it: the default source of every SLI.
  const requests = new RequestLog(loadMixFile(exp.mix_path, target.mixEnv).endpoints.map((e) => e.name), exp.load.timeout_ms);
  const w = exp.windows;
  const totalS = w.warmup_s + w.baseline_s + w.fault_s + w.recovery_s;
  const loadOptions: LoadOptions = {
    target: target.view.entryUrl!,
    schedule: { executor: 'constant', rate_rps: exp.load.rate, duration_ms: (totalS + 2) * 1000 },
    mixFile: exp.mix_path,
    mixEnv: target.mixEnv,
    seed: exp.load.seed,
    timeout_ms: exp.load.timeout_ms,
    // The same bar as a second's self-watch (DEFAULT_SELF_WATCH): a 100 ms stall moves a request across a 250 ms SLO.
    max_lag_ms: 100,
    connections: 64,
    on_request: (r) => requests.add(r),
  };
  const t0 = Date.now();
  return {
    exp,
    target,
    opts,
    store,
    requests,
    src: { store, requests },
    scraper,
    ...(prometheus ? { prometheus } : {}),
    loadOptions,
    marks: {
      start: t0,
      baseline_start: t0 + w.warmup_s * 1000,
      fault_start: t0 + (w.warmup_s + w.baseline_s) * 1000,
      fault_end: t0 + (w.warmup_s + w.baseline_s + w.fault_s) * 1000,
      recovery_end: t0 + totalS * 1000,
    },
    injected: [],
    notes: [],
    invalid: [],
    interrupted: false,
    live: liveStatus(target.chaos, exp.title, opts.outDir),
  };
}

/**
 * Starts the open-model load and the scrapes; the planned marks are re-anchored on the load's first instant. With
 * engine k6, k6 sends the load (started by the user, e.g. on k6-operator) and only the scrapes start here.
 */
async function startLoad(st: RunState): Promise<void> {
  const anchor = (at: number): void => {
    const shift = at - st.marks.start;
    for (const k of ['start', 'baseline_start', 'fault_start', 'fault_end', 'recovery_end'] as const) st.marks[k] += shift;
  };
  anchor(Date.now());
  if (st.exp.load.engine === 'k6') {
    st.scraper.start();
    st.notes.push(`load sent by k6; its results are read from ${st.exp.load.results} after the run`);
    return;
  }
  st.load = runLoad(st.loadOptions);
  // The generator warms up first (JIT, connections): the run's clock starts with its schedule, not before.
  anchor(await st.load.started.catch(() => Date.now()));
  st.scraper.start();
  const recorder = new LoadSeriesRecorder(st.store, st.marks.start);
  st.consumed = (async () => {
    for await (const e of st.load!) {
      if (e.type === 'second') recorder.record(e);
      else st.summary = e;
    }
  })().catch((err: unknown) => st.notes.push(`load generator: ${(err as Error).message}`));
}

/** One live-progress tick: each SLI over the rolling window against the threshold of the phase. */
function progress(st: RunState, phase: Phase, until: number, thresholdOf: 'steady' | 'slo', from: number): void {
  if (!st.opts.onProgress) return;
  const now = Date.now();
  const lo = Math.max(from, now - st.exp.hypothesis.window_s * 1000);
  st.opts.onProgress({
    phase,
    left_s: Math.max(0, Math.round((until - now) / 1000)),
    faults_active: st.injected.filter((f) => f.t_stop === undefined).length,
    slis: st.exp.hypothesis.sli.map((s) => {
      // A phase's first tick has no window yet (lo ≈ now): no figure, rather than an empty window read as 0 % / 100 %.
      const v = now - lo < 1000 ? NaN : sliValue(st.src, s, lo, now, st.load?.outstanding());
      const threshold = thresholdOf === 'slo' ? (s.slo_threshold ?? s.steady_state) : s.steady_state;
      return { name: s.name, value: Number.isFinite(v) ? v : null, threshold, ok: !breaches(s, v, threshold), unit: s.metric === 'latency_ms' ? 'ms' : 'ratio' };
    }),
  });
}

/** Ticks once a second until `until` (or abort, or a stop condition), running `each` first at every tick. */
async function phaseLoop(st: RunState, phase: Phase, until: number, thresholdOf: 'steady' | 'slo', from: number, each?: () => Promise<void>): Promise<void> {
  const signal = st.opts.signal;
  while (!signal?.aborted && Date.now() < until && !st.stop) {
    await each?.();
    progress(st, phase, until, thresholdOf, from);
    st.live.phase(phase, Math.max(0, Math.round((until - Date.now()) / 1000)), st.injected.filter((f) => f.t_stop === undefined).length);
    await sleepUntil(Math.min(until, Date.now() + 1000), signal);
  }
}

/** Warm-up and baseline; true when the steady state held (the same rule as the verdict's: shown out of it, or unknown). */
async function baseline(st: RunState): Promise<boolean> {
  await phaseLoop(st, 'warmup', st.marks.baseline_start, 'steady', st.marks.start);
  await phaseLoop(st, 'baseline', st.marks.fault_start, 'steady', st.marks.baseline_start);
  if (st.opts.signal?.aborted) return false;
  await st.scraper.scrapeOnce();
  // k6's requests are read after the run: the verdict judges the baseline then (an unsteady one is invalid).
  const live = st.exp.hypothesis.sli.filter((s) => st.exp.load.engine !== 'k6' || s.source === 'server');
  const bad = live.filter((s) => {
    const e = estimate(st.src, s, st.marks.baseline_start, Date.now(), s.steady_state);
    return e.value === null || breachEstablished(s, e, s.steady_state);
  });
  return bad.length === 0;
}

/** The fault window: each fault injected at its offset and reverted at its end, stop conditions watched. */
async function faultPhase(st: RunState): Promise<void> {
  const { exp, marks, target } = st;
  marks.fault_start = Date.now();
  marks.fault_end = marks.fault_start + exp.windows.fault_s * 1000;
  const pending = exp.faults.map((spec) => ({
    spec,
    at: marks.fault_start + spec.offset_s * 1000,
    end: marks.fault_start + (spec.duration_s !== undefined ? Math.min(spec.offset_s + spec.duration_s, exp.windows.fault_s) : exp.windows.fault_s) * 1000,
    done: false,
    rec: undefined as FaultEventRecord | undefined,
  }));
  const watch = stopWatcher(st);
  const step = async (): Promise<void> => {
    const now = Date.now();
    for (const p of pending) {
      if (!p.done && now >= p.at) {
        p.done = true;
        // TTL a little past the planned end: a runner that dies cannot leave the fault on for long.
        const ttl = Math.ceil((p.end - now) / 1000) + 10;
        let f;
        try {
          f = await target.chaos.inject({ type: p.spec.type, target: p.spec.target, params: p.spec.params, duration_s: ttl, ...(p.spec.concurrent ? { concurrent: true } : {}) });
        } catch (err) {
          // The preflight checked this fault: one the controller refuses now (a target became busy) means the run
          // did not test what it says, so it is invalid, not judged without it.
          st.invalid.push(`inject of ${p.spec.name ?? `${p.spec.type}@${p.spec.target}`} at +${((now - marks.fault_start) / 1000).toFixed(1)} s failed (not injected): ${(err as Error).message}`);
          st.stop ??= { condition: 'a planned fault could not be injected', at: Date.now() };
          return;
        }
        p.rec = { id: f.id, name: p.spec.name, fault_type: f.type, target: f.target, params: f.params, mechanism: f.mechanism, t_start: f.t_start, t_planned_stop: p.end / 1000 };
        st.injected.push(p.rec);
        marks.first_inject ??= f.t_start * 1000;
      }
      if (p.rec && p.rec.t_stop === undefined && now >= p.end) {
        const r = await target.chaos.revert(p.rec.id);
        p.rec.t_stop = r.t_stop;
        if (r.observed) p.rec.observed = r.observed;
      }
    }
    watch();
  };
  await phaseLoop(st, 'fault', marks.fault_end, 'slo', marks.fault_start, step);
  if (st.opts.signal?.aborted) st.interrupted = true;
  await revertAll(st);
  const stops = st.injected.map((f) => f.t_stop).filter((t): t is number => t !== undefined);
  marks.last_revert = stops.length > 0 ? Math.max(...stops) * 1000 : undefined;
  if (marks.first_inject !== undefined) marks.fault_end = marks.last_revert ?? Date.now();
  marks.recovery_end = (marks.last_revert ?? Date.now()) + exp.windows.recovery_s * 1000;
}

/** The stop conditions (judged in evaluate.ts, where verdicts are) fed each fault-phase tick; a trip sets `st.stop`. */
function stopWatcher(st: RunState): () => void {
  const judge = stopJudge(st.exp, st.src);
  return () => {
    if (st.marks.first_inject === undefined || st.stop) return;
    const scrapeTick = st.store.select('up', { service: st.exp.hypothesis.sli[0].service })[0]?.points.at(-1)?.[0];
    st.stop = judge(st.marks.first_inject, Date.now(), scrapeTick, st.load?.outstanding());
  };
}

/** The recovery window after the last revert (cut short by an interrupt). */
async function recovery(st: RunState): Promise<void> {
  if (!st.interrupted) await phaseLoop(st, 'recovery', st.marks.recovery_end, 'steady', st.marks.last_revert ?? Date.now());
  if (st.opts.signal?.aborted) st.interrupted = true;
  if (st.interrupted) st.marks.recovery_end = Date.now();
}

async function revertAll(st: RunState): Promise<void> {
  for (const f of st.injected) {
    if (f.t_stop !== undefined) continue;
    try {
      const r = await st.target.chaos.revert(f.id);
      f.t_stop = r.t_stop;
      if (r.observed) f.observed = r.observed;
    } catch (err) {
      st.notes.push(`revert of ${f.id} failed: ${(err as Error).message}`);
    }
  }
}

/** On every exit path: nothing this run injected stays on, the load stops, the system's settings come back. */
async function teardown(st: RunState): Promise<void> {
  await revertAll(st);
  st.load?.abort();
  await st.consumed;
  await st.scraper.stop();
  const p = st.prometheus;
  if (p) {
    st.notes.push(`series read from Prometheus at ${st.opts.prometheus}${p.failures > 0 ? `; ${p.failures} poll(s) failed, last: ${p.lastError}` : ''}${p.collisions.size > 0 ? `; ${p.collisions.size} series skipped (same service and labels as another)` : ''}`);
  }
  await st.mitigation?.restore();
}

/**
 * The users' requests of a k6 run, from its --out json file: the run's RequestLog is replaced by k6's, so every
 * users' SLI is judged on what k6's virtual users saw. Live progress and users' stop conditions had no data.
 */
async function readK6(st: RunState): Promise<void> {
  const file = resolve(dirname(st.exp.source), st.exp.load.results!);
  try {
    const ev = await readK6Results(file, k6Endpoints(loadMixFile(st.exp.mix_path, st.target.mixEnv)), { timeout_ms: st.exp.load.timeout_ms });
    st.requests = ev.requests;
    st.src = { store: st.store, requests: ev.requests };
    st.notes.push(`users' requests from k6 (${file}): ${ev.counts.requests} requests, ${ev.counts.dropped} dropped iterations, ${ev.counts.unmatched} unmatched; ${ev.latency_basis}`, ...ev.notes);
    if (ev.t0_ms === null || ev.t1_ms === null || ev.t1_ms < st.marks.baseline_start || ev.t0_ms > st.marks.fault_start) {
      st.invalid.push(`the k6 results in ${file} do not cover this run's baseline and fault windows (k6 ran ${ev.t0_ms === null ? 'no request' : `${new Date(ev.t0_ms).toISOString()} → ${new Date(ev.t1_ms!).toISOString()}`})`);
    }
  } catch (err) {
    st.invalid.push(`the k6 results could not be read: ${(err as Error).message}`);
  }
}

/** The system's integrity checks, plus the experiment's gates on how much each counter may grow. */
async function judgeIntegrity(st: RunState, end: number): Promise<Integrity> {
  const { exp, target, summary } = st;
  const writes: WritesOf = (endpoint, key, acknowledged) => {
    const mix = loadMixFile(exp.mix_path, target.mixEnv);
    const index = mix.endpoints.findIndex((e) => e.name === endpoint);
    const sentUntil = (summary?.elapsed_s ?? (end - st.marks.start) / 1000) * 1000;
    const keys: string[] = [];
    // The same seed replays the same requests: the keys of every write this run could have sent.
    for (const p of planRequests(st.loadOptions)) {
      if (p.due_ms > sentUntil) break;
      if (p.request.endpoint !== index || p.request.body === undefined) continue;
      const value = (JSON.parse(p.request.body) as Record<string, unknown>)[key];
      if (typeof value === 'string' || typeof value === 'number') keys.push(String(value));
    }
    const codes = summary?.endpoints[endpoint]?.status_codes ?? {};
    return { keys, acknowledged: acknowledged.reduce((n, code) => n + (codes[String(code)] ?? 0), 0) };
  };
  const results = await runIntegrityChecks(target.view.integrity, { writes });
  const checks = results.map(({ ms: _ms, ...r }) => r);
  // From the first scrape on: a counter's value at that scrape is where this run started from (a series first seen
  // later — a label set created during the run — still counts from zero).
  const firstScrape = Math.min(...st.target.scrape.map((t) => st.store.select('up', { service: t.service })[0]?.points.find(([t]) => t >= st.marks.start)?.[0] ?? Infinity));
  const from = Number.isFinite(firstScrape) ? firstScrape : st.marks.start;
  for (const [name, max] of Object.entries(exp.integrity.max_increase)) {
    const c = exp.resolved?.counters.find((x) => x.name === name);
    if (!c) continue;
    const grew = sumIncrease(st.store, c.metric, c.labels, from, end);
    checks.push({ name: `${name} increase`, ok: grew <= max, expected: `≤ ${max}`, found: `${grew}` });
  }
  const ok = checks.every((c) => c.ok);
  const notes = checks.length === 0 ? [`${target.view.system} declares no integrity check`] : ok ? [`${checks.length} check(s) passed`] : [];
  return { checked: checks.length > 0, ok, checks, notes };
}

/**
 * Share of acknowledged writes the system answered as replays of a known idempotency key (200) instead of new
 * writes (201, or 202 when accepted for later); null when the run had no acknowledged write. A seed replays its
 * keys, so a second run with one seed on the same data would otherwise judge a write path that did nothing.
 */
export function replayShare(summary: LoadSummary | undefined, endpoint: string): number | null {
  const codes = summary?.endpoints[endpoint]?.status_codes ?? {};
  const replayed = codes['200'] ?? 0;
  const created = (codes['201'] ?? 0) + (codes['202'] ?? 0);
  return replayed + created === 0 ? null : replayed / (replayed + created);
}

/** The controller's annotation events for this run's faults (its fault-events.jsonl), as written. */
function controllerEvents(file: string | undefined, faults: FaultEventRecord[]): string {
  const ids = new Set(faults.map((f) => f.id));
  if (file === undefined) return '';
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && ids.has((JSON.parse(l) as { id?: string }).id ?? ''))
      .map((l) => `${l}\n`)
      .join('');
  } catch {
    return '';
  }
}
