/**
 * Everything about an experiment that can be checked before any load starts, against the system it will run on
 * (the way k6 checks every scenario first): each fault's type, params and target through the controller's dry run
 * (`POST /chaos/validate`: the injector's own schema and whether that target can take that type), SLI services and
 * the server metrics a server-source SLI needs, the counters an integrity gate cites, the mitigations switch. Every
 * problem is reported at once (INVALID_INPUT, exit 2); on success the experiment comes back resolved: defaults
 * filled from the system file, and what a verdict needs of it kept in `resolved`.
 *
 * @example const exp = await preflight(loadExperiment('exp.yaml'), runTarget('.faultline'));
 */
import { relative } from 'node:path';
import { throwIfIssues, type Issue } from '../core/errors.ts';
import type { Experiment, ResolvedSystem } from './schema.ts';
import type { RunTarget } from './target.ts';

const PROXY_METRIC: Record<'connections' | 'bytes_up' | 'bytes_down', { metric: string; labels: Record<string, string> }> = {
  connections: { metric: 'faultline_proxy_connections_total', labels: {} },
  bytes_up: { metric: 'toxiproxy_proxy_sent_bytes_total', labels: { direction: 'upstream' } },
  bytes_down: { metric: 'toxiproxy_proxy_sent_bytes_total', labels: { direction: 'downstream' } },
};

/** The system-side checks and defaults alone (no controller needed): what `preflight` adds to the fault dry run. */
export function resolveAgainst(exp: Experiment, target: Pick<RunTarget, 'view' | 'scrape'>): { experiment: Experiment; issues: Issue[] } {
  const view = target.view;
  const issues: Issue[] = [];
  const instances = new Set(Object.values(view.services).flat());
  const scraped = new Set(target.scrape.map((t) => t.service));
  const entry = view.entryService ?? '';
  const histogram = view.serverMetrics?.http_histogram;
  const sli = exp.hypothesis.sli.map((s, i) => {
    const service = s.service === '' ? entry : s.service;
    const at = `hypothesis.sli[${i}]`;
    if (s.source === 'server') {
      if (!instances.has(service)) issues.push({ path: `${at}.service`, message: `${view.system} has no instance ${JSON.stringify(service)} (instances: ${[...instances].join(', ')})` });
      else if (!scraped.has(service)) issues.push({ path: `${at}.service`, message: `${service} declares no metrics in ${view.system}'s system file: a server-source SLI cannot be read; use source: users` });
      if ((s.histogram ?? histogram) === undefined) issues.push({ path: `${at}.histogram`, message: `${view.system}'s system file names no server_metrics.http_histogram: give the histogram here, or use source: users` });
    }
    return { ...s, service, ...(s.histogram ?? histogram ? { histogram: s.histogram ?? histogram } : {}) };
  });
  const counters = new Map(view.counters.map((c) => [c.name, c]));
  const maxIncrease = { ...exp.integrity.max_increase, ...(exp.integrity.max_duplicate_charges !== undefined ? { duplicate_charges: exp.integrity.max_duplicate_charges } : {}) };
  for (const name of Object.keys(maxIncrease)) {
    if (!counters.has(name)) {
      const path = name === 'duplicate_charges' && exp.integrity.max_duplicate_charges !== undefined ? 'integrity.max_duplicate_charges' : `integrity.max_increase.${name}`;
      issues.push({ path, message: `${view.system} declares no counter ${JSON.stringify(name)} (counters: ${[...counters.keys()].join(', ') || 'none'})` });
    }
  }
  const wantsMitigations = Object.keys(exp.mitigations).length > 0 && !(Object.keys(exp.mitigations).length === 1 && exp.mitigations.preset === 'none');
  if (wantsMitigations && Object.keys(view.switches).length === 0) {
    issues.push({ path: 'mitigations', message: `${view.system}'s system file declares no mitigations switch (mitigations.http), so these settings cannot be applied` });
  }
  const writeChecks = view.integrity.filter((c) => c.writes).map((c) => c.writes!.endpoint);
  const writeEndpoint = exp.integrity.write_endpoint ?? writeChecks[0];
  if (exp.integrity.write_endpoint !== undefined && !(exp.integrity.write_endpoint in view.endpoints) && writeChecks.length > 0 && !writeChecks.includes(exp.integrity.write_endpoint)) {
    issues.push({ path: 'integrity.write_endpoint', message: `not an endpoint ${view.system}'s writes checks name (${writeChecks.join(', ')})` });
  }
  const resolved: ResolvedSystem = {
    system: view.system,
    ...(view.entryService !== undefined ? { entry_service: view.entryService } : {}),
    ...(view.serverMetrics ? { server_metrics: view.serverMetrics } : {}),
    counters: view.counters.map((c) => ({
      name: c.name,
      ...(c.series
        ? { metric: c.series.name, labels: { ...c.series.labels, service: c.series.service } }
        : { metric: PROXY_METRIC[c.proxy!.measure].metric, labels: { ...PROXY_METRIC[c.proxy!.measure].labels, proxy: c.proxy!.name } }),
      ...(c.per_endpoint ? { per_endpoint: c.per_endpoint } : {}),
    })),
  };
  const experiment: Experiment = {
    ...exp,
    hypothesis: { ...exp.hypothesis, sli },
    integrity: { ...exp.integrity, max_increase: maxIncrease, ...(writeEndpoint !== undefined ? { write_endpoint: writeEndpoint } : {}) },
    resolved,
  };
  return { experiment, issues };
}

/**
 * An experiment re-read from its file, given what a run of it recorded of its system (`faultline report`
 * re-judging a run dir): the same defaults as the run filled.
 */
export function withResolved(exp: Experiment, resolved: ResolvedSystem | undefined): Experiment {
  if (exp.resolved || !resolved) return exp;
  const histogram = resolved.server_metrics?.http_histogram;
  const sli = exp.hypothesis.sli.map((s) => ({ ...s, service: s.service === '' ? (resolved.entry_service ?? '') : s.service, ...(s.histogram ?? histogram ? { histogram: s.histogram ?? histogram } : {}) }));
  return { ...exp, hypothesis: { ...exp.hypothesis, sli }, resolved };
}

/**
 * Checks `exp` against the running system and returns it resolved; throws one INVALID_INPUT naming every problem
 * (fault type, params, target, mitigations, SLIs, counters) with its path in the experiment file.
 */
export async function preflight(exp: Experiment, target: RunTarget): Promise<Experiment> {
  const { experiment, issues } = resolveAgainst(exp, target);
  const checked = await target.chaos.validate(exp.faults.map((f) => ({ type: f.type, target: f.target, params: f.params, duration_s: 60 })));
  checked.faults.forEach((f, i) => {
    for (const issue of f.issues) issues.push({ path: `faults[${i}].${issue.path}`, message: issue.message });
  });
  throwIfIssues(issues, `${relative(process.cwd(), exp.source) || exp.source}: `);
  return experiment;
}
