/**
 * The lab's mitigation settings: one block (the experiment's `mitigations:`), its presets, its validation and
 * the live copy each service reads on every request. This module alone owns the shape of that block; the
 * policies themselves live in their own files (timeouts, retry, breaker, bulkhead, limiter, degrade).
 *
 *   LAB_MITIGATIONS (env, at start) ─┐
 *                                    ├─▶ parseMitigations ─▶ MitigationState.current ─▶ read per request
 *   POST /__lab/mitigations (live) ──┘
 *
 * A block is `{ preset?: 'none' | 'all', <mitigation>?: boolean | { …overrides } }`: start from the preset
 * (default `none`, the naive "before"), then each key turns one mitigation off (`false`), on with its defaults
 * (`true`), or on with some fields changed (an object). Every problem is reported at once, with its path.
 *
 * Pure data: imports nothing, so the CLI can validate a block before it starts a lab.
 */

export interface TimeoutSettings {
  enabled: boolean;
  /** Per attempt of a payments call. */
  payments_ms: number;
  postgres_ms: number;
  redis_ms: number;
  /** Calls between lab services (api → orders). */
  upstream_ms: number;
  /** Budget of a request that arrives without `x-deadline-ms`. */
  default_deadline_ms: number;
}

export interface RetrySettings {
  enabled: boolean;
  /** Attempts in total, the first included. */
  max_attempts: number;
  /** Share of requests (first attempts) that may be retried, in percent (Finagle/Envoy: 20). */
  budget_percent: number;
  /** Floor: retries per second allowed whatever the traffic. */
  min_per_s: number;
  /** How long a deposited request counts towards the budget. */
  ttl_s: number;
  /** Decorrelated-jitter backoff: first delay bound and cap. */
  base_ms: number;
  max_ms: number;
}

export interface BreakerSettings {
  enabled: boolean;
  /** Opens when this fraction of the last `window` calls failed … */
  failure_ratio: number;
  window: number;
  /** … and at least this many calls are in the window. */
  min_calls: number;
  /** Open this long before a half-open probe is let through. */
  half_open_after_ms: number;
}

export interface BulkheadSettings {
  enabled: boolean;
  /** Concurrent GET /orders per process. */
  read_limit: number;
  /** Concurrent POST /orders per process. */
  write_limit: number;
  /** Requests that may wait for a slot (per pool) before being refused. */
  queue: number;
}

export interface LimiterSettings {
  enabled: boolean;
  algorithm: 'gradient2' | 'aimd';
  initial: number;
  min: number;
  max: number;
}

export interface DegradeSettings {
  enabled: boolean;
}

export interface ClockSkewSettings {
  enabled: boolean;
  /** Tolerance on `exp` / `nbf` checks. */
  leeway_s: number;
}

export interface ReplicaLagSettings {
  enabled: boolean;
  /** Beyond this replay lag a read is not served from the replica as is. */
  max_lag_s: number;
  /** `primary`: read from the primary instead; `mark`: serve the replica's answer with `x-lab-stale: possibly`. */
  action: 'primary' | 'mark';
}

export interface ReconcileSettings {
  enabled: boolean;
}

export interface DrainSettings {
  enabled: boolean;
  /** On SIGTERM: stop accepting, answer what is in flight for at most this long, then exit. */
  grace_ms: number;
}

export interface Mitigations {
  timeouts: TimeoutSettings;
  retries: RetrySettings;
  breaker: BreakerSettings;
  bulkheads: BulkheadSettings;
  limiter: LimiterSettings;
  degrade: DegradeSettings;
  clock_skew: ClockSkewSettings;
  replica_lag: ReplicaLagSettings;
  /** Before re-charging, ask payments whether the order's key was charged already (and settle from that). */
  reconcile: ReconcileSettings;
  drain: DrainSettings;
}

export type MitigationName = keyof Mitigations;
export const MITIGATION_NAMES = ['timeouts', 'retries', 'breaker', 'bulkheads', 'limiter', 'degrade', 'clock_skew', 'replica_lag', 'reconcile', 'drain'] as const satisfies readonly MitigationName[];
export const PRESETS = ['none', 'all'] as const;
export type Preset = (typeof PRESETS)[number];

