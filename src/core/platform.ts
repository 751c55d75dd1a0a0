/**
 * Facts about this machine that several layers ask: whether a directory is a mount point, where libfaketime is.
 * Read-only probes, no side effects.
 */
import { existsSync, readFileSync } from 'node:fs';

/** Whether something is mounted exactly at `dir` (from /proc/mounts; octal escapes decoded). */
export function isMounted(dir: string): boolean {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[1]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === dir);
  } catch {
    return false;
  }
}

/** Where libfaketime is (Debian package libfaketime), or undefined. Override with FAULTLINE_LIBFAKETIME. */
export function libfaketimePath(): string | undefined {
  const candidates = [process.env.FAULTLINE_LIBFAKETIME, '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}
