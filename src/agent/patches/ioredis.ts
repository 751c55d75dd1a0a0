/**
 * ioredis: every command through `Redis.prototype.sendCommand` (the one door every command, pipeline and
 * transaction member goes through on a standalone connection).
 *
 *   sendCommand(command) ─▶ rules.call({library: ioredis, host, port, command}) ─┬─ error   ─▶ command rejected with ioredis'
 *                                                                                 │              ReplyError ('ERR …', with .command) or a socket error
 *                                                                                 ├─ latency ─▶ the reply is delivered delay_ms late
 *                                                                                 │              (so ioredis' own commandTimeout still applies)
 *                                                                                 └─ none
 *   reply ─▶ discovery (command, count, latency)
 */
import { callRecorder, type AgentCore } from '../core.ts';
import { redisError } from '../faults.ts';
import { guard } from '../guard.ts';
import type { LibraryPatch } from './modules.ts';

const MARK = Symbol.for('faultline.agent.ioredis');

interface Command {
  name: string;
  args: unknown[];
  promise: Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export const ioredisPatch: LibraryPatch = {
  name: 'ioredis',
  main: 'built/index.js',
  patch(exports, core) {
    const Redis = ((exports as { default?: unknown }).default ?? exports) as { prototype?: Record<string | symbol, unknown>; ReplyError?: new (m: string) => Error };
    const proto = Redis?.prototype;
    if (proto === undefined || typeof proto.sendCommand !== 'function') return false;
    if (proto[MARK]) return true;
    const original = proto.sendCommand as (this: unknown, command: Command, stream?: unknown) => unknown;
    const ReplyError = Redis.ReplyError ?? (exports as { ReplyError?: new (m: string) => Error }).ReplyError;
    proto[MARK] = true;
    proto.sendCommand = function sendCommand(this: { options?: { host?: string; port?: number } }, command: Command, stream?: unknown): unknown {
      if (command === null || typeof command !== 'object' || typeof command.name !== 'string' || typeof command.resolve !== 'function') return original.call(this, command, stream);
      const host = String(this.options?.host ?? 'localhost');
      const port = Number(this.options?.port ?? 6379);
      const name = command.name.toUpperCase();
      const action = core.rules.calls.length === 0 ? undefined : guard('ioredis', () => core.rules.call({ library: 'ioredis', host, port, command: name }), undefined);
      const record = callRecorder(core, 'ioredis', host, port, () => name, () => ({ command: [name] }));
      if (action?.error !== undefined) {
        record(true);
        command.reject(redisError(ReplyError, action.error.code ?? 'ERR', command, host, port, action.error.message));
        return command.promise;
      }
      guard(
        'ioredis',
        () => {
          const resolve = command.resolve;
          const reject = command.reject;
          const delayMs = action?.delayMs ?? 0;
          command.resolve = (v: unknown) => {
            record(false);
            if (delayMs > 0) setTimeout(resolve, delayMs, v);
            else resolve(v);
          };
          command.reject = (e: unknown) => {
            record(true);
            reject(e);
          };
        },
        undefined,
      );
      return original.call(this, command, stream);
    };
    return true;
  },
};
