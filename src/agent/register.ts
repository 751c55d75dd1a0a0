/**
 * The entry `node --import faultline/agent` loads (bundled to dist/agent.mjs). Whatever goes wrong here, the app
 * starts as if the agent were not there.
 */
import { startAgent } from './agent.ts';

try {
  startAgent(process.env);
} catch (err) {
  try {
    process.stderr.write(`faultline agent: not started: ${String((err as Error)?.message ?? err)}\n`);
  } catch {
    /* nothing more to do */
  }
}
