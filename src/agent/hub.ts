/**
 * The controller's side of the agent channel: which agents are connected, what each reported (libraries,
 * discovery, its own error counts, rules held), and the queue of signed commands for each. It opens nothing: it
 * is a pair of HTTP routes mounted on the controller's port, and the agents come to it.
 *
 *   POST /agent/v1/register ─▶ session (a restarted process replaces its predecessor); rules the agent still holds
 *                              but the controller does not hold as active are disarmed at once
 *   POST /agent/v1/poll     ─▶ acks settle command() promises; the answer is held ≤ hold_ms unless commands wait
 *   command(service, c)     ─▶ signed, queued, the held poll answers; resolves on the agent's ack
 *
 * Both routes need `Authorization: Bearer <agent token>` (from any address: the agent token is the only key).
 * One hub per process (AGENT_HUB): the agent fault types reach their agents through it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultlineError } from '../core/errors.ts';
import { AGENT_ROUTES, RECONNECT_MAX_MS, signCommand, type Command, type DiscoverySnapshot, type LibraryInfo, type PollRequest, type Registration, type SignedCommand } from './protocol.ts';

const MAX_BODY = 4 << 20;
const ACK_TIMEOUT_MS = 5_000;

/** One agent as `GET /chaos/targets` shows it. */
export interface AgentView {
  service: string;
  pid: number;
  agent_id: string;
  node: string;
  argv: string[];
  connected: boolean;
  registered_at: number;
  last_seen: number;
  libraries: LibraryInfo[];
  /** Fault ids the agent holds armed. */
  rules: string[];
  /** How often each armed fault fired. */
  fired: Record<string, number>;
  /** The agent's own failures by hook (each swallowed: the app went on). */
  errors: Record<string, number>;
  discovery: DiscoverySnapshot | null;
}

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  command: Command;
}

interface Connection {
  session: string;
  reg: Registration;
  registeredAt: number;
  lastSeen: number;
  /** The poll's socket closed without an answer (the process died): not connected until it polls again. */
  dropped: boolean;
  rules: Set<string>;
  fired: Record<string, number>;
  errors: Record<string, number>;
  libraries: LibraryInfo[];
  discovery: DiscoverySnapshot | null;
  queue: SignedCommand[];
  waiter?: { res: ServerResponse; timer: NodeJS.Timeout };
  pending: Map<string, Pending>;
}

export interface HubOptions {
  token: string;
  /** How long a poll is held when no command waits (default 2 s). */
  holdMs?: number;
  /** Whether the controller holds fault `id` as active; rules it does not are disarmed when an agent (re)registers. */
  isActive?: (id: string) => boolean;
  /** Called when an agent registers (the daemon makes its service a target). */
  onRegister?: (service: string) => void;
}

export class AgentHub {
  #options: HubOptions | undefined;
  readonly #byService = new Map<string, Connection>();
  readonly #bySession = new Map<string, Connection>();

  /** Arms the hub with the agent token (until then both routes answer 503). */
  configure(options: HubOptions): void {
    this.#options = options;
  }

  get holdMs(): number {
    return this.#options?.holdMs ?? 2_000;
  }

