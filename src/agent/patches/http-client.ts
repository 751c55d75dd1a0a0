/**
 * Outgoing `node:http` / `node:https` requests, through `diagnostics_channel` (`http.client.request.start`): no
 * module export is replaced, so `http.request`, `http.get`, `https.request` and every client built on them
 * (axios, got, node-fetch, SDKs) are seen alike.
 *
 *   request.start ─▶ rules.call(info) ─┬─ error   ─▶ request.destroy(system error): the app's 'error' listener gets
 *                                      │              `read ECONNRESET` (errno, code, syscall), as on a reset socket
 *                                      ├─ latency ─▶ the 'response' event is held back delay_ms
 *                                      └─ none
 *   'response' / 'error' (observed through the request's emit, never by adding listeners) ─▶ discovery
 *
 * No 'error' listener is ever added: an app that has none still crashes on a failure, as it would without us.
 */
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { AgentCore } from '../core.ts';
import { systemError } from '../faults.ts';
import { guard } from '../guard.ts';
import { pathOf, pathShape } from '../match.ts';

function portOf(request: ClientRequest, https: boolean): number {
  const host = request.getHeader('host');
  const m = typeof host === 'string' ? /:(\d+)$/.exec(host) : null;
  return m ? Number(m[1]) : https ? 443 : 80;
}

export function patchHttpClient(core: AgentCore): () => void {
  const onStart = (message: unknown): void =>
    guard(
      'http.client',
      () => {
        const request = (message as { request: ClientRequest }).request;
        if (core.isOwn(request)) return;
        const https = request.protocol === 'https:';
        const library = https ? 'https' : 'http';
        const host = request.host;
        const port = portOf(request, https);
        const method = request.method;
        const path = pathOf(request.path);
        const action = core.rules.calls.length === 0 ? undefined : core.rules.call({ library, host, port, method, path });
        const t0 = performance.now();
        const op = `${method} ${pathShape(path)}`;
        let recorded = false;
        const record = (failed: boolean): void => {
          if (recorded) return;
          recorded = true;
          core.discovery.call(library, host, port, op, () => ({ library: [library], host: `${host}:${port}`, method: [method], path: pathShape(path) }), performance.now() - t0, failed);
        };
        const emit = request.emit;
        const delayMs = action?.delayMs ?? 0;
        request.emit = function (this: ClientRequest, event: string | symbol, ...args: unknown[]): boolean {
          if (event === 'response') {
            record(false);
            if (delayMs > 0) {
              setTimeout(() => emit.call(this, event, ...args), delayMs);
              return true;
            }
          } else if (event === 'error') record(true);
          return emit.call(this, event, ...args);
        } as ClientRequest['emit'];
        if (action?.error !== undefined) request.destroy(systemError(action.error.code ?? 'ECONNRESET', host, port));
      },
      undefined,
    );
  diagnostics.subscribe('http.client.request.start', onStart);
  return () => diagnostics.unsubscribe('http.client.request.start', onStart);
}
