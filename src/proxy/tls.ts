/**
 * TLS on a proxy (a faultline extension; toxiproxy #472/#286): the listener can terminate TLS, with a certificate
 * it is given or one minted from the local CA (ca.ts), and the dial can originate TLS to the upstream. The links
 * between them carry plaintext, so every toxic, the HTTP-aware ones included, works on the decrypted stream.
 *
 *   client ══TLS══▶ [listener: terminate] ─plaintext─▶ links + toxics ─plaintext─▶ [dial: originate] ══TLS══▶ upstream
 *
 * Declared in a create/populate body (and a --config file):
 *   "tls": {}                                       mint for localhost, 127.0.0.1, ::1 (and the listen host)
 *   "tls": {"hosts": ["api.test", "10.0.0.5"]}      mint for these names too
 *   "tls": {"cert": "/path/cert.pem", "key": "/path/key.pem"}   use this certificate (PEM files)
 *   "upstream_tls": {}                              TLS to the upstream, verified against the system's CAs
 *   "upstream_tls": {"ca": "/path/ca.pem", "servername": "db.test", "verify": false}
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, type ConnectionOptions, type SecureContext } from 'node:tls';
import { FaultlineError } from '../core/errors.ts';
import type { LocalCa } from './ca.ts';

/** How the listener gets its certificate: given files, or minted for `hosts`. */
export interface ListenTlsDeclaration {
  cert?: string;
  key?: string;
  hosts?: string[];
}

export interface UpstreamTlsDeclaration {
  /** SNI and the name the certificate is checked against; default the upstream host when it is a name. */
  servername?: string;
  /** A PEM file of CAs to trust instead of the system's. */
  ca?: string;
  /** Check the upstream's certificate (default true). */
  verify?: boolean;
}

/** A listener's TLS, ready to use: the context every accepted client handshakes with, and what the API shows. */
export interface ListenerTls {
  readonly context: SecureContext;
  readonly json: Record<string, unknown>;
}

export interface UpstreamTls {
  readonly options: ConnectionOptions;
  readonly json: Record<string, unknown>;
}

/** Names a minted certificate always covers: the loopback ways of reaching a local proxy. */
export const DEFAULT_TLS_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Validates `tls` of a create body (400 naming the field); undefined when absent. */
export function parseListenTls(raw: unknown, where = ''): ListenTlsDeclaration | undefined {
  if (raw === undefined || raw === null) return undefined;
  const f = fields(raw, `${where}tls`, { cert: 'string', key: 'string', hosts: 'array' });
  const out: ListenTlsDeclaration = {};
  if (f.cert !== undefined) out.cert = nonEmpty(f.cert as string, `${where}tls.cert`);
  if (f.key !== undefined) out.key = nonEmpty(f.key as string, `${where}tls.key`);
  if ((out.cert === undefined) !== (out.key === undefined)) {
    const missing = out.cert === undefined ? 'cert' : 'key';
    throw invalid(`${where}tls.${missing}`, `required with tls.${missing === 'cert' ? 'key' : 'cert'}: give both PEM files, or neither to mint a certificate from the local CA`);
  }
  if (f.hosts !== undefined) {
    if (out.cert !== undefined) throw invalid(`${where}tls.hosts`, 'only for a minted certificate; a given cert already names its hosts');
    const hosts = f.hosts as unknown[];
    hosts.forEach((h, i) => {
      if (typeof h !== 'string' || !/^[A-Za-z0-9.*:_-]{1,253}$/.test(h)) {
        throw invalid(`${where}tls.hosts[${i}]`, `must be a DNS name or an IP address (got ${JSON.stringify(h)})`);
      }
    });
    out.hosts = hosts as string[];
  }
  return out;
}

/** Validates `upstream_tls` of a create body; undefined when absent. */
export function parseUpstreamTls(raw: unknown, where = ''): UpstreamTlsDeclaration | undefined {
  if (raw === undefined || raw === null) return undefined;
  const f = fields(raw, `${where}upstream_tls`, { servername: 'string', ca: 'string', verify: 'boolean' });
  const out: UpstreamTlsDeclaration = {};
  if (f.servername !== undefined) out.servername = nonEmpty(f.servername as string, `${where}upstream_tls.servername`);
  if (f.ca !== undefined) out.ca = nonEmpty(f.ca as string, `${where}upstream_tls.ca`);
  if (f.verify !== undefined) out.verify = f.verify as boolean;
  return out;
}

