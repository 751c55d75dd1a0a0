/**
 * faultline's own nftables table per system, `inet faultline_<scope>` (`inet faultline` for a target without a
 * scope), and nothing else in the ruleset: each kernel-level network
 * fault is one base chain in it named after the fault id (`fault_<id>`), hooked on input, whose rules all carry
 * the comment `faultline <id>`, plus one set (`ports_<id>`) holding the port it matches. Reverting a fault
 * deletes exactly its chain and set; the table goes once no chain is left, so `nft list tables` shows no
 * faultline table when no such fault is active.
 *
 *   client ──lo──▶ [input hook: fault_<id>: iifname lo, tcp dport|sport ∈ @ports_<id>, (numgen < pct) drop] ──▶ socket
 *
 * The port is a set element with the fault's TTL as its kernel timeout: when the TTL runs out the kernel drops
 * the element, the rules match nothing, and the fault has ended by itself, with no faultline process alive.
 * The empty chain and set are removed by the next revert or reconcile (watchdog, `up`, `down`).
 *
 * Only packets on the loopback interface are matched (`iifname "lo"`), so no rule can touch another address.
 * Every `nft` call goes through the core runner.
 */
import { existsSync } from 'node:fs';
import { debuglog } from 'node:util';
import { CommandError, run } from '../../../core/exec.ts';
import { FaultlineError } from '../../../core/errors.ts';

/** The table of a system's kernel-level network faults: one per scope, so labs never share one. */
export function tableFor(scope?: string): string {
  if (scope !== undefined && !/^[a-z0-9]{1,16}$/.test(scope)) throw new FaultlineError('INVALID_INPUT', `scope not usable in an nft table name: ${scope}`);
  return scope === undefined ? 'faultline' : `faultline_${scope}`;
}

/** A handle's table as journaled ('inet faultline' by earlier versions, a bare name now). */
export function tableOf(handle: { table: string }): string {
  return handle.table.replace(/^inet /, '');
}
const log = debuglog('faultline');
const NFT_TIMEOUT_MS = 10_000;

/** The chain a fault owns. Fault ids are hex, so this is always a valid nft identifier. */
export function chainFor(id: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new FaultlineError('INVALID_INPUT', `fault id not usable as an nft chain name: ${id}`);
  return `fault_${id.replaceAll('-', '_')}`;
}

/** The set holding the port a fault matches (its element expires with the fault's TTL). */
export function setFor(id: string): string {
  return chainFor(id).replace(/^fault_/, 'ports_');
}

/** Where nft is, or undefined (Debian package nftables). */
export function nftPath(): string | undefined {
  return ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p));
}

/** Why kernel-level network faults cannot run here, checked without side effects (null when they can). */
export function staticReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (nftables rules)';
  if (nftPath() === undefined) return 'nft is not installed (Debian package nftables)';
  return null;
}

/** Runs `nft list tables`: proves the kernel and the binary work together (null) or says why not. */
export async function probeNft(): Promise<string | null> {
  const reason = staticReason();
  if (reason) return reason;
  try {
    await run(nftPath()!, ['list', 'tables'], { errorCode: 'CAPABILITY_MISSING', timeoutMs: NFT_TIMEOUT_MS, log });
    return null;
  } catch (err) {
    return `nft does not work here: ${(err as Error).message}`;
  }
}

const gone = (err: unknown): boolean => err instanceof CommandError && /No such file or directory/.test(err.stderr);

/**
 * Creates (or re-creates: idempotent) the fault's set, holding `port` for `ttlS` seconds, and its chain with one
 * rule per entry of `rules` (each a match prefix from portMatches plus an action), in one atomic nft transaction.
 * @example await installChain('faultline_3f9c2a71', 'a1b2c3', 5432, 30, portMatches('a1b2c3').map((m) => `${m} drop`))
 */