/** Each mitigation's settings when switched on; `none` is the same with every `enabled: false`. */
const DEFAULTS: Mitigations = {
  timeouts: { enabled: true, payments_ms: 300, postgres_ms: 1_000, redis_ms: 100, upstream_ms: 1_500, default_deadline_ms: 2_000 },
  retries: { enabled: true, max_attempts: 3, budget_percent: 20, min_per_s: 3, ttl_s: 10, base_ms: 20, max_ms: 200 },
  breaker: { enabled: true, failure_ratio: 0.5, window: 20, min_calls: 5, half_open_after_ms: 2_000 },
  bulkheads: { enabled: true, read_limit: 128, write_limit: 32, queue: 16 },
  limiter: { enabled: true, algorithm: 'gradient2', initial: 40, min: 8, max: 400 },
  degrade: { enabled: true },
  clock_skew: { enabled: true, leeway_s: 300 },
  replica_lag: { enabled: true, max_lag_s: 1, action: 'primary' },
  reconcile: { enabled: true },
  // Below the supervisor's default stop grace (5 s), so a drained exit is never cut by its SIGKILL.
  drain: { enabled: true, grace_ms: 4_000 },
};

/** A fresh copy of a preset. */
export function preset(name: Preset): Mitigations {
  const out = structuredClone(DEFAULTS);
  if (name === 'none') for (const k of MITIGATION_NAMES) out[k].enabled = false;
  return out;
}

export interface MitigationIssue {
  path: string;
  message: string;
}

