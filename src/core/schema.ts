/**
 * zod schemas, reported our way: every problem at once, each with its dotted path, what was wrong, what is
 * allowed and what was given, thrown as one INVALID_INPUT whose `field` is the first path.
 *
 * @example
 *   const params = parseSchema(LatencyParams, body.params, 'params');
 *   // → FaultlineError INVALID_INPUT "params.delay_ms: Too small: expected number to be >=0 (got -5)"
 */
import type { z } from 'zod';
import { throwIfIssues, type Issue } from './errors.ts';

/** Turns zod's issues into ours, adding the offending value where there is one. */
export function issuesFromZod(raw: unknown, issues: readonly z.core.$ZodIssue[]): Issue[] {
  return issues.map((i) => {
    const got = valueAt(raw, i.path);
    const shown = i.code === 'unrecognized_keys' || got === undefined ? '' : ` (got ${JSON.stringify(got)})`;
    return { path: dotted(i.path), message: `${i.message}${shown}` };
  });
}

/** Parses `raw` with `schema` or throws INVALID_INPUT listing every issue under `prefix`. */
export function parseSchema<S extends z.ZodType>(schema: S, raw: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throwIfIssues(issuesFromZod(raw, result.error.issues), prefix ? `${prefix}.` : '');
  throw new Error('unreachable');
}

function dotted(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const p of path) node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[p] : undefined;
  return node;
}
