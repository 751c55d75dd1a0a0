/**
 * Parsing of the human units the load commands take: durations ("60s", "500ms", "2m") and stage lists
 * ("30s:100,60s:500"). Each parser throws INVALID_INPUT naming the field and what is allowed.
 */
import { FaultlineError } from '../core/errors.ts';
import { parseDuration, parseNumber } from '../core/units.ts';

export interface Stage {
  duration_ms: number;
  target_rps: number;
}

/**
 * Stages as `duration:rate` pairs; each ramps linearly from the previous target to its own.
 * @example parseStages('30s:100,60s:500', '--stages') // [{duration_ms: 30000, target_rps: 100}, …]
 */
export function parseStages(text: string, field: string): Stage[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new FaultlineError('INVALID_INPUT', `${field}: empty stage in "${text}"`, {
      field,
      hint: 'a comma-separated list of duration:rate, e.g. "30s:100,60s:500"',
    });
  }
  return parts.map((part, i) => {
    const [dur, rate, extra] = part.split(':');
    if (rate === undefined || extra !== undefined) {
      throw new FaultlineError('INVALID_INPUT', `${field}[${i}]: "${part}" is not duration:rate`, {
        field,
        hint: 'e.g. "30s:100,60s:500" ramps to 100 req/s over 30 s, then to 500 req/s over 60 s',
      });
    }
    return {
      duration_ms: parseDuration(dur, `${field}[${i}].duration`),
      target_rps: parseNumber(rate, `${field}[${i}].rate`, { max: 10_000_000 }),
    };
  });
}
