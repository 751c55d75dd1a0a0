/**
 * The set of proxies one server runs, keyed by name: create, populate (create-or-keep), reset, delete.
 * This is the typed library API the HTTP routes and the `--config` file both go through.
 */
import { FaultlineError } from '../core/errors.ts';
import { parseHostPort, resolveListen } from './address.ts';
import { pickFields } from './json.ts';
import { Proxy, type ProxyJson } from './proxy.ts';
import { ToxicCollection, type ToxicRecord } from './toxic-collection.ts';

const PROXY_FIELDS = { name: 'string', listen: 'string', upstream: 'string', enabled: 'boolean', toxics: 'array' } as const;

/** A proxy as declared in a create or populate body, or a config file (`toxics` is a faultline extension). */
export interface ProxyDeclaration {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: unknown[];
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

  /** Validates a create body the way toxiproxy does: name, then upstream are required. */
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
    parseHostPort(declaration.upstream, 'upstream');
    parseHostPort(declaration.listen, 'listen');
    return declaration;
  }

  /** Creates a proxy; 409 PROXY_EXISTS when the name is taken. */
  async create(body: unknown): Promise<Proxy> {
    const declaration = ProxyRegistry.parseDeclaration(body);
    if (this.#proxies.has(declaration.name)) throw new FaultlineError('PROXY_EXISTS');
    validateToxics(declaration, 1);
    return this.#build(declaration);
  }

  /**
   * Create-or-keep for a list of proxies. Every entry is validated before any is touched. An existing proxy
   * with the same name, resolved listen address and upstream is kept untouched (toxics, connections and
   * enabled state); any other existing one with that name is replaced by a fresh proxy. Declared toxics are
   * applied to proxies created fresh. Throws PopulateError with what was created when a bind fails.
   */
  async populate(body: unknown): Promise<Proxy[]> {
    if (!Array.isArray(body)) throw new FaultlineError('BAD_REQUEST_BODY', 'bad request body: expected a JSON array of proxies');
    const declarations = body.map((entry, i) => {
      try {
        return ProxyRegistry.parseDeclaration(entry, ` at proxy ${i + 1}`);
      } catch (err) {
        if (err instanceof FaultlineError && err.code !== 'MISSING_FIELD') {
          throw new FaultlineError(err.code, `${err.message} at proxy ${i + 1}`, { field: err.field });
        }
        throw err;
      }
    });
    declarations.forEach((d, i) => validateToxics(d, i + 1));
    const out: Proxy[] = [];
    for (const declaration of declarations) {
      try {
        const existing = this.#proxies.get(declaration.name);
        if (existing !== undefined && (await this.#matches(existing, declaration))) {
          out.push(existing);
          continue;
        }
        if (existing !== undefined) this.delete(declaration.name);
        out.push(await this.#build(declaration));
      } catch (err) {
        throw new PopulateError(
          err instanceof FaultlineError ? err : new FaultlineError('INTERNAL', String(err)),
          out,
        );
      }
    }
    return out;
  }

  delete(name: string): void {
    this.get(name).close();
    this.#proxies.delete(name);
  }

  /** Enables every proxy and removes every toxic; live connections stay (toxiproxy's reset). */
  async reset(): Promise<void> {
    for (const proxy of this.list()) {
      await proxy.removeAllToxics();
      await proxy.start();
    }
  }

  /** Closes every proxy (shutdown). */
  closeAll(): void {
    for (const proxy of this.list()) proxy.close();
    this.#proxies.clear();
  }

  async #build(declaration: ProxyDeclaration): Promise<Proxy> {
    const proxy = await Proxy.create(declaration);
    this.#proxies.set(proxy.name, proxy);
    for (const toxic of declaration.toxics) await proxy.addToxic(toxic);
    return proxy;
  }

  async #matches(proxy: Proxy, declaration: ProxyDeclaration): Promise<boolean> {
    if (proxy.upstream !== declaration.upstream) return false;
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
