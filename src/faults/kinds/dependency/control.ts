/**
 * Dependency faults drive a dependency's own control endpoint (the lab's payments stub: `GET/POST /control`),
 * so the failure comes from the dependency itself — a real 5xx body, a real late 504, a real hang — rather than
 * from the network in front of it. Each type says which control fields it sets; revert puts exactly those fields
 * back to their healthy values (other settings, e.g. a latency an experiment chose, stay). verify reads the
 * control state back. A dependency that is unreachable or restarted (a new process starts healthy) counts as
 * reverted.
 *
 *   inject ─▶ POST {http}/control {fields} ─▶ verify: GET {http}/control has them
 *   revert ─▶ POST {http}/control {healthy fields} (releases held requests) ─▶ verify: GET has not them
 */
import type { z } from 'zod';
import { defineInjector, type Injector, type Target } from '../../injector.ts';

export interface ControlHandle {
  url: string;
  set: Record<string, unknown>;
  healthy: Record<string, unknown>;
}

/** The healthy values of every field a dependency fault may set. */
const HEALTHY: Record<string, unknown> = { error_rate: 0, error_status: 503, mode: 'normal' };

async function control(url: string, body?: Record<string, unknown>): Promise<Record<string, unknown> | null> {
  try {
    const res = await fetch(url, {
      method: body ? 'POST' : 'GET',
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5_000),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${String(json.error ?? '')}`);
    return json;
  } catch (err) {
    // Nothing listens: the dependency is down or restarting, and a restarted one starts healthy.
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return null;
    throw err;
  }
}

/**
 * Builds a dependency fault type from the control fields its params map to.
 * @example controlFault('dependency_hang', '…', z.strictObject({}), () => ({ mode: 'hang' }))
 */
export function controlFault<S extends z.ZodTypeAny>(
  type: string,
  summary: string,
  params: S,
  fields: (p: z.output<S>) => Record<string, unknown>,
): Injector<z.output<S>, ControlHandle> {
  return defineInjector<z.output<S>, ControlHandle>({
    type,
    family: 'dependency',
    summary,
    params: params as z.ZodType<z.output<S>>,
    // Checked at validation, so a service without the control surface is refused up front, never at apply.
    unsupported: (t: Target) => (t.control ? null : `${t.name} serves no dependency control endpoint`),
    mechanism: (t) => `control endpoint ${t.control}`,
    plan: (target, p) => {
      const set = fields(p);
      return { url: target.control!, set, healthy: Object.fromEntries(Object.keys(set).filter((k) => k in HEALTHY).map((k) => [k, HEALTHY[k]])) };
    },
    async apply(handle) {
      if ((await control(handle.url, handle.set)) === null) throw new Error(`${handle.url} is not reachable`);
    },
    async revert(handle) {
      await control(handle.url, handle.healthy);
    },
    async verify(handle) {
      const now = await control(handle.url);
      if (now === null) return false;
      // In effect while a switch the fault flipped (mode, error rate) is still flipped; a setting like
      // timeout_ms only matters while its mode is on.
      return Object.entries(handle.set).some(([k, v]) => k in HEALTHY && now[k] === v && v !== HEALTHY[k]);
    },
  });
}
