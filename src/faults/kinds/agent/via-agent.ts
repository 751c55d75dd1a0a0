/**
 * Faults carried by a runtime agent inside the target's process (src/agent): each becomes a rule named after the
 * fault id, armed over the channel the agent opened to this controller, with the fault's TTL — the agent drops it
 * at the TTL by itself if the controller dies. One helper builds every type of the family; each type file says
 * only its params and how they map onto a rule.
 *
 *   apply  ─▶ AGENT_HUB.command(service, arm {id, type, …, ttl_s}) ─▶ the agent's ack
 *   revert ─▶ AGENT_HUB.command(service, disarm id); no agent connected = nothing to undo (the process is gone or
 *             restarted and holds no rules, or it is cut off and drops the rule at its TTL — and on reconnecting,
 *             since the hub disarms every rule the controller does not hold as active)
 *   verify ─▶ the agent reports the rule among those it holds
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AGENT_HUB } from '../../../agent/hub.ts';
import { CLIENT_LIBRARIES, type CallMatch, type ClientLibrary, type RuleSpec } from '../../../agent/protocol.ts';
import { FaultlineError } from '../../../core/errors.ts';
import { defineInjector, type Injector, type Target } from '../../injector.ts';

export interface AgentHandle {
  service: string;
  id: string;
}

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1).max(32)]);
const list = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export const Pct = z.number().min(0).max(100).default(100);
export const HttpMethod = z.string().regex(/^[A-Za-z]{1,16}$/, 'an HTTP method such as GET or POST').transform((m) => m.toUpperCase());
/** `/orders/:id`, `/products/*`, `/admin/**`. */
export const PathPattern = z.string().startsWith('/', 'a path pattern starting with /').max(500);

/** The fields that pick outgoing calls (call_latency, call_error). */
export const CallMatchFields = {
  /** Client libraries: http, https, fetch, pg, ioredis (default: all). */
  library: oneOrMany(z.enum(CLIENT_LIBRARIES)).optional(),
  /** `host`, `host:port` or `*:port`. */
  host: z.string().min(1).max(300).optional(),
  /** HTTP methods (http, https, fetch). */
  method: oneOrMany(HttpMethod).optional(),
  /** HTTP path pattern (http, https, fetch). */
  path: PathPattern.optional(),
  /** Regular expression on the SQL text, case-insensitive (pg). */
  statement: z
    .string()
    .min(1)
    .max(1000)
    .refine((s) => {
      try {
        new RegExp(s, 'i');
        return true;
      } catch {
        return false;
      }
    }, 'a valid regular expression')
    .optional(),
  /** Redis commands, e.g. GET or [GET, SET] (ioredis). */
  command: oneOrMany(z.string().regex(/^[A-Za-z][A-Za-z.|_-]{0,31}$/, 'a Redis command name')).optional(),
  pct: Pct,
};

export type CallMatchParams = { library?: ClientLibrary | ClientLibrary[]; host?: string; method?: string | string[]; path?: string; statement?: string; command?: string | string[] };

/** The match a rule carries, from a type's params. */
export function callMatch(p: CallMatchParams): CallMatch {
  const m: CallMatch = {};
  const library = list(p.library);
  if (library) m.library = library;
  if (p.host !== undefined) m.host = p.host;
  const method = list(p.method);
  if (method) m.method = method.map((x) => x.toUpperCase());
  if (p.path !== undefined) m.path = p.path;
  if (p.statement !== undefined) m.statement = p.statement;
  const command = list(p.command);
  if (command) m.command = command.map((x) => x.toUpperCase());
  return m;
}

const NO_AGENT = (t: Target): string => `${t.name} runs no faultline agent (set \`agent: true\` on the service in the system file, or start it with \`node --import faultline/agent\`)`;

/**
 * Builds an agent fault type.
 * @example agentFault('heap_growth', 'retains memory', schema, (p) => ({ type: 'heap_growth', mb_per_s: p.mb_per_s, max_mb: p.max_mb }))
 */
export function agentFault<S extends z.ZodType>(type: RuleSpec['type'], summary: string, params: S, rule: (p: z.output<S>) => RuleSpec): Injector<z.output<S>, AgentHandle> {
  return defineInjector<z.output<S>, AgentHandle>({
    type,
    family: 'agent',
    summary,
    params: params as unknown as z.ZodType<z.output<S>>,
    unsupported: (t) => (t.agent ? null : NO_AGENT(t)),
    mechanism: (t) => `runtime agent in ${t.agent?.service ?? t.name}`,
    plan(target, _p, ctx) {
      if (!target.agent) throw new FaultlineError('INVALID_INPUT', NO_AGENT(target), { field: 'target' });
      return { service: target.agent.service, id: `faultline-${ctx.id}` };
    },
    async apply(handle, p, ctx) {
      await AGENT_HUB.command(handle.service, { cmd_id: randomBytes(6).toString('hex'), op: 'arm', rule: { ...rule(p), id: handle.id, ttl_s: ctx.ttl_s } });
    },
    async revert(handle) {
      if (AGENT_HUB.holds(handle.service, handle.id) === null) return;
      await AGENT_HUB.command(handle.service, { cmd_id: randomBytes(6).toString('hex'), op: 'disarm', id: handle.id });
    },
    async verify(handle) {
      return AGENT_HUB.holds(handle.service, handle.id) === true;
    },
  });
}