/** Thrown by parseMitigations with every problem found. */
export class MitigationsError extends Error {
  constructor(readonly issues: MitigationIssue[]) {
    super(`invalid mitigations: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

/** Field rules: numbers with bounds, or an enum. `enabled` is accepted everywhere. */
type Rule = { min: number; max: number; integer?: boolean } | { oneOf: readonly string[] };
const RULES: { [K in MitigationName]: { [F in Exclude<keyof Mitigations[K], 'enabled'>]: Rule } } = {
  timeouts: {
    payments_ms: { min: 1, max: 600_000 },
    postgres_ms: { min: 1, max: 600_000 },
    redis_ms: { min: 1, max: 600_000 },
    upstream_ms: { min: 1, max: 600_000 },
    default_deadline_ms: { min: 1, max: 600_000 },
  },
  retries: {
    max_attempts: { min: 1, max: 10, integer: true },
    budget_percent: { min: 0, max: 100 },
    min_per_s: { min: 0, max: 10_000 },
    ttl_s: { min: 1, max: 60, integer: true },
    base_ms: { min: 0, max: 60_000 },
    max_ms: { min: 0, max: 600_000 },
  },
  breaker: {
    failure_ratio: { min: 0.01, max: 1 },
    window: { min: 1, max: 10_000, integer: true },
    min_calls: { min: 1, max: 10_000, integer: true },
    half_open_after_ms: { min: 1, max: 600_000 },
  },
  bulkheads: {
    read_limit: { min: 1, max: 100_000, integer: true },
    write_limit: { min: 1, max: 100_000, integer: true },
    queue: { min: 0, max: 100_000, integer: true },
  },
  limiter: {
    algorithm: { oneOf: ['gradient2', 'aimd'] },
    initial: { min: 1, max: 100_000, integer: true },
    min: { min: 1, max: 100_000, integer: true },
    max: { min: 1, max: 100_000, integer: true },
  },
  degrade: {},
  clock_skew: { leeway_s: { min: 0, max: 86_400 } },
  replica_lag: { max_lag_s: { min: 0, max: 86_400 }, action: { oneOf: ['primary', 'mark'] } },
  reconcile: {},
  drain: { grace_ms: { min: 0, max: 120_000, integer: true } },
};

/**
 * Validates a mitigations block (a preset name, or an object as described above) and resolves it to full settings.
 * @example parseMitigations({ preset: 'none', bulkheads: true })   // naive, except the bulkheads
 * @example parseMitigations('all')
 */
export function parseMitigations(input: unknown): Mitigations {
  const issues: MitigationIssue[] = [];
  if (input === undefined || input === null || input === '') return preset('none');
  if (typeof input === 'string') {
    if ((PRESETS as readonly string[]).includes(input)) return preset(input as Preset);
    throw new MitigationsError([{ path: '', message: `unknown preset "${input}" (known: ${PRESETS.join(', ')})` }]);
  }
  if (typeof input !== 'object' || Array.isArray(input)) throw new MitigationsError([{ path: '', message: 'must be a preset name or an object' }]);
  const block = input as Record<string, unknown>;
  let base: Preset = 'none';
  if (block.preset !== undefined) {
    if (typeof block.preset === 'string' && (PRESETS as readonly string[]).includes(block.preset)) base = block.preset as Preset;
    else issues.push({ path: 'preset', message: `one of ${PRESETS.join(', ')}` });
  }
  const out = preset(base);
  for (const [key, value] of Object.entries(block)) {
    if (key === 'preset') continue;
    if (!(MITIGATION_NAMES as readonly string[]).includes(key)) {
      issues.push({ path: key, message: `unknown mitigation (known: preset, ${MITIGATION_NAMES.join(', ')})` });
      continue;
    }
    const name = key as MitigationName;
    const target = out[name] as unknown as Record<string, unknown>;
    if (typeof value === 'boolean') {
      // `true` means "on with the defaults", even on top of `none` (whose fields are the defaults already).
      target.enabled = value;
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path: key, message: 'true, false or an object of settings' });
      continue;
    }
    // An object switches the mitigation on unless it says `enabled: false`.
    target.enabled = true;
    const rules = RULES[name] as Record<string, Rule>;
    for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
      const path = `${key}.${field}`;
      if (field === 'enabled') {
        if (typeof v !== 'boolean') issues.push({ path, message: 'true or false' });
        else target.enabled = v;
        continue;
      }
      const rule = rules[field];
      if (rule === undefined) {
        issues.push({ path, message: `unknown field (known: enabled${Object.keys(rules).map((f) => `, ${f}`).join('')})` });
      } else if ('oneOf' in rule) {
        if (typeof v !== 'string' || !rule.oneOf.includes(v)) issues.push({ path, message: `one of ${rule.oneOf.join(', ')}` });
        else target[field] = v;
      } else if (typeof v !== 'number' || !Number.isFinite(v) || v < rule.min || v > rule.max || (rule.integer && !Number.isInteger(v))) {
        issues.push({ path, message: `${rule.integer ? 'integer' : 'number'} in [${rule.min}, ${rule.max}]` });
      } else target[field] = v;
    }
  }
  if (out.limiter.min > out.limiter.max) issues.push({ path: 'limiter.min', message: 'must not exceed limiter.max' });
  if (out.retries.base_ms > out.retries.max_ms) issues.push({ path: 'retries.base_ms', message: 'must not exceed retries.max_ms' });
  if (issues.length > 0) throw new MitigationsError(issues);
  return out;
}

/**
 * The live settings of one process. Policies read `current` on each call (never cache a copy), so a switch
 * takes effect on the next request; listeners rebuild what must be rebuilt (the breaker, the budgets).
 */
export class MitigationState {
  #current: Mitigations;
  readonly #listeners: Array<(m: Mitigations) => void> = [];

  constructor(initial: Mitigations) {
    this.#current = initial;
  }

  /** From LAB_MITIGATIONS: a preset name or a JSON block; unset means `none`. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): MitigationState {
    const raw = env.LAB_MITIGATIONS?.trim();
    let parsed: unknown = raw;
    if (raw !== undefined && raw.startsWith('{')) parsed = JSON.parse(raw);
    return new MitigationState(parseMitigations(parsed));
  }

  get current(): Mitigations {
    return this.#current;
  }

  set(next: Mitigations): void {
    this.#current = next;
    for (const l of this.#listeners) l(next);
  }

  /** Called after every change (not for the initial value). */
  onChange(listener: (m: Mitigations) => void): void {
    this.#listeners.push(listener);
  }
}
