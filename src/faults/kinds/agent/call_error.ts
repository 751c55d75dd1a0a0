/**
 * call_error: outgoing calls that match fail for pct % of them with the error their client library raises on the
 * real failure (src/agent/faults.ts): http/https a `read ECONNRESET` system error, fetch `TypeError: fetch failed`
 * with that cause, pg a DatabaseError with a SQLSTATE code, ioredis a ReplyError or a connection error. `code`
 * picks which, and must make sense for every library the match can reach.
 *
 * @example {"type":"call_error","target":"shop","params":{"library":"ioredis","command":"GET","code":"READONLY"}}
 */
import { z } from 'zod';
import { CALL_ERROR_CODES } from '../../../agent/faults.ts';
import { CLIENT_LIBRARIES, type ClientLibrary } from '../../../agent/protocol.ts';
import { agentFault, callMatch, CallMatchFields } from './via-agent.ts';

const FAMILY: Record<ClientLibrary, keyof typeof CALL_ERROR_CODES> = { http: 'http', https: 'http', fetch: 'fetch', pg: 'pg', ioredis: 'ioredis' };

function codeFits(library: ClientLibrary, code: string): boolean {
  const family = FAMILY[library];
  if (family === 'pg') return code === 'ECONNRESET' || /^[0-9A-Z]{5}$/.test(code);
  if (family === 'ioredis') return /^[A-Z][A-Z_]{1,30}$/.test(code);
  return (CALL_ERROR_CODES[family] as readonly string[]).includes(code);
}

const Params = z
  .strictObject({
    ...CallMatchFields,
    /** Which failure (default per library: ECONNRESET for http/fetch, 57P01 for pg, ERR for ioredis). */
    code: z.string().regex(/^[A-Z0-9_]{2,32}$/, 'an error code in capitals, e.g. ECONNRESET, 57P01, READONLY').optional(),
    /** The error's message where the library lets it vary (pg, ioredis replies). */
    message: z.string().min(1).max(500).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.code === undefined) return;
    const libraries = p.library === undefined ? [...CLIENT_LIBRARIES] : Array.isArray(p.library) ? p.library : [p.library];
    const misfits = libraries.filter((l) => !codeFits(l, p.code!));
    if (misfits.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['code'],
        message: `${p.code} is not an error ${misfits.join(', ')} can raise; for ${misfits.map((l) => `${l}: ${CALL_ERROR_CODES[FAMILY[l]].join(' | ')}`).join('; ')}${p.library === undefined ? ' (set library to aim at one client)' : ''}`,
      });
    }
  });

export const call_error = agentFault('call_error', 'matching outgoing calls fail with the error their client raises (ECONNRESET, SQLSTATE, ReplyError)', Params, (p) => ({
  type: 'call_error',
  match: callMatch(p),
  pct: p.pct,
  ...(p.code !== undefined ? { code: p.code } : {}),
  ...(p.message !== undefined ? { message: p.message } : {}),
}));
