/**
 * HS256 JWT verification for the lab's api: signature, `exp` (required) and `nbf`, against this process's
 * wall clock — so skewing that clock really expires tokens. `leewayS` is the mitigation switch.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Claims {
  sub?: string;
  exp: number;
  nbf?: number;
  iat?: number;
}

/** Why a token was refused; becomes the `reason` of the 401 body. */
export class TokenError extends Error {
  constructor(readonly reason: 'missing' | 'malformed' | 'bad_signature' | 'unsupported_alg' | 'expired' | 'not_yet_valid') {
    super(`token ${reason.replace(/_/g, ' ')}`);
  }
}

function decodePart(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenError('malformed');
  return value as Record<string, unknown>;
}

/**
 * Verifies `token` and returns its claims, or throws TokenError.
 * @example verifyToken(bearer, secret, Date.now() / 1000)
 */
export function verifyToken(token: string, secret: string, nowS: number, leewayS = 0): Claims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new TokenError('malformed');
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = decodePart(parts[0]);
    payload = decodePart(parts[1]);
  } catch {
    throw new TokenError('malformed');
  }
  if (header.alg !== 'HS256') throw new TokenError('unsupported_alg');
  const expected = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new TokenError('bad_signature');
  if (typeof payload.exp !== 'number') throw new TokenError('malformed');
  if (payload.nbf !== undefined && typeof payload.nbf !== 'number') throw new TokenError('malformed');
  if (nowS >= payload.exp + leewayS) throw new TokenError('expired');
  if (typeof payload.nbf === 'number' && nowS + leewayS < payload.nbf) throw new TokenError('not_yet_valid');
  return payload as unknown as Claims;
}
