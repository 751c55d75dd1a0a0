/**
 * The shape every nftables fault type shares: a handle naming the fault's chain and port, rules built from the
 * params, and the same unsupported/probe/revert/verify. A type file only says which rules it installs.
 *
 * Which traffic: the target's own `port` (the port the service listens on), both directions, on loopback. In
 * the lab that is the hop from the service's fault proxy to the service (plus any client that connects
 * directly), so it composes with proxy faults on the same target: the proxy sees real TCP loss underneath it.
 */
import { defineInjector, type Injector, type Target } from '../../injector.ts';
import type { z } from 'zod';
import { chainFor, installChain, portArmed, portMatches, probeNft, removeChain, ruleCount, staticReason, tableFor, tableOf } from './nft.linux.ts';

export interface NftHandle {
  table: string;
  chain: string;
  id: string;
  port: number;
}

export function nftFault<P>(type: string, summary: string, params: z.ZodType<P>, action: (p: P) => string): Injector<P, NftHandle> {
  return defineInjector<P, NftHandle>({
    type,
    family: 'nftables',
    summary,
    params,
    unsupported: (t: Target) => (t.port === undefined ? `${t.name} has no port of its own to match on` : staticReason()),
    probe: probeNft,
    mechanism: (t) => `nftables (table inet ${tableFor(t.scope)}, loopback tcp port ${t.port ?? '?'} both ways, expires with its TTL in the kernel)`,
    plan: (t, _p, ctx) => ({ table: tableFor(t.scope), chain: chainFor(ctx.id), id: ctx.id, port: t.port! }),
    async apply(handle, p, ctx) {
      await installChain(
        tableOf(handle),
        handle.id,
        handle.port,
        ctx.ttl_s,
        portMatches(handle.id).map((m) => `${m} ${action(p)}`),
      );
    },
    revert: (handle) => removeChain(tableOf(handle), handle.id),
    // In effect while its rules exist and its port has not expired from the set.
    verify: async (handle) => (await ruleCount(tableOf(handle), handle.id)) > 0 && (await portArmed(tableOf(handle), handle.id)),
  });
}
