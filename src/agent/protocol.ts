/**
 * The wire between a runtime agent (inside a user's Node process) and the controller's agent hub. The agent
 * connects *out*: it opens no listening socket in the user's process, and it only ever talks to the one controller
 * its environment names.
 *
 *   agent ──POST /agent/v1/register {service, pid, libraries, rules}──▶ hub      → {session, hold_ms}
 *   agent ──POST /agent/v1/poll {session, acks, rules, discovery?, errors}──▶ hub holds it ≤ hold_ms
 *                                                                              → {commands: [SignedCommand…]}
 *   injector.apply ─▶ hub.command(service, arm) ─▶ the held poll answers at once ─▶ agent arms ─▶ ack on its next poll
 *
 * Every request carries `Authorization: Bearer <agent token>`; every command the hub sends is signed with the
 * same token (HMAC-SHA256), and the agent refuses (and counts) a command whose signature does not verify.
 * This module holds only types and the signature: it is bundled into the agent, so it imports node: built-ins only.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The environment the agent reads; without CONTROLLER and TOKEN it does nothing at all. */
export const AGENT_ENV = {
  controller: 'FAULTLINE_AGENT_CONTROLLER',
  token: 'FAULTLINE_AGENT_TOKEN',
  service: 'FAULTLINE_AGENT_SERVICE',
} as const;

/** The longest an agent waits between two tries to reach its controller (its backoff doubles from 250 ms up to this). */
export const RECONNECT_MAX_MS = 5_000;

export const AGENT_ROUTES = { register: '/agent/v1/register', poll: '/agent/v1/poll' } as const;

/** The fault types an agent carries. */
export const AGENT_FAULT_TYPES = ['route_exception', 'call_latency', 'call_error', 'event_loop_block', 'heap_growth'] as const;
export type AgentFaultType = (typeof AGENT_FAULT_TYPES)[number];

/** Client libraries whose outgoing calls the agent sees (and can fault). */
export const CLIENT_LIBRARIES = ['http', 'https', 'fetch', 'pg', 'ioredis'] as const;
export type ClientLibrary = (typeof CLIENT_LIBRARIES)[number];

/** A header match: one value or any of several (names are matched case-insensitively). */
export type HeaderMatch = Record<string, string | string[]>;

/** Which incoming requests a route_exception throws in. Every field given must match. */
export interface RouteMatch {
  /** HTTP methods (upper case); absent = any. */
  method?: string[];
  /** Path pattern: `/orders/:id`, `/products/*` (one segment), `/admin/**` (any rest); absent = any. */
  path?: string;
  headers?: HeaderMatch;
}

/** Which outgoing calls a call_latency / call_error acts on. Every field given must match. */
export interface CallMatch {
  library?: ClientLibrary[];
  /** `host`, `host:port` or `*:port`. */
  host?: string;
  /** HTTP method (http/https/fetch). */
  method?: string[];
  /** HTTP path pattern, as in RouteMatch. */
  path?: string;
  /** A regular expression (case-insensitive) on the SQL text (pg). */
  statement?: string;
  /** Redis commands, case-insensitive (ioredis). */
  command?: string[];
}

export type RuleSpec =
  | { type: 'route_exception'; match: RouteMatch; pct: number; message?: string }
  | { type: 'call_latency'; match: CallMatch; pct: number; delay_ms: number; jitter_ms: number }
  | { type: 'call_error'; match: CallMatch; pct: number; code?: string; message?: string }
  | { type: 'event_loop_block'; block_ms: number; every_ms: number }
  | { type: 'heap_growth'; mb_per_s: number; max_mb: number };

/** A rule as armed: the fault id names it; the agent drops it at its TTL by itself (the dead-man timer). */
export type Rule = RuleSpec & { id: string; ttl_s: number };

export type Command = { cmd_id: string; op: 'arm'; rule: Rule } | { cmd_id: string; op: 'disarm'; id: string };
export type SignedCommand = Command & { sig: string };

export interface Ack {
  cmd_id: string;
  ok: boolean;
  error?: string;
}

export interface Registration {
  service: string;
  pid: number;
  /** Random per process: a restarted process is a new agent. */
  agent_id: string;
  node: string;
  argv: string[];
  /** Client libraries found loaded, with their versions when known. */
  libraries: LibraryInfo[];
  /** Rule ids the agent still holds (after a reconnect): the hub drops those the controller does not hold as active. */
  rules: string[];
}

export interface LibraryInfo {
  name: string;
  version?: string;
  patched: boolean;
}

export interface PollRequest {
  session: string;
  acks: Ack[];
  rules: string[];
  libraries: LibraryInfo[];
  /** Sent when it changed since the last poll. */
  discovery?: DiscoverySnapshot;
  /** The agent's own failures, per hook: each was swallowed so the app went on unharmed. */
  errors: Record<string, number>;
  /** Faults that fired, per rule id. */
  fired: Record<string, number>;
}

// ---- discovery: the map a later automatic explorer walks ------------------------------------------------------

/** Latency summary in milliseconds (from a log-bucket histogram; quantiles are bucket upper bounds). */
export interface LatencySummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

/** One operation on a dependency: an HTTP method + path shape, a SQL statement shape, a Redis command. */
export interface Operation {
  /** `GET /quote`, `SELECT id, name FROM products WHERE id = $1`, `GET`. */
  op: string;
  calls: number;
  errors: number;
  latency: LatencySummary;
  /** The params that aim a call_latency / call_error at exactly this operation (what an explorer injects). */
  match: CallMatch;
}

/** A dependency the process was seen calling. `id` is stable across polls and restarts: `library://host:port`. */
export interface Dependency {
  id: string;
  library: ClientLibrary;
  /** The protocol spoken: what kind of thing is on the other side. */
  protocol: 'http' | 'postgres' | 'redis';
  host: string;
  port: number;
  first_seen: number;
  last_seen: number;
  calls: number;
  errors: number;
  latency: LatencySummary;
  operations: Operation[];
  /** Fault types that act on calls to it. */
  faults: AgentFaultType[];
}

/** An incoming route shape the process served: where a route_exception can be aimed. */
export interface Route {
  method: string;
  /** The path with numeric and id-like segments replaced by `:id`. */
  path: string;
  calls: number;
  /** Responses by status class (`2xx`, `5xx`, …). */
  statuses: Record<string, number>;
  latency: LatencySummary;
  match: RouteMatch;
}

export interface DiscoverySnapshot {
  at: number;
  dependencies: Dependency[];
  routes: Route[];
  /** Shapes folded into an `(other)` entry once the per-dependency / per-process caps were reached. */
  truncated: boolean;
}

// ---- signatures -------------------------------------------------------------------------------------------------

function canonical(c: Command): string {
  return c.op === 'arm' ? `arm\n${c.cmd_id}\n${JSON.stringify(c.rule)}` : `disarm\n${c.cmd_id}\n${c.id}`;
}

/** The hub signs each command with the agent token. */
export function signCommand(command: Command, token: string): SignedCommand {
  return { ...command, sig: createHmac('sha256', token).update(canonical(command)).digest('hex') };
}

/** The agent checks it: false for a missing or wrong signature (the command is refused). */
export function verifyCommand(command: SignedCommand, token: string): boolean {
  if (typeof command?.sig !== 'string' || (command.op !== 'arm' && command.op !== 'disarm')) return false;
  const want = Buffer.from(createHmac('sha256', token).update(canonical(command)).digest('hex'));
  const got = Buffer.from(command.sig);
  return got.length === want.length && timingSafeEqual(got, want);
}
