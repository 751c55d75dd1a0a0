/**
 * What a run acts on: a running system, seen only through what its system file declares (its RunView), its
 * controller, and the values its load mix may reference. The runner never resolves this itself — the caller (the
 * CLI, the demo; both through the supervisor, the one composition root) hands it over, so nothing under
 * src/runner/ knows how a system is started, where its state lives or which services it has.
 *
 * @example const target = runTarget('.faultline'); // src/supervisor/run-target.ts
 *          await runExperiment(exp, target, { outDir: 'runs/x' });
 */
import type { ChaosClient } from '../controller/client.ts';
import type { ScrapeTarget } from '../metrics/scraper.ts';
import type { RunView, StateSpec } from '../system/view.ts';

export interface RunTarget {
  /** The system's own description: entry, endpoints, scrape targets, switches, integrity checks, counters. */
  view: RunView;
  chaos: ChaosClient;
  /** Every process to scrape, the controller included (its proxy counters feed proxy-measured counters). */
  scrape: ScrapeTarget[];
  /** Values the mix file's `${NAME}` may use (e.g. a bearer token signed with the system's secret). */
  mixEnv: Record<string, string | undefined>;
  /** Where the system runs, as recorded in the run record. */
  where: { state_dir: string; base_port: number | null; system_file: string | null };
  /** The controller's fault-events.jsonl (annotations for the run dir), when it has one. */
  eventsFile?: string;
  /** The series a supervisor exports about each process group it runs, when one runs the system. */
  processes?: ProcessSeries;
}

/**
 * Series, scraped with the rest, that describe each instance's processes: its lifecycle as a state (shown with
 * the system's own states), the CPU and memory of its whole process group, and the machine's busy CPU time
 * (what no exported process accounts for is the difference).
 */
export interface ProcessSeries {
  /** The label naming the instance. */
  by: string;
  state: StateSpec;
  /** Counter, CPU seconds of an instance's process group. */
  cpu: string;
  /** Gauge, resident bytes of an instance's process group. */
  resident: string;
  /** Counter, the machine's busy CPU seconds over all its CPUs. */
  host_busy: string;
  /** Gauge, how many CPUs the machine has. */
  host_cpus: string;
  /** The controller's own CPU counter (it runs the proxies and the chaos API), and its pid. */
  controller?: { series: string; labels: Record<string, string>; pid: number | null };
}
