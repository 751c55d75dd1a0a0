/**
 * JSON files that other processes read while they are written (status, pid records, lab settings): written
 * whole with a rename, so a reader sees the old file or the new one, never half of either.
 */
import { renameSync, readFileSync, writeFileSync } from 'node:fs';

/** Writes JSON atomically (write + rename), so a reader never sees half a file. */
export function writeJson(file: string, value: unknown, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
