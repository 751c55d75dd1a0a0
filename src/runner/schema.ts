/**
 * The experiment file (YAML): its schema, defaults and loading. This module alone owns the file's shape — the
 * seed's data model (hypothesis {name, sli, steady_state, slo_threshold, fault, window_s, stop_condition}),
 * the windows, the load, the faults with offsets, the lab's mitigation settings — and the schedule file that
 * lists experiments to run in order. Validation collects every problem, each with its path.
 *
 * @example
 *   const exp = loadExperiment('experiments/payments-latency-ci.yaml');
 *   exp.windows.fault_s // 10
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { throwIfIssues, type Issue } from '../core/errors.ts';
import { issuesFromZod } from '../core/schema.ts';
import { readYamlFile } from '../core/yaml-file.ts';
import { loadMixFile } from '../load/mix.ts';

/** What an SLI measures. Latency and error rate must stay *below* their thresholds; availability *above*. */
export const SLI_METRICS = ['latency_ms', 'error_rate', 'availability'] as const;
export type SliMetric = (typeof SLI_METRICS)[number];

const Sli = z.strictObject({
  /** Unique within the hypothesis, e.g. write_p99_ms. */
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (starting with a letter)'),
  metric: z.enum(SLI_METRICS),
  /** For latency_ms: which quantile (0.99 = p99). */
  quantile: z.number().gt(0).lt(1).default(0.99),
  /**
   * Whose numbers are judged: `users` (default) = the load generator's per-request records for `endpoint`;
   * `server` = the service's own request histogram (lab_http_request_duration_seconds) for service/method/route.
   * The other source, when it can be read, is shown beside it and never judged.
   */
  source: z.enum(['users', 'server']).default('users'),
  /** The mix endpoint (users' source), e.g. create_order. Default: the endpoint whose method and path match route. */
  endpoint: z.string().min(1).optional(),
  /** The service (instance) whose request histogram is read for the server's figures; '' = the system's entry. */
  service: z.string().default(''),
  /**
   * The Prometheus histogram (seconds; labels service, method, route, status) the server's figures come from.
   * Default: the system file's `server_metrics.http_histogram`; without either the server's figures are unknown.
   */
  histogram: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/).optional(),
  /** The route label as the service reports it, e.g. /orders or /orders/:id (needed for the server's figures). */
  route: z.string().min(1).optional(),
  method: z.string().regex(/^[A-Z]+$/).optional(),
  /** Threshold while no fault is active (baseline, and recovery: "back in SLO"). */
  steady_state: z.number().min(0),
  /** Threshold under the fault. Defaults to steady_state. */
  slo_threshold: z.number().min(0).optional(),
  /** A breach of this SLI under fault means the failure spread where it must not (e.g. the read path): failed. */
  critical: z.boolean().default(false),
});

const StopCondition = z.strictObject({
  /** Which SLI (by name) it watches. */
  sli: z.string().min(1),
  /** Trips when the SLI's rolling value is above this (latency ms, error ratio) … */
  above: z.number().min(0).optional(),
  /** … or below this (availability). */
  below: z.number().min(0).optional(),
  /** For this many consecutive evaluations (seconds). */
  for_s: z.number().int().min(1).max(600).default(1),
});

const Fault = z.strictObject({
  name: z.string().min(1).optional(),
  type: z.string().min(1),
  target: z.string().min(1),
  params: z.record(z.string(), z.unknown()).default({}),
  /** Seconds after the fault window opens. */
  offset_s: z.number().min(0).default(0),
  /** How long it stays; default: until the fault window closes. */
  duration_s: z.number().positive().optional(),
  /**
   * Stack it on purpose beside another fault active on the same target at the same time (a memory cap and a
   * leak in the capped process); without it the controller refuses a second fault on a busy target.
   */
  concurrent: z.boolean().default(false),
});

