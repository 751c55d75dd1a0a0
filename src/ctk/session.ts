/**
 * What one CTK run holds beyond the experiment: the running system it acts on (controller, toxiproxy API, entry
 * URL), the faults and toxics it applied (for the journal, the crash file and the verdict's marks), and the load
 * it started with the users' per-request records its SLI probes read. python.ts's functions act on it.
 */
import { ChaosClient } from '../controller/client.ts';
import { chaosToken } from '../controller/token.ts';
import type { LoadRun } from '../load/run.ts';
import type { LoadSummary } from '../load/samples.ts';
import { RequestLog } from '../metrics/requests.ts';
import { readJson } from '../core/json-file.ts';
import { labStatus } from '../supervisor/control.ts';
import { statePaths } from '../supervisor/state-dir.ts';
import { loadSystem } from '../system/system.ts';
import { runView } from '../system/view.ts';

/** A running faultline system, as the CTK runner reaches it. */
export interface SystemHandle {
  name: string;
  controllerUrl: string;
  chaos: ChaosClient;
  stateDir: string;
  entryUrl?: string;
}

/** One fault or toxic the run applied (and when it went away). */
export interface AppliedFault {
  kind: 'fault' | 'toxic';
  /** Controller fault id, or `proxy/toxic` for a toxic. */
  id: string;
  type: string;
  target: string;
  params: Record<string, unknown>;
  t_start: number;
  t_stop?: number;
  mechanism?: string;
}

export interface LoadState {
  run: LoadRun;
  requests: RequestLog;
  t0: number;
  t_end?: number;
  rate: number;
  seed: number;
  timeout_ms: number;
  mix: string;
  mixFile?: string;
  summary?: LoadSummary;
  consumed: Promise<void>;
}

export class CtkSession {
  readonly applied: AppliedFault[] = [];
  readonly notes: string[] = [];
  load?: LoadState;
  /** Called whenever `applied` changes (the crash file follows it). */
  onChange?: () => void;

  constructor(
    readonly system: SystemHandle | undefined,
    readonly experimentDir: string,
    readonly stateDir: string,
  ) {}

  record(f: AppliedFault): void {
    this.applied.push(f);
    this.onChange?.();
  }

  stopped(id: string, at = Date.now()): void {
    for (const f of this.applied) if (f.id === id && f.t_stop === undefined) f.t_stop = at / 1000;
    this.onChange?.();
  }

  /** Stops the load (if any) and waits for its summary. */
  async stopLoad(): Promise<LoadSummary | undefined> {
    const l = this.load;
    if (!l) return undefined;
    if (l.t_end === undefined) {
      l.run.abort();
      l.t_end = Date.now();
    }
    await l.consumed;
    return l.summary;
  }
}

/** The running system in `stateDir`, or undefined when none runs there. */
export function systemHandle(stateDir: string): SystemHandle | undefined {
  const status = labStatus(stateDir);
  if (!status.running || !status.controller_url) return undefined;
  let entryUrl: string | undefined;
  let name = 'system';
  try {
    const file = readJson<{ system_file?: string; base_port?: number }>(statePaths(stateDir).labFile);
    if (file?.system_file) {
      const view = runView(loadSystem(file.system_file, { basePort: status.base_port ?? file.base_port }));
      entryUrl = view.entryUrl;
      name = view.system;
    }
  } catch {
    /* no entry known: start_load then needs an explicit target */
  }
  return { name, controllerUrl: status.controller_url, chaos: new ChaosClient(status.controller_url, chaosToken(status.state_dir)), stateDir: status.state_dir, entryUrl };
}
