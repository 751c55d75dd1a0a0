/**
 * A Proxy listens on one address, dials its upstream once per accepted client and owns the toxics applied to
 * every connection it carries. Toxic changes reach live connections at once; each link applies them on its own,
 * and the proxy waits for them a bounded time only, so an API call can never hang on a wedged connection
 * (toxiproxy #412/#558). A toxic with `ttl_s` is removed by the proxy itself when the TTL runs out, so a fault
 * outlives neither its window nor a controller that died.
 *
 *   client ─▶ listener ─accept─▶ Connection ─dial─▶ upstream
 *                                  ├─ Link upstream   (toxics.forStream('upstream'))
 *                                  └─ Link downstream (toxics.forStream('downstream'))
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { sleep } from '../core/clock.ts';
import { FaultlineError } from '../core/errors.ts';
import { formatHostPort, parseHostPort, resolveListen } from './address.ts';
import { Connection, type ConnectionHost } from './connection.ts';
import { adoptWithReader, lendingReader } from './reader.ts';
import { upstreamTls, type ListenerTls, type ListenTlsDeclaration, type UpstreamTls, type UpstreamTlsDeclaration } from './tls.ts';
import type { DirectionCounters, Link } from './link.ts';
import type { Stream } from './toxic.ts';
import { ToxicCollection, toxicJson, type ToxicRecord } from './toxic-collection.ts';

/** How long a toxic change waits for live links to apply it before the API answers anyway. */
const APPLY_WAIT_MS = 1000;

export interface ProxyOptions {
  name: string;
  /** `host:port`; port 0 picks a free port; empty = every interface, random port. */
  listen: string;
  /** `host:port` dialled once per client; resolved at dial time. */
  upstream: string;
  enabled?: boolean;
  /** Terminate TLS on the listener (a faultline extension; built by tls.ts from `tls` in the declaration). */
  tls?: ListenerTls;
  /** As declared (shown back, and compared by populate). */
  tlsDeclaration?: ListenTlsDeclaration;
  /** Originate TLS to the upstream (a faultline extension). */
  upstreamTls?: UpstreamTlsDeclaration;
}

export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  Logger: Record<string, never>;
  toxics: Record<string, unknown>[];
  /** faultline extensions, present only when set. */
  tls?: Record<string, unknown>;
  upstream_tls?: Record<string, unknown>;
}

export class Proxy implements ConnectionHost {
  readonly name: string;
  listen: string;
  upstream: string;
  readonly toxics = new ToxicCollection();
  readonly connections = new Set<Connection>();
  readonly counters: Record<Stream, DirectionCounters> = {
    upstream: { received: 0, sent: 0 },
    downstream: { received: 0, sent: 0 },
  };
  connectionsTotal = 0;
  readonly tls: ListenerTls | undefined;
  readonly tlsDeclaration: ListenTlsDeclaration | undefined;
  readonly upstreamTlsDeclaration: UpstreamTlsDeclaration | undefined;
  #upstreamTls: UpstreamTls | undefined;
  #server: Server | null = null;
  /** A bind in flight and the stop generation it belongs to: a stop() or close() meanwhile voids it. */
  #starting: Promise<void> | null = null;
  #generation = 0;
  #closed = false;
  readonly #ttlTimers = new Map<string, NodeJS.Timeout>();

  private constructor(options: ProxyOptions) {
    this.name = options.name;
    this.listen = options.listen;
    this.upstream = options.upstream;
    this.tls = options.tls;
    this.tlsDeclaration = options.tlsDeclaration;
    this.upstreamTlsDeclaration = options.upstreamTls;
    if (options.upstreamTls) this.#upstreamTls = upstreamTls(options.upstreamTls, parseHostPort(options.upstream, 'upstream').host);
  }

  /** Creates a proxy and, unless `enabled: false`, starts listening (rejects with LISTEN_FAILED). */
  static async create(options: ProxyOptions): Promise<Proxy> {
    parseHostPort(options.upstream, 'upstream');
    parseHostPort(options.listen, 'listen');
    const proxy = new Proxy(options);
    if (options.enabled !== false) await proxy.start();
    return proxy;
  }

