/**
 * The name kernel-level objects of one system carry (nftables table, cgroups), derived from its state dir, so
 * two labs on one machine never share one: reverting or reconciling one lab touches only its own.
 * @example kernelScope('/tmp/lab-a') // '3f9c2a71'
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

export function kernelScope(stateDir: string): string {
  return createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8);
}
