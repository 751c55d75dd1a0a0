/**
 * Reading a Chaos Toolkit experiment: JSON or YAML (the same structure), recognised by its shape, then validated
 * the way chaoslib validates it (reference sheet A1–A4) with every problem reported at once, each with its path
 * (INVALID_INPUT, exit 2). `python` providers are refused here, naming the activity — except the functions
 * python.ts maps (chaostoolkit-toxiproxy's `chaostoxi.*` and faultline's own), whose arguments are checked too.
 *
 * @example
 *   const raw = readExperimentFile('examples/ctk/hypothesis-only.json');
 *   if (isCtkExperiment(raw)) { const exp = validateCtk(raw); exp.title }
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseDocument } from 'yaml';
import { FaultlineError, throwIfIssues, type Issue } from '../core/errors.ts';
import { parsePath } from './jsonpath.ts';
import { pythonFunction, PYTHON_MODULES } from './python.ts';
import { HYPOTHESIS_STRATEGIES, ROLLBACK_STRATEGIES, type Activity, type CtkExperiment, type Ref } from './types.ts';

/** Parses a .json / .yaml / .yml file (JSON first when it looks like JSON); INVALID_INPUT with the line on a syntax error. */
export function readExperimentFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FaultlineError('INVALID_INPUT', `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field: 'FILE' });
  }
  if (/\.json$/i.test(file) || /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      if (/\.json$/i.test(file)) throw new FaultlineError('INVALID_INPUT', `${file}: not valid JSON: ${(err as Error).message}`, { field: 'FILE' });
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, merge: true });
  if (doc.errors.length > 0) {
    const shown = doc.errors.map((e) => `${file}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}: ${e.message.split('\n')[0]}`);
    throw new FaultlineError('INVALID_INPUT', shown.join('; '), { field: 'FILE' });
  }
  return doc.toJS({ maxAliasCount: 100 });
}

/**
 * Whether a parsed file is a Chaos Toolkit experiment rather than a faultline experiment or schedule: it has a
 * `method` list or a `steady-state-hypothesis`, and none of faultline's own top-level keys.
 */
export function isCtkExperiment(raw: unknown): boolean {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return false;
  const o = raw as Record<string, unknown>;
  if ('schedule' in o || 'hypothesis' in o || 'windows' in o || 'faults' in o) return false;
  return Array.isArray(o.method) || 'steady-state-hypothesis' in o || ('rollbacks' in o && 'title' in o);
}

/** Whether FILE (by content) is a CTK experiment; false when it cannot be read or parsed (the caller reports). */
export function isCtkFile(file: string): boolean {
  try {
    return isCtkExperiment(readExperimentFile(file));
  } catch {
    return false;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasVar = (v: unknown): boolean => typeof v === 'string' && v.includes('${');

/** `which`: an absolute/relative path that exists, or the first match on PATH. */
export function which(path: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (path.includes('/')) return existsSync(path) ? path : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, path);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Every named activity of the experiment (method, rollbacks, hypothesis probes), for `ref` lookups. */
export function namedActivities(exp: CtkExperiment): Map<string, Activity> {
  const out = new Map<string, Activity>();
  const lists = [exp['steady-state-hypothesis']?.probes ?? [], exp.method ?? [], exp.rollbacks ?? []];
  for (const list of lists) for (const a of list) if (isObj(a) && !('ref' in a) && typeof a.name === 'string' && !out.has(a.name)) out.set(a.name, a as Activity);
  return out;
}

/** The activity itself, or the one a `{ref}` names (undefined when it names none). */
export function resolveRef(a: Activity | Ref, named: Map<string, Activity>): Activity | undefined {
  return 'ref' in a ? named.get(a.ref) : a;
}

function checkTolerance(t: unknown, at: string, issues: Issue[]): void {
  if (typeof t === 'boolean' || typeof t === 'number' || typeof t === 'string' || Array.isArray(t)) return;
  if (!isObj(t)) {
    issues.push({ path: at, message: 'a tolerance is a bool, an int, a string, a list, or an object with type range | regex | jsonpath | probe' });
    return;
  }
  switch (t.type) {
    case 'range': {
      const r = t.range;
      if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== 'number')) issues.push({ path: `${at}.range`, message: 'a range is two numbers [lower, upper]' });
      break;
    }
    case 'regex':
      if (typeof t.pattern !== 'string') issues.push({ path: `${at}.pattern`, message: 'a regex tolerance needs a string pattern' });
      else if (!hasVar(t.pattern)) {
        try {
          new RegExp(pythonRegex(t.pattern));
        } catch (err) {
          issues.push({ path: `${at}.pattern`, message: `invalid pattern: ${(err as Error).message}` });
        }
      }
      break;
    case 'jsonpath':
      if (typeof t.path !== 'string' || t.path.trim() === '') issues.push({ path: `${at}.path`, message: 'a jsonpath tolerance needs a non-empty path' });
      else if (!hasVar(t.path)) {
        try {
          parsePath(t.path);
        } catch (err) {
          issues.push({ path: `${at}.path`, message: `${(err as Error).message} (supported: $ .name ['name'] [n] [*] .* ..name [a,b] [?(@.key op value)])` });
        }
      }
      if (t.count !== undefined && !Number.isInteger(t.count)) issues.push({ path: `${at}.count`, message: 'count is an integer' });
      break;
    case 'probe':
      checkActivity(t, at, issues, { inTolerance: true });
      break;
    default:
      issues.push({ path: `${at}.type`, message: `unsupported tolerance type ${JSON.stringify(t.type)} (allowed: range, regex, jsonpath, probe)` });
  }
}

/** Python's (?P<name>…) groups are JS's (?<name>…); the rest of the common syntax is shared. */
export function pythonRegex(p: string): string {
  return p.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
}

function checkPause(v: unknown, at: string, issues: Issue[]): void {
  if (v === undefined || hasVar(v)) return;
  if (typeof v !== 'number' || !(v >= 0)) issues.push({ path: at, message: 'a pause is seconds (a number ≥ 0) or "${var}"' });
}

function checkActivity(a: unknown, at: string, issues: Issue[], o: { inTolerance?: boolean; hypothesis?: boolean; rollback?: boolean } = {}): void {
  if (!isObj(a)) {
    issues.push({ path: at, message: 'an activity is an object {type, name, provider} or {ref}' });
    return;
  }
  const name = typeof a.name === 'string' ? a.name : undefined;
  const label = name ? ` (activity "${name}")` : '';
  if (!o.inTolerance && a.type !== 'action' && a.type !== 'probe') issues.push({ path: `${at}.type`, message: `must be "action" or "probe" (got ${JSON.stringify(a.type)})` });
  if (!name) issues.push({ path: `${at}.name`, message: 'an activity needs a name' });
  if (o.hypothesis && a.type === 'action') issues.push({ path: `${at}.type`, message: `a steady-state hypothesis holds probes only${label}` });
  if (o.hypothesis && !('tolerance' in a)) issues.push({ path: `${at}.tolerance`, message: `a hypothesis probe needs a tolerance${label}` });
  if ('tolerance' in a && !o.inTolerance) checkTolerance(a.tolerance, `${at}.tolerance`, issues);
  if (a.pauses !== undefined) {
    if (!isObj(a.pauses)) issues.push({ path: `${at}.pauses`, message: 'pauses is {before?, after?} in seconds' });
    else {
      checkPause(a.pauses.before, `${at}.pauses.before`, issues);
      checkPause(a.pauses.after, `${at}.pauses.after`, issues);
    }
  }
  if (a.background !== undefined && typeof a.background !== 'boolean') issues.push({ path: `${at}.background`, message: 'background is true or false' });
  if (a.timeout !== undefined && !hasVar(a.timeout) && typeof a.timeout !== 'number') issues.push({ path: `${at}.timeout`, message: 'timeout is seconds' });
  const p = a.provider;
  if (!isObj(p)) {
    issues.push({ path: `${at}.provider`, message: `an activity needs a provider {type: http | process | python, …}${label}` });
    return;
  }
  const secretsOk = p.secrets === undefined || (Array.isArray(p.secrets) && p.secrets.every((s) => typeof s === 'string'));
  if (!secretsOk) issues.push({ path: `${at}.provider.secrets`, message: 'secrets is a list of secret scope names' });
  switch (p.type) {
    case 'http': {
      if (typeof p.url !== 'string' || p.url === '') issues.push({ path: `${at}.provider.url`, message: `an http provider needs a url${label}` });
      else if (!hasVar(p.url) && !/^https?:\/\//.test(p.url)) issues.push({ path: `${at}.provider.url`, message: `must be an http:// or https:// URL (got ${JSON.stringify(p.url)})` });
      if (p.method !== undefined && typeof p.method !== 'string') issues.push({ path: `${at}.provider.method`, message: 'method is a string (GET, POST, …)' });
      if (p.headers !== undefined && !isObj(p.headers)) issues.push({ path: `${at}.provider.headers`, message: 'headers is an object' });
      if (p.arguments !== undefined && !isObj(p.arguments) && !hasVar(p.arguments)) issues.push({ path: `${at}.provider.arguments`, message: 'arguments is an object' });
      const t = p.timeout;
      if (t !== undefined && !hasVar(t) && typeof t !== 'number' && !(Array.isArray(t) && t.length === 2 && t.every((x) => typeof x === 'number'))) {
        issues.push({ path: `${at}.provider.timeout`, message: 'timeout is seconds, or [connect, read] seconds' });
      }
      if (p.max_retries !== undefined && !Number.isInteger(p.max_retries)) issues.push({ path: `${at}.provider.max_retries`, message: 'max_retries is an integer' });
      break;
    }
    case 'process': {
      if (typeof p.path !== 'string' || p.path === '') issues.push({ path: `${at}.provider.path`, message: `a process provider needs a path${label}` });
      else if (!hasVar(p.path) && which(p.path) === undefined) issues.push({ path: `${at}.provider.path`, message: `path ${JSON.stringify(p.path)} cannot be found${label}` });
      const args = p.arguments;
      if (args !== undefined && typeof args !== 'string' && !Array.isArray(args) && !isObj(args)) issues.push({ path: `${at}.provider.arguments`, message: 'arguments is a string (run through a shell), a list (argv) or an object (flattened to key/value pairs)' });
      if (p.timeout !== undefined && !hasVar(p.timeout) && typeof p.timeout !== 'number') issues.push({ path: `${at}.provider.timeout`, message: 'timeout is seconds' });
      break;
    }
    case 'python': {
      const mod = typeof p.module === 'string' ? p.module : '';
      const fn = typeof p.func === 'string' ? p.func : '';
      const known = pythonFunction(mod, fn);
      if (!known) {
        issues.push({
          path: `${at}.provider`,
          message:
            `python provider ${mod || '(no module)'}.${fn || '(no func)'}${label} cannot run here: faultline runs no Python. ` +
            `Supported python functions: ${PYTHON_MODULES.join(', ')} (see docs/chaos-toolkit.md); rewrite others as http or process providers`,
        });
        break;
      }
      if (p.arguments !== undefined && !isObj(p.arguments)) {
        issues.push({ path: `${at}.provider.arguments`, message: 'arguments is an object' });
        break;
      }
      const args = (p.arguments ?? {}) as Record<string, unknown>;
      for (const req of known.required) if (!(req in args)) issues.push({ path: `${at}.provider.arguments.${req}`, message: `${mod}.${fn} needs argument ${req}${label}` });
      for (const k of Object.keys(args)) {
        if (!known.args.includes(k) && !(o.inTolerance && k === 'value')) issues.push({ path: `${at}.provider.arguments.${k}`, message: `${mod}.${fn} takes no argument ${k} (it takes: ${known.args.join(', ') || 'none'})` });
      }
      break;
    }
    default:
      issues.push({ path: `${at}.provider.type`, message: `unknown provider type ${JSON.stringify(p.type)} (allowed: http, process, python)` });
  }
  if (o.inTolerance && isObj(p) && !isObj(p.arguments)) {
    issues.push({ path: `${at}.provider.arguments`, message: 'a probe tolerance needs provider.arguments (CTK passes the output in arguments.value)' });
  }
}

