/**
 * The toxics of one proxy: their records (what the API shows), and the parsing of create and update requests
 * with toxiproxy's rules and order of checks (stream, then type, then name clash, then attributes). Applying a
 * change to live connections is the proxy's job; this module only decides what the new record is.
 */
import { FaultlineError, throwIfIssues, type Issue } from '../core/errors.ts';
import { pickFields } from './json.ts';
import { parseAttributes, type Stream, type ToxicDefinition } from './toxic.ts';
import { TOXICS } from './toxics/index.ts';

export interface ToxicRecord {
  readonly name: string;
  readonly type: string;
  readonly stream: Stream;
  /** The stream as the client spelled it (`UpStream`); toxiproxy shows it back that way, so we do too. */
  readonly streamAsSent: string;
  readonly toxicity: number;
  readonly attributes: Readonly<Record<string, number>>;
  readonly def: ToxicDefinition;
  /** faultline extension: the proxy removes the toxic by itself this many seconds after it was (re)set. */
  readonly ttl_s?: number;
}

/** The JSON a toxic is shown as; key order is toxiproxy's, extensions come last and only when set. */
export function toxicJson(t: ToxicRecord): Record<string, unknown> {
  const json: Record<string, unknown> = {
    attributes: { ...t.attributes },
    name: t.name,
    type: t.type,
    stream: t.streamAsSent,
    toxicity: t.toxicity,
  };
  if (t.ttl_s !== undefined) json.ttl_s = t.ttl_s;
  return json;
}

const TOXIC_FIELDS = {
  name: 'string',
  type: 'string',
  stream: 'string',
  toxicity: 'number',
  attributes: 'object',
  ttl_s: 'number',
} as const;

const MAX_TTL_S = 7 * 86_400;

export class ToxicCollection {
  readonly #byName = new Map<string, ToxicRecord>();

  /** Upstream toxics first, then downstream, each in the order they were added (toxiproxy's listing order). */
  list(): ToxicRecord[] {
    const all = [...this.#byName.values()];
    return [...all.filter((t) => t.stream === 'upstream'), ...all.filter((t) => t.stream === 'downstream')];
  }

  forStream(stream: Stream): ToxicRecord[] {
    return [...this.#byName.values()].filter((t) => t.stream === stream);
  }

  get(name: string): ToxicRecord {
    const toxic = this.#byName.get(name);
    if (toxic === undefined) throw new FaultlineError('TOXIC_NOT_FOUND');
    return toxic;
  }

  get size(): number {
    return this.#byName.size;
  }

  /** Validates a create request body into a record (without adding it). */
  parseNew(body: unknown, where = ''): ToxicRecord {
    const f = pickFields(body, TOXIC_FIELDS, where);
    const rawStream = f.stream === undefined ? 'downstream' : (f.stream as string);
    const stream = rawStream.toLowerCase();
    if (stream !== 'upstream' && stream !== 'downstream') throw new FaultlineError('INVALID_STREAM');
    const type = f.type as string | undefined;
    const def = type === undefined ? undefined : TOXICS.get(type);
    if (def === undefined) throw new FaultlineError('INVALID_TOXIC_TYPE', undefined, { field: `${where}type` });
    // The official Go client and toxiproxy-cli send `"name": ""` for an unnamed toxic: both mean the default.
    const sentName = f.name as string | undefined;
    const name = sentName === undefined || sentName === '' ? `${type}_${rawStream}` : sentName;
    if (this.#byName.has(name)) throw new FaultlineError('TOXIC_EXISTS');
    const issues: Issue[] = [];
    const { attrs, issues: attrIssues } = parseAttributes(def, f.attributes);
    issues.push(...attrIssues);
    const toxicity = checkToxicity(f.toxicity, 1, issues);
    const ttl = checkTtl(f.ttl_s, undefined, issues);
    throwIfIssues(issues, where);
    return {
      name,
      type: def.type,
      stream,
      streamAsSent: rawStream,
      toxicity,
      attributes: attrs,
      def,
      ...(ttl === undefined ? {} : { ttl_s: ttl }),
    };
  }

  /**
   * Validates an update: attributes merge over the current ones, toxicity and ttl_s keep their values unless
   * sent; name, type and stream cannot change (toxiproxy ignores them, so do we).
   */
  parseUpdate(name: string, body: unknown): ToxicRecord {
    const current = this.get(name);
    const f = pickFields(body, TOXIC_FIELDS);
    const issues: Issue[] = [];
    const { attrs, issues: attrIssues } = parseAttributes(current.def, f.attributes, { ...current.attributes });
    issues.push(...attrIssues);
    const toxicity = checkToxicity(f.toxicity, current.toxicity, issues);
    const ttl = checkTtl(f.ttl_s, current.ttl_s, issues);
    throwIfIssues(issues);
    return { ...current, toxicity, attributes: attrs, ...(ttl === undefined ? {} : { ttl_s: ttl }) };
  }

  set(toxic: ToxicRecord): void {
    this.#byName.set(toxic.name, toxic);
  }

  delete(name: string): ToxicRecord {
    const toxic = this.get(name);
    this.#byName.delete(name);
    return toxic;
  }

  clear(): ToxicRecord[] {
    const all = this.list();
    this.#byName.clear();
    return all;
  }
}

function checkToxicity(value: unknown, fallback: number, issues: Issue[]): number {
  if (value === undefined) return fallback;
  const t = value as number;
  if (!(t >= 0 && t <= 1)) {
    issues.push({ path: 'toxicity', message: `must be in [0, 1], the share of connections affected (got ${t})` });
    return fallback;
  }
  return Math.fround(t) === t ? t : Number(Math.fround(t).toPrecision(7));
}

function checkTtl(value: unknown, fallback: number | undefined, issues: Issue[]): number | undefined {
  if (value === undefined) return fallback;
  const ttl = value as number;
  if (!(ttl > 0 && ttl <= MAX_TTL_S)) {
    issues.push({ path: 'ttl_s', message: `must be in (0, ${MAX_TTL_S}] seconds (got ${ttl})` });
    return fallback;
  }
  return ttl;
}
