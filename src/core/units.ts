/**
 * The human units commands take: durations ("60s", "500ms", "2m", a bare number = seconds) and bounded numbers.
 * Each parser throws INVALID_INPUT naming the field and what is allowed.
 */
import { FaultlineError } from './errors.ts';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a duration string; a bare number is seconds.
 * @example parseDuration('1.5s', '--duration') // 1500
 */
export function parseDuration(text: string, field: string): number {
  const t = text.trim();
  const bare = /^\d+(?:\.\d+)?$/.test(t) ? `${t}s` : t;
  const m = DURATION.exec(bare);
  if (!m) {
    throw new FaultlineError('INVALID_INPUT', `${field}: "${text}" is not a duration`, {
      field,
      hint: 'use a number with a unit: 500ms, 10s, 2m, 1h (a bare number means seconds)',
    });
  }
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

/**
 * A non-negative number, optionally bounded, with the field named in the error.
 * @example parseNumber('500', '--rate', { min: 0.001 }) // 500
 */
export function parseNumber(
  text: string,
  field: string,
  { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false } = {},
): number {
  const n = Number(text);
  const kind = integer ? 'an integer' : 'a number';
  if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new FaultlineError('INVALID_INPUT', `${field}: must be ${kind} in [${min}, ${max}] (got "${text}")`, {
      field,
    });
  }
  return n;
}
