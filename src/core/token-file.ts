/** A random token kept in a file of the state dir (mode 0600), created on first use. */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** @example stateDirToken('.faultline', 'chaos-token') // the same 48 hex digits on every call */
export function stateDirToken(stateDir: string, name: string): string {
  const file = join(stateDir, name);
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token) return token;
  } catch {
    /* first use */
  }
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
