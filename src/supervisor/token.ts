/**
 * Lab access tokens: HS256 JWTs signed with the state dir's secret, carrying `iat`, `nbf` and `exp` so a clock
 * skew fault on the api has real expiry to break. The lab's api verifies them with its own code (lab/ is a
 * user of faultline and imports nothing from here).
 */
import { createHmac } from 'node:crypto';
import { FaultlineError } from '../core/errors.ts';
import { labStatus } from './control.ts';
import { labSecret, statePaths } from './state-dir.ts';

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export interface TokenClaims {
  sub: string;
  /** Seconds since the epoch. */
  iat: number;
  nbf: number;
  exp: number;
  [claim: string]: unknown;
}

/**
 * Signs `claims` with HS256.
 * @example signToken({ sub: 'me', iat: now, nbf: now, exp: now + 3600 }, secret)
 */
export function signToken(claims: TokenClaims, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/**
 * A token the running lab's api accepts, valid for `ttlS` seconds from now.
 * Throws LAB_NOT_RUNNING when no lab runs on the state dir.
 */
export function labToken(stateDir: string, ttlS = 3600, sub = 'faultline'): string {
  const status = labStatus(stateDir);
  const secret = labSecret(statePaths(stateDir), false);
  if (!status.running || secret === undefined) {
    throw new FaultlineError('LAB_NOT_RUNNING', `no running lab on ${status.state_dir} (${status.phase})`);
  }
  const now = Math.floor(Date.now() / 1000);
  return signToken({ sub, iat: now, nbf: now, exp: now + ttlS }, secret);
}
