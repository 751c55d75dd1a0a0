/**
 * call_latency: outgoing calls that match (library, host[:port], HTTP method/path, SQL statement, Redis command)
 * take delay_ms (± jitter_ms) longer, for pct % of them. pg: the query is sent late; ioredis: the reply is
 * delivered late (its commandTimeout still applies); http/https: the response event is held back; fetch: the
 * request starts late (an abort signal still fires on time).
 *
 * @example {"type":"call_latency","target":"shop","params":{"library":"pg","statement":"^SELECT .* FROM products","delay_ms":300}}
 */
import { z } from 'zod';
import { agentFault, callMatch, CallMatchFields } from './via-agent.ts';

const Params = z.strictObject({
  ...CallMatchFields,
  delay_ms: z.number().int().min(1).max(600_000),
  jitter_ms: z.number().int().min(0).max(600_000).default(0),
});

export const call_latency = agentFault('call_latency', 'matching outgoing calls (http, fetch, pg, ioredis) take delay_ms longer', Params, (p) => ({
  type: 'call_latency',
  match: callMatch(p),
  pct: p.pct,
  delay_ms: p.delay_ms,
  jitter_ms: p.jitter_ms,
}));
