/**
 * A typed client for the chaos API, used by the CLI (`faultline inject/revert/faults`) and by the runner.
 * @example
 *   const chaos = new ChaosClient('http://127.0.0.1:27474');
 *   const { id } = await chaos.inject({ type: 'latency', target: 'payments', params: { delay_ms: 200 } });
 *   await chaos.revert(id);
 */
import { request } from 'undici';
import { CATALOG, FaultlineError, type ErrorCode } from '../core/errors.ts';
import type { InjectRequest } from './controller.ts';
import type { FaultRecord } from './journal.ts';

export type PublicFault = Omit<FaultRecord, 'handle'>;

export class ChaosClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  inject(body: InjectRequest): Promise<PublicFault> {
    return this.#call('POST', '/chaos/inject', body);
  }

  revert(id: string): Promise<{ id: string; t_stop: number; mttr_s: number | null; verified: boolean; observed?: Record<string, number> }> {
    return this.#call('POST', `/chaos/revert/${encodeURIComponent(id)}`);
  }

  halt(): Promise<{ reverted: PublicFault[]; still_active: PublicFault[]; not_applied: PublicFault[] }> {
    return this.#call('DELETE', '/chaos/faults');
  }

  /** A dry run: what the controller would refuse in each of these injects (nothing is applied). */
  validate(faults: InjectRequest[]): Promise<{ ok: boolean; faults: { issues: { path: string; message: string }[] }[] }> {
    return this.#call('POST', '/chaos/validate', { faults });
  }

  /** Records the MTTR a run observed for a fault (later reverts of it answer with it). */
  reportMttr(id: string, mttr_s: number | null, source: string): Promise<{ id: string; mttr_s: number | null }> {
    return this.#call('POST', `/chaos/faults/${encodeURIComponent(id)}/mttr`, { mttr_s, source });
  }

  /** The registered targets. */
  async targets(): Promise<{ name: string; proxy: string | null; http: string | null }[]> {
    return (await this.#call<{ targets: { name: string; proxy: string | null; http: string | null }[] }>('GET', '/chaos/targets')).targets;
  }

  async list(): Promise<PublicFault[]> {
    return (await this.#call<{ faults: PublicFault[] }>('GET', '/chaos/faults')).faults;
  }

  async #call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let res;
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: {
          'content-type': 'application/json',
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        headersTimeout: 30_000,
      });
    } catch (err) {
      throw new FaultlineError('LAB_NOT_RUNNING', `no controller answers at ${this.baseUrl}: ${(err as Error).message}`);
    }
    const json = (await res.body.json().catch(() => ({}))) as T & { error?: string; code?: string; field?: string; hint?: string };
    if (res.statusCode < 300) return json;
    const code = json.code?.replace(/^FL_/, '');
    throw new FaultlineError(code && code in CATALOG ? (code as ErrorCode) : 'INTERNAL', json.error ?? `HTTP ${res.statusCode}`, {
      field: json.field,
      hint: json.hint,
    });
  }
}