export const ExperimentSchema = z.strictObject({
  title: z.string().min(1),
  description: z.string().default(''),
  tags: z.array(z.string()).default([]),
  hypothesis: z.strictObject({
    name: z.string().min(1),
    sli: z.array(Sli).min(1),
    /** Rolling window (s) each per-second evaluation and stop condition looks back over. */
    window_s: z.number().int().min(1).max(300).default(5),
    /** Optional: names the fault (faults[].name) the hypothesis is about; informational. */
    fault: z.string().optional(),
    stop_condition: z.array(StopCondition).default([]),
  }),
  windows: z.strictObject({
    warmup_s: z.number().min(0).default(5),
    baseline_s: z.number().min(1).default(60),
    fault_s: z.number().min(1).default(60),
    recovery_s: z.number().min(1).default(120),
  }),
  load: z.strictObject({
    rate: z.number().positive().max(100_000),
    /** A mix file, relative to the experiment file. */
    mix: z.string().default('mixes/lab-default.yaml'),
    seed: z.number().int().min(0).max(0xffffffff),
    timeout_ms: z.number().int().min(1).max(120_000).default(10_000),
    /**
     * Who sends the load: faultline's own open-model generator (default), or k6 (docs/scale-out.md), whose
     * `--out json` file (`results`, relative to this file) is read after the run as the users' requests. k6's
     * latency is not coordinated-omission-free, and the report says so.
     */
    engine: z.enum(['faultline', 'k6']).default('faultline'),
    results: z.string().min(1).optional(),
  }),
  faults: z.array(Fault).min(1),
  recovery: z
    .strictObject({
      /** SLIs back within steady state for this many consecutive seconds = recovered (MTTR's end). */
      consecutive_s: z.number().int().min(1).max(600).default(5),
      /** A recovery slower than this fails the hypothesis even when it happens. */
      max_mttr_s: z.number().positive().optional(),
      /**
       * What has to happen, beyond the fault ending, for the system to heal (e.g. "the supervisor restarts the
       * killed process"); absent = it heals by itself once the fault ends. Informational: reports rank by it.
       */
      intervention: z.string().trim().min(1, 'say what has to happen for the system to heal, or leave intervention out').max(200).optional(),
    })
    .default({ consecutive_s: 5 }),
  /** Thresholds the blast radius applies to every endpoint of every service (DESIGN: "under one fault"). */
  blast_radius: z
    .strictObject({
      latency_ms: z.number().positive().default(1000),
      quantile: z.number().gt(0).lt(1).default(0.99),
      error_rate: z.number().min(0).max(1).default(0.01),
    })
    .default({ latency_ms: 1000, quantile: 0.99, error_rate: 0.01 }),
  integrity: z
    .strictObject({
      /**
       * The mix endpoint whose answers say whether the write path was exercised at all (idempotent replays, 200,
       * vs new writes); default: the endpoint the system's `writes` integrity checks name.
       */
      write_endpoint: z.string().min(1).optional(),
      /** How much each of the system's counters may grow during the run (e.g. `duplicate_charges: 0`). */
      max_increase: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), z.number().int().min(0)).default({}),
      /** Shorthand kept for older files: `max_increase: { duplicate_charges: N }`. */
      max_duplicate_charges: z.number().int().min(0).optional(),
      /** Run the system's integrity checks after the experiment. */
      enabled: z.boolean().default(true),
    })
    .default({ max_increase: {}, enabled: true }),
  /** The system's mitigation settings: carried into the run record and sent to its mitigations switch. */
  mitigations: z.record(z.string(), z.unknown()).default({}),
  scrape_interval_ms: z.number().int().min(250).max(10_000).default(1000),
});

export type Experiment = z.output<typeof ExperimentSchema> & {
  /** Absolute path of the file it came from (mix paths resolve against it). */
  source: string;
  /** Absolute path of the mix file. */
  mix_path: string;
  /** What the system file contributed, filled when the experiment is resolved against a running system. */
  resolved?: ResolvedSystem;
};

/** The parts of a system file a verdict uses (kept in the run record, so `faultline report` can re-judge). */
export interface ResolvedSystem {
  system: string;
  /** The instance behind the entry: the default service of a server-source SLI. */
  entry_service?: string;
  /** Server request metrics: blast radius over every route and dependency the services report. */
  server_metrics?: { http_histogram: string; dependency_histogram?: string; ops_routes: string[] };
  /** Counters that compare with an endpoint's offered requests (effective/offered = amplification). */
  counters: { name: string; metric: string; labels: Record<string, string>; per_endpoint?: string }[];
}
export type SliSpec = Experiment['hypothesis']['sli'][number];
export type FaultSpec = Experiment['faults'][number];
export type StopConditionSpec = Experiment['hypothesis']['stop_condition'][number];

