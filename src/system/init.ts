/**
 * `faultline init`: a commented starter system file from a few flags — one service's command and port, and its
 * dependencies as name=host:port — so a user's first `faultline up` needs no reading. The output is checked by
 * the same loader `up` uses before it is written.
 *
 * @example
 *   starterSystemFile({ name: 'shop', command: 'node server.mjs', port: 8080, deps: ['redis=127.0.0.1:6379'] })
 */
import { FaultlineError } from '../core/errors.ts';

export interface InitOptions {
  /** The system's name (lower-case, e.g. the repository's). */
  name: string;
  /** The service's command line, split on spaces ("node server.mjs"). */
  command: string;
  /** The port the service listens on. */
  port: number;
  /** Its dependencies, `name=host:port`, each reached through a fault proxy on a port of its own. */
  deps: string[];
  /** The service's name (default: the system's). */
  service?: string;
  /** Health check path (default /healthz); "tcp" for a TCP connect. */
  health?: string;
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** The file's text; throws INVALID_INPUT naming the flag when one is malformed. */
export function starterSystemFile(o: InitOptions): string {
  const problems: string[] = [];
  const service = o.service ?? o.name;
  if (!NAME.test(o.name)) problems.push(`--name ${JSON.stringify(o.name)}: lower-case letters, digits and -, starting with a letter`);
  if (!NAME.test(service)) problems.push(`--service ${JSON.stringify(service)}: lower-case letters, digits and -, starting with a letter`);
  if (!(Number.isInteger(o.port) && o.port >= 1 && o.port <= 65_535)) problems.push(`--port ${o.port}: a port 1–65535`);
  if (o.command.trim() === '') problems.push('--command: the command that starts the service');
  const deps = o.deps.map((d) => {
    const m = /^([a-z][a-z0-9-]{0,39})=((?:127\.\d+\.\d+\.\d+|localhost|\[::1\]):(\d{1,5}))$/.exec(d);
    if (!m) problems.push(`--dep ${JSON.stringify(d)}: name=host:port on loopback (e.g. redis=127.0.0.1:6379)`);
    return m ? { name: m[1], address: m[2] } : undefined;
  });
  if (problems.length > 0) throw new FaultlineError('INVALID_INPUT', problems.join('; '), { field: problems[0].split(' ')[0] });
  const argv = o.command.trim().split(/\s+/);
  const health = o.health === 'tcp' ? '{ tcp: true }' : `{ http: ${o.health ?? '/healthz'} }`;
  const envName = (n: string): string => `${n.toUpperCase().replace(/-/g, '_')}_URL`;
  const lines = [
    `# faultline system file for ${o.name}: what faultline starts, the fault proxies between the parts, and how users`,
    '# reach it. `faultline up` validates it (every problem at once, with its line); `faultline schema` prints the',
    '# JSON Schema for editors. Ports: a number is absolute, "+N" is an offset from base_port.',
    `name: ${o.name}`,
    'base_port: 27000',
    '',
    'services:',
    `  ${service}:`,
    `    command: [${argv.map((a) => JSON.stringify(a)).join(', ')}]`,
    `    port: ${o.port}`,
    `    health: ${health}`,
    '    # Each dependency is reached through its fault proxy: point the app at it through its environment.',
    deps.length > 0 ? '    env:' : '    env: {}',
    ...deps.filter((d) => d !== undefined).map((d) => `      ${envName(d!.name)}: \${deps.${d!.name}.address}   # was ${d!.address}`),
    '    # clock: true            # start it under libfaketime so clock_skew faults can move its clock',
    '    # metrics: /metrics      # its Prometheus metrics: a second source beside what users saw',
    '',
    '# One fault proxy per dependency: latency, loss, resets and outages are injected there.',
    'dependencies:',
    ...deps.filter((d) => d !== undefined).map((d, i) => `  ${d!.name}: { upstream: "${d!.address}", listen: "+${400 + i}" }`),
    `  ${service}: { upstream: ${service}, listen: "+80" }   # users come in through this one`,
    '',
    '# Where load goes and what users do there; each endpoint carries its SLO defaults (the steady state).',
    'entry:',
    `  via: ${service}`,
    '  endpoints:',
    '    home: { method: GET, path: /, slo: { latency_p99_ms: 250, error_rate: 0.001 } }',
    '',
  ];
  return `${lines.join('\n')}\n`;
}
