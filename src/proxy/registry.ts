/**
 * The set of proxies one server runs, keyed by name: create, populate (create-or-keep), update, reset, delete.
 * This is the typed library API the HTTP routes and the `--config` file both go through.
 *
 * Every operation that binds or closes listeners runs alone, in arrival order (toxiproxy holds one collection
 * lock the same way): a name is taken before its bind starts, so parallel creates of one name give one 201 and
 * 409s, and an update racing a delete ends with the proxy deleted and nothing listening. After closeAll() no
 * queued operation binds anything, so a SIGTERM'd server holds no listener that would keep the process alive.
 *
 *   API call ─▶ exclusive(op) ─▶ [op 1] ─▶ [op 2] ─▶ …   (reads and toxic changes do not queue)
 */
import { FaultlineError, isFaultlineError } from '../core/errors.ts';
import { parseHostPort, resolveListen } from './address.ts';
import { ensureCa, type LocalCa } from './ca.ts';
import { pickFields } from './json.ts';
import { Proxy, type ProxyJson } from './proxy.ts';
import { listenerTls, parseListenTls, parseUpstreamTls, type ListenTlsDeclaration, type UpstreamTlsDeclaration } from './tls.ts';
import { ToxicCollection, type ToxicRecord } from './toxic-collection.ts';

const PROXY_FIELDS = {
  name: 'string',
  listen: 'string',
  upstream: 'string',
  enabled: 'boolean',
  toxics: 'array',
  tls: 'object',
  upstream_tls: 'object',
} as const;

/**
 * A proxy as declared in a create or populate body, or a config file. `toxics`, `tls` and `upstream_tls` are
 * faultline extensions (see tls.ts for the TLS ones).
 */
export interface ProxyDeclaration {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: unknown[];
  tls?: ListenTlsDeclaration;
  upstreamTls?: UpstreamTlsDeclaration;
}

export interface ProxyRegistryOptions {
  /** Where the local CA lives (created on first use) that `"tls": {}` proxies mint certificates from. */
  caDir?: string;
}

/** Failure of a populate call part way: what was created before it failed is still there. */
export class PopulateError extends Error {
  constructor(
    readonly error: FaultlineError,
    readonly created: Proxy[],
  ) {
    super(error.message);
  }
}

