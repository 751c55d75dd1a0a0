/**
 * `faultline doctor`'s logic: which fault types this machine can carry, and why not. It owns nothing but the
 * report — each injector says for itself what it needs through its optional `probe()` (run here, all at once,
 * each bounded by a timeout); a type without a probe needs nothing beyond faultline itself.
 *
 *   FAULT_TYPES ─▶ probe() per type (parallel, 5 s cap) ─▶ [{type, family, mechanism, supported, reason}]
 */
import type { Target } from './injector.ts';
import { FAULT_TYPES, type AnyInjector } from './registry.ts';

export interface DoctorRow {
  type: string;
  family: string;
  summary: string;
  /** How the fault is carried, as shown for a lab-like target (a proxy, an HTTP address, a pid record). */
  mechanism: string;
  supported: boolean;
  /** Why not, when not supported. */
  reason: string | null;
}

export interface DoctorReport {
  platform: string;
  uid: number | null;
  types: DoctorRow[];
  all_supported: boolean;
}

const PROBE_TIMEOUT_MS = 5_000;

/** A target with every surface, so mechanism() can describe itself without a running lab. */
const SAMPLE: Target = {
  name: 'service',
  proxy: { api: 'http://<controller>', name: 'service' },
  http: 'http://<service>',
  port: 1,
  pidFile: '/nonexistent/pids/service.json',
};

async function probeOne(injector: AnyInjector): Promise<string | null> {
  if (injector.probe === undefined) return null;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      injector.probe(),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`capability probe did not answer within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    return `capability probe failed: ${(err as Error).message ?? String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Probes every registered fault type.
 * @example const report = await doctor(); if (!report.all_supported) console.log(report.types.filter((t) => !t.supported));
 */
export async function doctor(types: ReadonlyMap<string, AnyInjector> = FAULT_TYPES): Promise<DoctorReport> {
  const injectors = [...types.values()];
  const reasons = await Promise.all(injectors.map(probeOne));
  const rows = injectors.map((inj, i): DoctorRow => {
    let mechanism: string;
    try {
      mechanism = inj.mechanism(SAMPLE);
    } catch {
      mechanism = '(depends on the target)';
    }
    return { type: inj.type, family: inj.family, summary: inj.summary, mechanism, supported: reasons[i] === null, reason: reasons[i] };
  });
  return { platform: process.platform, uid: process.getuid?.() ?? null, types: rows, all_supported: rows.every((r) => r.supported) };
}
