/**
 * The agent runs from one self-contained file, dist/agent.mjs: the processes it is loaded into have their own
 * node_modules (or none), so it may import nothing but Node's built-ins, and it must start in milliseconds with no
 * TypeScript compiled. `scripts/build.ts` builds it (it is what `faultline/agent` exports); the supervisor
 * rebuilds it before starting an `agent: true` service when a source changed since (a developer's checkout).
 *
 *   src/agent/register.ts ─esbuild (core/bundle.ts)─▶ dist/agent.mjs + dist/agent.inputs.json
 */
import { selfContainedBundle } from '../core/bundle.ts';

const AGENT = selfContainedBundle({ name: 'agent', what: 'the runtime agent', entry: 'src/agent/register.ts', builtinsOnly: true });

export const AGENT_BUNDLE = AGENT.path;

/** Bundles the agent; returns the bundle's path. */
export const buildAgent = (): Promise<string> => AGENT.build();

/** The bundle's path, built first when it is missing or stale. */
export const ensureAgentBundle = (log?: (line: string) => void): Promise<string> => AGENT.ensure(log);