/** Whether an SLI must stay below (latency, errors) or above (availability) its threshold. */
export function sliDirection(sli: Pick<SliSpec, 'metric'>): 'max' | 'min' {
  return sli.metric === 'availability' ? 'min' : 'max';
}

/**
 * Validates a parsed experiment object; throws one INVALID_INPUT listing every problem with its path.
 * @example parseExperiment(YAML.parse(text), '/abs/exp.yaml')
 */
export function parseExperiment(raw: unknown, source: string): Experiment {
  const parsed = ExperimentSchema.safeParse(raw);
  const issues: Issue[] = parsed.success ? [] : issuesFromZod(raw, parsed.error.issues);
  if (parsed.success) {
    const e = parsed.data;
    const names = new Set<string>();
    e.hypothesis.sli.forEach((s, i) => {
      if (names.has(s.name)) issues.push({ path: `hypothesis.sli[${i}].name`, message: `duplicate SLI name "${s.name}"` });
      names.add(s.name);
    });
    e.hypothesis.stop_condition.forEach((c, i) => {
      const at = `hypothesis.stop_condition[${i}]`;
      if (!names.has(c.sli)) issues.push({ path: `${at}.sli`, message: `unknown SLI "${c.sli}" (declared: ${[...names].join(', ')})` });
      if ((c.above === undefined) === (c.below === undefined)) issues.push({ path: at, message: 'give exactly one of above / below' });
    });
    const faultNames = new Set(e.faults.map((f) => f.name).filter(Boolean));
    if (e.hypothesis.fault !== undefined && !faultNames.has(e.hypothesis.fault)) {
      issues.push({ path: 'hypothesis.fault', message: `no fault named "${e.hypothesis.fault}" in faults` });
    }
    e.faults.forEach((f, i) => {
      if (f.offset_s >= e.windows.fault_s) {
        issues.push({ path: `faults[${i}].offset_s`, message: `must be inside the fault window (< ${e.windows.fault_s} s)` });
      }
    });
    overlaps(e.faults, e.windows.fault_s).forEach(({ later, earlier }) => {
      const f = e.faults[later];
      issues.push({
        path: `faults[${later}]`,
        message: `${f.type} on ${f.target} overlaps faults[${earlier}] (${e.faults[earlier].type}) on the same target: the controller holds one fault per target at a time; set concurrent: true to stack them on purpose, or move offset_s past the other's end`,
      });
    });
    if (e.load.engine === 'k6' && e.load.results === undefined) issues.push({ path: 'load.results', message: "engine k6 needs the k6 run's --out json file (results: k6.json)" });
    if (e.load.engine === 'faultline' && e.load.results !== undefined) issues.push({ path: 'load.results', message: 'only for engine: k6 (faultline records its own requests)' });
    const mix_path = resolve(dirname(source), e.load.mix);
    if (issues.length === 0) resolveEndpoints(e, mix_path, issues);
    e.hypothesis.sli.forEach((s, i) => {
      if (s.source === 'server' && s.route === undefined) issues.push({ path: `hypothesis.sli[${i}].route`, message: 'a server-source SLI needs the route its service reports (e.g. /orders)' });
    });
    if (issues.length === 0) return { ...e, source, mix_path };
  }
  throwIfIssues(issues);
  throw new Error('unreachable');
}

/**
 * Pairs of faults on the same target whose times overlap where the later one does not say `concurrent: true`
 * (the runner would see the controller refuse it mid-run). A fault lasts from offset_s to offset_s + duration_s,
 * or to the end of the fault window.
 */
function overlaps(faults: z.output<typeof Fault>[], faultS: number): { later: number; earlier: number }[] {
  const span = (f: z.output<typeof Fault>): [number, number] => [f.offset_s, Math.min(faultS, f.duration_s === undefined ? faultS : f.offset_s + f.duration_s)];
  const found: { later: number; earlier: number }[] = [];
  faults.forEach((f, i) => {
    if (f.concurrent) return;
    const [start] = span(f);
    const earlier = faults.findIndex((g, j) => {
      if (j === i || g.target !== f.target) return false;
      const [gs, ge] = span(g);
      // g started first (ties go to the one listed first), and is still on when f starts.
      return (gs < start || (gs === start && j < i)) && ge > start;
    });
    if (earlier >= 0) found.push({ later: i, earlier });
  });
  return found;
}

