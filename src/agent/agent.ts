/**
 * The runtime agent: loaded into any Node process with `node --import faultline/agent app.js` (or NODE_OPTIONS),
 * it lets the controller inject faults inside the process without a line of the app changing.
 *
 *   env FAULTLINE_AGENT_CONTROLLER + FAULTLINE_AGENT_TOKEN absent ─▶ nothing: no patch, no timer, no socket
 *   present ─▶ hooks (http server, http client, fetch, pg, ioredis) ─▶ RuleTable ◀─ Channel ◀─▶ controller hub
 *                                        └─▶ Discovery ─────────────────────────────┘
 *
 * The agent removes its own variables from process.env once read, so neither the app nor the processes it
 * spawns see the token (a child that inherits NODE_OPTIONS loads the agent, finds no env, and does nothing).
 */
import { basename } from 'node:path';
import { Channel } from './channel.ts';
import type { AgentCore } from './core.ts';
import { Discovery } from './discovery.ts';
import { countError } from './guard.ts';
import { patchFetch } from './patches/fetch.ts';
import { patchHttpClient } from './patches/http-client.ts';
import { patchHttpServer } from './patches/http-server.ts';
import { ioredisPatch } from './patches/ioredis.ts';
import { patchModules } from './patches/modules.ts';
import { pgPatch } from './patches/pg.ts';
import { AGENT_ENV, type LibraryInfo } from './protocol.ts';
import { RuleTable } from './rules.ts';

export interface RunningAgent {
  readonly service: string;
  readonly core: AgentCore;
  readonly channel: Channel;
  /** Disarms every rule, removes every hook, closes the channel. */
  stop(): void;
}

const INSTALLED = Symbol.for('faultline.agent');

/** What the environment configures, or why it configures nothing (null: not asked to run). */
export function agentConfig(env: NodeJS.ProcessEnv): { controller: URL; token: string; service: string } | null | { error: string } {
  const controller = env[AGENT_ENV.controller];
  const token = env[AGENT_ENV.token];
  if (!controller || !token) return null;
  let url: URL;
  try {
    url = new URL(controller);
  } catch {
    return { error: `${AGENT_ENV.controller} is not a URL: ${JSON.stringify(controller)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `${AGENT_ENV.controller} must be an http:// or https:// URL (got ${url.protocol})` };
  const service = env[AGENT_ENV.service] || basename(process.argv[1] ?? 'node').replace(/\.[cm]?[jt]s$/, '') || 'node';
  return { controller: url, token, service };
}

/**
 * Starts the agent from `env`, or returns null (having touched nothing) when env does not ask for it.
 * @example const agent = startAgent(process.env); // null without FAULTLINE_AGENT_CONTROLLER + FAULTLINE_AGENT_TOKEN
 */
export function startAgent(env: NodeJS.ProcessEnv = process.env): RunningAgent | null {
  const config = agentConfig(env);
  if (config === null) return null;
  if ('error' in config) {
    process.stderr.write(`faultline agent: not started: ${config.error}\n`);
    return null;
  }
  const registry = globalThis as unknown as Record<symbol, RunningAgent | undefined>;
  if (registry[INSTALLED] !== undefined) return registry[INSTALLED]!;
  for (const k of Object.values(AGENT_ENV)) delete env[k];
  const libraries = new Map<string, LibraryInfo>();
  let channel: Channel | undefined;
  const core: AgentCore = { rules: new RuleTable(), discovery: new Discovery(), libraries, isOwn: (r) => channel?.isOwn(r) ?? false };
  channel = new Channel(core, config);
  const undo: (() => void)[] = [];
  for (const [name, install] of [
    ['http.server', () => patchHttpServer(core)],
    ['http.client', () => patchHttpClient(core)],
    ['fetch', () => patchFetch(core)],
    ['modules', () => patchModules(core, [pgPatch, ioredisPatch])],
  ] as const) {
    try {
      undo.push(install());
    } catch (err) {
      countError(`install.${name}`, err);
    }
  }
  libraries.set('http', { name: 'http', version: process.versions.node, patched: true });
  if (typeof globalThis.fetch === 'function') libraries.set('fetch', { name: 'fetch', version: process.versions.undici, patched: true });
  channel.start();
  const agent: RunningAgent = {
    service: config.service,
    core,
    channel: channel,
    stop() {
      core.rules.disarmAll();
      for (const u of undo.reverse()) u();
      channel!.stop();
      registry[INSTALLED] = undefined;
    },
  };
  registry[INSTALLED] = agent;
  return agent;
}
