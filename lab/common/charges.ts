/**
 * The lab's two ways of asking payments about an order's charge, shared by orders and the worker: charge it
 * (`POST /charge`, key `order-<id>`), and — before charging again — look the key up (`GET /charges/:key`), so a
 * charge that already went through is settled from payments' record instead of being sent a second time.
 *
 *   lookup ─200─▶ paid | declined (settle from it; no second charge)
 *          ├404─▶ none (never charged: charging is safe)
 *          └409 / 5xx / no answer ─▶ throws (in progress or unknown: try again later, never charge blind)
 */
import type { Agent } from 'node:http';
import { DependencyError } from './breaker.ts';
import { call, type CallResult } from './http.ts';
import { outcomeOf, type LabMetrics } from './metrics.ts';

export type Settlement = 'paid' | 'declined';

/** The idempotency key every charge of an order carries (orders' sync path, its retries and the worker alike). */
export const chargeKey = (orderId: number): string => `order-${orderId}`;

/** A settlement from a charge answer: 200/201 paid, 402 declined, anything else none. */
export function settlementOf(status: number): Settlement | undefined {
  return status === 200 || status === 201 ? 'paid' : status === 402 ? 'declined' : undefined;
}

/** One POST /charge; a 5xx throws DependencyError (a failure for breakers and retries). */
export async function chargeOnce(agent: Agent, url: string, metrics: LabMetrics, order: { id: number; amount_cents: number }, timeoutMs?: number): Promise<CallResult> {
  const body = JSON.stringify({ idempotency_key: chargeKey(order.id), amount_cents: order.amount_cents, order_id: order.id });
  const r = await metrics.timeDependency('payments', 'charge', () => call(agent, url, 'POST', '/charge', body, {}, timeoutMs), (r) =>
    r.status === 402 ? 'ok' : outcomeOf(r.status),
  );
  if (r.status >= 500) throw new DependencyError('payments', `payments answered ${r.status}`, r.status);
  return r;
}

/** Payments is still processing a charge with this key: neither charge again nor settle now. */
export class ChargeInProgressError extends Error {
  constructor(readonly key: string) {
    super(`payments is still processing a charge with key ${key}`);
  }
}

/** What payments knows about the order's key: its settlement, or `none` when it was never charged. */
export async function lookupCharge(agent: Agent, url: string, metrics: LabMetrics, orderId: number, timeoutMs?: number): Promise<Settlement | 'none'> {
  const key = chargeKey(orderId);
  const r = await metrics.timeDependency('payments', 'lookup', () => call(agent, url, 'GET', `/charges/${encodeURIComponent(key)}`, undefined, {}, timeoutMs), (r) =>
    r.status === 404 || r.status === 409 ? 'ok' : outcomeOf(r.status),
  );
  if (r.status === 404) return 'none';
  if (r.status === 409) throw new ChargeInProgressError(key);
  if (r.status !== 200) throw new DependencyError('payments', `payments answered ${r.status} to a lookup`, r.status);
  const found = JSON.parse(r.text) as { status?: string };
  return found.status === 'declined' ? 'declined' : 'paid';
}