function checkList(list: unknown, at: string, issues: Issue[], named: Set<string>, o: { hypothesis?: boolean; rollback?: boolean } = {}): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) {
    issues.push({ path: at, message: 'must be a list of activities' });
    return;
  }
  list.forEach((a, i) => {
    if (isObj(a) && 'ref' in a) {
      if (typeof a.ref !== 'string' || !named.has(a.ref)) issues.push({ path: `${at}[${i}].ref`, message: `no activity named ${JSON.stringify(a.ref)} in this experiment` });
      return;
    }
    checkActivity(a, `${at}[${i}]`, issues, o);
  });
}

function checkConfiguration(cfg: unknown, issues: Issue[]): void {
  if (cfg === undefined) return;
  if (!isObj(cfg)) {
    issues.push({ path: 'configuration', message: 'configuration is an object of name → value' });
    return;
  }
  for (const [k, v] of Object.entries(cfg)) {
    if (!isObj(v) || !('type' in v)) continue;
    if (v.type === 'env') {
      if (typeof v.key !== 'string') issues.push({ path: `configuration.${k}.key`, message: 'an env entry needs the variable name in key' });
      if (v.env_var_type !== undefined && !['str', 'int', 'float', 'bytes', 'json'].includes(String(v.env_var_type))) issues.push({ path: `configuration.${k}.env_var_type`, message: 'one of str, int, float, bytes, json' });
    } else if (v.type === 'probe') {
      issues.push({ path: `configuration.${k}`, message: 'dynamic configuration (type: probe) is not supported; use an inline value or type: env' });
    }
  }
}

