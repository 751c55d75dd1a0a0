/**
 * host:port strings as toxiproxy users write them: `localhost:0`, `127.0.0.1:6379`, `[::1]:80`, `:8080`, ``.
 * A listen address is shown as the address really bound (`localhost:3310` → `127.0.0.1:3310`,
 * `0.0.0.0:6003` → `[::]:6003`, port 0 → the ephemeral port), as toxiproxy shows it.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { FaultlineError } from '../core/errors.ts';

export interface HostPort {
  host: string;
  port: number;
}

/** Splits `host:port`; an empty string or a missing host means every interface. */
export function parseHostPort(value: string, field: string): HostPort {
  if (value === '') return { host: '', port: 0 };
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65_535) {
    throw new FaultlineError('INVALID_INPUT', `${field}: must be host:port with a port in [0, 65535] (got "${value}")`, {
      field,
      hint: 'e.g. 127.0.0.1:6379, localhost:0 or [::1]:8080',
    });
  }
  return { host: match[1] ?? match[2], port };
}

/** Resolves a listen host to the address Node binds; hostnames resolve to their first IPv4 address if any. */
export async function resolveListen(value: string): Promise<HostPort> {
  const { host, port } = parseHostPort(value, 'listen');
  if (host === '' || host === '0.0.0.0' || host === '::') return { host: '::', port };
  if (isIP(host) !== 0) return { host, port };
  try {
    const addrs = await lookup(host, { all: true });
    const chosen = addrs.find((a) => a.family === 4) ?? addrs[0];
    return { host: chosen.address, port };
  } catch (err) {
    throw new FaultlineError('LISTEN_FAILED', `listen tcp ${value}: lookup ${host}: ${(err as Error).message}`);
  }
}

/** Formats an address the way Go prints it: IPv6 in brackets. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
