/**
 * The running system of a state dir, as a run sees it: its system file (the one `up` recorded in lab.json)
 * resolved at the base port it runs on, the run view read off it, a controller client with the state dir's
 * token, and the mix values (a bearer token signed with the system's secret, as FAULTLINE_LAB_TOKEN).
 *
 * @example const { verdict } = await runExperiment(exp, runTarget('.faultline'), { outDir });
 */
import { ChaosClient } from '../controller/client.ts';
import { chaosToken } from '../controller/token.ts';
import { FaultlineError } from '../core/errors.ts';
import { readJson } from '../core/json-file.ts';
import type { RunTarget } from '../runner/target.ts';
import { loadSystem, type System } from '../system/system.ts';
import { runView } from '../system/view.ts';
import { PROXY_PROCESS_CPU } from '../proxy/metrics.ts';
import { labStatus } from './control.ts';
import { PROCESS_SERIES } from './service-metrics.ts';
import { statePaths } from './state-dir.ts';
import { labToken } from './token.ts';
import { LAB_SYSTEM_FILE } from './topology.ts';

/** The system file a state dir's daemon runs, resolved at its base port. */
export function runningSystem(stateDir: string): { system: System; file: string; base: number } {
  const status = labStatus(stateDir);
  if (!status.running || !status.controller_url || status.base_port === null) {
    throw new FaultlineError('LAB_NOT_RUNNING', `no running system in ${status.state_dir} (phase: ${status.phase}); faultline run needs one (faultline up --detach)`);
  }
  const file = readJson<{ system_file?: string }>(statePaths(stateDir).labFile)?.system_file ?? LAB_SYSTEM_FILE;
  return { system: loadSystem(file, { basePort: status.base_port }), file, base: status.base_port };
}

export function runTarget(stateDir: string): RunTarget {
  const status = labStatus(stateDir);
  const { system, file, base } = runningSystem(stateDir);
  const view = runView(system);
  const paths = statePaths(stateDir);
  return {
    view,
    chaos: new ChaosClient(status.controller_url!, chaosToken(status.state_dir)),
    scrape: [...view.scrape, { service: 'controller', url: `${view.controllerUrl}/metrics` }],
    mixEnv: { ...process.env, FAULTLINE_LAB_TOKEN: labToken(stateDir, 6 * 3600, 'faultline-run') },
    where: { state_dir: paths.root, base_port: base, system_file: file },
    eventsFile: `${paths.root}/fault-events.jsonl`,
    processes: { ...PROCESS_SERIES, controller: { series: PROXY_PROCESS_CPU, labels: { service: 'controller' }, pid: status.controller_pid ?? null } },
  };
}
