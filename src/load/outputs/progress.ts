/**
 * The live one-line progress display: rewrites one stderr line per second on a TTY (nothing otherwise, so logs
 * and pipes stay clean), and clears it before the summary is printed.
 */
import type { LoadOutput, RunInfo } from './output.ts';
import type { SecondSample } from '../samples.ts';

/**
 * @example runLoad({ …, outputs: [progressOutput(process.stderr)] });
 */
export function progressOutput(stream: NodeJS.WriteStream = process.stderr): LoadOutput {
  let info: RunInfo | undefined;
  const tty = stream.isTTY === true;
  return {
    start(i) {
      info = i;
    },
    second(s: SecondSample) {
      if (!tty || !info) return;
      const t = s.total;
      const errs = t.errors.status + t.errors.timeout + t.errors.connection;
      const line =
        `[${s.t_s + 1}/${Math.ceil(info.planned_duration_s)}s] target ${s.target_rps}/s  sent ${t.sent}/s  ` +
        `done ${t.completed}/s  err ${errs}  drop ${t.dropped}  p50 ${t.latency_ms.p50}ms  p99 ${t.latency_ms.p99}ms  ` +
        `in-flight ${s.generator.in_flight}  lag p99 ${s.generator.dispatch_lag_ms.p99}ms`;
      stream.write(`\r\x1b[K${line.slice(0, Math.max(20, (stream.columns ?? 160) - 1))}`);
    },
    end() {
      if (tty) stream.write('\r\x1b[K');
    },
  };
}
