/**
 * The agent token: random, kept in the state dir (mode 0600), created on first use. Apart from the chaos API
 * token on purpose: a service holding it can take part in the agent channel, but cannot inject faults.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function agentToken(stateDir: string): string {
  const file = join(stateDir, 'agent-token');
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