/**
 * Builds the listener's TLS: reads the given PEM files, or mints a certificate for the default hosts, the
 * listen host and the declared ones from the CA (`ca` is asked only then).
 */
export async function listenerTls(
  declaration: ListenTlsDeclaration,
  listenHost: string,
  ca: (() => Promise<LocalCa>) | undefined,
): Promise<ListenerTls> {
  if (declaration.cert !== undefined && declaration.key !== undefined) {
    const cert = readPem(declaration.cert, 'tls.cert');
    const key = readPem(declaration.key, 'tls.key');
    return { context: secureContext(cert, key, 'tls.cert'), json: { cert: declaration.cert, key: declaration.key } };
  }
  if (ca === undefined) {
    throw new FaultlineError('INVALID_INPUT', 'tls: this server has no local CA to mint a certificate from', {
      field: 'tls',
      hint: 'give "tls": {"cert": …, "key": …}, or run the server with a CA dir (`faultline proxy --ca-dir DIR`)',
    });
  }
  const local = await ca();
  const wildcard = listenHost === '' || listenHost === '0.0.0.0' || listenHost === '::';
  const hosts = [...new Set([...DEFAULT_TLS_HOSTS, ...(wildcard ? [] : [listenHost]), ...(declaration.hosts ?? [])])];
  const minted = await local.mint(hosts);
  return { context: secureContext(minted.cert, minted.key, 'tls'), json: { hosts, ca: local.certPath } };
}

/** The options the dial wraps its socket with (read once, at create, so a bad CA file is a 400 then). */
export function upstreamTls(declaration: UpstreamTlsDeclaration, upstreamHost: string): UpstreamTls {
  const servername = declaration.servername ?? (isIP(upstreamHost) || upstreamHost === '' ? undefined : upstreamHost);
  const verify = declaration.verify ?? true;
  const options: ConnectionOptions = { rejectUnauthorized: verify };
  if (servername !== undefined) options.servername = servername;
  if (declaration.ca !== undefined) options.ca = readPem(declaration.ca, 'upstream_tls.ca');
  const json: Record<string, unknown> = { verify };
  if (servername !== undefined) json.servername = servername;
  if (declaration.ca !== undefined) json.ca = declaration.ca;
  return { options, json };
}

function secureContext(cert: string, key: string, field: string): SecureContext {
  try {
    return createSecureContext({ cert, key });
  } catch (err) {
    throw invalid(field, `not a usable certificate and key: ${(err as Error).message}`);
  }
}

function readPem(path: string, field: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw invalid(field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!text.includes('-----BEGIN ')) throw invalid(field, `${path} is not a PEM file`);
  return text;
}

type Kind = 'string' | 'boolean' | 'array';

/** Known keys only: a typo (`certificate`) must not silently mint a certificate instead. */
function fields<K extends string>(raw: unknown, where: string, kinds: Record<K, Kind>): Partial<Record<K, unknown>> {
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid(where, 'must be an object');
  const out: Partial<Record<K, unknown>> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(key in kinds)) throw invalid(`${where}.${key}`, `unknown field; allowed: ${Object.keys(kinds).join(', ')}`);
    if (value === null || value === undefined) continue;
    const kind = kinds[key as K];
    const actual = Array.isArray(value) ? 'array' : typeof value;
    if (actual !== kind) throw invalid(`${where}.${key}`, `must be a ${kind} (got ${JSON.stringify(value)})`);
    out[key as K] = value;
  }
  return out;
}

function nonEmpty(value: string, field: string): string {
  if (value === '') throw invalid(field, 'must not be empty');
  return value;
}

function invalid(field: string, message: string): FaultlineError {
  return new FaultlineError('INVALID_INPUT', `${field}: ${message}`, { field });
}
