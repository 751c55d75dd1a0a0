/**
 * Whether a probe's output is within its tolerance, by chaoslib's rules (reference sheet A2):
 *
 * | tolerance | rule |
 * |---|---|
 * | bool | output === tolerance (never matches an http/process dict) |
 * | int | output.status when the output is a dict with status, else the output itself |
 * | str | exact equality (after substitution) |
 * | list | dict with status: membership of status; else two elements = inclusive [lo, hi], more = membership |
 * | range | inclusive decimal comparison of output (or output[target]); non-numeric fails |
 * | regex | pattern (substituted) searched in output (or output[target]) |
 * | jsonpath | a string output is JSON-parsed first; ≥ 1 match, or exactly `count`; `expect` = the matches |
 * | probe | runs the probe with arguments.value = output; truthy passes, ActivityFailed fails |
 *
 * @example await withinTolerance(200, { status: 200, headers: {}, body: '' }, ctx) // true
 */
import { jsonpath } from './jsonpath.ts';
import { pythonRegex } from './load.ts';
import { substitute, type Configuration, type Secrets } from './substitute.ts';
import { ActivityFailed, type Activity } from './types.ts';

export interface ToleranceContext {
  config: Configuration;
  secrets: Secrets;
  /** Runs a probe tolerance (its arguments already carry `value`) and returns its output. */
  runProbe?: (probe: Activity) => Promise<unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Python's == on JSON values: deep equality, where 1 == 1.0 and True == 1. */
const pyEq = (a: unknown, b: unknown): boolean => {
  if (typeof a === 'boolean' && typeof b === 'number') return Number(a) === b;
  if (typeof b === 'boolean' && typeof a === 'number') return Number(b) === a;
  return JSON.stringify(a) === JSON.stringify(b);
};
const targetOf = (value: unknown, target: unknown): unknown => (typeof target === 'string' && target !== '' && isObj(value) ? (Object.hasOwn(value, target) ? value[target] : value) : value);
const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');

/** Python Decimal() of a value: numbers and numeric strings; anything else is not a number. */
function decimal(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(v)) return Number(v);
  return null;
}

export async function withinTolerance(tolerance: unknown, value: unknown, ctx: ToleranceContext): Promise<boolean> {
  if (typeof tolerance === 'boolean') return value === tolerance;
  if (typeof tolerance === 'number') {
    if (isObj(value) && 'status' in value) return pyEq(value.status, tolerance);
    return pyEq(value, tolerance);
  }
  if (typeof tolerance === 'string') return value === substitute(tolerance, ctx.config, ctx.secrets);
  if (Array.isArray(tolerance)) {
    if (isObj(value) && 'status' in value) return tolerance.some((t) => pyEq(t, value.status));
    if (tolerance.length === 2) {
      const [lo, hi] = tolerance as [number, number];
      return typeof value === 'number' && value >= lo && value <= hi;
    }
    return tolerance.some((t) => pyEq(t, value));
  }
  if (!isObj(tolerance)) return false;
  switch (tolerance.type) {
    case 'range': {
      const n = decimal(targetOf(value, tolerance.target));
      const [lo, hi] = tolerance.range as [number, number];
      return n !== null && n >= lo && n <= hi;
    }
    case 'regex': {
      const pattern = substitute(String(tolerance.pattern), ctx.config, ctx.secrets);
      const rx = new RegExp(pythonRegex(pattern));
      const text = asText(targetOf(value, tolerance.target));
      // Python's `$` also matches just before a final newline (a process's stdout usually ends with one).
      return rx.test(text) || (text.endsWith('\n') && rx.test(text.slice(0, -1)));
    }
    case 'jsonpath': {
      const path = substitute(String(tolerance.path), ctx.config, ctx.secrets);
      let doc = targetOf(value, tolerance.target);
      if (typeof doc === 'string') {
        try {
          doc = JSON.parse(doc);
        } catch {
          /* matched as the string itself */
        }
      }
      const values = jsonpath(path, doc);
      let ok = values.length > 0;
      if (tolerance.count !== undefined) ok = values.length === tolerance.count;
      if ('expect' in tolerance) ok = pyEq(values, Array.isArray(tolerance.expect) ? tolerance.expect : [tolerance.expect]);
      return ok;
    }
    case 'probe': {
      if (!ctx.runProbe) return false;
      const probe = structuredClone(tolerance) as unknown as Activity;
      (probe.provider as { arguments: Record<string, unknown> }).arguments = { ...((probe.provider as { arguments?: Record<string, unknown> }).arguments ?? {}), value };
      try {
        return truthy(await ctx.runProbe(probe));
      } catch (err) {
        if (err instanceof ActivityFailed) return false;
        throw err;
      }
    }
    default:
      return false;
  }
}

/** Python truthiness of a JSON value. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObj(v)) return Object.keys(v).length > 0;
  return true;
}
