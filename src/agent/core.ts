/** What every hook shares: the rules it obeys, where it records what it saw, the libraries found. */
import type { ClientRequest } from 'node:http';
import type { Discovery } from './discovery.ts';
import { guard } from './guard.ts';
import type { CallMatch, ClientLibrary, LibraryInfo } from './protocol.ts';
import type { RuleTable } from './rules.ts';

export interface AgentCore {
  rules: RuleTable;
  discovery: Discovery;
  libraries: Map<string, LibraryInfo>;
  /** True for the agent's own requests to its controller (never faulted, never discovered). */
  isOwn(request: ClientRequest): boolean;
}

/** Resolves after ms, or rejects with the signal's reason when it aborts first (as the call would have). */
export function delay(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The discovery record of one outgoing call, timed from now: call the returned function once the call settled
 * (failed or not). `operation` and `match` are only computed then, and a failure of the agent's own in them is
 * counted under the library's hook, never thrown into the app.
 * @example const settled = callRecorder(core, 'pg', host, port, () => shape, (op) => ({ statement: statementPattern(op) }));
 */
export function callRecorder(core: AgentCore, library: ClientLibrary, host: string, port: number, operation: () => string, match: (operation: string) => Omit<CallMatch, 'library' | 'host'>): (failed: boolean) => void {
  const t0 = performance.now();
  return (failed) =>
    guard(
      library,
      () => {
        const op = operation();
        core.discovery.call(library, host, port, op, () => ({ library: [library], host: `${host}:${port}`, ...match(op) }), performance.now() - t0, failed);
      },
      undefined,
    );
}

/** `promise`, telling `record` how it settled. */
export function reportSettled<T>(promise: Promise<T>, record: (failed: boolean) => void): Promise<T> {
  return promise.then(
    (value) => {
      record(false);
      return value;
    },
    (err: unknown) => {
      record(true);
      throw err;
    },
  );
}
