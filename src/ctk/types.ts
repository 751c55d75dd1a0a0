/**
 * The Chaos Toolkit experiment and journal shapes this runner reads and writes (reference sheet A1–A5). The
 * experiment is kept as the user wrote it (a plain object); these types name the fields the runner looks at.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface HttpProvider {
  type: 'http';
  url: string;
  method?: string;
  headers?: Record<string, string>;
  arguments?: Record<string, unknown>;
  /** Seconds, or [connect, read]. */
  timeout?: number | [number, number];
  verify_tls?: boolean;
  max_retries?: number;
  secrets?: string[];
  expected_status?: number;
}

export interface ProcessProvider {
  type: 'process';
  path: string;
  arguments?: string | unknown[] | Record<string, unknown>;
  timeout?: number;
  secrets?: string[];
}

export interface PythonProvider {
  type: 'python';
  module: string;
  func: string;
  arguments?: Record<string, unknown>;
  secrets?: string[];
}

export type Provider = HttpProvider | ProcessProvider | PythonProvider;

export interface Activity {
  type: 'action' | 'probe';
  name: string;
  provider: Provider;
  pauses?: { before?: number | string; after?: number | string };
  background?: boolean;
  timeout?: number;
  tolerance?: Tolerance;
  controls?: unknown[];
}

export interface Ref {
  ref: string;
}

export type Tolerance =
  | boolean
  | number
  | string
  | unknown[]
  | { type: 'range'; range: [number, number]; target?: string }
  | { type: 'regex'; pattern: string; target?: string }
  | { type: 'jsonpath'; path: string; target?: string; expect?: unknown; count?: number }
  | (Activity & { type: 'probe' });

export interface CtkExperiment {
  title: string;
  description: string;
  tags?: string[];
  version?: string;
  configuration?: Record<string, unknown>;
  secrets?: Record<string, Record<string, unknown>>;
  'steady-state-hypothesis'?: { title: string; probes?: (Activity | Ref)[]; controls?: unknown[] };
  method: (Activity | Ref)[];
  rollbacks?: (Activity | Ref)[];
  runtime?: { rollbacks?: { strategy?: RollbackStrategy }; hypothesis?: { strategy?: HypothesisStrategy; frequency?: number; fail_fast?: boolean } };
  controls?: unknown[];
  extensions?: { name: string }[];
  contributions?: Record<string, string>;
}

export const HYPOTHESIS_STRATEGIES = ['default', 'before-method-only', 'after-method-only', 'during-method-only', 'continuously'] as const;
export type HypothesisStrategy = (typeof HYPOTHESIS_STRATEGIES)[number];
export const ROLLBACK_STRATEGIES = ['default', 'always', 'never', 'deviated'] as const;
export type RollbackStrategy = (typeof ROLLBACK_STRATEGIES)[number];

export type RunStatus = 'succeeded' | 'failed';
export type JournalStatus = 'completed' | 'failed' | 'aborted' | 'interrupted';

/** One activity's record in the journal (run[], rollbacks[], a steady state's probes[]). */
export interface ActivityRun {
  activity: Activity;
  output: unknown;
  start: string;
  end: string;
  duration: number;
  status: RunStatus;
  exception?: string[];
  tolerance_met?: boolean;
}

export interface SteadyState {
  steady_state_met: boolean | null;
  probes: ActivityRun[];
}

export interface Journal {
  'chaoslib-version': string;
  platform: string;
  node: string;
  experiment: CtkExperiment;
  start: string;
  end: string | null;
  duration: number | null;
  status: JournalStatus | null;
  deviated: boolean;
  steady_states: { before: SteadyState | null; after: SteadyState | null; during: SteadyState[] };
  run: ActivityRun[];
  rollbacks: ActivityRun[];
  /** faultline's additions (CTK readers ignore unknown keys). */
  faultline?: Record<string, unknown>;
}

/** CTK's timestamp format: ISO-8601 in UTC without a zone suffix (Python's datetime.utcnow().isoformat()). */
export const ctkTime = (ms: number = Date.now()): string => new Date(ms).toISOString().replace(/Z$/, '');

/** An activity failed (CTK's ActivityFailed): the run records it; in a hypothesis it fails the probe. */
export class ActivityFailed extends Error {
  override name = 'ActivityFailed';
}
