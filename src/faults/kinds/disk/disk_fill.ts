/**
 * disk_fill: fills the target's size-bounded volume (the lab's postgres-primary PGDATA) with one file,
 * `faultline-fill-<id>`, until the volume is pct % used or only free_mb MiB are left (default: pct 100, full).
 * Revert deletes the file; verify checks it exists. The file is preallocated (fallocate, instant), then topped
 * up with writes to the last byte when a full volume is asked for, since fallocate alone leaves room for the
 * extent metadata it would need, and topped up again after a flush (see apply).
 *
 *   volume ── used by postgres ──┬── faultline-fill-<id> (fallocate + writes) ──▶ ENOSPC for postgres
 */
import { closeSync, existsSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { debuglog } from 'node:util';
import { z } from 'zod';
import { run } from '../../../core/exec.ts';
import { FaultlineError } from '../../../core/errors.ts';
import { isMounted } from '../../../core/platform.ts';
import { defineInjector } from '../../injector.ts';

const log = debuglog('faultline');
const MiB = 1024 * 1024;

export interface FillHandle {
  volume: string;
  file: string;
}

const Params = z
  .strictObject({
    pct: z.number().gt(0).max(100).optional(),
    free_mb: z.number().min(0).optional(),
  })
  .refine((p) => p.pct === undefined || p.free_mb === undefined, { message: 'give pct or free_mb, not both', path: ['free_mb'] });

type FillParams = z.output<typeof Params>;

/** Bytes to add so the volume reaches the asked fill level (0 when it is there already). */
function bytesToFill(volume: string, p: FillParams): number {
  const fs = statfsSync(volume);
  const total = fs.blocks * fs.bsize;
  const available = fs.bavail * fs.bsize;
  const used = total - fs.bfree * fs.bsize;
  const want = p.free_mb !== undefined ? available - p.free_mb * MiB : ((p.pct ?? 100) / 100) * total - used;
  return Math.max(0, Math.min(available, Math.floor(want)));
}

/** Appends zeros until `bytes` more are written or the volume is full (ENOSPC is the goal, not an error). */
function topUp(file: string, bytes: number): void {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let left = bytes; left > 0; ) {
      try {
        left -= writeSync(fd, chunk, 0, Math.min(chunk.length, left));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

export const diskFill = defineInjector<FillParams, FillHandle>({
  type: 'disk_fill',
  family: 'disk',
  summary: "fills the target's size-bounded data volume to pct % (or to free_mb MiB left) with one file",
  params: Params as unknown as z.ZodType<FillParams>,
  unsupported: (t) =>
    t.volume === undefined
      ? `${t.name} has no size-bounded volume (the lab gives postgres-primary one when run as root)`
      : isMounted(t.volume)
        ? null
        : `${t.name}'s volume ${t.volume} is not mounted (the lab mounts it at \`up\` when it can)`,
  probe: async () => (process.getuid?.() === 0 ? null : 'needs root (the lab mounts its bounded volume as root)'),
  mechanism: (t) => `fill file on ${t.volume ?? 'its volume'}`,
  plan: (t, _p, ctx) => {
    if (t.volume === undefined) throw new FaultlineError('CAPABILITY_MISSING', `${t.name} has no size-bounded volume`);
    return { volume: t.volume, file: join(t.volume, `faultline-fill-${ctx.id}`) };
  },
  async apply(handle, p) {
    // Idempotent: a file already there is this fault, applied before.
    if (existsSync(handle.file)) return;
    if (!isMounted(handle.volume)) throw new FaultlineError('TARGET_UNREACHABLE', `volume ${handle.volume} is not mounted`);
    const bytes = bytesToFill(handle.volume, p);
    const pre = Math.max(0, bytes - 4 * MiB);
    if (pre > 0) await run('fallocate', ['-l', String(pre), handle.file], { errorCode: 'COMMAND_FAILED', timeoutMs: 30_000, log });
    else closeSync(openSync(handle.file, 'a'));
    topUp(handle.file, bytes - pre);
    // ext4 reserves worst-case metadata for data still in the page cache (delayed allocation) and gives the
    // surplus back at writeback, so free space reappears after the fill. Flush, then top up again.
    for (let round = 0; round < 3; round++) {
      await run('sync', ['-f', handle.volume], { errorCode: 'COMMAND_FAILED', timeoutMs: 30_000, log });
      const more = bytesToFill(handle.volume, p);
      if (more < 64 * 1024) break;
      topUp(handle.file, more);
    }
  },
  async revert(handle) {
    if (!existsSync(handle.volume)) return; // the volume (the lab's state dir) is gone, and the file with it
    // Mount point there but nothing mounted: the file may be inside the unmounted image, out of sight. Not
    // reverted yet: the controller retries, and the next `up` mounts the volume before it reconciles.
    // (`down` reverts before it unmounts, so this only happens after a failed down or a reboot.)
    if (!isMounted(handle.volume)) throw new FaultlineError('TARGET_UNREACHABLE', `volume ${handle.volume} is not mounted; the fill file is removed once it is`);
    rmSync(handle.file, { force: true });
  },
  // Unmounted = unknown, reported as still in effect (see revert); vanished = gone.
  verify: async (handle) => (existsSync(handle.volume) && !isMounted(handle.volume)) || existsSync(handle.file),
});
