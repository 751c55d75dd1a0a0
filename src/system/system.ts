/**
 * From a system file to the one `System` object every part works from: the supervisor (what to start or attach,
 * which proxies to create first), the controller (targets), the runner (entry, endpoints, counters, integrity,
 * mitigations), the dashboard and the demo. Loading validates everything at once — each service by its own
 * type's schema, then every cross-reference (after, replica_of, upstreams, entry, counters, integrity, templates)
 * and port clashes — and reports every problem with `file:line:col: path`.
 *
 *   faultline.yaml ─readYamlFile─▶ raw ─validate (all issues)─▶ SystemDecl ─resolve(base port)─▶ System
 *                                                                  instances (replicas expanded) · proxies · templates
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { FaultlineError, type Issue } from '../core/errors.ts';
import { issuesFromZod } from '../core/schema.ts';
import { readYamlFile, throwIfFileIssues } from '../core/yaml-file.ts';
import { SERVICE_TYPES, SystemShape, type PortRef, type ServiceDecl, type ServiceType, type SystemDecl } from './schema.ts';

/** One process (or attached process) of the system: a declared service, or one replica of it. */
export interface Instance {
  /** `orders-1` for replica 1 of `orders`; the declared name when it has one instance. */
  name: string;
  /** The declared service. */
  service: string;
  type: ServiceType;
  decl: ServiceDecl;
  /** Absolute port it listens on, when it has one. */
  port?: number;
  /** 1-based replica number when the service has replicas > 1. */
  replica?: number;
}

/** A fault proxy: created by the controller before any service starts, named as clients know it. */
export interface ProxyEdge {
  name: string;
  listen: number;
  /** host:port it forwards to. */
  upstream: string;
  /** The instance behind it, when the upstream is a service of this file. */
  instance?: string;
}

export interface System {
  name: string;
  /** Absolute path of the file it came from ('' for one built in memory). */
  file: string;
  /** Relative commands, cwds and pid files resolve against this directory. */
  dir: string;
  basePort: number;
  controllerPort: number;
  decl: SystemDecl;
  instances: Instance[];
  proxies: ProxyEdge[];
  /** Replicated services: service name → its instance names (a group target). */
  groups: Map<string, string[]>;
  /** Absolute path of the system's committed experiments. */
  experimentsDir: string;
}

/** What a template may refer to besides the system itself; supplied when a service is launched. */
export interface TemplateContext {
  stateDir: string;
  /** The HS256 secret of this state dir (services that check tokens are given it as ${secret}). */
  secret: string;
  /** The mitigations `up` was given ('' when none). */
  mitigations: string;
  env: NodeJS.ProcessEnv;
}

const TEMPLATE = /\$\{([^}]*)\}/g;

/**
 * Loads, validates and resolves a system file. `basePort` overrides the file's base_port.
 * @example const system = loadSystem('lab/faultline.yaml', { basePort: 28000 });
 */
export function loadSystem(file: string, options: { basePort?: number } = {}): System {
  const abs = resolve(file);
  const yaml = readYamlFile(abs);
  const { decl, issues } = validateSystem(yaml.raw);
  throwIfFileIssues(yaml, issues);
  return resolveSystem(decl!, abs, options.basePort);
}

/** Every problem with a parsed system file (empty when it is valid), and the typed declaration when it is. */
export function validateSystem(raw: unknown): { decl?: SystemDecl; issues: Issue[] } {
  const top = SystemShape.safeParse(raw);
  const issues: Issue[] = top.success ? [] : issuesFromZod(raw, top.error.issues);
  const services: Record<string, ServiceDecl> = {};
  // Each service is checked by its own type's schema even when the top level has problems: all at once.
  const rawServices = raw && typeof raw === 'object' ? (raw as { services?: unknown }).services : undefined;
  const entries = rawServices && typeof rawServices === 'object' && !Array.isArray(rawServices) ? Object.entries(rawServices) : [];
  for (const [name, svc] of entries) {
    const type = (svc && typeof svc === 'object' && 'type' in svc ? (svc as { type: unknown }).type : 'command') as string;
    const schema = (SERVICE_TYPES as Record<string, z.ZodType>)[type];
    if (schema === undefined) {
      issues.push({ path: `services.${name}.type`, message: `unknown service type ${JSON.stringify(type)}; one of: ${Object.keys(SERVICE_TYPES).join(', ')}` });
      continue;
    }
    const parsed = schema.safeParse(svc);
    if (parsed.success) services[name] = parsed.data as ServiceDecl;
    else for (const i of issuesFromZod(svc, parsed.error.issues)) issues.push({ path: `services.${name}.${i.path}`, message: i.message });
  }
  if (!top.success || issues.length > 0) return { issues };
  // References between parts are checked once every part parsed (a reference to a broken part is noise).
  const decl: SystemDecl = { ...top.data, services };
  issues.push(...crossCheck(decl));
  return issues.length === 0 ? { decl, issues } : { issues };
}

