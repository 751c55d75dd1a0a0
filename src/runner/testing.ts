/**
 * For tests that judge synthetic series without a running system: what a system file like the lab's contributes
 * (an entry service `api`, its request histograms), so server-source SLIs can be read.
 */
import { withResolved } from './preflight.ts';
import type { Experiment, ResolvedSystem } from './schema.ts';

export const SYNTHETIC_SYSTEM: ResolvedSystem = {
  system: 'synthetic',
  entry_service: 'api',
  server_metrics: { http_histogram: 'lab_http_request_duration_seconds', dependency_histogram: 'lab_dependency_call_duration_seconds', ops_routes: ['/metrics', '/readyz', 'unmatched'] },
  counters: [],
};

/** The experiment as a run against SYNTHETIC_SYSTEM would have resolved it. */
export function resolvedForTests(exp: Experiment, system: ResolvedSystem = SYNTHETIC_SYSTEM): Experiment {
  return withResolved(exp, system);
}
