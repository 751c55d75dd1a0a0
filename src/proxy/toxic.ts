/**
 * The toxic contract: what one toxic file exports. A toxic is a spec (its attributes, with units, defaults and
 * allowed ranges, validated with every problem reported at once) plus a `pipe` loop that runs once per link
 * (one direction of one connection) and moves chunks from its input to its output.
 *
 *   reader ──▶ [stub: toxic A] ──▶ [stub: toxic B] ──▶ sink ──▶ socket
 *              pipe(stub) reads stub.next(), writes stub.send(); the chain owns toxicity and re-wiring.
 *
 * Rules every pipe keeps (the tests hold them to it):
 * - every wait goes through the stub (`next`, `sleepUntil`), so an interrupt ends it at once;
 * - on interrupt, a chunk the toxic holds is forwarded (without its delay), never dropped, and pipe returns;
 * - on an end marker (EOF, close, reset), forward it (after any delay the toxic models) and return;
 * - per-connection state lives in `stub.state`, never in the toxic.
 */
import type { Issue } from '../core/errors.ts';
import type { Stub } from './stub.ts';

export type Stream = 'upstream' | 'downstream';

/** One numeric attribute: toxiproxy attributes are all integers defaulting to 0; ours say their unit and range. */
export interface AttributeSpec {
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  readonly unit: string;
  readonly doc: string;
}

export type AttributeSpecs = Readonly<Record<string, AttributeSpec>>;
export type Attributes<S extends AttributeSpecs> = { [K in keyof S]: number };

export interface ToxicDefinition<S extends AttributeSpecs = AttributeSpecs, State = unknown> {
  readonly type: string;
  readonly summary: string;
  readonly attributes: S;
  /** Cross-field checks, after each field passed its own range check. */
  readonly check?: (attrs: Attributes<S>) => Issue[];
  /** The per-link state this toxic keeps across restarts (e.g. bytes already let through). */
  readonly initState?: () => State;
  /** Bytes this toxic may hold per link before the reader pauses (latency pipelines, so it needs room). */
  readonly bufferBytes?: number;
  /** Runs after the toxic is removed from a live link (timeout closes the connection). */
  readonly onRemove?: (stub: Stub<Attributes<S>, State>) => void;
  readonly pipe: (stub: Stub<Attributes<S>, State>) => Promise<void>;
}

/** Identity helper that keeps a toxic's attribute types tied to its spec. */
export function defineToxic<S extends AttributeSpecs, State = undefined>(
  def: ToxicDefinition<S, State>,
): ToxicDefinition<S, State> {
  return def;
}

/** Integer attribute with a unit and an inclusive range. */
export function int(unit: string, doc: string, min = 0, max = Number.MAX_SAFE_INTEGER, dflt = 0): AttributeSpec {
  return { default: dflt, min, max, integer: true, unit, doc };
}

/** Decimal attribute (e.g. a percentage). */
export function num(unit: string, doc: string, min: number, max: number, dflt = 0): AttributeSpec {
  return { default: dflt, min, max, integer: false, unit, doc };
}

/**
 * Validates raw attributes against a spec, merged over `base` (current values on update, defaults on create).
 * Keys match case-insensitively and null counts as absent, as toxiproxy's Go decoder does; unknown keys are an
 * error (a typo must not silently inject nothing). Returns the merged attributes and every issue found.
 */
export function parseAttributes(
  def: ToxicDefinition,
  raw: unknown,
  base?: Record<string, number>,
): { attrs: Record<string, number>; issues: Issue[] } {
  const issues: Issue[] = [];
  const attrs: Record<string, number> = {};
  for (const [key, spec] of Object.entries(def.attributes)) attrs[key] = base?.[key] ?? spec.default;
  if (raw !== undefined && raw !== null) parseGiven(def, raw, attrs, issues);
  // A default outside its own range (slicer's average_size: 0) makes the attribute required: toxiproxy takes
  // the 0 and its slicer then recurses until the whole server dies of a stack overflow.
  for (const [key, spec] of Object.entries(def.attributes)) {
    const value = attrs[key];
    if (issues.some((i) => i.path === `attributes.${key}`)) continue;
    if (isRequired({ ...spec, default: value })) {
      issues.push({ path: `attributes.${key}`, message: `required for ${def.type}: must be in ${describeRange(spec)}` });
    }
  }
  if (issues.length === 0 && def.check) issues.push(...def.check(attrs as never));
  return { attrs, issues };
}

function parseGiven(def: ToxicDefinition, raw: unknown, attrs: Record<string, number>, issues: Issue[]): void {
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ path: 'attributes', message: 'must be an object' });
    return;
  }
  const byLower = new Map(Object.keys(def.attributes).map((k) => [k.toLowerCase(), k]));
  for (const [rawKey, value] of Object.entries(raw as Record<string, unknown>)) {
    const key = byLower.get(rawKey.toLowerCase());
    const path = `attributes.${key ?? rawKey}`;
    if (key === undefined) {
      const allowed = [...byLower.values()];
      issues.push({
        path,
        message: `unknown attribute for ${def.type}; allowed: ${allowed.length ? allowed.join(', ') : 'none'}`,
      });
      continue;
    }
    if (value === null) continue;
    const spec = def.attributes[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      issues.push({ path, message: `must be a number in ${describeRange(spec)} (got ${JSON.stringify(value)})` });
      continue;
    }
    if (spec.integer && !Number.isInteger(value)) {
      issues.push({ path, message: `must be an integer in ${describeRange(spec)} (got ${value})` });
      continue;
    }
    if (value < spec.min || value > spec.max) {
      issues.push({ path, message: `must be in ${describeRange(spec)} (got ${value})` });
      continue;
    }
    attrs[key] = value;
  }
}

/**
 * An attribute whose default lies outside its own range has no default that could apply: a request must give it
 * (slicer's `average_size`). Catalogs show "required" for it, never the unusable default.
 */
export function isRequired(spec: AttributeSpec): boolean {
  return spec.default < spec.min || spec.default > spec.max;
}

export function describeRange(spec: AttributeSpec): string {
  const max = spec.max === Number.MAX_SAFE_INTEGER ? '∞' : String(spec.max);
  return `[${spec.min}, ${max}]${spec.unit ? ` ${spec.unit}` : ''}`;
}
