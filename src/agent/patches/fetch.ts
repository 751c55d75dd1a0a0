/**
 * The global `fetch` (Node's bundled undici). Node publishes no channel a subscriber could fail or delay a fetch
 * through, so the global is wrapped once, at start-up, before the app's code runs; the wrapper keeps the name,
 * length and behaviour of the original.
 *
 *   fetch(input, init) ─▶ rules.call(info) ─┬─ error   ─▶ rejects with TypeError('fetch failed', {cause}) — undici's shape
 *                                           ├─ latency ─▶ waits delay_ms (honouring init.signal: an abort rejects
 *                                           │              with its reason, as a slow server would), then fetches
 *                                           └─ none    ─▶ the original fetch
 *   settled ─▶ discovery (host:port, method, path shape, time to response headers)
 */
import { callRecorder, delay, reportSettled, type AgentCore } from '../core.ts';
import { fetchError } from '../faults.ts';
import { guard } from '../guard.ts';
import { pathShape } from '../match.ts';

interface FetchInfo {
  host: string;
  port: number;
  method: string;
  path: string;
  signal?: AbortSignal | null;
}

function infoOf(input: unknown, init: RequestInit | undefined): FetchInfo {
  const isRequest = typeof Request !== 'undefined' && input instanceof Request;
  const url = isRequest ? new URL((input as Request).url) : input instanceof URL ? input : new URL(String(input));
  const method = (init?.method ?? (isRequest ? (input as Request).method : 'GET')).toUpperCase();
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, method, path: url.pathname || '/', signal: init?.signal ?? (isRequest ? (input as Request).signal : undefined) };
}

export function patchFetch(core: AgentCore): () => void {
  const original = globalThis.fetch;
  if (typeof original !== 'function') return () => {};
  const wrapped = function fetch(input: Parameters<typeof original>[0], init?: RequestInit): Promise<Response> {
    const info = guard('fetch', () => infoOf(input, init), undefined);
    if (info === undefined) return original(input, init);
    const action = core.rules.calls.length === 0 ? undefined : guard('fetch', () => core.rules.call({ library: 'fetch', host: info.host, port: info.port, method: info.method, path: info.path }), undefined);
    const record = callRecorder(core, 'fetch', info.host, info.port, () => `${info.method} ${pathShape(info.path)}`, () => ({ method: [info.method], path: pathShape(info.path) }));
    let result: Promise<Response>;
    if (action?.error !== undefined) result = Promise.reject(fetchError(action.error.code ?? 'ECONNRESET', info.host, info.port));
    else if (action !== undefined && action.delayMs > 0) result = delay(action.delayMs, info.signal).then(() => original(input, init));
    else result = original(input, init);
    return reportSettled(result, record);
  };
  Object.defineProperty(globalThis, 'fetch', { value: wrapped, writable: true, configurable: true, enumerable: true });
  return () => {
    if (globalThis.fetch === wrapped) Object.defineProperty(globalThis, 'fetch', { value: original, writable: true, configurable: true, enumerable: true });
  };
}
