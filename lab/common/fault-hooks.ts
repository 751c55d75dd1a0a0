/**
 * The in-process hook the faultline controller drives to make a named route of this service throw: the one
 * fault that must come from inside the code (a bug, a null dereference on one customer's data), not from the
 * network or the process. It owns the exception rules of one service and the `/__faultline/exceptions` routes
 * that set them (loopback clients only).
 *
 *   POST   /__faultline/exceptions {id, route, pct, customer_id?, ttl_s}   add a rule (expires by itself)
 *   GET    /__faultline/exceptions                                        the rules in effect
 *   DELETE /__faultline/exceptions/{id}                                   remove one (404 when unknown)
 *
 *   request ─▶ route matched ─▶ check(route)      throws for rules without customer_id (at route entry)
 *              handler reads its JSON body ─▶ checkBody   throws for rules whose customer_id matches the body's
 *
 * Thrown errors are ordinary Errors, so the service answers them the way it answers any bug (a 500) and each is
 * counted in lab_injected_exceptions_total{route}.
 */
import type { IncomingMessage } from 'node:http';
import client from 'prom-client';

interface Rule {
  id: string;
  route: string;
  pct: number;
  customer_id?: number;
  expires_at: number;
}

/** What a hook needs from the HTTP layer: the route table's shapes (kept structural, no import cycle). */
interface HookRoute {
  method: string;
  pattern: RegExp;
  label: string;
  handler: (req: IncomingMessage, params: string[]) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown };
}

export class InjectedException extends Error {
  constructor(route: string) {
    super(`exception injected by faultline on ${route}`);
  }
}

/** The hooks of the service a request entered (so body checks find them without threading them through). */
const hooksOf = new WeakMap<IncomingMessage, FaultHooks>();

/** For the JSON body reader: throws when a customer-scoped rule on this request's route matches the body. */
export function checkExceptionBody(req: IncomingMessage, body: Record<string, unknown>): void {
  hooksOf.get(req)?.checkBody(req, body);
}

function loopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');
}

/**
 * One service's exception rules.
 * @example const hooks = new FaultHooks(metrics.registry, ['/orders']); routes.push(...hooks.routes());
 */
export class FaultHooks {
  readonly #rules = new Map<string, Rule>();
  readonly #labels: () => string[];
  readonly #byReq = new WeakMap<IncomingMessage, string>();
  readonly #counter: client.Counter<'route'>;

  constructor(registry: client.Registry, labels: () => string[]) {
    this.#labels = labels;
    this.#counter = new client.Counter({
      name: 'lab_injected_exceptions_total',
      help: 'Exceptions thrown on purpose by a faultline exception fault, by route.',
      labelNames: ['route'] as const,
      registers: [registry],
    });
  }

  /** Called when a route is matched: throws for a rule on it that needs no customer. */
  check(route: string, req: IncomingMessage): void {
    if (this.#rules.size === 0) return;
    this.#byReq.set(req, route);
    hooksOf.set(req, this);
    for (const rule of this.#live()) if (rule.route === route && rule.customer_id === undefined) this.#roll(rule);
  }

  /** Called once a handler parsed its JSON body: throws for a rule on this route for this body's customer_id. */
  checkBody(req: IncomingMessage, body: Record<string, unknown>): void {
    if (this.#rules.size === 0) return;
    const route = this.#byReq.get(req);
    if (route === undefined) return;
    for (const rule of this.#live()) if (rule.route === route && rule.customer_id !== undefined && body.customer_id === rule.customer_id) this.#roll(rule);
  }

  #roll(rule: Rule): void {
    if (Math.random() * 100 < rule.pct) {
      this.#counter.inc({ route: rule.route });
      throw new InjectedException(rule.route);
    }
  }

  #live(): Rule[] {
    const now = Date.now();
    for (const [id, r] of this.#rules) if (r.expires_at <= now) this.#rules.delete(id);
    return [...this.#rules.values()];
  }

  routes(readBody: (req: IncomingMessage) => Promise<Record<string, unknown>>): HookRoute[] {
    const guard = (req: IncomingMessage): { status: number; body: unknown } | null =>
      loopback(req) ? null : { status: 403, body: { error: 'fault hooks answer loopback clients only', code: 'FORBIDDEN' } };
    return [
      { method: 'GET', pattern: /^\/__faultline\/exceptions$/, label: '/__faultline/exceptions', handler: (req) => guard(req) ?? { status: 200, body: { rules: this.#live() } } },
      {
        method: 'POST',
        pattern: /^\/__faultline\/exceptions$/,
        label: '/__faultline/exceptions',
        handler: async (req) => {
          const denied = guard(req);
          if (denied) return denied;
          const b = await readBody(req);
          const labels = this.#labels().filter((l) => !l.startsWith('/__faultline'));
          const problems: string[] = [];
          if (typeof b.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(b.id)) problems.push('id: 1–64 of [A-Za-z0-9_-]');
          if (typeof b.route !== 'string' || !labels.includes(b.route)) problems.push(`route: one of ${labels.join(', ')}`);
          if (typeof b.pct !== 'number' || !(b.pct >= 0 && b.pct <= 100)) problems.push('pct: number in [0, 100]');
          if (b.customer_id !== undefined && (typeof b.customer_id !== 'number' || !Number.isSafeInteger(b.customer_id))) problems.push('customer_id: integer');
          if (typeof b.ttl_s !== 'number' || !(b.ttl_s > 0 && b.ttl_s <= 86_400)) problems.push('ttl_s: number in (0, 86400]');
          if (problems.length > 0) return { status: 400, body: { error: problems.join('; '), code: 'INVALID_INPUT' } };
          const rule: Rule = {
            id: b.id as string,
            route: b.route as string,
            pct: b.pct as number,
            ...(b.customer_id !== undefined ? { customer_id: b.customer_id as number } : {}),
            expires_at: Date.now() + (b.ttl_s as number) * 1000,
          };
          this.#rules.set(rule.id, rule);
          return { status: 201, body: rule };
        },
      },
      {
        method: 'DELETE',
        pattern: /^\/__faultline\/exceptions\/([A-Za-z0-9_-]+)$/,
        label: '/__faultline/exceptions/:id',
        handler: (req, [id]) => guard(req) ?? (this.#rules.delete(id) ? { status: 200, body: { id } } : { status: 404, body: { error: `no rule ${id}`, code: 'NOT_FOUND' } }),
      },
    ];
  }
}
