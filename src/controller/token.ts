/** The chaos API token: random, kept in the state dir (mode 0600), created on first use. */
import { stateDirToken } from '../core/token-file.ts';

export function chaosToken(stateDir: string): string {
  return stateDirToken(stateDir, 'chaos-token');
}
