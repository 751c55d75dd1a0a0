/**
 * exception: makes a named route of a lab service throw (answered as the service answers any bug: a 500) for
 * pct % of its requests, optionally only for one customer_id. Carried by the in-process hook every lab node
 * service mounts (lab/common/fault-hooks.ts: `POST /__faultline/exceptions` on the service's own loopback port),
 * which also expires the rule at the fault's TTL by itself. A service that is gone or restarted holds no rules,
 * so it counts as reverted.
 *
 *   apply  ─▶ POST {http}/__faultline/exceptions {id, route, pct, customer_id?, ttl_s}
 *   revert ─▶ DELETE {http}/__faultline/exceptions/{id}        verify: GET lists the rule
 */
import { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { defineInjector } from '../../injector.ts';

interface ExceptionHandle {
  url: string;
  id: string;
}

const Params = z.strictObject({
  /** The route label as the service's metrics name it, e.g. `/orders` or `/orders/:id`. */
  route: z.string().min(1).max(200),
  pct: z.number().min(0).max(100).default(100),
  customer_id: z.number().int().min(1).optional(),
});

async function hook(url: string, method: 'GET' | 'POST' | 'DELETE', body?: unknown): Promise<{ status: number; json: Record<string, unknown> } | null> {
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return null;
    throw err;
  }
}

export const exception = defineInjector<z.output<typeof Params>, ExceptionHandle>({
  type: 'exception',
  family: 'exception',
  summary: 'a named route of the service throws for pct % of requests (optionally one customer_id only)',
  params: Params,
  unsupported: (t) => (t.http ? null : `${t.name} has no HTTP address (the exception hook is reached there)`),
  mechanism: (t) => `in-process hook ${t.http}/__faultline/exceptions`,
  plan: (target, _p, ctx) => ({ url: `${target.http}/__faultline/exceptions`, id: `faultline-${ctx.id}` }),
  async apply(handle, p, ctx) {
    const res = await hook(handle.url, 'POST', { id: handle.id, route: p.route, pct: p.pct, ttl_s: ctx.ttl_s, ...(p.customer_id !== undefined ? { customer_id: p.customer_id } : {}) });
    if (res === null) throw new Error(`${handle.url} is not reachable`);
    if (res.status === 400) throw new FaultlineError('INVALID_INPUT', `params.${String(res.json.error)}`, { field: 'params.route' });
    if (res.status !== 201) throw new Error(`${handle.url} answered ${res.status}: ${String(res.json.error ?? '')}`);
  },
  async revert(handle) {
    const res = await hook(`${handle.url}/${handle.id}`, 'DELETE');
    if (res !== null && res.status !== 200 && res.status !== 404) throw new Error(`${handle.url} answered ${res.status}`);
  },
  async verify(handle) {
    const res = await hook(handle.url, 'GET');
    if (res === null) return false;
    return ((res.json.rules as { id: string }[] | undefined) ?? []).some((r) => r.id === handle.id);
  },
});