export async function installChain(table: string, id: string, port: number, ttlS: number, rules: string[]): Promise<void> {
  const chain = chainFor(id);
  const set = setFor(id);
  const lines = [
    `add table inet ${table}`,
    `add set inet ${table} ${set} { type inet_service; flags timeout; }`,
    `flush set inet ${table} ${set}`,
    `add element inet ${table} ${set} { ${port} timeout ${Math.max(1, Math.ceil(ttlS))}s }`,
    // Priority -10: before the default filter chains, so a permissive host ruleset cannot accept the packet first.
    `add chain inet ${table} ${chain} { type filter hook input priority -10; policy accept; }`,
    `flush chain inet ${table} ${chain}`,
    ...rules.map((r) => `add rule inet ${table} ${chain} ${r} comment "faultline ${id}"`),
  ];
  await run(nftPath() ?? 'nft', ['-f', '-'], { input: `${lines.join('\n')}\n`, errorCode: 'COMMAND_FAILED', timeoutMs: NFT_TIMEOUT_MS, log });
}

/** Deletes the fault's chain, then its set (absent = done), then the table if nothing else is in it. */
export async function removeChain(table: string, id: string): Promise<void> {
  const nft = nftPath() ?? 'nft';
  // The chain first: a set cannot be deleted while a rule refers to it.
  for (const args of [['chain', chainFor(id)], ['set', setFor(id)]]) {
    try {
      await run(nft, ['delete', args[0], 'inet', table, args[1]], { errorCode: 'COMMAND_FAILED', timeoutMs: NFT_TIMEOUT_MS, log });
    } catch (err) {
      if (!gone(err)) throw err;
    }
  }
  const chains = await listChains(table);
  if (chains !== null && chains.length === 0) {
    try {
      await run(nft, ['delete', 'table', 'inet', table], { errorCode: 'COMMAND_FAILED', timeoutMs: NFT_TIMEOUT_MS, log });
    } catch (err) {
      // Gone already, or another fault added a chain meanwhile (busy): either way not ours to remove.
      if (!gone(err) && !(err instanceof CommandError && /Device or resource busy/.test(err.stderr))) throw err;
    }
  }
}

/** The chains in faultline's table, or null when there is no table. */
export async function listChains(table: string): Promise<string[] | null> {
  try {
    const { stdout } = await run(nftPath() ?? 'nft', ['-j', 'list', 'table', 'inet', table], { errorCode: 'COMMAND_FAILED', timeoutMs: NFT_TIMEOUT_MS, log });
    const items = (JSON.parse(stdout) as { nftables: Record<string, { name?: string }>[] }).nftables;
    return items.filter((i) => i.chain !== undefined).map((i) => i.chain.name!);
  } catch (err) {
    if (gone(err)) return null;
    throw err;
  }
}

/** Whether the fault's set still holds its port (false once the kernel expired it, or when it is absent). */
export async function portArmed(table: string, id: string): Promise<boolean> {
  try {
    const { stdout } = await run(nftPath() ?? 'nft', ['-j', 'list', 'set', 'inet', table, setFor(id)], { errorCode: 'COMMAND_FAILED', timeoutMs: NFT_TIMEOUT_MS, log });
    const items = (JSON.parse(stdout) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables;
    return items.some((i) => (i.set?.elem?.length ?? 0) > 0);
  } catch (err) {
    if (gone(err)) return false;
    throw err;
  }
}

/** How many rules the fault's chain holds (0 when the chain or the table is absent): the verify probe. */
export async function ruleCount(table: string, id: string): Promise<number> {
  try {
    const { stdout } = await run(nftPath() ?? 'nft', ['-j', 'list', 'chain', 'inet', table, chainFor(id)], {
      errorCode: 'COMMAND_FAILED',
      timeoutMs: NFT_TIMEOUT_MS,
      log,
    });
    return (JSON.parse(stdout) as { nftables: Record<string, unknown>[] }).nftables.filter((i) => i.rule !== undefined).length;
  } catch (err) {
    if (gone(err)) return 0;
    throw err;
  }
}

/** The fault's port both ways on loopback: packets to it (requests) and from it (answers), through its set. */
export function portMatches(id: string): string[] {
  return [`iifname "lo" tcp dport @${setFor(id)}`, `iifname "lo" tcp sport @${setFor(id)}`];
}