  /** The services with an agent registered (connected or not). */
  services(): string[] {
    return [...this.#byService.keys()];
  }

  connected(service: string): boolean {
    const c = this.#byService.get(service);
    return c !== undefined && this.#live(c);
  }

  /** Whether the agent of `service` holds rule `id`: null when no agent is connected to ask. */
  holds(service: string, id: string): boolean | null {
    const c = this.#byService.get(service);
    if (c === undefined || !this.#live(c)) return null;
    return c.rules.has(id);
  }

  describe(service: string): AgentView | null {
    const c = this.#byService.get(service);
    if (c === undefined) return null;
    return {
      service,
      pid: c.reg.pid,
      agent_id: c.reg.agent_id,
      node: c.reg.node,
      argv: c.reg.argv,
      connected: this.#live(c),
      registered_at: c.registeredAt,
      last_seen: c.lastSeen,
      libraries: c.libraries,
      rules: [...c.rules],
      fired: c.fired,
      errors: c.errors,
      discovery: c.discovery,
    };
  }

  /**
   * Sends a command to the agent of `service` and resolves once it acknowledged it (rejects with its error).
   * @example await AGENT_HUB.command('shop', { cmd_id: 'c1', op: 'disarm', id: 'faultline-ab12' });
   */
  async command(service: string, command: Command, timeoutMs = ACK_TIMEOUT_MS): Promise<void> {
    const c = await this.#liveConnection(service);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        c.pending.delete(command.cmd_id);
        reject(new Error(`the agent of ${service} did not acknowledge ${command.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      c.pending.set(command.cmd_id, { resolve, reject, timer, command });
      c.queue.push(signCommand(command, this.#options!.token));
      this.#flush(c);
    });
  }

  /**
   * The connection of `service`'s agent, waiting for it a little longer than an agent's longest reconnect backoff
   * when there is none yet: after a controller (re)start, or a restart of the process, its agent registers
   * within RECONNECT_MAX_MS, and a fault asked for in that gap should not fail for it.
   */
  async #liveConnection(service: string): Promise<Connection> {
    const deadline = Date.now() + RECONNECT_MAX_MS + 1_000;
    for (;;) {
      const c = this.#byService.get(service);
      if (this.#options !== undefined && c !== undefined && this.#live(c)) return c;
      if (this.#options === undefined || Date.now() >= deadline) {
        throw new FaultlineError('TARGET_UNREACHABLE', `no faultline agent of ${service} is connected to this controller (waited ${(RECONNECT_MAX_MS + 1_000) / 1000} s)`, {
          hint: `start ${service} with the agent (agent: true in the system file, or node --import faultline/agent)`,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Answers every held poll and forgets every agent (the controller is stopping). */
  close(): void {
    for (const c of this.#byService.values()) this.#forget(c, 'the controller is stopping');
    this.#byService.clear();
    this.#bySession.clear();
  }

  /** The routes, for mounting on the controller's server; false for any other path. */
  handler(): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
    return async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== AGENT_ROUTES.register && path !== AGENT_ROUTES.poll) return false;
      try {
        if (req.method !== 'POST') throw new FaultlineError('METHOD_NOT_ALLOWED', `${path} takes POST`);
        this.#authorize(req);
        const body = (await readBody(req)) as Record<string, unknown>;
        if (path === AGENT_ROUTES.register) this.#register(body as unknown as Registration, res);
        else this.#poll(body as unknown as PollRequest, res);
      } catch (err) {
        const e = err instanceof FaultlineError ? err : new FaultlineError('INTERNAL', String((err as Error)?.message ?? err));
        send(res, e.status, { error: e.message, code: e.publicCode });
      }
      return true;
    };
  }

  #authorize(req: IncomingMessage): void {
    if (this.#options === undefined) throw Object.assign(new FaultlineError('CAPABILITY_MISSING', 'this controller takes no agents'), { status: 503 });
    const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const want = Buffer.from(this.#options.token);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new FaultlineError('UNAUTHORIZED', 'the agent token is missing or wrong');
  }

  #register(reg: Registration, res: ServerResponse): void {
    if (typeof reg?.service !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(reg.service) || typeof reg.pid !== 'number' || typeof reg.agent_id !== 'string') {
      throw new FaultlineError('INVALID_INPUT', 'registration: service (letters, digits, _ . -; at most 64), pid and agent_id are required', { field: 'service' });
    }
    const old = this.#byService.get(reg.service);
    if (old !== undefined) this.#forget(old, `replaced by pid ${reg.pid}`);
    const now = Date.now() / 1000;
    const c: Connection = {
      session: randomBytes(12).toString('hex'),
      reg: { ...reg, argv: Array.isArray(reg.argv) ? reg.argv.map(String).slice(0, 4) : [] },
      registeredAt: now,
      lastSeen: now,
      dropped: false,
      rules: new Set(Array.isArray(reg.rules) ? reg.rules.map(String) : []),
      fired: {},
      errors: {},
      libraries: Array.isArray(reg.libraries) ? reg.libraries : [],
      discovery: old?.reg.agent_id === reg.agent_id ? old.discovery : null,
      queue: [],
      pending: new Map(),
    };
    // A reconnecting agent may hold rules of faults that ended while it was away: they end now.
    const isActive = this.#options!.isActive ?? (() => false);
    const stale = [...c.rules].filter((id) => !isActive(id));
    const commands = stale.map((id) => signCommand({ cmd_id: `drop-${id}`, op: 'disarm', id }, this.#options!.token));
    this.#byService.set(reg.service, c);
    this.#bySession.set(c.session, c);
    this.#options!.onRegister?.(reg.service);
    send(res, 200, { session: c.session, hold_ms: this.holdMs, commands });
  }

  #poll(body: PollRequest, res: ServerResponse): void {
    const c = typeof body?.session === 'string' ? this.#bySession.get(body.session) : undefined;
    if (c === undefined) throw Object.assign(new FaultlineError('INVALID_INPUT', 'unknown session: register again'), { status: 409 });
    c.lastSeen = Date.now() / 1000;
    c.dropped = false;
    for (const ack of Array.isArray(body.acks) ? body.acks : []) {
      const p = c.pending.get(ack?.cmd_id);
      if (p === undefined) continue;
      c.pending.delete(ack.cmd_id);
      clearTimeout(p.timer);
      if (ack.ok) p.resolve();
      else p.reject(new Error(`the agent of ${c.reg.service} refused ${p.command.op}: ${String(ack.error ?? 'no reason given')}`));
    }
    if (Array.isArray(body.rules)) c.rules = new Set(body.rules.map(String));
    if (body.discovery && typeof body.discovery === 'object') c.discovery = body.discovery;
    if (body.errors && typeof body.errors === 'object') c.errors = body.errors;
    if (body.fired && typeof body.fired === 'object') c.fired = body.fired;
    if (Array.isArray(body.libraries)) c.libraries = body.libraries;
    if (c.waiter !== undefined) this.#answer(c, []);
    if (c.queue.length > 0) {
      const commands = c.queue;
      c.queue = [];
      send(res, 200, { commands });
      return;
    }
    const timer = setTimeout(() => this.#answer(c, []), this.holdMs);
    timer.unref();
    c.waiter = { res, timer };
    res.once('close', () => {
      if (res.writableFinished || c.waiter?.res !== res) return;
      clearTimeout(c.waiter.timer);
      c.waiter = undefined;
      c.dropped = true;
    });
  }

  #flush(c: Connection): void {
    if (c.waiter === undefined || c.queue.length === 0) return;
    const commands = c.queue;
    c.queue = [];
    this.#answer(c, commands);
  }

  #answer(c: Connection, commands: SignedCommand[]): void {
    const w = c.waiter;
    if (w === undefined) return;
    c.waiter = undefined;
    clearTimeout(w.timer);
    send(w.res, 200, { commands });
  }

  #live(c: Connection): boolean {
    if (c.dropped) return false;
    return c.waiter !== undefined || Date.now() / 1000 - c.lastSeen < (this.holdMs + 3_000) / 1000;
  }

  #forget(c: Connection, why: string): void {
    const w = c.waiter;
    c.waiter = undefined;
    if (w !== undefined) {
      clearTimeout(w.timer);
      send(w.res, 409, { error: `session closed: ${why}`, code: 'invalid_input' });
    }
    for (const p of c.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`the agent of ${c.reg.service} went away (${why})`));
    }
    c.pending.clear();
    this.#bySession.delete(c.session);
    if (this.#byService.get(c.reg.service) === c) this.#byService.delete(c.reg.service);
  }
}

/** The process's hub: the controller mounts its routes, the agent fault types send through it. */
export const AGENT_HUB = new AgentHub();

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new FaultlineError('BODY_TOO_LARGE', `agent report larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a JSON object');
        resolve(v);
      } catch (err) {
        reject(new FaultlineError('BAD_REQUEST_BODY', `bad request body: ${(err as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