function checkSecrets(sec: unknown, issues: Issue[]): void {
  if (sec === undefined) return;
  if (!isObj(sec)) {
    issues.push({ path: 'secrets', message: 'secrets is {scope: {name: value | {type: env, key}}}' });
    return;
  }
  for (const [scope, entries] of Object.entries(sec)) {
    if (!isObj(entries)) {
      issues.push({ path: `secrets.${scope}`, message: 'a secret scope is an object of name → value' });
      continue;
    }
    for (const [k, v] of Object.entries(entries)) {
      if (!isObj(v) || !('type' in v)) continue;
      if (v.type === 'env') {
        if (typeof v.key !== 'string') issues.push({ path: `secrets.${scope}.${k}.key`, message: 'an env secret needs the variable name in key' });
      } else issues.push({ path: `secrets.${scope}.${k}.type`, message: `secret type ${JSON.stringify(v.type)} is not supported (supported: inline values, type: env)` });
    }
  }
}

/**
 * Validates a parsed CTK experiment: throws one INVALID_INPUT listing every problem with its path.
 * @example validateCtk(readExperimentFile('exp.json')).method.length
 */
export function validateCtk(raw: unknown): CtkExperiment {
  const issues: Issue[] = [];
  if (!isObj(raw)) throwIfIssues([{ path: '(root)', message: 'a Chaos Toolkit experiment is an object' }]);
  const e = raw as Record<string, unknown>;
  if (typeof e.title !== 'string' || e.title === '') issues.push({ path: 'title', message: 'an experiment needs a title' });
  if (typeof e.description !== 'string') issues.push({ path: 'description', message: 'an experiment needs a description' });
  if (!Array.isArray(e.method)) issues.push({ path: 'method', message: 'an experiment needs a method (a list; [] for a hypothesis-only run)' });
  if (e.tags !== undefined && !(Array.isArray(e.tags) && e.tags.every((t) => typeof t === 'string'))) issues.push({ path: 'tags', message: 'tags is a list of strings' });
  const named = new Set<string>();
  const ssh = e['steady-state-hypothesis'];
  const lists = [isObj(ssh) ? ssh.probes : undefined, e.method, e.rollbacks];
  for (const list of lists) if (Array.isArray(list)) for (const a of list) if (isObj(a) && typeof a.name === 'string') named.add(a.name);
  if (ssh !== undefined) {
    if (!isObj(ssh)) issues.push({ path: 'steady-state-hypothesis', message: 'is {title, probes}' });
    else {
      if (typeof ssh.title !== 'string' || ssh.title === '') issues.push({ path: 'steady-state-hypothesis.title', message: 'a hypothesis needs a title' });
      checkList(ssh.probes, 'steady-state-hypothesis.probes', issues, named, { hypothesis: true });
    }
  }
  checkList(e.method, 'method', issues, named);
  checkList(e.rollbacks, 'rollbacks', issues, named, { rollback: true });
  checkConfiguration(e.configuration, issues);
  checkSecrets(e.secrets, issues);
  if (e.controls !== undefined && !(Array.isArray(e.controls) && e.controls.length === 0)) {
    issues.push({ path: 'controls', message: 'controls (python hooks) are not supported; remove them (safeguards: use faultline stop conditions)' });
  }
  const rt = e.runtime;
  if (rt !== undefined) {
    if (!isObj(rt)) issues.push({ path: 'runtime', message: 'runtime is {rollbacks: {strategy}, hypothesis: {strategy}}' });
    else {
      const rs = isObj(rt.rollbacks) ? rt.rollbacks.strategy : undefined;
      if (rs !== undefined && !(ROLLBACK_STRATEGIES as readonly unknown[]).includes(rs)) issues.push({ path: 'runtime.rollbacks.strategy', message: `one of ${ROLLBACK_STRATEGIES.join(', ')} (got ${JSON.stringify(rs)})` });
      const hs = isObj(rt.hypothesis) ? rt.hypothesis.strategy : undefined;
      if (hs !== undefined && !(HYPOTHESIS_STRATEGIES as readonly unknown[]).includes(hs === 'continously' ? 'continuously' : hs)) issues.push({ path: 'runtime.hypothesis.strategy', message: `one of ${HYPOTHESIS_STRATEGIES.join(', ')} (got ${JSON.stringify(hs)})` });
    }
  }
  if (e.extensions !== undefined && !(Array.isArray(e.extensions) && e.extensions.every((x) => isObj(x) && typeof x.name === 'string'))) issues.push({ path: 'extensions', message: 'extensions is a list of objects with a name' });
  if (Array.isArray(e.extensions)) {
    e.extensions.forEach((x, i) => {
      if (!isObj(x) || x.name !== 'faultline' || x.load === undefined) return;
      const at = `extensions[${i}].load`;
      const l = x.load;
      if (!isObj(l)) return void issues.push({ path: at, message: 'load is {rate, path | mix, seed?, timeout_ms?, warmup_s?}' });
      const allowed = ['rate', 'path', 'mix', 'seed', 'timeout_ms', 'warmup_s', 'arrivals', 'target'];
      for (const k of Object.keys(l)) if (!allowed.includes(k)) issues.push({ path: `${at}.${k}`, message: `unknown key (allowed: ${allowed.join(', ')})` });
      if (!hasVar(l.rate) && !(typeof l.rate === 'number' && l.rate > 0)) issues.push({ path: `${at}.rate`, message: 'requests per second, a number > 0' });
      if (l.path !== undefined && l.mix !== undefined) issues.push({ path: at, message: 'give path or mix, not both' });
      if (typeof l.path === 'string' && !hasVar(l.path) && !l.path.startsWith('/')) issues.push({ path: `${at}.path`, message: 'must start with "/"' });
    });
  }
  throwIfIssues(issues);
  return raw as unknown as CtkExperiment;
}

/** Reads, recognises and validates a CTK experiment file. */
export function loadCtkExperiment(file: string): CtkExperiment {
  const raw = readExperimentFile(file);
  if (!isCtkExperiment(raw)) throw new FaultlineError('INVALID_INPUT', `${file}: not a Chaos Toolkit experiment (no method or steady-state-hypothesis)`, { field: 'FILE' });
  return validateCtk(raw);
}

