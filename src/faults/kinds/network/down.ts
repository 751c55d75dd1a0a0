/**
 * down: the target's proxy stops listening and drops every connection (clients see ECONNREFUSED), the way a
 * dead host or a crashed listener looks from outside. Reverting enables the proxy again on the same port.
 */
import { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { ToxiproxyClient } from '../../../proxy/client.ts';
import { defineInjector } from '../../injector.ts';
import { GONE } from './via-proxy.ts';

interface DownHandle {
  api: string;
  proxy: string;
}

export const down = defineInjector<Record<string, never>, DownHandle>({
  type: 'down',
  family: 'network',
  summary: 'refuses and drops every connection to the target',
  params: z.strictObject({}),
  unsupported: (t) => (t.proxy ? null : `${t.name} has no fault proxy in front of it`),
  mechanism: () => 'proxy disabled',
  plan: (target) => ({ api: target.proxy!.api, proxy: target.proxy!.name }),
  async apply(handle) {
    await new ToxiproxyClient(handle.api).updateProxy(handle.proxy, { enabled: false });
  },
  async revert(handle) {
    try {
      await new ToxiproxyClient(handle.api).updateProxy(handle.proxy, { enabled: true });
    } catch (err) {
      if (!(err instanceof FaultlineError && GONE.has(err.code))) throw err;
    }
  },
  async verify(handle) {
    try {
      return !(await new ToxiproxyClient(handle.api).getProxy(handle.proxy)).enabled;
    } catch (err) {
      if (err instanceof FaultlineError && GONE.has(err.code)) return false;
      throw err;
    }
  },
});
