// The project's build step (run by scripts/setup.sh): what must run without compiling TypeScript at run time.
// Today that is the dead-man watchdog, bundled into dist/watchdog.mjs.
import { buildWatchdog } from '../src/supervisor/watchdog-bundle.ts';

const t0 = performance.now();
const out = await buildWatchdog();
console.log(`build: ${out} (${(performance.now() - t0).toFixed(0)} ms)`);