export class ProxyRegistry {
  readonly #proxies = new Map<string, Proxy>();
  /** The tail of the queue of listener-changing operations. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #caDir: string | undefined;
  #ca: Promise<LocalCa> | undefined;

  constructor(options: ProxyRegistryOptions = {}) {
    this.#caDir = options.caDir;
  }

  /** The local CA (created on first use), or undefined when this registry has no CA dir. */
  get ca(): (() => Promise<LocalCa>) | undefined {
    const dir = this.#caDir;
    if (dir === undefined) return undefined;
    return () => {
      this.#ca ??= ensureCa(dir).catch((err: unknown) => {
        this.#ca = undefined;
        throw err;
      });
      return this.#ca;
    };
  }

  list(): Proxy[] {
    return [...this.#proxies.values()];
  }

  get(name: string): Proxy {
    const proxy = this.#proxies.get(name);
    if (proxy === undefined) throw new FaultlineError('PROXY_NOT_FOUND');
    return proxy;
  }

  toJSON(): Record<string, ProxyJson> {
    return Object.fromEntries(this.list().map((p) => [p.name, p.toJSON()]));
  }

  /**
   * Validates a create body the way toxiproxy does: name, then upstream are required; the upstream must be
   * host:port (faultline's check). The listen address is checked by whoever binds it.
   */
  static parseDeclaration(body: unknown, suffix = ''): ProxyDeclaration {
    const f = pickFields(body, PROXY_FIELDS);
    if (f.name === undefined || f.name === '') throw new FaultlineError('MISSING_FIELD', `missing required field: name${suffix}`, { field: 'name' });
    if (f.upstream === undefined || f.upstream === '') {
      throw new FaultlineError('MISSING_FIELD', `missing required field: upstream${suffix}`, { field: 'upstream' });
    }
    const declaration: ProxyDeclaration = {
      name: f.name as string,
      listen: (f.listen as string | undefined) ?? '',
      upstream: f.upstream as string,
      enabled: (f.enabled as boolean | undefined) ?? true,
      toxics: (f.toxics as unknown[] | undefined) ?? [],
    };
    const tls = parseListenTls(f.tls);
    const upstreamTls = parseUpstreamTls(f.upstream_tls);
    if (tls !== undefined) declaration.tls = tls;
    if (upstreamTls !== undefined) declaration.upstreamTls = upstreamTls;
    parseHostPort(declaration.upstream, 'upstream');
    return declaration;
  }

  /** Creates a proxy; 409 PROXY_EXISTS when the name is taken (also by a create still binding). */
  async create(body: unknown): Promise<Proxy> {
    const declaration = ProxyRegistry.parseDeclaration(body);
    parseHostPort(declaration.listen, 'listen');
    validateToxics(declaration, 1);
    // Queued synchronously, before any await: the queue order is the order the requests arrived in.
    return this.#exclusive(async () => {
      if (this.#proxies.has(declaration.name)) throw new FaultlineError('PROXY_EXISTS');
      return this.#build(declaration);
    });
  }

  /**
   * Create-or-keep for a list of proxies. Every entry's fields and toxics are validated before any is touched
   * (400, nothing created). Then, in order: an existing proxy with the same name, resolved listen address and
   * upstream is kept untouched (toxics, connections and enabled state); any other existing one with that name is
   * replaced by a fresh proxy, with its declared toxics. An entry whose listen address is malformed or cannot be
   * bound stops the run there, as in toxiproxy: PopulateError carries what was created before it, and that stays.
   */
  async populate(body: unknown): Promise<Proxy[]> {
    if (!Array.isArray(body)) throw new FaultlineError('BAD_REQUEST_BODY', 'bad request body: expected a JSON array of proxies');
    const declarations = body.map((entry, i) => {
      try {
        return ProxyRegistry.parseDeclaration(entry, ` at proxy ${i + 1}`);
      } catch (err) {
        throw atProxy(err, i + 1);
      }
    });
    declarations.forEach((d, i) => validateToxics(d, i + 1));
    return this.#exclusive(async () => {
      const out: Proxy[] = [];
      for (const [i, declaration] of declarations.entries()) {
        try {
          parseHostPort(declaration.listen, 'listen');
          const existing = this.#proxies.get(declaration.name);
          if (existing !== undefined && (await this.#matches(existing, declaration))) {
            out.push(existing);
            continue;
          }
          if (existing !== undefined) this.#remove(declaration.name);
          out.push(await this.#build(declaration));
        } catch (err) {
          // Bind failures read as toxiproxy's do (`listen tcp …: bind: address already in use`).
          const cause = isFaultlineError(err) && err.code === 'LISTEN_FAILED' ? err : atProxy(err, i + 1);
          throw new PopulateError(isFaultlineError(cause) ? cause : new FaultlineError('INTERNAL', String(cause)), out);
        }
      }
      return out;
    });
  }

  /** Changes a proxy's listen, upstream or enabled (see Proxy.update), queued behind any create or delete. */
  update(name: string, change: { listen?: string; upstream?: string; enabled?: boolean }): Promise<Proxy> {
    return this.#exclusive(async () => {
      const proxy = this.get(name);
      await proxy.update(change);
      return proxy;
    });
  }

  /** Deletes a proxy: its listener and live connections close. 404 PROXY_NOT_FOUND when there is none. */
  delete(name: string): Promise<void> {
    return this.#exclusive(async () => this.#remove(name));
  }

  /** Enables every proxy and removes every toxic; live connections stay (toxiproxy's reset). */
  reset(): Promise<void> {
    return this.#exclusive(async () => {
      for (const proxy of this.list()) {
        await proxy.removeAllToxics();
        await proxy.start();
      }
    });
  }

  /** Closes every proxy (shutdown), binds in flight included; operations still queued then do nothing. */
  closeAll(): void {
    this.#closed = true;
    for (const proxy of this.list()) proxy.close();
    this.#proxies.clear();
  }

  /** Runs `op` after every operation queued before it; a failed one does not stop the queue. */
  #exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new FaultlineError('INTERNAL', 'the proxy server is shutting down');
      return op();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #remove(name: string): void {
    this.get(name).close();
    this.#proxies.delete(name);
  }

  /** A proxy with its toxics in place before it first listens, so no client ever sees it without them. */
  async #build(declaration: ProxyDeclaration): Promise<Proxy> {
    const tls = declaration.tls && (await listenerTls(declaration.tls, parseHostPort(declaration.listen, 'listen').host, this.ca));
    const proxy = await Proxy.create({ ...declaration, enabled: false, tls, tlsDeclaration: declaration.tls });
    try {
      for (const toxic of declaration.toxics) await proxy.addToxic(toxic);
      if (declaration.enabled) await proxy.start();
      // closeAll() may have run during the bind: the proxy must not outlive the registry.
      if (this.#closed) throw new FaultlineError('INTERNAL', 'the proxy server is shutting down');
    } catch (err) {
      proxy.close();
      throw err;
    }
    this.#proxies.set(proxy.name, proxy);
    return proxy;
  }

  async #matches(proxy: Proxy, declaration: ProxyDeclaration): Promise<boolean> {
    if (proxy.upstream !== declaration.upstream) return false;
    if (JSON.stringify(proxy.tlsDeclaration) !== JSON.stringify(declaration.tls)) return false;
    if (JSON.stringify(proxy.upstreamTlsDeclaration) !== JSON.stringify(declaration.upstreamTls)) return false;
    const [a, b] = await Promise.all([resolveListen(proxy.listen), resolveListen(declaration.listen)]);
    return a.host === b.host && a.port === b.port;
  }
}

/** Checks declared toxics up front so a bad one fails the whole request before anything is created. */
function validateToxics(declaration: ProxyDeclaration, index: number): ToxicRecord[] {
  const scratch = new ToxicCollection();
  return declaration.toxics.map((body, j) => {
    try {
      const toxic = scratch.parseNew(body, `toxics[${j}].`);
      scratch.set(toxic);
      return toxic;
    } catch (err) {
      if (err instanceof FaultlineError) {
        throw new FaultlineError(err.code, `${err.message} at proxy ${index}`, { field: err.field, hint: err.hint });
      }
      throw err;
    }
  });
}

/** Adds ` at proxy N` to an entry's error, as toxiproxy words populate errors (missing fields already say it). */
function atProxy(err: unknown, index: number): unknown {
  if (!(err instanceof FaultlineError) || err.code === 'MISSING_FIELD' || err.message.endsWith(` at proxy ${index}`)) return err;
  return new FaultlineError(err.code, `${err.message} at proxy ${index}`, { field: err.field, hint: err.hint });
}
