/**
 * cpu_burner: a noisy neighbour. `cores` processes each keep one CPU busy pct % of the time (busy-spin for
 * pct ms out of every 100 ms), competing with the target for the machine's CPUs.
 *
 * The burners are found by a marker argument (`faultline-burner-<id>`) in their command line, not by a pid in
 * the handle: the handle is journaled before apply, when no pid exists yet, and a controller killed between the
 * spawn and the next journal write must still find them. Each burner also exits by itself when the fault's TTL
 * runs out, so a dead controller cannot leave one spinning forever.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { z } from 'zod';
import { defineInjector } from '../../injector.ts';

export interface BurnerHandle {
  marker: string;
  cores: number;
  pct: number;
}

// argv: [node, marker, pct, ttl_s] (with -e, the first extra argument is argv[1]).
const BURNER = `
const pct = Number(process.argv[2]); const until = Date.now() + Number(process.argv[3]) * 1000;
const tick = () => {
  if (Date.now() >= until) process.exit(0);
  const start = Date.now(); while (Date.now() - start < pct) {}
  setTimeout(tick, 100 - pct);
};
tick();`;

/** Live (non-zombie) burner pids carrying `marker`. */
export function burnerPids(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') pids.push(Number(entry));
    } catch {
      /* exited while we looked */
    }
  }
  return pids;
}

export const cpuBurner = defineInjector<{ cores: number; pct: number }, BurnerHandle>({
  type: 'cpu_burner',
  family: 'cgroup',
  summary: 'runs `cores` noisy-neighbour processes, each busy pct % of one CPU',
  params: z.strictObject({ cores: z.number().int().min(1).max(cpus().length * 4).default(1), pct: z.number().min(1).max(100).default(100) }),
  unsupported: () => null,
  probe: async () => null,
  mechanism: () => 'noisy-neighbour processes (busy loop)',
  // The marker carries the system's scope too, so a lab's tests and cleanup see only their own burners.
  plan: (t, p, ctx) => ({ marker: `faultline-burner-${t.scope ? `${t.scope}-` : ''}${ctx.id}`, cores: p.cores, pct: p.pct }),
  async apply(handle, _p, ctx) {
    // Idempotent: a retried apply only starts the burners that are missing.
    for (let i = burnerPids(handle.marker).length; i < handle.cores; i++) {
      const child = spawn(process.execPath, ['-e', BURNER, handle.marker, String(handle.pct), String(ctx.ttl_s)], {
        detached: true,
        stdio: 'ignore',
        env: {},
      });
      child.unref();
    }
  },
  async revert(handle) {
    const deadline = Date.now() + 2_000;
    for (;;) {
      const pids = burnerPids(handle.marker);
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (Date.now() > deadline) return; // verify reports what is left
      await new Promise((r) => setTimeout(r, 20));
    }
  },
  verify: async (handle) => burnerPids(handle.marker).length > 0,
});
