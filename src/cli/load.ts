/**
 * `faultline load`: an open-model load run from flags. Parses and validates flags (each error names its flag),
 * wires the outputs (progress line, JSON lines, Prometheus) and maps the outcome to exit codes:
 * 0 valid run, 1 invalid (generator-bound) run, 2 bad input, 130 interrupted. `--export k6` writes the same run
 * as a k6 script instead of running it (src/load/k6/export.ts, docs/scale-out.md).
 */
import type { Command } from 'commander';
import { EXIT } from '../core/exit.ts';
import { FaultlineError } from '../core/errors.ts';
import { ARRIVAL_KINDS, type ArrivalKind } from '../load/arrivals.ts';
import { jsonlOutput } from '../load/outputs/jsonl.ts';
import type { LoadOutput } from '../load/outputs/output.ts';
import { progressOutput } from '../load/outputs/progress.ts';
import type { PrometheusOutput } from '../load/outputs/prometheus.ts';
import { formatSummary } from '../load/outputs/text.ts';
import type { LoadOptions, ScheduleSpec } from '../load/run.ts';
import { parseDuration, parseNumber } from '../core/units.ts';
import { parseStages } from '../load/units.ts';
import { progressLine } from './options.ts';

/** Flags shared by `load` and `breakpoint`, as commander hands them over (strings: we validate them). */
export interface CommonFlags {
  target?: string;
  mix?: string;
  seed?: string;
  arrivals?: string;
  connections?: string;
  pipelining?: string;
  throughput?: boolean;
  maxInFlight?: string;
  timeout?: string;
  maxLag?: string;
  errorStatus?: string;
  json?: boolean;
  out?: string;
  metricsPort?: string;
  progress?: boolean;
  precise?: boolean;
  warmup?: boolean;
}

/** Adds the flags `load` and `breakpoint` share. */
export function addCommonFlags(cmd: Command): Command {
  return cmd
    .option('--target <url>', 'loopback URL to load (http://127.0.0.1:PORT[/prefix])')
    .option('--mix <file>', 'YAML mix file (endpoints, weights, templates); default: GET the target URL')
    .option('--seed <n>', 'uint32 seed: same seed ⇒ same schedule and request bytes (default: random, printed)')
    .option('--arrivals <kind>', `arrival process: ${ARRIVAL_KINDS.join(' | ')}`, 'uniform')
    .option('--connections <n>', 'connections in the pool (default 128; 32 with --throughput)')
    .option('--pipelining <n>', 'requests per connection at a time (only with --throughput; default 16 there)')
    .option('--throughput', 'throughput mode: pipelining > 1, for rate over latency accuracy')
    .option('--max-in-flight <n>', 'arrivals beyond this many in flight are dropped and counted', '10000')
    .option('--timeout <duration>', 'per-request headers/body timeout', '10s')
    .option('--max-lag <duration>', 'dispatch-lag p99 above which the run is flagged invalid (generator-bound)', '5ms')
    .option('--error-status <n>', 'for mix endpoints without expect: the lowest HTTP status counted as an error (default: ok = 200–399)')
    .option('--json', 'print JSON lines (start, one per second, summary) on stdout instead of text')
    .option('--out <file>', 'also write the JSON lines to this file')
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:PORT/metrics while running')
    .option('--precise', 'busy-wait the last ms before each arrival: µs dispatch lag, but one busy core')
    .option('--no-warmup', 'start the schedule cold (default: ~0.3 s of warm-up first, nothing sent to the target, not counted)')
    .option('--no-progress', 'no live progress line on stderr');
}

