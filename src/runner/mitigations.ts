/**
 * Carries an experiment's `mitigations:` block to the system's mitigations switch (its system file's
 * `mitigations.http`: a loopback URL on each instance that answers GET with its settings and takes new ones by
 * POST): every instance gets the block before the run and its previous settings back after it, so the next
 * experiment starts from what the system had. This module alone talks to that switch; the block's meaning belongs
 * to the system, which validates it.
 */

export interface MitigationsApplied {
  requested: Record<string, unknown>;
  /** Human summary for the run record: which services took the block, which have no switch. */
  applied: string;
  restore(): Promise<void>;
}

/**
 * @example
 *   const m = await applyMitigations({ 'orders-1': 'http://127.0.0.1:27181/__lab/mitigations' }, { preset: 'all' });
 *   try { … } finally { await m.restore(); }
 */
export async function applyMitigations(services: Record<string, string>, block: Record<string, unknown>): Promise<MitigationsApplied> {
  if (Object.keys(block).length === 0) return { requested: block, applied: 'none requested (the system keeps its current settings)', restore: async () => {} };
  const took: string[] = [];
  const without: string[] = [];
  const refused: string[] = [];
  const previous = new Map<string, unknown>();
  for (const [name, base] of Object.entries(services)) {
    const url = base;
    try {
      const before = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (before.status === 404) {
        without.push(name);
        continue;
      }
      previous.set(name, await before.json());
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(block), signal: AbortSignal.timeout(3000) });
      if (res.ok) took.push(name);
      else refused.push(`${name}: ${((await res.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${res.status}`}`);
    } catch (err) {
      without.push(`${name} (${(err as Error).message})`);
    }
  }
  const parts: string[] = [];
  if (took.length) parts.push(`applied on ${took.join(', ')}`);
  if (without.length) parts.push(`not applied on ${without.join(', ')} (no mitigation switch)`);
  if (refused.length) parts.push(`refused: ${refused.join('; ')}`);
  return {
    requested: block,
    applied: parts.join('; '),
    restore: async () => {
      for (const [name, prev] of previous) {
        await fetch(services[name], { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(prev), signal: AbortSignal.timeout(3000) }).catch(() => {});
      }
    },
  };
}
