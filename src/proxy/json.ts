/**
 * Request bodies decoded the way toxiproxy's Go server decodes them, so its clients behave the same here:
 * object keys match field names case-insensitively (`"Name"` works), `null` means absent, unknown top-level keys
 * are ignored. Type mismatches are reported with the field path and what was expected.
 */
import { FaultlineError } from '../core/errors.ts';

/** Parses a raw body; an empty body is `EOF`, as Go's decoder says. */
export function parseBody(raw: string): unknown {
  if (raw.trim() === '') throw new FaultlineError('BAD_REQUEST_BODY', 'bad request body: EOF');
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new FaultlineError('BAD_REQUEST_BODY', `bad request body: ${(err as Error).message}`);
  }
}

export type FieldKind = 'string' | 'number' | 'boolean' | 'object' | 'array';

/**
 * Picks the named fields from an object, case-insensitively, checking each one's JSON type.
 * @example pickFields(body, { name: 'string', enabled: 'boolean' }) // → { name?: unknown, enabled?: unknown }
 */
export function pickFields<K extends string>(
  body: unknown,
  fields: Record<K, FieldKind>,
  where = '',
): Partial<Record<K, unknown>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new FaultlineError('BAD_REQUEST_BODY', `bad request body: ${where || 'body'} must be a JSON object`);
  }
  const out: Partial<Record<K, unknown>> = {};
  const byLower = new Map<string, K>();
  for (const key of Object.keys(fields) as K[]) byLower.set(key.toLowerCase(), key);
  for (const [rawKey, value] of Object.entries(body)) {
    const key = byLower.get(rawKey.toLowerCase());
    if (key === undefined || value === null || value === undefined) continue;
    const kind = fields[key];
    const actual = Array.isArray(value) ? 'array' : typeof value;
    if (actual !== kind) {
      throw new FaultlineError(
        'BAD_REQUEST_BODY',
        `bad request body: ${where}${key} must be a ${kind} (got ${JSON.stringify(value)})`,
        { field: `${where}${key}` },
      );
    }
    out[key] = value;
  }
  return out;
}
