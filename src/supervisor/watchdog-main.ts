/**
 * The watchdog's entry point, bundled by `scripts/build.mjs` into `dist/watchdog.mjs` so it starts without
 * compiling TypeScript: `node dist/watchdog.mjs --state-dir <dir> --bin <faultline>`.
 */
import { watch } from './watchdog.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const stateDir = arg('--state-dir');
const bin = arg('--bin');
if (stateDir === undefined || bin === undefined) {
  process.stderr.write('usage: node dist/watchdog.mjs --state-dir <dir> --bin <path of bin/faultline>\n');
  process.exit(2);
}
// The watchdog outlives anything the controller does; only its own failure may end it, and even then the
// controller notices within a second and starts another.
process.on('unhandledRejection', (err) => process.stderr.write(`watchdog: unhandled rejection: ${(err as Error)?.stack ?? err}\n`));
await watch({ stateDir, bin });
process.exit(0);
