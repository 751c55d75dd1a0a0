/**
 * pg: every query through `Client.prototype.query` (a Pool's queries go through its clients), in every call form
 * pg has — callback or promise, text or config — except submittables (cursors, streams), which pass untouched.
 *
 *   query(text|config, values?, cb?) ─▶ rules.call({library: pg, host, port, statement}) ─┬─ error   ─▶ pg's DatabaseError
 *                                                                                         │              (SQLSTATE code) to the callback / promise
 *                                                                                         ├─ latency ─▶ the query is sent delay_ms later
 *                                                                                         └─ none
 *   completion ─▶ discovery (statement shape, count, latency)
 */
import { callRecorder, reportSettled, type AgentCore } from '../core.ts';
import { pgError } from '../faults.ts';
import { guard } from '../guard.ts';
import { statementPattern, statementShape } from '../match.ts';
import type { LibraryPatch } from './modules.ts';

const MARK = Symbol.for('faultline.agent.pg');
type Callback = (err: unknown, res?: unknown) => void;

/** Statement text → shape, bounded (apps use a few dozen statements; a storm of literals would not grow it). */
const shapes = new Map<string, string>();
function shapeOf(text: string): string {
  let s = shapes.get(text);
  if (s === undefined) {
    s = statementShape(text);
    if (shapes.size < 2_000) shapes.set(text, s);
  }
  return s;
}

export const pgPatch: LibraryPatch = {
  name: 'pg',
  main: 'lib/index.js',
  patch(exports, core) {
    const pg = exports as { Client?: { prototype: Record<string | symbol, unknown> }; DatabaseError?: new (m: string, l: number, n: string) => Error };
    const proto = pg?.Client?.prototype;
    if (proto === undefined || typeof proto.query !== 'function') return false;
    if (proto[MARK]) return true;
    const original = proto.query as (this: unknown, ...args: unknown[]) => unknown;
    const DatabaseError = pg.DatabaseError;
    proto[MARK] = true;
    proto.query = function query(this: { host?: string; port?: number }, ...args: unknown[]): unknown {
      const config = args[0] as { text?: unknown; submit?: unknown } | string | undefined;
      const text = typeof config === 'string' ? config : typeof config?.text === 'string' && typeof config.submit !== 'function' ? config.text : undefined;
      if (text === undefined) return original.apply(this, args);
      const host = String(this.host ?? 'localhost');
      const port = Number(this.port ?? 5432);
      const action = core.rules.calls.length === 0 ? undefined : guard('pg', () => core.rules.call({ library: 'pg', host, port, statement: text }), undefined);
      const cbIndex = typeof args[2] === 'function' ? 2 : typeof args[1] === 'function' ? 1 : -1;
      const userCb = cbIndex >= 0 ? (args[cbIndex] as Callback) : undefined;
      const record = callRecorder(core, 'pg', host, port, () => shapeOf(text), (shape) => ({ statement: statementPattern(shape) }));
      if (action?.error !== undefined) {
        const err = pgError(DatabaseError, action.error.code ?? '57P01', action.error.message);
        record(true);
        if (userCb) {
          process.nextTick(userCb, err);
          return undefined;
        }
        return Promise.reject(err);
      }
      if (userCb) {
        args[cbIndex] = (err: unknown, res?: unknown) => {
          record(err != null);
          userCb(err, res);
        };
        if (action !== undefined && action.delayMs > 0) {
          setTimeout(() => original.apply(this, args), action.delayMs);
          return undefined;
        }
        return original.apply(this, args);
      }
      const run = (): Promise<unknown> => reportSettled(original.apply(this, args) as Promise<unknown>, record);
      if (action !== undefined && action.delayMs > 0) return new Promise((r) => setTimeout(r, action.delayMs)).then(run);
      return run();
    };
    return true;
  },
};
