/**
 * clock_skew: moves the target process's wall clock by offset_s seconds (either way) while it runs. The lab
 * starts node services under libfaketime reading an offset file on every clock call; apply writes "+300s" or
 * "-300s" there, revert writes "+0". Monotonic clocks are not faked, so timers keep working while the wall
 * clock (Date, token expiry, Date headers, cache TTLs by wall time) is off.
 *
 *   controller ──write "+300s"──▶ <state>/faketime/<service> ◀──read per call── libfaketime in the process
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { libfaketimePath } from '../../../core/platform.ts';
import { defineInjector } from '../../injector.ts';

export interface ClockHandle {
  file: string;
  offset_s: number;
}

/** The offset an offset file holds, in seconds (0 for "+0", empty or unreadable). */
export function readOffset(file: string): number {
  try {
    const m = /^([+-]\d+(?:\.\d+)?)([smhdy]?)/.exec(readFileSync(file, 'utf8').trim());
    if (!m) return 0;
    const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, y: 31_536_000 }[m[2]] ?? 1;
    return Number(m[1]) * unit;
  } catch {
    return 0;
  }
}

/** Replaces the file in one step, so the process never reads half an offset. */
function writeOffset(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${text}\n`);
  renameSync(tmp, file);
}

export const clockSkew = defineInjector<{ offset_s: number }, ClockHandle>({
  type: 'clock_skew',
  family: 'clock',
  summary: "moves the target process's wall clock by offset_s seconds (libfaketime, at run time)",
  params: z.strictObject({
    offset_s: z
      .number()
      .int()
      .min(-315_360_000)
      .max(315_360_000)
      .refine((v) => v !== 0, 'must not be 0 (that is no skew)'),
  }),
  unsupported: (t) =>
    t.clockFile === undefined
      ? `${t.name} was not started under libfaketime (node lab services are, when the Debian package libfaketime is installed)`
      : null,
  probe: async () => (libfaketimePath() ? null : 'libfaketime is not installed (Debian package libfaketime)'),
  mechanism: () => 'libfaketime offset file',
  plan: (t, p) => {
    if (t.clockFile === undefined) throw new FaultlineError('CAPABILITY_MISSING', `${t.name} has no libfaketime offset file`);
    return { file: t.clockFile, offset_s: p.offset_s };
  },
  async apply(handle) {
    writeOffset(handle.file, `${handle.offset_s >= 0 ? '+' : ''}${handle.offset_s}s`);
  },
  async revert(handle) {
    // No file = the lab (state dir) is gone, and with it every process that read it: nothing to undo.
    if (existsSync(handle.file)) writeOffset(handle.file, '+0');
  },
  verify: async (handle) => readOffset(handle.file) !== 0,
});
