/**
 * route_exception: incoming HTTP requests that match (method, path pattern, header values) throw for pct % of
 * them, inside the app's own handling of the request — the client gets what the app or its framework does with an
 * unhandled error (Express/Koa/Fastify: a 500; a plain handler: its catch, or Node's uncaught exception).
 *
 * @example {"type":"route_exception","target":"shop","params":{"method":"GET","path":"/products/:id","headers":{"x-customer":"42"},"pct":50}}
 */
import { z } from 'zod';
import { agentFault, HttpMethod, PathPattern, Pct } from './via-agent.ts';

const Params = z.strictObject({
  method: z.union([HttpMethod, z.array(HttpMethod).min(1).max(16)]).optional(),
  path: PathPattern.optional(),
  /** Header name → value (or any of several values), e.g. {"x-customer-id": "42"}. */
  headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'a header name'), z.union([z.string().max(500), z.array(z.string().max(500)).min(1).max(32)])).optional(),
  pct: Pct,
  /** The thrown Error's message (default names the route and the fault). */
  message: z.string().min(1).max(500).optional(),
});

export const route_exception = agentFault('route_exception', 'matching incoming HTTP requests throw inside the app (method, path pattern, headers, pct)', Params, (p) => ({
  type: 'route_exception',
  match: {
    ...(p.method !== undefined ? { method: Array.isArray(p.method) ? p.method : [p.method] } : {}),
    ...(p.path !== undefined ? { path: p.path } : {}),
    ...(p.headers !== undefined ? { headers: p.headers } : {}),
  },
  pct: p.pct,
  ...(p.message !== undefined ? { message: p.message } : {}),
}));
