/**
 * Incoming requests on every `node:http` / `node:https` server (and so Express, Fastify, Koa, …), through
 * `diagnostics_channel` — no server or prototype is patched.
 *
 *   http.server.request.start ─▶ a route_exception matches? ─▶ the response's first setHeader / writeHead /
 *                                write / end throws an Error, once, inside the app's own code path
 *   http.server.response.finish ─▶ discovery.route(method, path shape, status, ms)
 *
 * The throw lands wherever the app or its framework first touches the response — in Express's first middleware,
 * in a plain handler's send — so the app's own error handling answers it (a framework's 500, the handler's catch),
 * and an app with none meets it as Node does: an uncaught exception. Its second call goes through untouched, so
 * the error answer itself is written.
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentCore } from '../core.ts';
import { InjectedException } from '../faults.ts';
import { guard } from '../guard.ts';
import { pathOf, pathShape } from '../match.ts';

const RESPONSE_METHODS = ['setHeader', 'writeHead', 'write', 'end', 'flushHeaders'] as const;

interface Message {
  request: IncomingMessage;
  response: ServerResponse;
}

/** Makes the response's first call throw; every later call (the error answer) behaves as usual. */
function throwOnFirstCall(res: ServerResponse, err: Error): void {
  const own = res as unknown as Record<string, unknown>;
  const restore = (): void => {
    for (const m of RESPONSE_METHODS) delete own[m];
  };
  for (const m of RESPONSE_METHODS) {
    own[m] = function () {
      restore();
      throw err;
    };
  }
}

/** When the request started, kept on the response itself (cheaper than a WeakMap entry per request). */
const STARTED = Symbol('faultline.agent.started');

export function patchHttpServer(core: AgentCore): () => void {
  const onStart = (message: unknown): void =>
    guard(
      'http.server',
      () => {
        const { request, response } = message as Message;
        (response as unknown as Record<symbol, number>)[STARTED] = performance.now();
        if (core.rules.exceptions.length === 0) return;
        const method = request.method ?? 'GET';
        const path = pathOf(request.url ?? '/');
        const rule = core.rules.incoming({ method, path, headers: request.headers });
        if (rule !== undefined) throwOnFirstCall(response, new InjectedException(method, path, rule.id, rule.message));
      },
      undefined,
    );
  const onFinish = (message: unknown): void =>
    guard(
      'http.server',
      () => {
        const { request, response } = message as Message;
        const t0 = (response as unknown as Record<symbol, number | undefined>)[STARTED];
        if (t0 === undefined) return;
        core.discovery.route(request.method ?? 'GET', pathShape(pathOf(request.url ?? '/')), response.statusCode, performance.now() - t0);
      },
      undefined,
    );
  diagnostics.subscribe('http.server.request.start', onStart);
  diagnostics.subscribe('http.server.response.finish', onFinish);
  return () => {
    diagnostics.unsubscribe('http.server.request.start', onStart);
    diagnostics.unsubscribe('http.server.response.finish', onFinish);
  };
}
