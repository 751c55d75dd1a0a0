/**
 * faultline's library API. Everything the CLI does is reachable from here with types.
 * @example import { startProxyServer, createProxy } from 'faultline';
 */
export { FaultlineError, type ErrorCode } from './core/errors.ts';
export { EXIT } from './core/exit.ts';
export { startProxyServer, type ProxyServer, type ProxyServerOptions, type CreateProxyInput } from './proxy/server.ts';
export { Proxy, type ProxyOptions, type ProxyJson } from './proxy/proxy.ts';
export { ProxyRegistry } from './proxy/registry.ts';
export { TOXICS } from './proxy/toxics/index.ts';
export type { ToxicDefinition, Stream } from './proxy/toxic.ts';
export type { ToxicRecord } from './proxy/toxic-collection.ts';

import { Proxy, type ProxyOptions } from './proxy/proxy.ts';

/** Starts one standalone proxy without an HTTP API (`listen` defaults to a free loopback port). */
export function createProxy(options: Omit<ProxyOptions, 'listen'> & { listen?: string }): Promise<Proxy> {
  return Proxy.create({ listen: '127.0.0.1:0', ...options });
}
export { runLoad, planRequests, type LoadOptions, type LoadRun, type ScheduleSpec } from './load/run.ts';
export { readK6Results, k6Endpoints, type K6Evidence } from './load/k6/results.ts';
export { exportK6, type K6ExportOptions } from './load/k6/export.ts';
export { findBreakpoint, parseSlo, type BreakpointOptions, type BreakpointResult, type StepResult } from './load/breakpoint.ts';
export type { SecondSample, LoadSummary, LoadEvent, EndpointStats } from './load/samples.ts';
export type { LoadOutput, RunInfo } from './load/outputs/output.ts';
export { EXECUTORS } from './load/executors/index.ts';
export { startLab, runForeground, startDetached, type RunningLab, type UpOptions } from './supervisor/daemon.ts';
export { stopLab, labStatus, type LabStatus, type DownResult } from './supervisor/control.ts';
export { DEFAULT_BASE_PORT, type ServiceSpec } from './supervisor/topology.ts';
export { ProcessManager, type ServiceStatus, type ServiceState } from './supervisor/process-manager.ts';
export { labToken, signToken } from './supervisor/token.ts';
export { parseExposition, type Sample, type Exposition } from './metrics/exposition.ts';
export { SeriesStore, type Series, type LabelMatch } from './metrics/store.ts';
export { Scraper, type ScrapeTarget, type ScraperOptions } from './metrics/scraper.ts';
export { histogramQuantile, increase, rate, ratio, windowHistogram, type Bucket } from './metrics/sli.ts';
export { loadExperiment, loadExperiments, parseExperiment, type Experiment, type SliSpec } from './runner/schema.ts';
export { runExperiment, type RunOptions, type Progress } from './runner/run.ts';
export { preflight } from './runner/preflight.ts';
export type { RunTarget } from './runner/target.ts';
export { runTarget, runningSystem } from './supervisor/run-target.ts';
export { loadSystem, validateSystem, type System } from './system/system.ts';
export { runView, type RunView } from './system/view.ts';
export { computeVerdict, mttrSeconds, timeToDetect, type Verdict, type Marks, type Result } from './runner/evaluate.ts';
export { readRun, rejudge, writeReports, type RunRecord } from './runner/record.ts';
export { REPORTS } from './runner/reports/index.ts';