/** References between parts of the file, port clashes, start-order cycles and templates. */
function crossCheck(d: SystemDecl): Issue[] {
  const issues: Issue[] = [];
  const names = new Set(Object.keys(d.services));
  const replicas = (n: string): number => {
    const s = d.services[n];
    return s && s.type === 'command' ? s.replicas : 1;
  };
  for (const [name, s] of Object.entries(d.services)) {
    const after = 'after' in s ? s.after : [];
    after.forEach((a, i) => {
      if (!names.has(a)) issues.push({ path: `services.${name}.after[${i}]`, message: `no service named ${JSON.stringify(a)}; services: ${[...names].join(', ')}` });
      if (a === name) issues.push({ path: `services.${name}.after[${i}]`, message: 'a service cannot start after itself' });
    });
    if (s.type === 'postgres' && s.replica_of !== undefined) {
      const primary = d.services[s.replica_of];
      if (primary?.type !== 'postgres') issues.push({ path: `services.${name}.replica_of`, message: `must name a postgres service of this file (got ${JSON.stringify(s.replica_of)})` });
      else if (primary.replica_of !== undefined) issues.push({ path: `services.${name}.replica_of`, message: `${s.replica_of} is itself a replica; chain replicas from the primary` });
    }
    if (s.type === 'command' && s.replicas > 1 && s.port !== undefined && typeof s.port === 'number' && s.port + s.replicas - 1 > 65_535) {
      issues.push({ path: `services.${name}.port`, message: `${s.replicas} replicas need ports ${s.port}…${s.port + s.replicas - 1}` });
    }
  }
  issues.push(...startCycles(d));
  for (const [name, dep] of Object.entries(d.dependencies)) {
    if (!names.has(dep.upstream) && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d{1,5}$/.test(dep.upstream)) {
      issues.push({ path: `dependencies.${name}.upstream`, message: `a service of this file or a loopback host:port (got ${JSON.stringify(dep.upstream)}); services: ${[...names].join(', ')}` });
    } else if (names.has(dep.upstream)) {
      const up = d.services[dep.upstream];
      if (up.type === 'job') issues.push({ path: `dependencies.${name}.upstream`, message: `${dep.upstream} is a job: it listens on nothing` });
      else if (!('port' in up) || up.port === undefined) issues.push({ path: `dependencies.${name}.upstream`, message: `${dep.upstream} declares no port to forward to` });
    }
  }
  if (d.entry && !(d.entry.via in d.dependencies) && !names.has(d.entry.via)) {
    issues.push({ path: 'entry.via', message: `a dependency (proxy) or service of this file (got ${JSON.stringify(d.entry.via)})` });
  }
  for (const [name, c] of Object.entries(d.counters)) {
    if ('proxy' in c && !(c.proxy in d.dependencies)) issues.push({ path: `counters.${name}.proxy`, message: `no dependency named ${JSON.stringify(c.proxy)}` });
    if ('service' in c && !names.has(c.service)) issues.push({ path: `counters.${name}.service`, message: `no service named ${JSON.stringify(c.service)}` });
    if (c.per_endpoint !== undefined && !(c.per_endpoint in (d.entry?.endpoints ?? {}))) {
      issues.push({ path: `counters.${name}.per_endpoint`, message: `no entry endpoint named ${JSON.stringify(c.per_endpoint)} (entry.endpoints: ${Object.keys(d.entry?.endpoints ?? {}).join(', ') || 'none'})` });
    }
  }
  for (const [name, c] of Object.entries(d.integrity)) {
    if ('sql' in c && d.services[c.on]?.type !== 'postgres') issues.push({ path: `integrity.${name}.on`, message: `must name a postgres service of this file (got ${JSON.stringify(c.on)})` });
    if ('writes' in c && !(c.writes.endpoint in (d.entry?.endpoints ?? {}))) {
      issues.push({ path: `integrity.${name}.writes.endpoint`, message: `no entry endpoint named ${JSON.stringify(c.writes.endpoint)} (entry.endpoints: ${Object.keys(d.entry?.endpoints ?? {}).join(', ') || 'none'})` });
    }
  }
  if (d.mitigations && 'http' in d.mitigations) {
    d.mitigations.http.services.forEach((s, i) => {
      if (!names.has(s)) issues.push({ path: `mitigations.http.services[${i}]`, message: `no service named ${JSON.stringify(s)}` });
    });
  }
  // Templates: every ${…} must name something that will exist.
  const deps = new Set<string>();
  for (const [name, dep] of Object.entries(d.dependencies)) {
    const n = names.has(dep.upstream) ? replicas(dep.upstream) : 1;
    if (n === 1) deps.add(name);
    else for (let i = 1; i <= n; i++) deps.add(`${name}-${i}`);
  }
  for (const [name, s] of Object.entries(d.services)) {
    const strings: [string, string][] = [];
    if ('command' in s) s.command.forEach((c, i) => strings.push([`services.${name}.command[${i}]`, c]));
    if ('env' in s) for (const [k, v] of Object.entries(s.env)) strings.push([`services.${name}.env.${k}`, v]);
    for (const [path, text] of strings) {
      for (const m of text.matchAll(TEMPLATE)) {
        const why = templateProblem(m[1], deps, names);
        if (why) issues.push({ path, message: `\${${m[1]}}: ${why}` });
      }
    }
  }
  // Ports: no two things of the system on one port (offsets compared as offsets, absolutes as absolutes).
  const seen = new Map<string, string>();
  const claim = (ref: PortRef | undefined, path: string, count = 1): void => {
    if (ref === undefined) return;
    if (typeof ref === 'string' && d.base_port + Number(ref.slice(1)) + count - 1 > 65_535) {
      issues.push({ path, message: `${ref} from base_port ${d.base_port} is past port 65535` });
      return;
    }
    for (let i = 0; i < count; i++) {
      const key = typeof ref === 'number' ? `${ref + i}` : `+${Number(ref.slice(1)) + i}`;
      const other = seen.get(key);
      if (other) issues.push({ path, message: `port ${key} is also ${other}` });
      else seen.set(key, path);
    }
  };
  claim(d.controller.port, 'controller.port');
  for (const [name, s] of Object.entries(d.services)) if ('port' in s && s.type !== 'attached') claim(s.port, `services.${name}.port`, replicas(name));
  for (const [name, dep] of Object.entries(d.dependencies)) claim(dep.listen, `dependencies.${name}.listen`, names.has(dep.upstream) ? replicas(dep.upstream) : 1);
  return issues;
}