  get enabled(): boolean {
    return this.#server !== null;
  }

  toJSON(): ProxyJson {
    const json: ProxyJson = {
      name: this.name,
      listen: this.listen,
      upstream: this.upstream,
      enabled: this.enabled,
      Logger: {},
      toxics: this.toxics.list().map(toxicJson),
    };
    if (this.tls) json.tls = this.tls.json;
    if (this.#upstreamTls) json.upstream_tls = this.#upstreamTls.json;
    return json;
  }

  /** The bound port (0 while disabled). */
  get port(): number {
    const address = this.#server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /**
   * Listens on `listen` (no-op if already listening). Concurrent calls share one bind. A stop() or close() that
   * lands while the bind is in flight wins: the fresh listener is closed at once, so no listener ever outlives
   * the state the API shows.
   */
  start(): Promise<void> {
    if (this.#closed || this.#server !== null) return Promise.resolve();
    if (this.#starting !== null) return this.#starting;
    const generation = this.#generation;
    const starting = this.#bind(generation).finally(() => {
      if (this.#starting === starting) this.#starting = null;
    });
    this.#starting = starting;
    return starting;
  }

  async #bind(generation: number): Promise<void> {
    const { host, port } = await resolveListen(this.listen);
    if (this.#closed || generation !== this.#generation) return;
    // Paused on accept so a plain client can be given a lending reader before anything is read (reader.ts).
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: this.tls === undefined }, (client) =>
      this.#accept(client),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const reason = err.code === 'EADDRINUSE' ? 'bind: address already in use' : err.message;
        reject(new FaultlineError('LISTEN_FAILED', `listen tcp ${formatHostPort(host, port)}: ${reason}`));
      });
      // The kernel caps the backlog at net.core.somaxconn, which is what Go (toxiproxy) asks for. Node's default
      // of 511 drops connections of a burst while the event loop is busy: the client thinks it is connected.
      server.listen({ host, port, backlog: 65_535 }, () => resolve());
    });
    if (this.#closed || generation !== this.#generation) {
      server.close();
      return;
    }
    server.on('error', () => {}); // after a successful bind, accept errors (EMFILE) are per client
    const address = server.address();
    if (typeof address === 'object' && address !== null) this.listen = formatHostPort(address.address, address.port);
    this.#server = server;
  }

  /** Stops listening (voiding a bind in flight) and drops every live connection; toxics stay. */
  stop(): void {
    this.#generation++;
    this.#starting = null;
    const server = this.#server;
    this.#server = null;
    server?.close();
    for (const conn of this.connections) conn.destroy();
  }

  /**
   * Changes listen, upstream or enabled; fields left out keep their values. A changed address (compared after
   * resolution, so `localhost:N` equals `127.0.0.1:N`) restarts the proxy and drops its connections. If the new
   * address cannot be bound the proxy is left disabled and LISTEN_FAILED is thrown. Callers serialize updates
   * (ProxyRegistry.update does); a close() meanwhile still wins.
   */
  async update(change: { listen?: string; upstream?: string; enabled?: boolean }): Promise<void> {
    const listen = change.listen ?? this.listen;
    const upstream = change.upstream ?? this.upstream;
    // Both are checked before anything stops: a malformed address is a 400 that changes nothing.
    parseHostPort(upstream, 'upstream');
    parseHostPort(listen, 'listen');
    const enabled = change.enabled ?? this.enabled;
    const moved = !(await sameAddress(listen, this.listen)) || upstream !== this.upstream;
    // A new upstream host is a new default servername: built before anything stops, so a bad CA file is a 400.
    const tlsToUpstream = this.upstreamTlsDeclaration && upstreamTls(this.upstreamTlsDeclaration, parseHostPort(upstream, 'upstream').host);
    if (moved) {
      this.stop();
      this.listen = listen;
      this.upstream = upstream;
      this.#upstreamTls = tlsToUpstream;
      // The byte counters are exported under listener and upstream labels: a new pair is a new series from 0.
      for (const c of Object.values(this.counters)) c.received = c.sent = 0;
    }
    if (enabled) await this.start();
    else this.stop();
  }

  /** Parses, adds and applies a toxic to every live connection in its stream. */
  async addToxic(body: unknown): Promise<ToxicRecord> {
    const toxic = this.toxics.parseNew(body);
    this.toxics.set(toxic);
    this.#armTtl(toxic);
    await this.#applyToLinks(toxic.stream, (link) => link.addToxic(toxic));
    return toxic;
  }

  async updateToxic(name: string, body: unknown): Promise<ToxicRecord> {
    const toxic = this.toxics.parseUpdate(name, body);
    this.toxics.set(toxic);
    this.#armTtl(toxic);
    await this.#applyToLinks(toxic.stream, (link) => link.updateToxic(toxic));
    return toxic;
  }

  async removeToxic(name: string): Promise<void> {
    const toxic = this.toxics.delete(name);
    this.#disarmTtl(name);
    await this.#applyToLinks(toxic.stream, (link) => link.removeToxic(name));
  }

  async removeAllToxics(): Promise<void> {
    await Promise.all(this.toxics.list().map((t) => this.removeToxic(t.name)));
  }

  /** Stops the proxy for good: listener (and any bind in flight), connections and TTL timers. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#ttlTimers.values()) clearTimeout(timer);
    this.#ttlTimers.clear();
    this.stop();
  }

  forget(conn: Connection): void {
    this.connections.delete(conn);
  }

  #accept(rawClient: Socket): void {
    if (this.#server === null) {
      rawClient.destroy();
      return;
    }
    this.connectionsTotal++;
    const { host, port } = parseHostPort(this.upstream, 'upstream');
    const tlsUp = this.#upstreamTls;
    // A TLS dial reads through the TLS layer, which owns the reads: the lent buffer is for plain sockets only.
    const onread = tlsUp ? undefined : lendingReader((view) => conn.down?.onBorrowed(view) ?? false);
    const rawUpstream = connect({ host: host || 'localhost', port, allowHalfOpen: true, noDelay: true, onread });
    const client = this.tls
      ? new TLSSocket(rawClient, { isServer: true, secureContext: this.tls.context })
      : adoptWithReader(rawClient, (view) => conn.up?.onBorrowed(view) ?? false);
    const upstream = tlsUp ? tlsConnect({ ...tlsUp.options, socket: rawUpstream }) : rawUpstream;
    const conn: Connection = new Connection(this, client, upstream, { client: this.tls ? rawClient : client, upstream: rawUpstream });
    this.connections.add(conn);
    upstream.once(tlsUp ? 'secureConnect' : 'connect', () =>
      conn.start(this.toxics.forStream('upstream'), this.toxics.forStream('downstream')),
    );
  }

  async #applyToLinks(stream: Stream, change: (link: Link) => Promise<void>): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const conn of this.connections) {
      const link = conn.link(stream);
      if (link !== undefined) pending.push(change(link));
    }
    if (pending.length === 0) return;
    const timeout = new AbortController();
    await Promise.race([Promise.all(pending), sleep(APPLY_WAIT_MS, timeout.signal)]);
    timeout.abort();
  }

  #armTtl(toxic: ToxicRecord): void {
    this.#disarmTtl(toxic.name);
    if (toxic.ttl_s === undefined) return;
    const timer = setTimeout(() => {
      this.#ttlTimers.delete(toxic.name);
      void this.removeToxic(toxic.name).catch(() => {});
    }, toxic.ttl_s * 1000);
    timer.unref();
    this.#ttlTimers.set(toxic.name, timer);
  }

  #disarmTtl(name: string): void {
    const timer = this.#ttlTimers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.#ttlTimers.delete(name);
  }
}

async function sameAddress(a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  try {
    const [x, y] = await Promise.all([resolveListen(a), resolveListen(b)]);
    return x.host === y.host && x.port === y.port;
  } catch {
    return false;
  }
}
