/**
 * A typed client for the toxiproxy HTTP API, so faultline drives its own proxies, and a real toxiproxy, the same
 * way. Errors come back as FaultlineErrors carrying the server's code when it sent one.
 *
 * @example
 *   const api = new ToxiproxyClient('http://127.0.0.1:8474');
 *   await api.addToxic('payments', { name: 'slow', type: 'latency', attributes: { latency: 200 } });
 */
import { request } from 'undici';
import { CATALOG, FaultlineError, type ErrorCode } from '../core/errors.ts';
import type { ProxyJson } from './proxy.ts';

export interface ToxicJson {
  name: string;
  type: string;
  stream: string;
  toxicity: number;
  attributes: Record<string, number>;
  ttl_s?: number;
}

export interface ToxicInput {
  name?: string;
  type: string;
  stream?: 'upstream' | 'downstream';
  toxicity?: number;
  attributes?: Record<string, number>;
  ttl_s?: number;
}

export class ToxiproxyClient {
  constructor(
    readonly baseUrl: string,
    readonly timeoutMs = 5000,
  ) {}

  getProxy(proxy: string): Promise<ProxyJson> {
    return this.#call('GET', `/proxies/${encodeURIComponent(proxy)}`);
  }

  updateProxy(proxy: string, change: { enabled?: boolean; listen?: string; upstream?: string }): Promise<ProxyJson> {
    return this.#call('PATCH', `/proxies/${encodeURIComponent(proxy)}`, change);
  }

  addToxic(proxy: string, toxic: ToxicInput): Promise<ToxicJson> {
    return this.#call('POST', `/proxies/${encodeURIComponent(proxy)}/toxics`, toxic);
  }

  getToxic(proxy: string, name: string): Promise<ToxicJson> {
    return this.#call('GET', `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(name)}`);
  }

  async removeToxic(proxy: string, name: string): Promise<void> {
    await this.#call('DELETE', `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(name)}`);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res;
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method: method as 'GET',
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { 'content-type': 'application/json', 'user-agent': 'faultline' },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      // Refused: nothing listens there. Anything else (a timeout) says nothing about the proxy's state.
      const refused = (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
      throw new FaultlineError(refused ? 'TARGET_UNREACHABLE' : 'INTERNAL', `proxy API ${this.baseUrl}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return (text ? JSON.parse(text) : undefined) as T;
    let parsed: { error?: string; code?: string; hint?: string } = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { error: text.trim() };
    }
    const code = parsed.code?.replace(/^FL_/, '') as ErrorCode | undefined;
    const known = code !== undefined && code in CATALOG ? code : statusCode(res.statusCode);
    throw new FaultlineError(known, parsed.error ?? `HTTP ${res.statusCode}`, { hint: parsed.hint });
  }
}

function statusCode(status: number): ErrorCode {
  if (status === 404) return 'PROXY_NOT_FOUND';
  if (status === 409) return 'TOXIC_EXISTS';
  if (status >= 400 && status < 500) return 'INVALID_INPUT';
  return 'INTERNAL';
}
