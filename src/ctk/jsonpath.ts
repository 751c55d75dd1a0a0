/**
 * The JSONPath subset CTK experiments use in `jsonpath` tolerances (chaoslib evaluates them with jsonpath2):
 * `$`, `.name`, `['name']`, `[n]` (negative from the end), `[*]` / `.*`, `..name` (recursive descent), `[a,b]`
 * and filters `[?(@.key <op> value)]` / `[?(@.key)]` with op = == != < <= > >=. A path outside it is an error.
 *
 * @example jsonpath('$.items[?(@.ok == true)].id', { items: [{ id: 1, ok: true }] }) // [1]
 */

type Step =
  | { kind: 'key'; name: string }
  | { kind: 'index'; i: number }
  | { kind: 'wild' }
  | { kind: 'desc'; name: string | null }
  | { kind: 'union'; keys: (string | number)[] }
  | { kind: 'filter'; key: string[]; op?: string; value?: unknown };

function parseLiteral(s: string): unknown {
  const t = s.trim();
  if (/^'.*'$/.test(t)) return t.slice(1, -1);
  try {
    return JSON.parse(t);
  } catch {
    throw new Error(`cannot read ${JSON.stringify(t)} as a value`);
  }
}

/** Parses a path into steps; throws on anything outside the subset. */
export function parsePath(path: string): Step[] {
  const p = path.trim();
  if (!p.startsWith('$')) throw new Error('a JSON path starts with $');
  const steps: Step[] = [];
  let i = 1;
  const ident = /^[A-Za-z_$][A-Za-z0-9_$-]*/;
  while (i < p.length) {
    const rest = p.slice(i);
    if (rest.startsWith('..')) {
      const m = ident.exec(rest.slice(2));
      if (rest[2] === '*') {
        steps.push({ kind: 'desc', name: null });
        i += 3;
      } else if (m) {
        steps.push({ kind: 'desc', name: m[0] });
        i += 2 + m[0].length;
      } else throw new Error(`bad recursive descent at ${JSON.stringify(rest)}`);
    } else if (rest.startsWith('.')) {
      if (rest[1] === '*') {
        steps.push({ kind: 'wild' });
        i += 2;
        continue;
      }
      const m = ident.exec(rest.slice(1));
      if (!m) throw new Error(`bad member at ${JSON.stringify(rest)}`);
      steps.push({ kind: 'key', name: m[0] });
      i += 1 + m[0].length;
    } else if (rest.startsWith('[')) {
      const close = rest.startsWith('[?(') ? rest.indexOf(')]') + 1 : rest.indexOf(']');
      if (close <= 0) throw new Error(`unclosed [ at ${JSON.stringify(rest)}`);
      const inner = rest.slice(1, close).trim();
      i += close + 1;
      if (inner === '*') steps.push({ kind: 'wild' });
      else if (inner.startsWith('?(')) {
        const body = inner.slice(2, -1).trim();
        const m = /^@((?:\.[A-Za-z_$][A-Za-z0-9_$-]*)+)\s*(?:(==|=|!=|<=|>=|<|>)\s*(.+))?$/.exec(body);
        if (!m) throw new Error(`unsupported filter ${JSON.stringify(inner)}`);
        steps.push({ kind: 'filter', key: m[1].slice(1).split('.'), op: m[2], value: m[3] === undefined ? undefined : parseLiteral(m[3]) });
      } else {
        const parts = inner.split(',').map((s) => s.trim());
        const keys = parts.map((s) => (/^-?\d+$/.test(s) ? Number(s) : (parseLiteral(s) as string)));
        if (keys.length === 1) steps.push(typeof keys[0] === 'number' ? { kind: 'index', i: keys[0] } : { kind: 'key', name: String(keys[0]) });
        else steps.push({ kind: 'union', keys });
      }
    } else throw new Error(`unexpected ${JSON.stringify(rest)}`);
  }
  return steps;
}

const children = (v: unknown): unknown[] => (Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : []);
const member = (v: unknown, k: string | number): unknown[] => {
  if (Array.isArray(v) && typeof k === 'number') {
    const j = k < 0 ? v.length + k : k;
    return j >= 0 && j < v.length ? [v[j]] : [];
  }
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, String(k))) return [(v as Record<string, unknown>)[String(k)]];
  return [];
};

function compareOp(a: unknown, op: string, b: unknown): boolean {
  switch (op) {
    case '=':
    case '==':
      return JSON.stringify(a) === JSON.stringify(b);
    case '!=':
      return JSON.stringify(a) !== JSON.stringify(b);
    case '<':
      return (a as number) < (b as number);
    case '<=':
      return (a as number) <= (b as number);
    case '>':
      return (a as number) > (b as number);
    case '>=':
      return (a as number) >= (b as number);
    default:
      return false;
  }
}

/** Every value the path matches in `doc`, in document order. */
export function jsonpath(path: string, doc: unknown): unknown[] {
  let cur: unknown[] = [doc];
  for (const s of parsePath(path)) {
    const next: unknown[] = [];
    for (const v of cur) {
      switch (s.kind) {
        case 'key':
          next.push(...member(v, s.name));
          break;
        case 'index':
          next.push(...member(v, s.i));
          break;
        case 'wild':
          next.push(...children(v));
          break;
        case 'union':
          for (const k of s.keys) next.push(...member(v, k));
          break;
        case 'desc': {
          const walk = (x: unknown): void => {
            if (s.name === null) next.push(...children(x));
            else next.push(...member(x, s.name));
            for (const c of children(x)) walk(c);
          };
          walk(v);
          break;
        }
        case 'filter':
          for (const c of children(v)) {
            let got: unknown[] = [c];
            for (const k of s.key) got = got.flatMap((g) => member(g, k));
            if (got.length === 0) continue;
            if (s.op === undefined ? Boolean(got[0]) : compareOp(got[0], s.op, s.value)) next.push(c);
          }
          break;
      }
    }
    cur = next;
  }
  return cur;
}
