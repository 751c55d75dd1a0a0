/**
 * The agent token: random, kept in the state dir (mode 0600), created on first use. Apart from the chaos API
 * token on purpose: a service holding it can take part in the agent channel, but cannot inject faults.
 */
import { stateDirToken } from '../core/token-file.ts';

export function agentToken(stateDir: string): string {
  return stateDirToken(stateDir, 'agent-token');
}
