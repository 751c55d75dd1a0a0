/**
 * HTTP faults carried by the target's fault proxy, which turns HTTP-aware for them: the `http_fault` toxic pair
 * (src/proxy/toxics/http_fault.ts) frames requests and responses on every connection, so one request on a
 * keep-alive connection can fail while the next one on the same connection succeeds. Works for any HTTP/1.1
 * target behind a proxy — nothing runs inside the target. Toxics are named after the fault id and carry its TTL,
 * so the proxy drops them itself if the controller dies.
 *
 *   apply  ─▶ add faultline-<id>-downstream (orders the answers) ─▶ add faultline-<id>-upstream (picks requests)
 *   revert ─▶ remove upstream ─▶ remove downstream                 verify: either toxic still on the proxy
 */
import type { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { ToxiproxyClient } from '../../../proxy/client.ts';
import { defineInjector, type Injector } from '../../injector.ts';
import { GONE } from '../network/via-proxy.ts';

export interface HttpToxicHandle {
  api: string;
  proxy: string;
  /** Downstream first: apply adds in this order, revert removes in the reverse. */
  toxics: [string, string];
}

/**
 * Builds an HTTP fault type from the http_fault attributes its params map to.
 * @example httpToxicFault('http_error', '…', schema, (p) => ({ status: p.status, pct: p.pct }))
 */
export function httpToxicFault<S extends z.ZodTypeAny>(
  type: string,
  summary: string,
  params: S,
  attributes: (p: z.output<S>) => Record<string, number>,
): Injector<z.output<S>, HttpToxicHandle> {
  return defineInjector<z.output<S>, HttpToxicHandle>({
    type,
    family: 'http',
    summary,
    params: params as z.ZodType<z.output<S>>,
    unsupported: (t) => (t.proxy ? null : `${t.name} has no fault proxy in front of it`),
    mechanism: () => 'proxy toxic (http_fault, HTTP/1.1-aware)',
    plan: (target, _p, ctx) => {
      if (!target.proxy) throw new FaultlineError('CAPABILITY_MISSING', `target ${target.name} has no fault proxy in front of it`);
      return { api: target.proxy.api, proxy: target.proxy.name, toxics: [`faultline-${ctx.id}-downstream`, `faultline-${ctx.id}-upstream`] };
    },
    async apply(handle, p, ctx) {
      const client = new ToxiproxyClient(handle.api);
      for (const name of handle.toxics) {
        const stream = name.endsWith('-upstream') ? 'upstream' : 'downstream';
        try {
          await client.addToxic(handle.proxy, { name, type: 'http_fault', stream, attributes: attributes(p), ttl_s: ctx.ttl_s });
        } catch (err) {
          if (!(err instanceof FaultlineError && err.code === 'TOXIC_EXISTS')) throw err;
        }
      }
    },
    async revert(handle) {
      const client = new ToxiproxyClient(handle.api);
      for (const name of [...handle.toxics].reverse()) {
        try {
          await client.removeToxic(handle.proxy, name);
        } catch (err) {
          if (!(err instanceof FaultlineError && GONE.has(err.code))) throw err;
        }
      }
    },
    async verify(handle) {
      try {
        const proxy = await new ToxiproxyClient(handle.api).getProxy(handle.proxy);
        return proxy.toxics.some((t) => handle.toxics.includes(t.name as string));
      } catch (err) {
        if (err instanceof FaultlineError && GONE.has(err.code)) return false;
        throw err;
      }
    },
  });
}