function templateProblem(expr: string, deps: Set<string>, services: Set<string>): string | null {
  const parts = expr.trim().split('.');
  const [root, name, field] = parts;
  if (parts.length === 1 && ['state_dir', 'secret', 'mitigations', 'system_dir'].includes(root)) return null;
  if (root === 'self' && parts.length === 2 && ['port', 'name', 'replica'].includes(name)) return null;
  if (root === 'env' && parts.length === 2 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return null;
  if (root === 'deps' && parts.length === 3) {
    if (!deps.has(name)) return `no dependency (proxy) named ${JSON.stringify(name)}; proxies: ${[...deps].join(', ') || 'none'}`;
    return ['address', 'host', 'port', 'url'].includes(field) ? null : `field ${JSON.stringify(field)}: one of address, host, port, url`;
  }
  if (root === 'services' && parts.length === 3) {
    if (!services.has(name)) return `no service named ${JSON.stringify(name)}`;
    return ['address', 'host', 'port', 'url'].includes(field) ? null : `field ${JSON.stringify(field)}: one of address, host, port, url`;
  }
  return 'not a known template: ${deps.<name>.address|host|port|url}, ${services.<name>.…}, ${self.port|name|replica}, ${env.NAME}, ${state_dir}, ${secret}, ${mitigations}, ${system_dir}';
}

function startCycles(d: SystemDecl): Issue[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const issues: Issue[] = [];
  const visit = (n: string, path: string[]): void => {
    if (state.get(n) === 'done' || !d.services[n]) return;
    if (state.get(n) === 'visiting') {
      issues.push({ path: `services.${n}.after`, message: `start order has a cycle: ${[...path.slice(path.indexOf(n)), n].join(' → ')}` });
      return;
    }
    state.set(n, 'visiting');
    const s = d.services[n];
    for (const a of 'after' in s ? s.after : []) if (a !== n) visit(a, [...path, n]);
    state.set(n, 'done');
  };
  for (const n of Object.keys(d.services)) visit(n, []);
  return issues;
}

function portOf(ref: PortRef, base: number): number {
  return typeof ref === 'number' ? ref : base + Number(ref.slice(1));
}

/** Expands replicas, makes ports absolute and builds the proxy list. */
export function resolveSystem(decl: SystemDecl, file: string, basePortOverride?: number): System {
  const basePort = basePortOverride ?? decl.base_port;
  const instances: Instance[] = [];
  const groups = new Map<string, string[]>();
  for (const [name, s] of Object.entries(decl.services)) {
    const count = s.type === 'command' ? s.replicas : 1;
    const port = 'port' in s && s.port !== undefined ? portOf(s.port, basePort) : undefined;
    if (count === 1) instances.push({ name, service: name, type: s.type, decl: s, ...(port !== undefined ? { port } : {}) });
    else {
      const members: string[] = [];
      for (let i = 1; i <= count; i++) {
        instances.push({ name: `${name}-${i}`, service: name, type: s.type, decl: s, replica: i, ...(port !== undefined ? { port: port + i - 1 } : {}) });
        members.push(`${name}-${i}`);
      }
      groups.set(name, members);
    }
  }
  const proxies: ProxyEdge[] = [];
  for (const [name, dep] of Object.entries(decl.dependencies)) {
    const listen = portOf(dep.listen, basePort);
    const members = groups.get(dep.upstream);
    if (members) {
      members.forEach((m, i) => {
        const inst = instances.find((x) => x.name === m)!;
        proxies.push({ name: `${name}-${i + 1}`, listen: listen + i, upstream: `127.0.0.1:${inst.port}`, instance: m });
      });
    } else {
      const inst = instances.find((x) => x.name === dep.upstream);
      proxies.push({ name, listen, upstream: inst ? `127.0.0.1:${inst.port}` : dep.upstream, ...(inst ? { instance: inst.name } : {}) });
    }
  }
  return {
    name: decl.name,
    file,
    dir: file ? dirname(file) : process.cwd(),
    basePort,
    controllerPort: portOf(decl.controller.port, basePort),
    decl,
    instances,
    proxies,
    groups,
    experimentsDir: resolve(file ? dirname(file) : process.cwd(), decl.experiments),
  };
}

/** The URL clients use for an instance reached at `port`: postgres://, redis://, or http://. */
export function urlFor(instance: Instance | undefined, port: number): string {
  if (instance?.decl.type === 'postgres') {
    const db = instance.decl.database ?? instance.decl.user;
    return `postgres://${instance.decl.user}@127.0.0.1:${port}/${db}`;
  }
  if (instance?.decl.type === 'redis') return `redis://127.0.0.1:${port}`;
  return `http://127.0.0.1:${port}`;
}

/**
 * Fills the ${…} templates of one string for one instance.
 * @example expand(system, inst, '${deps.redis.url}', ctx) // 'redis://127.0.0.1:27379'
 */
export function expand(system: System, self: Instance, text: string, ctx: TemplateContext): string {
  return text.replace(TEMPLATE, (_m, expr: string) => {
    const [root, name, field] = expr.trim().split('.');
    if (root === 'state_dir') return ctx.stateDir;
    if (root === 'secret') return ctx.secret;
    if (root === 'mitigations') return ctx.mitigations;
    if (root === 'system_dir') return system.dir;
    if (root === 'env') return ctx.env[name] ?? '';
    if (root === 'self') return name === 'port' ? String(self.port ?? '') : name === 'replica' ? String(self.replica ?? 1) : self.name;
    const at = (port: number, inst: Instance | undefined): string =>
      field === 'port' ? String(port) : field === 'host' ? '127.0.0.1' : field === 'address' ? `127.0.0.1:${port}` : urlFor(inst, port);
    if (root === 'deps') {
      const proxy = system.proxies.find((p) => p.name === name);
      if (!proxy) throw new FaultlineError('INVALID_INPUT', `no dependency ${name}`);
      return at(proxy.listen, system.instances.find((i) => i.name === proxy.instance));
    }
    const inst = system.instances.find((i) => i.name === name || i.service === name);
    if (!inst?.port) throw new FaultlineError('INVALID_INPUT', `service ${name} has no port`);
    return at(inst.port, inst);
  });
}

/** A path from the system file, made absolute against its directory. */
export function systemPath(system: System, path: string): string {
  return isAbsolute(path) ? path : resolve(system.dir, path);
}

/** Every port a resolved system listens on: its controller, each instance and each fault proxy. */
export function systemPorts(system: System): number[] {
  return [system.controllerPort, ...system.instances.flatMap((i) => (i.port === undefined ? [] : [i.port])), ...system.proxies.map((p) => p.listen)];
}