/** `/orders/:id` and `/orders/{order_id}` are the same route: a parameter, whatever its name. */
function routeShape(path: string): string {
  return path.replace(/\{[^}]+\}|:[A-Za-z_][A-Za-z0-9_]*/g, '*').replace(/\/+$/, '') || '/';
}

/**
 * Gives every SLI its mix endpoint: the one it names (which must exist), or the one whose method and path match
 * its method and route (backward compatibility with files written before the users' source).
 */
function resolveEndpoints(e: z.output<typeof ExperimentSchema>, mixPath: string, issues: Issue[]): void {
  let endpoints: { name: string; method: string; path: string }[];
  try {
    // The token's value does not matter here: only names, methods and paths are read.
    endpoints = loadMixFile(mixPath, { FAULTLINE_LAB_TOKEN: 'x', ...process.env }).endpoints.map((x) => ({ name: x.name, method: x.method, path: x.path_template }));
  } catch (err) {
    // Server-source SLIs do not need the mix; a users' SLI cannot be judged without it.
    if (e.hypothesis.sli.some((s) => s.source === 'users')) issues.push({ path: 'load.mix', message: (err as Error).message });
    return;
  }
  e.hypothesis.sli.forEach((s, i) => {
    const at = `hypothesis.sli[${i}]`;
    if (s.endpoint !== undefined) {
      if (!endpoints.some((x) => x.name === s.endpoint)) issues.push({ path: `${at}.endpoint`, message: `the mix has no endpoint "${s.endpoint}" (it has: ${endpoints.map((x) => x.name).join(', ')})` });
      return;
    }
    const match = s.route === undefined ? [] : endpoints.filter((x) => routeShape(x.path) === routeShape(s.route!) && (s.method === undefined || x.method === s.method));
    if (match.length === 1) s.endpoint = match[0].name;
    else if (s.source === 'users') {
      issues.push({ path: `${at}.endpoint`, message: match.length === 0 ? `no mix endpoint matches ${s.method ?? '*'} ${s.route ?? '(no route)'}: name one with endpoint:` : `${match.length} mix endpoints match ${s.method ?? '*'} ${s.route}: name one with endpoint:` });
    }
  });
}

/** Reads a YAML file, reporting syntax errors with line and column. */
/** One YAML file: syntax problems and bad aliases are INVALID_INPUT with their line (exit 2), never a crash. */
function readYaml(file: string): unknown {
  return readYamlFile(file).raw;
}

/**
 * Loads one experiment file, or every experiment a schedule file lists (`schedule: [a.yaml, b.yaml]`, paths
 * relative to the schedule), in order. Everything is validated before anything runs.
 * @example for (const exp of loadExperiments('experiments/ci-schedule.yaml')) await runExperiment(exp, opts);
 */
export function loadExperiments(file: string): Experiment[] {
  const abs = resolve(file);
  const raw = readYaml(abs);
  if (raw && typeof raw === 'object' && 'schedule' in raw) {
    const sched = z.strictObject({ title: z.string().optional(), schedule: z.array(z.string().min(1)).min(1) }).safeParse(raw);
    if (!sched.success) throwIfIssues(issuesFromZod(raw, sched.error.issues));
    const issues: Issue[] = [];
    const out: Experiment[] = [];
    sched.data!.schedule.forEach((rel, i) => {
      try {
        out.push(loadExperiment(resolve(dirname(abs), rel)));
      } catch (err) {
        issues.push({ path: `schedule[${i}] (${rel})`, message: (err as Error).message });
      }
    });
    throwIfIssues(issues);
    return out;
  }
  return [parseExperiment(raw, abs)];
}

/** Loads exactly one experiment file. */
export function loadExperiment(file: string): Experiment {
  const abs = resolve(file);
  return parseExperiment(readYaml(abs), abs);
}
