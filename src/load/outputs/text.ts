/**
 * The human end-of-run summary (what `faultline load` prints without --json): totals, latency from intended start
 * next to latency from send, per-endpoint lines, the generator's health and the validity verdict.
 */
import type { Percentiles } from '../histogram.ts';
import type { EndpointStats, LoadSummary } from '../samples.ts';

const pct = (p: Percentiles): string => `p50 ${p.p50}  p90 ${p.p90}  p99 ${p.p99}  p99.9 ${p.p999}  max ${p.max} ms`;
const errs = (s: EndpointStats): number => s.errors.status + s.errors.timeout + s.errors.connection;

/**
 * @example process.stdout.write(formatSummary(await runLoad(opts).result));
 */
export function formatSummary(s: LoadSummary): string {
  const t = s.total;
  const lines = [
    `faultline load → ${s.target}  (${s.executor}, ${s.arrivals} arrivals, mix ${s.mix}, seed ${s.seed})`,
    `  mode ${s.mode}: ${s.connections} connections × pipelining ${s.pipelining}, max in flight ${s.max_in_flight}`,
    `  planned ${s.planned_requests} over ${s.planned_duration_s}s (${s.rate_rps.target}/s)  ` +
      `sent ${t.sent} (${s.rate_rps.sent}/s)  completed ${t.completed} (${s.rate_rps.completed}/s)` +
      `${s.aborted ? '  [aborted]' : ''}`,
    `  dropped ${t.dropped} (generator-caused ${s.generator.generator_dropped})  errors ${errs(t)} ` +
      `(status ${t.errors.status}, timeout ${t.errors.timeout}, connection ${t.errors.connection})  ` +
      `unfinished ${s.unfinished}`,
    `  status codes ${Object.entries(t.status_codes).map(([c, n]) => `${c}×${n}`).join(' ') || '-'}`,
    // ok = a status the endpoint expects (200–399 unless the mix says `expect:`): a 401 on every request is an error.
    `  outcomes ${Object.entries(t.outcomes ?? {}).filter(([, n]) => n > 0).map(([o, n]) => `${o} ${n}`).join(', ') || '-'}`,
    `  latency from intended start  ${pct(t.latency_ms)}  mean ${t.mean_latency_ms} ms`,
    `  latency from actual send     ${pct(t.send_latency_ms)}`,
  ];
  for (const [name, e] of Object.entries(s.endpoints)) {
    lines.push(`  ${name}: sent ${e.sent} done ${e.completed} err ${errs(e)} drop ${e.dropped}  ${pct(e.latency_ms)}`);
  }
  const g = s.generator;
  lines.push(
    `  generator: dispatch lag p50 ${g.dispatch_lag_ms.p50} p99 ${g.dispatch_lag_ms.p99} max ${g.dispatch_lag_ms.max} ms; ` +
      `event-loop delay p99 ${g.event_loop_delay_ms.p99} ms; cpu user ${g.cpu_s.user}s sys ${g.cpu_s.system}s; ` +
      `unmeasurable seconds ${g.unmeasurable_seconds}; machine CPU pressure max ${g.cpu_pressure_max === null ? 'n/a' : `${Math.round(g.cpu_pressure_max * 100)} %`}`,
  );
  const w = s.warmup;
  lines.push(
    w
      ? `  warm-up (not counted above): ${w.duration_ms} ms, ${w.rehearsal_requests} rehearsal requests to an in-process sink, ` +
          `${w.connections_opened} connections opened to the target, ${w.target_requests} requests sent to it`
      : '  warm-up: off',
  );
  lines.push(
    s.valid
      ? '  run VALID: the generator kept to its schedule'
      : `  run INVALID (generator-bound): ${s.invalid_reasons.join('; ')}`,
  );
  return `${lines.join('\n')}\n`;
}
