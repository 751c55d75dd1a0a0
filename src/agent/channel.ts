/**
 * The agent's one connection: out to the controller its environment named, never anywhere else, and never a
 * listening socket in the app's process. A loop of long polls: each carries the acks of the last commands, the
 * rules held, the agent's error counts and (when it moved) the discovery snapshot; the hub answers at once when
 * it has commands, else after hold_ms. A command whose signature does not verify is refused and counted.
 *
 *   register ─▶ poll ⟲ (commands ─▶ rules.arm/disarm ─▶ acks on the next poll)
 *   controller gone ─▶ back-off 0.25 s … 5 s, re-register (the hub then drops rules it does not hold as active)
 *
 * Sockets and timers are unref'd: the agent never keeps a process alive that would otherwise exit.
 */
import { randomBytes } from 'node:crypto';
import http, { type ClientRequest } from 'node:http';
import https from 'node:https';
import type { AgentCore } from './core.ts';
import { AGENT_ERRORS, countError } from './guard.ts';
import { AGENT_ROUTES, RECONNECT_MAX_MS, verifyCommand, type Ack, type PollRequest, type Registration, type SignedCommand } from './protocol.ts';

export interface ChannelOptions {
  controller: URL;
  token: string;
  service: string;
}

class HttpStatusError extends Error {
  constructor(readonly status: number, body: string) {
    super(`controller answered ${status}: ${body.slice(0, 200)}`);
  }
}

export class Channel {
  readonly agentId = randomBytes(8).toString('hex');
  readonly #core: AgentCore;
  readonly #options: ChannelOptions;
  readonly #transport: typeof http;
  readonly #agent: http.Agent;
  #session: string | null = null;
  #holdMs = 2_000;
  #acks: Ack[] = [];
  #sentVersion = -1;
  #stopped = false;
  #inflight: ClientRequest | undefined;
  /** Commands refused for a bad or missing signature. */
  refused = 0;

  constructor(core: AgentCore, options: ChannelOptions) {
    this.#core = core;
    this.#options = options;
    const secure = options.controller.protocol === 'https:';
    this.#transport = secure ? (https as unknown as typeof http) : http;
    this.#agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  isOwn(request: ClientRequest): boolean {
    return (request as unknown as { agent?: unknown }).agent === this.#agent;
  }

  start(): void {
    void this.#loop();
  }

  stop(): void {
    this.#stopped = true;
    this.#inflight?.destroy();
    this.#agent.destroy();
  }

  async #loop(): Promise<void> {
    let backoff = 250;
    while (!this.#stopped) {
      try {
        if (this.#session === null) await this.#register();
        await this.#poll();
        backoff = 250;
      } catch (err) {
        if (this.#stopped) return;
        if (err instanceof HttpStatusError && (err.status === 401 || err.status === 403)) countError('channel.auth', err);
        // Any failure: start over with a fresh registration once the controller answers again.
        this.#session = null;
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(RECONNECT_MAX_MS, backoff * 2);
      }
    }
  }

  async #register(): Promise<void> {
    const body: Registration = {
      service: this.#options.service,
      pid: process.pid,
      agent_id: this.agentId,
      node: process.version,
      argv: process.argv.slice(1, 4),
      libraries: [...this.#core.libraries.values()],
      rules: this.#core.rules.ids(),
    };
    const res = (await this.#post(AGENT_ROUTES.register, body, 5_000)) as { session?: string; hold_ms?: number; commands?: SignedCommand[] };
    if (typeof res.session !== 'string') throw new Error('the controller answered a registration without a session');
    this.#session = res.session;
    if (typeof res.hold_ms === 'number' && res.hold_ms >= 100 && res.hold_ms <= 60_000) this.#holdMs = res.hold_ms;
    this.#sentVersion = -1;
    this.#run(res.commands ?? []);
  }

  async #poll(): Promise<void> {
    const version = this.#core.discovery.version;
    const acks = this.#acks;
    this.#acks = [];
    const body: PollRequest = {
      session: this.#session!,
      acks,
      rules: this.#core.rules.ids(),
      libraries: [...this.#core.libraries.values()],
      errors: { ...AGENT_ERRORS, ...(this.refused > 0 ? { refused_commands: this.refused } : {}) },
      fired: { ...this.#core.rules.fired },
      ...(version !== this.#sentVersion ? { discovery: this.#core.discovery.snapshot() } : {}),
    };
    let res: { commands?: SignedCommand[] };
    try {
      res = (await this.#post(AGENT_ROUTES.poll, body, this.#holdMs + 5_000)) as { commands?: SignedCommand[] };
    } catch (err) {
      this.#acks = [...acks, ...this.#acks]; // not delivered: send them again after re-registering
      throw err;
    }
    this.#sentVersion = version;
    this.#run(res.commands ?? []);
  }

  #run(commands: SignedCommand[]): void {
    for (const c of commands) {
      if (!verifyCommand(c, this.#options.token)) {
        this.refused++;
        if (typeof c?.cmd_id === 'string') this.#acks.push({ cmd_id: c.cmd_id, ok: false, error: 'refused: the command is not signed with this agent token' });
        continue;
      }
      try {
        if (c.op === 'arm') this.#core.rules.arm(c.rule);
        else this.#core.rules.disarm(c.id);
        this.#acks.push({ cmd_id: c.cmd_id, ok: true });
      } catch (err) {
        countError('command', err);
        this.#acks.push({ cmd_id: c.cmd_id, ok: false, error: String((err as Error)?.message ?? err).slice(0, 300) });
      }
    }
  }

  #post(path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = this.#transport.request(
        new URL(path, this.#options.controller),
        {
          method: 'POST',
          agent: this.#agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${this.#options.token}` },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) return reject(new HttpStatusError(res.statusCode ?? 0, text));
            try {
              resolve(JSON.parse(text));
            } catch (err) {
              reject(err);
            }
          });
          res.on('error', reject);
        },
      );
      this.#inflight = req;
      req.on('socket', (s) => s.unref());
      req.on('timeout', () => req.destroy(new Error(`no answer from the controller in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
