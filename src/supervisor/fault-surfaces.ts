/**
 * The places in the lab that kernel-level faults act on, prepared by the supervisor so faults can reach them:
 *
 *   <state>/pg/primary.img ──mount -o loop──▶ <state>/pg/primary-vol/data   PGDATA of postgres-primary on a
 *       size-bounded ext4 volume (disk_fill fills it); mounted by `up`, unmounted by `down`
 *   <state>/faketime/<service>                                                libfaketime offset file each node
 *       service is started with ("+0" = true time; clock_skew writes "+300s")
 *
 * Why a loop-mounted ext4 image and not tmpfs: tmpfs data dies with the unmount, and `down` must leave no mount
 * behind, so the primary would be rebuilt (initdb + seed + base backup) on every `up`. The image file persists
 * across up/down, so a second `up` reuses the data. Size: FAULTLINE_PG_VOLUME_MB (default 256) when the image
 * is created; an existing image keeps its size. Without root (or mount/mkfs) PGDATA stays a plain directory
 * and disk faults report themselves unsupported.
 */
import { closeSync, existsSync, mkdirSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { debuglog } from 'node:util';
import { run } from '../core/exec.ts';
import type { Target } from '../faults/injector.ts';
import type { StatePaths } from './state-dir.ts';
import { isMounted, libfaketimePath } from '../core/platform.ts';
import type { ServiceSpec } from './topology.ts';

const debug = debuglog('faultline');

export interface PgVolume {
  image: string;
  mountpoint: string;
  /** PGDATA inside the volume (a subdir: ext4's root holds lost+found, and initdb wants an empty dir). */
  dataDir: string;
}

export function pgVolume(paths: StatePaths): PgVolume {
  const mountpoint = join(paths.pgDir, 'primary-vol');
  return { image: join(paths.pgDir, 'primary.img'), mountpoint, dataDir: join(mountpoint, 'data') };
}

/** PGDATA of postgres-primary: on the volume when it is mounted, else the plain directory. */
export function primaryDataDir(paths: StatePaths): string {
  const volume = pgVolume(paths);
  return isMounted(volume.mountpoint) ? volume.dataDir : join(paths.pgDir, 'primary');
}

function volumeSizeMb(): number {
  const mb = Number(process.env.FAULTLINE_PG_VOLUME_MB ?? 256);
  return Number.isFinite(mb) && mb >= 64 ? Math.floor(mb) : 256;
}

/**
 * Mounts the primary's volume (creating the image the first time); already mounted = reused. Returns false,
 * saying why in the log, when this machine cannot (not root, no mkfs.ext4, no loop devices).
 */
export async function mountPgVolume(paths: StatePaths, log: (line: string) => void, sizeMb = volumeSizeMb()): Promise<boolean> {
  const volume = pgVolume(paths);
  if (isMounted(volume.mountpoint)) return true;
  if (process.getuid?.() !== 0) {
    log('postgres-primary data on a plain directory: a size-bounded volume needs root (disk faults unsupported)');
    return false;
  }
  try {
    if (!existsSync(volume.image)) {
      const tmp = `${volume.image}.new`;
      closeSync(openSync(tmp, 'w'));
      truncateSync(tmp, sizeMb * 1024 * 1024); // sparse: costs disk only as it fills
      // -m 0: no root-reserved blocks, so "full" means full for the postgres user too.
      await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'nodiscard', tmp], { log, timeoutMs: 60_000 });
      await run('mv', [tmp, volume.image], { log });
    }
    mkdirSync(volume.mountpoint, { recursive: true });
    await run('mount', ['-o', 'loop,noatime', volume.image, volume.mountpoint], { log, timeoutMs: 30_000 });
    return true;
  } catch (err) {
    log(`postgres-primary data on a plain directory: cannot mount its volume (${(err as Error).message}); disk faults unsupported`);
    return false;
  }
}

/** Unmounts the primary's volume (the loop device goes with it); not mounted = done. Call after postgres stopped. */
export async function unmountPgVolume(paths: StatePaths, log: (line: string) => void): Promise<void> {
  const { mountpoint } = pgVolume(paths);
  for (let attempt = 0; isMounted(mountpoint); attempt++) {
    try {
      await run('umount', [mountpoint], { log, timeoutMs: 30_000, errorCode: 'COMMAND_FAILED' });
    } catch (err) {
      // Busy: a postgres process still exiting. Retry briefly; then detach it lazily so no mount stays visible.
      if (attempt < 20) await new Promise((r) => setTimeout(r, 100));
      else {
        log(`umount ${mountpoint} still busy (${(err as Error).message}); detaching lazily`);
        await run('umount', ['-l', mountpoint], { log, errorCode: 'COMMAND_FAILED' });
      }
    }
  }
  // The empty mount point stays: disk faults read "mount point present, nothing mounted" as "cannot see the
  // volume now, revert later" and only "mount point gone" (the state dir removed) as "target vanished".
}

export function faketimeFile(paths: StatePaths, service: string): string {
  return join(paths.root, 'faketime', service);
}

/**
 * Environment that makes a node service's wall clock skewable at run time: libfaketime preloaded from process
 * start, reading its offset file on every call (NO_CACHE), monotonic clocks untouched (else Node's timers stall
 * when the clock jumps back). Creates the file with "+0" when missing — never resets an existing one, so a
 * service the supervisor restarts mid-fault keeps the skew the fault set. Empty when libfaketime is missing.
 */
export function faketimeEnv(paths: StatePaths, service: string): Record<string, string> {
  const lib = libfaketimePath();
  if (lib === undefined) return {};
  const file = faketimeFile(paths, service);
  mkdirSync(join(paths.root, 'faketime'), { recursive: true });
  if (!existsSync(file)) writeFileSync(file, '+0\n');
  return { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

/** What a lab service offers kernel-level faults, as Target fields: its bounded volume, its clock offset file. */
export function kernelTargetFields(spec: ServiceSpec, paths: StatePaths): Pick<Target, 'volume' | 'clockFile'> {
  const fields: Pick<Target, 'volume' | 'clockFile'> = {};
  if (spec.kind === 'postgres-primary' && spec.pg?.volumeMb !== undefined) fields.volume = pgVolume(paths).mountpoint;
  if (spec.clock && libfaketimePath() !== undefined) fields.clockFile = faketimeFile(paths, spec.name);
  debug('kernel target fields %s %o', spec.name, fields);
  return fields;
}