/** Validates the shared flags into LoadOptions (minus the schedule) and the outputs they ask for. */
export async function commonOptions(
  f: CommonFlags,
  { keepOpen = false } = {},
): Promise<{
  options: Omit<LoadOptions, 'schedule'>;
  prom: PrometheusOutput | undefined;
  files: ReturnType<typeof jsonlOutput>[];
}> {
  if (!f.target) {
    throw new FaultlineError('INVALID_INPUT', '--target: required (a loopback URL such as http://127.0.0.1:8080)', {
      field: '--target',
    });
  }
  if (!ARRIVAL_KINDS.includes(f.arrivals as ArrivalKind)) {
    throw new FaultlineError('INVALID_INPUT', `--arrivals: must be one of ${ARRIVAL_KINDS.join(', ')} (got "${f.arrivals}")`, {
      field: '--arrivals',
    });
  }
  const int = (v: string | undefined, flag: string, min: number, max: number): number | undefined =>
    v === undefined ? undefined : parseNumber(v, flag, { min, max, integer: true });
  const pipelining = int(f.pipelining, '--pipelining', 1, 1024);
  if (pipelining !== undefined && pipelining > 1 && !f.throughput) {
    throw new FaultlineError('INVALID_INPUT', '--pipelining: > 1 needs --throughput (accuracy mode sends one request per connection at a time)', {
      field: '--pipelining',
    });
  }
  const outputs: LoadOutput[] = [];
  if (f.progress !== false && !f.json) outputs.push(process.stderr.isTTY ? progressOutput(process.stderr) : plainProgress());
  const files: ReturnType<typeof jsonlOutput>[] = [];
  if (f.json) files.push(jsonlOutput(process.stdout));
  if (f.out) files.push(jsonlOutput(f.out, { keepOpen }));
  outputs.push(...files);
  const metricsPort = int(f.metricsPort, '--metrics-port', 0, 65_535);
  const prom = metricsPort === undefined ? undefined : (await import('../load/outputs/prometheus.ts')).prometheusOutput(metricsPort);
  if (prom) outputs.push(prom);
  return {
    options: {
      target: f.target,
      mixFile: f.mix,
      seed: int(f.seed, '--seed', 0, 0xffffffff),
      arrivals: f.arrivals as ArrivalKind,
      mode: f.throughput ? 'throughput' : 'accuracy',
      connections: int(f.connections, '--connections', 1, 10_000),
      pipelining,
      max_in_flight: int(f.maxInFlight, '--max-in-flight', 1, 1_000_000),
      timeout_ms: parseDuration(f.timeout ?? '10s', '--timeout'),
      max_lag_ms: parseDuration(f.maxLag ?? '5ms', '--max-lag'),
      error_status_from: f.errorStatus === undefined ? undefined : int(f.errorStatus, '--error-status', 201, 600),
      spin_ms: f.precise ? 1 : 0,
      warmup: f.warmup !== false,
      outputs,
    },
    prom,
    files,
  };
}

/** Progress off a TTY (CI logs, pipes): one plain line every 5 s, where the TTY gets a live line every second. */
function plainProgress(): LoadOutput {
  const line = progressLine(process.stderr);
  let planned = 0;
  return {
    start: (info) => void (planned = Math.ceil(info.planned_duration_s)),
    second(s) {
      const t = s.total;
      line.update(`[${s.t_s + 1}/${planned}s] target ${s.target_rps}/s sent ${t.sent}/s done ${t.completed}/s drop ${t.dropped} p99 ${t.latency_ms.p99}ms`);
    },
  };
}

