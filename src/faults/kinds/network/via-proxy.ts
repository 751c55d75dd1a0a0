/**
 * Network faults carried by the target's fault proxy: each one becomes a toxic named after the fault id, with
 * the fault's TTL, so the proxy removes it by itself if the controller dies. One helper builds every toxic-based
 * fault type of the family; each type file only says which toxic and how its params map onto attributes.
 */
import { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { ToxiproxyClient } from '../../../proxy/client.ts';
import { defineInjector, type Injector, type Target } from '../../injector.ts';

export interface ToxicHandle {
  api: string;
  proxy: string;
  toxics: string[];
}

/**
 * Answers that mean the toxic cannot be in effect: it or its proxy is gone, or nothing listens where the proxy
 * API was (the proxy lived in that process, so its toxics died with it).
 */
export const GONE: ReadonlySet<string> = new Set(['TOXIC_NOT_FOUND', 'PROXY_NOT_FOUND', 'TARGET_UNREACHABLE']);

export const Direction = z.enum(['downstream', 'upstream', 'both']).default('downstream');

function proxyOf(target: Target): { api: string; name: string } {
  if (!target.proxy) throw new FaultlineError('CAPABILITY_MISSING', `target ${target.name} has no fault proxy in front of it`);
  return target.proxy;
}

/**
 * Builds a network fault type carried by one toxic per direction.
 * @example toxicFault('latency', 'latency', schema, (p) => ({ latency: p.delay_ms, jitter: p.jitter_ms }))
 */
export function toxicFault<S extends z.ZodObject<{ direction: typeof Direction }>>(
  type: string,
  summary: string,
  toxic: string,
  params: S,
  attributes: (p: z.output<S>) => Record<string, number>,
): Injector<z.output<S>, ToxicHandle> {
  return defineInjector<z.output<S>, ToxicHandle>({
    type,
    family: 'network',
    summary,
    params: params as unknown as z.ZodType<z.output<S>>,
    unsupported: (t) => (t.proxy ? null : `${t.name} has no fault proxy in front of it`),
    mechanism: () => `proxy toxic (${toxic})`,
    plan(target, p, ctx) {
      const { api, name } = proxyOf(target);
      const streams = p.direction === 'both' ? ['downstream', 'upstream'] : [p.direction];
      return { api, proxy: name, toxics: streams.map((stream) => `faultline-${ctx.id}-${stream}`) };
    },
    async apply(handle, p, ctx) {
      const client = new ToxiproxyClient(handle.api);
      for (const toxicName of handle.toxics) {
        const stream = toxicName.endsWith('-upstream') ? 'upstream' : 'downstream';
        try {
          await client.addToxic(handle.proxy, { name: toxicName, type: toxic, stream, attributes: attributes(p), ttl_s: ctx.ttl_s });
        } catch (err) {
          // Applied already (a retried apply): idempotent, keep going.
          if (!(err instanceof FaultlineError && err.code === 'TOXIC_EXISTS')) throw err;
        }
      }
    },
    async revert(handle) {
      const client = new ToxiproxyClient(handle.api);
      for (const toxicName of handle.toxics) {
        try {
          await client.removeToxic(handle.proxy, toxicName);
        } catch (err) {
          // Gone already, or the whole proxy is gone: either way the fault is not in effect.
          if (!(err instanceof FaultlineError && GONE.has(err.code))) throw err;
        }
      }
    },
    async verify(handle) {
      const client = new ToxiproxyClient(handle.api);
      try {
        const proxy = await client.getProxy(handle.proxy);
        return proxy.toxics.some((t) => handle.toxics.includes(t.name as string));
      } catch (err) {
        if (err instanceof FaultlineError && GONE.has(err.code)) return false;
        throw err;
      }
    },
  });
}
