/** Shared fixtures for e2e files that start a lab: a base port whose every lab port is free right now, and its injected faults. */
import { chaosToken } from '../../src/controller/token.ts';
import { isPortFree } from '../../src/supervisor/health.ts';
import { labSystem } from '../../src/supervisor/topology.ts';
import { systemPorts } from '../../src/system/system.ts';

/**
 * A random base port in 12000–26000 (below 32768: outside the kernel's ephemeral range, so outgoing connections
 * cannot grab a lab port mid-start) whose controller, service and proxy ports are all free.
 */
export async function freeBasePort(): Promise<number> {
  const offsets = systemPorts(labSystem(0));
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 15) * 1_000;
    if ((await Promise.all(offsets.map((o) => isPortFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free lab port range found');
}

/** The faults a lab's controller lists as injected right now (what an e2e test checks is gone after a run). */
export async function activeFaults(controller: string, stateDir: string): Promise<unknown[]> {
  const res = await fetch(`${controller}/chaos/faults`, { headers: { authorization: `Bearer ${chaosToken(stateDir)}` } });
  const body = (await res.json()) as { faults: { phase: string }[] };
  return body.faults.filter((f) => f.phase === 'injected');
}