/** Ctrl-C / SIGTERM abort the run (it still prints its summary); returns a function that unhooks them. */
export function onInterrupt(abort: () => void): { interrupted: () => boolean; off: () => void } {
  let hit = false;
  const handler = (): void => {
    hit = true;
    abort();
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return {
    interrupted: () => hit,
    off: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

interface LoadFlags extends CommonFlags {
  rate?: string;
  duration?: string;
  stages?: string;
  startRate?: string;
  dryRun?: boolean;
  export?: string;
  experiment?: string;
}

function scheduleFrom(f: LoadFlags): ScheduleSpec {
  if (f.rate !== undefined && f.stages !== undefined) {
    throw new FaultlineError('INVALID_INPUT', '--rate and --stages: give one, not both', { field: '--stages' });
  }
  if (f.stages !== undefined) {
    if (f.duration !== undefined) {
      throw new FaultlineError('INVALID_INPUT', '--duration: not used with --stages (each stage has its own duration)', {
        field: '--duration',
      });
    }
    return {
      executor: 'ramping',
      start_rps: f.startRate === undefined ? 0 : parseNumber(f.startRate, '--start-rate', { max: 10_000_000 }),
      stages: parseStages(f.stages, '--stages'),
    };
  }
  if (f.rate === undefined) {
    throw new FaultlineError('INVALID_INPUT', '--rate: required (or --stages)', {
      field: '--rate',
      hint: 'e.g. --rate 500 --duration 60s, or --stages "30s:100,60s:500"',
    });
  }
  return {
    executor: 'constant',
    rate_rps: parseNumber(f.rate, '--rate', { min: 0.001, max: 10_000_000 }),
    duration_ms: parseDuration(f.duration ?? '60s', '--duration'),
  };
}

export function registerLoad(program: Command): void {
  addCommonFlags(
    program
      .command('load')
      .description('Open-model load: requests go out at their scheduled times whatever the responses do.')
      .option('--rate <n>', 'constant arrival rate, requests per second')
      .option('--duration <duration>', 'run length with --rate (e.g. 60s, 5m)', undefined)
      .option('--stages <list>', 'ramps instead of --rate: "30s:100,60s:500" = to 100/s over 30s, then to 500/s over 60s')
      .option('--start-rate <n>', 'rate the first stage ramps from (default 0)')
      .option('--dry-run', 'print the planned requests (JSON lines) and send nothing')
      .option('--export <format>', 'write the run as a script for another engine instead of running it: k6 (docs/scale-out.md)')
      .option('--experiment <file>', "with --export: thresholds from this experiment's SLOs; its rate, windows, mix, seed and timeout unless flags say otherwise"),
  )
    .addHelpText(
      'after',
      `
Latency is measured from each request's *intended* start (coordinated-omission-free) and from its actual send;
a run where the generator fell behind (dispatch lag p99 > --max-lag, or drops while it was late) is reported
INVALID and exits 1, so a slow client is never blamed on the server.

Before the schedule's t0 the generator warms up (unless --no-warmup): a short rehearsal of its own hot path
against a sink in its own process, and the target's first connections opened ahead. Nothing is sent to the
target and nothing counts; the summary says what it did (--json: "warmup": {duration_ms, rehearsal_requests,
connections_opened, target_requests}).

Examples:
  faultline load --target http://127.0.0.1:8080 --rate 500 --duration 60s
  faultline load --target http://127.0.0.1:8080 --mix experiments/mixes/lab-default.yaml --rate 300 --seed 42
  faultline load --target http://127.0.0.1:8080 --stages "30s:100,60s:500" --arrivals poisson --json --out run.jsonl
  faultline load --target http://127.0.0.1:8080 --rate 20000 --duration 10s --throughput --connections 64
  faultline load --target http://127.0.0.1:8080 --rate 200 --duration 30s --metrics-port 9464
  faultline load --target http://127.0.0.1:8080 --mix experiments/mixes/lab-default.yaml --rate 5 --duration 1s --dry-run --seed 7
  faultline load --export k6 --target http://127.0.0.1:8080 --experiment experiments/payments-latency-ci.yaml > script.js`,
    )
    .action(async (f: LoadFlags) => {
      if (f.export !== undefined || f.experiment !== undefined) return exportScript(f);
      const schedule = scheduleFrom(f);
      const { options, prom } = await commonOptions(f);
      const { planRequests, runLoad } = await import('../load/run.ts');
      if (f.dryRun) {
        for (const p of planRequests({ ...options, outputs: [], schedule })) {
          const { i, due_ms, request } = p;
          const { endpoint: _e, ...rest } = request;
          process.stdout.write(`${JSON.stringify({ i, due_ms: Math.round(due_ms * 1000) / 1000, ...rest })}\n`);
        }
        return;
      }
      const run = runLoad({ ...options, schedule });
      const signals = onInterrupt(() => run.abort());
      try {
        const summary = await run.result;
        if (!f.json) process.stdout.write(formatSummary(summary));
        if (signals.interrupted()) process.exitCode = EXIT.INTERRUPTED;
        else if (!summary.valid) process.exitCode = EXIT.HYPOTHESIS_FAILED;
      } finally {
        signals.off();
        await prom?.close();
      }
    });
}

/** `--export k6`: the same run (schedule, mix, seed, in-flight cap, timeout) as a k6 script on stdout; nothing is sent. */
async function exportScript(f: LoadFlags): Promise<void> {
  if (f.export !== 'k6') {
    throw new FaultlineError('INVALID_INPUT', f.export === undefined ? '--experiment: only used with --export' : `--export: the one format is k6 (got "${f.export}")`, { field: '--export' });
  }
  const [{ exportK6 }, exp] = await Promise.all([
    import('../load/k6/export.ts'),
    f.experiment === undefined ? undefined : import('../runner/schema.ts').then((m) => m.loadExperiment(f.experiment!)),
  ]);
  if (!f.target) throw new FaultlineError('INVALID_INPUT', '--target: required (the URL the script loads; k6 run -e FAULTLINE_TARGET=… overrides its origin)', { field: '--target' });
  const w = exp?.windows;
  const fromExperiment = exp !== undefined && f.rate === undefined && f.stages === undefined;
  // The schedule `faultline run` drives for the experiment: its rate over every window, plus 2 s (src/runner/run.ts).
  const schedule: ScheduleSpec = fromExperiment
    ? { executor: 'constant', rate_rps: exp.load.rate, duration_ms: (w!.warmup_s + w!.baseline_s + w!.fault_s + w!.recovery_s + 2) * 1000 }
    : scheduleFrom(f);
  const int = (v: string | undefined, flag: string, min: number, max: number): number | undefined =>
    v === undefined ? undefined : parseNumber(v, flag, { min, max, integer: true });
  const out = exportK6({
    target: f.target,
    schedule,
    mixFile: f.mix ?? exp?.mix_path,
    seed: int(f.seed, '--seed', 0, 0xffffffff) ?? exp?.load.seed,
    arrivals: f.arrivals as ArrivalKind,
    max_in_flight: int(f.maxInFlight, '--max-in-flight', 1, 1_000_000),
    timeout_ms: f.timeout !== undefined && f.timeout !== '10s' ? parseDuration(f.timeout, '--timeout') : (exp?.load.timeout_ms ?? parseDuration(f.timeout ?? '10s', '--timeout')),
    error_status_from: int(f.errorStatus, '--error-status', 201, 600),
    slis: exp?.hypothesis.sli,
    origin: `faultline ${process.argv.slice(2).join(' ')}`,
  });
  process.stdout.write(out.script);
  if (!f.json) process.stderr.write(`k6 script: seed ${out.seed}, ${Object.keys(out.options.thresholds).length} threshold(s)${out.notes.map((n) => `\n  note: ${n}`).join('')}\n`);
}
