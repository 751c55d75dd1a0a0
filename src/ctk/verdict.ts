/**
 * The faultline verdict of a CTK run that had load (faultline.actions.start_load): the users' per-request
 * records judged by the runner's own rules (src/runner/evaluate.ts), with the run mapped onto its phases —
 *
 *   load start ── baseline ──▶ first fault/toxic applied ── fault ──▶ last one removed ── recovery ──▶ load end
 *
 * (no fault applied: the method's start and end bound the "fault" phase). The SLIs are the steady-state
 * hypothesis's `faultline.probes.sli` probes (their range tolerance is the threshold); without any, every mix
 * endpoint gets an availability SLI of 99 %. The run dir is written under `<run dir>/faultline/`.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ExperimentSchema, type Experiment } from '../runner/schema.ts';
import { computeVerdict, integrityNotChecked, timeline, type Marks, type Verdict } from '../runner/evaluate.ts';
import { writeRun, type RunRecord } from '../runner/record.ts';
import { SeriesStore } from '../metrics/store.ts';
import { resolveRef, namedActivities } from './load.ts';
import type { CtkSession } from './session.ts';
import type { Activity, CtkExperiment, Journal } from './types.ts';

type SliIn = { name: string; metric: 'latency_ms' | 'error_rate' | 'availability'; quantile: number; endpoint: string; steady_state: number; source: 'users' };

/** SLIs from the hypothesis's faultline.probes.sli probes (one per endpoint when none names one). */
export function slisOf(exp: CtkExperiment, endpoints: readonly string[]): SliIn[] {
  const named = namedActivities(exp);
  const out: SliIn[] = [];
  for (const item of exp['steady-state-hypothesis']?.probes ?? []) {
    const a = resolveRef(item, named) as Activity | undefined;
    const p = a?.provider;
    if (!a || p?.type !== 'python' || p.module !== 'faultline.probes' || p.func !== 'sli') continue;
    const args = (p.arguments ?? {}) as Record<string, unknown>;
    const metric = String(args.metric) as SliIn['metric'];
    const t = a.tolerance as { type?: string; range?: [number, number] } | number[] | undefined;
    const range = Array.isArray(t) ? (t as number[]) : t && typeof t === 'object' && t.type === 'range' ? t.range : undefined;
    if (!range) continue;
    const threshold = metric === 'availability' ? range[0] : range[1];
    for (const endpoint of args.endpoint !== undefined ? [String(args.endpoint)] : endpoints) {
      out.push({ name: `${a.name}${args.endpoint === undefined && endpoints.length > 1 ? `.${endpoint}` : ''}`.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z]/, 's'), metric, quantile: args.quantile === undefined ? 0.99 : Number(args.quantile), endpoint, steady_state: threshold, source: 'users' });
    }
  }
  if (out.length === 0) for (const endpoint of endpoints) out.push({ name: `${endpoint}_availability`.replace(/^[^A-Za-z]/, 's'), metric: 'availability', quantile: 0.99, endpoint, steady_state: 0.99, source: 'users' });
  return out;
}

/**
 * Judges the load of a finished CTK run and writes the faultline run dir; undefined when the run had no load.
 * @example const v = await ctkVerdict(exp, file, journal, session, marks, 'runs/x'); v?.verdict.result
 */
export async function ctkVerdict(
  exp: CtkExperiment,
  file: string,
  journal: Journal,
  session: CtkSession,
  m: { method_start?: number; method_end?: number },
  runDir: string,
): Promise<{ verdict: Verdict; dir: string } | undefined> {
  const load = session.load;
  if (!load) return undefined;
  const summary = await session.stopLoad();
  const end = load.t_end ?? Date.now();
  const applied = session.applied;
  const starts = applied.map((f) => f.t_start * 1000);
  const stops = applied.map((f) => (f.t_stop ?? end / 1000) * 1000);
  const first = starts.length ? Math.max(load.t0, Math.min(...starts)) : undefined;
  const last = stops.length ? Math.min(end, Math.max(...stops)) : undefined;
  const fStart = first ?? Math.max(load.t0, m.method_start ?? load.t0);
  const fEnd = last ?? Math.min(end, m.method_end ?? end);
  const marks: Marks = { start: load.t0, baseline_start: load.t0, fault_start: fStart, fault_end: fEnd, recovery_end: end, ...(first !== undefined ? { first_inject: first, last_revert: last } : {}) };
  const sec = (a: number, b: number): number => Math.max(1, Math.round((b - a) / 1000));
  const parsed = ExperimentSchema.parse({
    title: exp.title,
    description: exp.description ?? '',
    tags: exp.tags ?? [],
    hypothesis: { name: exp['steady-state-hypothesis']?.title ?? exp.title, sli: slisOf(exp, load.requests.endpoints) },
    windows: { warmup_s: 0, baseline_s: sec(load.t0, fStart), fault_s: sec(fStart, fEnd), recovery_s: sec(fEnd, end) },
    load: { rate: load.rate, seed: load.seed, timeout_ms: load.timeout_ms, mix: load.mixFile ?? 'inline' },
    faults: applied.length ? applied.map((f) => ({ name: f.id, type: f.type, target: f.target, params: f.params })) : [{ name: 'method', type: 'none', target: 'none' }],
    integrity: { enabled: false },
  });
  const experiment: Experiment = { ...parsed, source: file, mix_path: load.mixFile ?? '' };
  const store = new SeriesStore();
  const invalid: string[] = [];
  if (summary && !summary.valid) invalid.push(`load generator: ${summary.invalid_reasons.join('; ')}`);
  if (!summary) invalid.push('the load generator produced no summary');
  const stop = journal.status === 'interrupted' ? { condition: 'interrupted (Ctrl-C / signal)', at: end } : undefined;
  const integrity = integrityNotChecked('a Chaos Toolkit run: no integrity check (declare one in the system file and run a faultline experiment)');
  const verdict = computeVerdict({ experiment, store, requests: load.requests, marks, stop, integrity, invalid });
  const dir = join(runDir, 'faultline');
  const record: RunRecord = {
    faultline_run: 1,
    experiment,
    experiment_text: readFileSync(file, 'utf8'),
    started_at: new Date(load.t0).toISOString(),
    ended_at: new Date(end).toISOString(),
    marks,
    fault_events: applied.map((f) => ({ id: f.id, fault_type: f.type, target: f.target, params: f.params, mechanism: f.mechanism ?? 'controller', t_start: f.t_start, t_stop: f.t_stop, t_planned_stop: f.t_stop ?? end / 1000 })),
    mitigations: { requested: {}, applied: 'none (Chaos Toolkit run)' },
    notes: [`Chaos Toolkit experiment: journal status ${journal.status}${journal.deviated ? ', deviated' : ''}`, ...session.notes],
    load_summary: summary ?? null,
    lab: { base_port: 0, state_dir: session.stateDir },
    timeline: timeline({ store, requests: load.requests }, experiment, load.t0, end, [marks.baseline_start, marks.fault_start, ...(first !== undefined ? [first] : []), ...(last !== undefined ? [last] : [])]),
  };
  writeRun(dir, record, verdict, store, '', load.requests);
  return { verdict, dir };
}
