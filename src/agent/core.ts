/** What every hook shares: the rules it obeys, where it records what it saw, the libraries found. */
import type { ClientRequest } from 'node:http';
import type { Discovery } from './discovery.ts';
import type { LibraryInfo } from './protocol.ts';
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
