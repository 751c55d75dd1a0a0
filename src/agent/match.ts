/**
 * How a rule decides whether it acts on one request or call. Compiled once when a rule is armed, so the hot path
 * is a few string compares and at most one RegExp test; a rule with pct 0 never rolls the dice at all.
 *
 *   route_exception: method ∧ path pattern ∧ every header ─▶ roll(pct)
 *   call_*:          library ∧ host[:port] ∧ method ∧ path ∧ statement ∧ command ─▶ roll(pct)
 *
 * Path patterns: `:name` and `*` match one segment, `**` matches the rest (zero or more segments); anything else
 * is literal. The query string is never part of the path.
 */
import type { CallMatch, ClientLibrary, RouteMatch } from './protocol.ts';

/** What the agent knows about one incoming request when it decides. */
export interface IncomingInfo {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** What the agent knows about one outgoing call when it decides. */
export interface CallInfo {
  library: ClientLibrary;
  host: string;
  port: number;
  method?: string;
  path?: string;
  statement?: string;
  command?: string;
}

/** `/orders/:id` → /^\/orders\/[^/]+$/ ; `/a/**` → /^\/a(?:\/.*)?$/. */
export function compilePath(pattern: string): RegExp {
  const segs = pattern.split('/').filter((s, i) => i > 0 || s !== '');
  const body = segs
    .map((seg, i) => {
      if (seg === '**' && i === segs.length - 1) return '(?:/.*)?';
      if (seg === '*' || seg.startsWith(':')) return '/[^/]+';
      return `/${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
    })
    .join('');
  return new RegExp(`^${body === '' ? '/' : body}/?$`);
}

/** The path of a request URL, without query or fragment. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  const h = url.indexOf('#');
  const end = q >= 0 ? (h >= 0 ? Math.min(q, h) : q) : h >= 0 ? h : url.length;
  return url.slice(0, end) || '/';
}

/** A predicate over incoming requests. */
export function compileRouteMatch(m: RouteMatch): (r: IncomingInfo) => boolean {
  const methods = m.method?.map((x) => x.toUpperCase());
  const path = m.path === undefined ? undefined : compilePath(m.path);
  const headers = Object.entries(m.headers ?? {}).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v : [v]] as const);
  return (r) => {
    if (methods !== undefined && !methods.includes(r.method)) return false;
    if (path !== undefined && !path.test(r.path)) return false;
    for (const [name, values] of headers) {
      const got = r.headers[name];
      if (got === undefined) return false;
      const list = Array.isArray(got) ? got : [got];
      if (!list.some((g) => values.includes(g.trim()))) return false;
    }
    return true;
  };
}

/** `host`, `host:port`, `*:port`, `*` → a predicate on (host, port). */
export function compileHost(spec: string): (host: string, port: number) => boolean {
  const i = spec.lastIndexOf(':');
  const hasPort = i > 0 && /^\d+$/.test(spec.slice(i + 1)) && !spec.endsWith(']');
  const host = (hasPort ? spec.slice(0, i) : spec).toLowerCase().replace(/^\[|\]$/g, '');
  const port = hasPort ? Number(spec.slice(i + 1)) : undefined;
  return (h, p) => (host === '*' || host === h.toLowerCase()) && (port === undefined || port === p);
}

/** A predicate over outgoing calls. */
export function compileCallMatch(m: CallMatch): (c: CallInfo) => boolean {
  const libraries = m.library;
  const host = m.host === undefined ? undefined : compileHost(m.host);
  const methods = m.method?.map((x) => x.toUpperCase());
  const path = m.path === undefined ? undefined : compilePath(m.path);
  const statement = m.statement === undefined ? undefined : new RegExp(m.statement, 'i');
  const commands = m.command?.map((c) => c.toUpperCase());
  return (c) => {
    if (libraries !== undefined && !libraries.includes(c.library)) return false;
    if (host !== undefined && !host(c.host, c.port)) return false;
    if (methods !== undefined && (c.method === undefined || !methods.includes(c.method))) return false;
    if (path !== undefined && (c.path === undefined || !path.test(c.path))) return false;
    if (statement !== undefined && (c.statement === undefined || !statement.test(c.statement))) return false;
    if (commands !== undefined && (c.command === undefined || !commands.includes(c.command))) return false;
    return true;
  };
}

/** true with probability pct/100 (0 never, 100 always, without drawing). */
export function roll(pct: number, random: () => number = Math.random): boolean {
  if (pct >= 100) return true;
  if (pct <= 0) return false;
  return random() * 100 < pct;
}

const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[0-9a-f]{16,}|[A-Za-z0-9_-]{24,})$/i;
const HAS_DIGIT = /[0-9]/;
/** Shapes of paths seen lately (bounded: emptied when full), so a hot route is shaped once. */
const shapes = new Map<string, string>();

/** `/orders/42/items/7` → `/orders/:id/items/:id`: one shape per route, whatever the ids. */
export function pathShape(path: string): string {
  if (!HAS_DIGIT.test(path)) return path;
  let shape = shapes.get(path);
  if (shape === undefined) {
    shape = path
      .split('/')
      .map((s) => (ID_SEGMENT.test(s) ? ':id' : s))
      .join('/');
    if (shapes.size >= 4_096) shapes.clear();
    shapes.set(path, shape);
  }
  return shape;
}

/** SQL text → its shape: whitespace collapsed, literals replaced by `?`, at most 200 characters. */
export function statementShape(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\b\d+(?:\.\d+)?\b/g, (n, offset: number, all: string) => (all[offset - 1] === '$' ? n : '?'))
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/** A regular expression that matches exactly this statement shape's text (for an explorer's `statement`). */
export function statementPattern(shape: string): string {
  return `^${shape.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+').replace(/\\\?/g, '.+?')}`;
}
