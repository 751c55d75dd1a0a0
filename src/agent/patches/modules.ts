/**
 * Client libraries loaded as CommonJS (pg, ioredis) are patched the moment they load, whichever way the app
 * loads them: `require('pg')` and `import pg from 'pg'` both end in `Module._load` (an ESM import of a CommonJS
 * package is loaded by the CommonJS loader), so one wrapper around it sees both, with no loader hooks and no
 * change to how anything else resolves. A library already loaded before the agent is patched through the
 * require cache. Each library is patched once (a marker on its prototype).
 */
import Module from 'node:module';
import { dirname, join, sep } from 'node:path';
import { readFileSync } from 'node:fs';
import type { AgentCore } from '../core.ts';
import { guard } from '../guard.ts';

export interface LibraryPatch {
  name: string;
  /** The package's main file, relative to its folder (how an ESM import names it). */
  main: string;
  patch(exports: unknown, core: AgentCore): boolean;
}

interface LoaderModule {
  _load: (request: string, parent: unknown, isMain: boolean) => unknown;
  _resolveFilename: (request: string, parent: unknown) => string;
  _cache: Record<string, { exports: unknown } | undefined>;
}

function versionOf(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  let dir = dirname(file);
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.version && pkg.name) return pkg.version;
    } catch {
      /* not this level */
    }
  }
  return undefined;
}

export function patchModules(core: AgentCore, libraries: readonly LibraryPatch[]): () => void {
  const loader = Module as unknown as LoaderModule;
  const original = loader._load;
  const suffixes = libraries.map((l) => `${sep}node_modules${sep}${l.name}${sep}${l.main.split('/').join(sep)}`);
  const apply = (lib: LibraryPatch, exports: unknown, file: string | undefined): void =>
    guard(
      `load.${lib.name}`,
      () => {
        const patched = lib.patch(exports, core);
        const known = core.libraries.get(lib.name);
        if (known === undefined || (!known.patched && patched)) core.libraries.set(lib.name, { name: lib.name, version: versionOf(file), patched });
      },
      undefined,
    );
  loader._load = function (request: string, parent: unknown, isMain: boolean) {
    const exports = original.apply(this, [request, parent, isMain]);
    for (let i = 0; i < libraries.length; i++) {
      const lib = libraries[i];
      if (request === lib.name || request.endsWith(suffixes[i])) {
        const file = request === lib.name ? guard('load', () => loader._resolveFilename(request, parent), undefined) : request;
        apply(lib, exports, file);
      }
    }
    return exports;
  };
  // Loaded before the agent (a preload that came first): patch what the cache holds.
  for (const [file, entry] of Object.entries(loader._cache)) {
    libraries.forEach((lib, i) => {
      if (entry !== undefined && file.endsWith(suffixes[i])) apply(lib, entry.exports, file);
    });
  }
  return () => {
    loader._load = original;
  };
}
