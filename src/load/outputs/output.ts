/**
 * The output contract: an output receives the run's description, then one batch per second, then the summary.
 * It knows nothing of executors or the engine (k6's split); adding an output = one file in this folder.
 */
import type { LoadSummary, SecondSample } from '../samples.ts';

/** What a run is, told to outputs before the first second. */
export interface RunInfo {
  target: string;
  seed: number;
  mix: string;
  endpoints: readonly string[];
  executor: string;
  arrivals: string;
  mode: 'accuracy' | 'throughput';
  connections: number;
  pipelining: number;
  max_in_flight: number;
  planned_duration_s: number;
  expected_requests: number;
}

export interface LoadOutput {
  /** Runs before the first request; a throw here aborts the run before it starts (e.g. a port in use). */
  start?(info: RunInfo): void | Promise<void>;
  second(sample: SecondSample): void;
  end?(summary: LoadSummary): void | Promise<void>;
}
