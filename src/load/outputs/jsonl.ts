/**
 * JSON lines: one `{"type":"start",…}` line, one `{"type":"second",…}` per second, one `{"type":"summary",…}`.
 * Histogram objects attached to samples are never serialised (they are for in-process callers).
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { LoadOutput } from './output.ts';

function line(value: unknown): string {
  return `${JSON.stringify(value, (k, v: unknown) => (k === 'histogram' || k === 'endpoint_histograms' ? undefined : v))}\n`;
}

/**
 * Writes to a stream (e.g. stdout for `--json`) or, given a path, to a file it creates (`--out`). A file is closed
 * after the summary unless `keepOpen` (then call `close()`), so a caller can append its own verdict lines.
 * @example runLoad({ …, outputs: [jsonlOutput('run.jsonl')] });
 */
export function jsonlOutput(
  dest: string | Writable,
  { keepOpen = false } = {},
): LoadOutput & { lines: (extra: unknown) => void; close: () => Promise<void> } {
  const stream: Writable = typeof dest === 'string' ? createWriteStream(dest) : dest;
  const owned = typeof dest === 'string';
  const opened =
    owned
      ? new Promise<void>((resolve, reject) => {
          stream.once('open', () => resolve());
          stream.once('error', reject);
        })
      : Promise.resolve();
  let closed = false;
  const close = async (): Promise<void> => {
    if (!owned || closed) return;
    closed = true;
    await new Promise<void>((resolve) => stream.end(resolve));
  };
  return {
    async start(info) {
      await opened;
      stream.write(line({ type: 'start', ...info }));
    },
    second(s) {
      stream.write(line(s));
    },
    lines(extra) {
      stream.write(line(extra));
    },
    async end(summary) {
      stream.write(line(summary));
      if (!keepOpen) await close();
    },
    close,
  };
}
