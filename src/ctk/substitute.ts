/**
 * Configuration, secrets and `${}` substitution with Chaos Toolkit's rules (reference sheet A4):
 *   - configuration entries are inline values or `{type: env, key, default?, env_var_type?}`; `--var` overrides;
 *   - secrets are `{scope: {name: inline | {type: env, key}}}`;
 *   - `${name}` resolves against the configuration first, then the secret scopes in order;
 *   - a string that is exactly `"${x}"` keeps x's type; unknown names are left as they are;
 *   - there is no direct environment expansion (only through `type: env` entries).
 * Values come in as options (an env object), never by reading process.env behind the caller's back.
 *
 * @example
 *   const config = loadConfiguration({ port: { type: 'env', key: 'PORT', env_var_type: 'int' } }, { PORT: '80' });
 *   substitute('${port}', config, {}) // 80 (a number)
 */
import { FaultlineError, throwIfIssues, type Issue } from '../core/errors.ts';

export type Configuration = Record<string, unknown>;
export type Secrets = Record<string, Record<string, unknown>>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function convert(value: string, type: unknown, at: string, issues: Issue[]): unknown {
  switch (type) {
    case undefined:
    case 'str':
    case 'bytes':
      return value;
    case 'int': {
      const n = Number(value);
      if (!Number.isInteger(n)) issues.push({ path: at, message: `not an integer: ${JSON.stringify(value)}` });
      return n;
    }
    case 'float': {
      const n = Number(value);
      if (!Number.isFinite(n)) issues.push({ path: at, message: `not a number: ${JSON.stringify(value)}` });
      return n;
    }
    case 'json':
      try {
        return JSON.parse(value);
      } catch {
        issues.push({ path: at, message: `not JSON: ${JSON.stringify(value)}` });
        return value;
      }
    default:
      return value;
  }
}

/** Resolves the experiment's configuration block; `vars` (CLI `--var`) override entries of the same name. */
export function loadConfiguration(decl: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv, vars: Record<string, unknown> = {}): Configuration {
  const out: Configuration = {};
  const issues: Issue[] = [];
  for (const [k, v] of Object.entries(decl ?? {})) {
    if (isObj(v) && v.type === 'env') {
      const key = String(v.key);
      const got = env[key];
      if (got === undefined) {
        if ('default' in v) out[k] = v.default;
        else issues.push({ path: `configuration.${k}`, message: `environment variable ${key} is not set and the entry has no default` });
      } else out[k] = convert(got, v.env_var_type, `configuration.${k}`, issues);
    } else out[k] = v;
  }
  throwIfIssues(issues);
  return { ...out, ...vars };
}

/** Resolves the experiment's secrets block (inline and env). */
export function loadSecrets(decl: Record<string, Record<string, unknown>> | undefined, env: NodeJS.ProcessEnv): Secrets {
  const out: Secrets = {};
  const issues: Issue[] = [];
  for (const [scope, entries] of Object.entries(decl ?? {})) {
    out[scope] = {};
    for (const [k, v] of Object.entries(entries ?? {})) {
      if (isObj(v) && v.type === 'env') {
        const got = env[String(v.key)];
        if (got === undefined) {
          if ('default' in v) out[scope][k] = v.default;
          else issues.push({ path: `secrets.${scope}.${k}`, message: `environment variable ${String(v.key)} is not set` });
        } else out[scope][k] = got;
      } else out[scope][k] = v;
    }
  }
  throwIfIssues(issues);
  return out;
}

const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}$/;
const REF = /\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g;

function lookup(name: string, config: Configuration, secrets: Secrets): { found: boolean; value?: unknown } {
  if (Object.hasOwn(config, name)) return { found: true, value: config[name] };
  for (const scope of Object.values(secrets)) if (Object.hasOwn(scope, name)) return { found: true, value: scope[name] };
  return { found: false };
}

/**
 * Substitutes `${name}` in every string of `data` (recursively through objects and lists); returns a copy.
 * @example substitute({ url: 'http://${host}/x', n: '${n}' }, { host: 'a', n: 3 }, {}) // { url: 'http://a/x', n: 3 }
 */
export function substitute<T>(data: T, config: Configuration, secrets: Secrets): T {
  if (typeof data === 'string') {
    const whole = WHOLE.exec(data);
    if (whole) {
      const hit = lookup(whole[1], config, secrets);
      return (hit.found ? hit.value : data) as T;
    }
    return data.replace(REF, (ref, name: string) => {
      const hit = lookup(name, config, secrets);
      if (!hit.found) return ref;
      return typeof hit.value === 'string' ? hit.value : JSON.stringify(hit.value);
    }) as T;
  }
  if (Array.isArray(data)) return data.map((x) => substitute(x, config, secrets)) as T;
  if (isObj(data)) return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, substitute(v, config, secrets)])) as T;
  return data;
}

/** `--var k=v` / `--var k:int=v` (types int, float, str, bytes), as CTK's CLI parses them. */
export function parseVar(text: string, into: Record<string, unknown>): Record<string, unknown> {
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)(?::(int|float|str|bytes))?=(.*)$/s.exec(text);
  if (!m) throw new FaultlineError('INVALID_INPUT', `--var ${JSON.stringify(text)}: expected name=value or name:int=value (types int, float, str, bytes)`, { field: '--var' });
  const issues: Issue[] = [];
  into[m[1]] = convert(m[3], m[2], `--var ${m[1]}`, issues);
  throwIfIssues(issues);
  return into;
}
