/**
 * `payments`: a stub of an external payment provider. `POST /charge` answers in ~40 ms (normal around
 * LAB_PAYMENTS_LATENCY_MS ± jitter), records each charge by idempotency key and counts duplicates (a second
 * call with a key already charged: what retries without idempotency would have double-charged). `/control`
 * turns on the dependency faults: a fraction of 5xx, time-outs (a late 504), or hangs (no answer at all).
 * `GET /charges/:key` is the lookup a careful client makes before charging again: 200 with the charge, 404 when
 * the key was never charged, 409 CHARGE_IN_PROGRESS while a charge with that key is still being processed.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import client from 'prom-client';
import { envNumber, serviceAddress } from '../common/config.ts';
import { createService, HttpError, invalid, readJsonObject, serve, type Issue, type Reply } from '../common/http.ts';
import { LabMetrics } from '../common/metrics.ts';

const { name, host, port } = serviceAddress();
const metrics = new LabMetrics(name);

/** Amounts at or above this are declined (402): a deterministic business failure, not a fault. */
const DECLINE_AT_CENTS = 1_000_000;

interface Control {
  latency_ms: number;
  jitter_ms: number;
  /** Fraction of charges answered 503, in [0, 1]. */
  error_rate: number;
  /** Status of those injected errors (a 5xx). */
  error_status: number;
  /** normal; timeout = answer 504 after timeout_ms; hang = never answer. */
  mode: 'normal' | 'timeout' | 'hang';
  timeout_ms: number;
}

const DEFAULTS: Control = {
  latency_ms: envNumber('LAB_PAYMENTS_LATENCY_MS', 40),
  jitter_ms: envNumber('LAB_PAYMENTS_JITTER_MS', 8),
  error_rate: 0,
  error_status: 503,
  mode: 'normal',
  timeout_ms: 30_000,
};
let control: Control = { ...DEFAULTS };

interface Charge {
  id: string;
  idempotency_key: string;
  amount_cents: number;
  status: 'succeeded' | 'declined';
  created_at: string;
  calls: number;
}
const charges = new Map<string, Charge>();
/** Keys with a charge being processed now (how many calls), so a lookup can say "in progress" rather than 404. */
const inProgress = new Map<string, number>();
/** Requests held open by `hang` (or waiting out `timeout`): released on reset and on shutdown. */
const held = new Set<() => void>();

const chargesTotal = new client.Counter({
  name: 'lab_payments_charges_total',
  help: 'Charge requests by result (succeeded, declined, replayed, injected_error, timeout, hang).',
  labelNames: ['result'] as const,
  registers: [metrics.registry],
});
const duplicates = new client.Counter({
  name: 'lab_payments_duplicate_charges_total',
  help: 'Charge requests for an idempotency key already charged (would be double charges without idempotency).',
  registers: [metrics.registry],
});
new client.Gauge({
  name: 'lab_payments_fault_mode',
  help: 'The injected dependency fault now in effect (1 for the active mode).',
  labelNames: ['mode'] as const,
  registers: [metrics.registry],
  collect() {
    for (const m of ['normal', 'timeout', 'hang'] as const) this.set({ mode: m }, control.mode === m ? 1 : 0);
  },
});
new client.Gauge({
  name: 'lab_payments_injected_error_ratio',
  help: 'Fraction of charges answered 503 on purpose.',
  registers: [metrics.registry],
  collect() {
    this.set(control.error_rate);
  },
});

/** A normal-ish delay: the sum of three uniforms, centred on latency_ms, spread ± jitter_ms. */
function delayMs(): number {
  const u = (Math.random() + Math.random() + Math.random()) / 3 - 0.5;
  return Math.max(0, control.latency_ms + 2 * u * control.jitter_ms);
}

function wait(ms: number, req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    const release = (): void => {
      clearTimeout(timer);
      held.delete(release);
      resolve();
    };
    const timer = ms === Infinity ? undefined : setTimeout(release, ms);
    held.add(release);
    req.socket.once('close', release);
  });
}

function parseCharge(body: Record<string, unknown>): { key: string; amount: number } {
  const issues: Issue[] = [];
  const key = body.idempotency_key;
  const amount = body.amount_cents;
  if (typeof key !== 'string' || key.length === 0 || key.length > 200) issues.push({ path: 'idempotency_key', message: 'required string of 1–200 characters' });
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) issues.push({ path: 'amount_cents', message: 'required positive integer' });
  if (issues.length > 0) throw invalid(issues);
  return { key: key as string, amount: amount as number };
}

async function charge(req: IncomingMessage): Promise<Reply> {
  const { key, amount } = parseCharge(await readJsonObject(req));
  inProgress.set(key, (inProgress.get(key) ?? 0) + 1);
  try {
    return await chargeOnce(req, key, amount);
  } finally {
    const n = (inProgress.get(key) ?? 1) - 1;
    if (n <= 0) inProgress.delete(key);
    else inProgress.set(key, n);
  }
}

async function chargeOnce(req: IncomingMessage, key: string, amount: number): Promise<Reply> {
  if (control.mode === 'hang') {
    chargesTotal.inc({ result: 'hang' });
    await wait(Infinity, req);
    throw new HttpError(503, 'RELEASED', 'a hung charge was released');
  }
  if (control.mode === 'timeout') {
    chargesTotal.inc({ result: 'timeout' });
    await wait(control.timeout_ms, req);
    throw new HttpError(504, 'UPSTREAM_TIMEOUT', 'the payment network timed out');
  }
  await wait(delayMs(), req);
  if (Math.random() < control.error_rate) {
    chargesTotal.inc({ result: 'injected_error' });
    throw new HttpError(control.error_status, 'PAYMENTS_UNAVAILABLE', 'payment provider unavailable (injected)');
  }
  const existing = charges.get(key);
  if (existing) {
    if (existing.amount_cents !== amount) {
      throw new HttpError(409, 'IDEMPOTENCY_KEY_REUSED', `key ${key} was charged ${existing.amount_cents}, not ${amount}`);
    }
    existing.calls += 1;
    duplicates.inc();
    chargesTotal.inc({ result: 'replayed' });
    return { status: existing.status === 'succeeded' ? 200 : 402, body: { ...existing, replayed: true } };
  }
  const record: Charge = {
    id: randomUUID(),
    idempotency_key: key,
    amount_cents: amount,
    status: amount >= DECLINE_AT_CENTS ? 'declined' : 'succeeded',
    created_at: new Date().toISOString(),
    calls: 1,
  };
  charges.set(key, record);
  chargesTotal.inc({ result: record.status });
  return { status: record.status === 'succeeded' ? 201 : 402, body: { ...record, replayed: false } };
}

function parseControl(body: Record<string, unknown>): Partial<Control> {
  const issues: Issue[] = [];
  const out: Partial<Control> = {};
  const known = new Set(['latency_ms', 'jitter_ms', 'error_rate', 'error_status', 'mode', 'timeout_ms']);
  for (const k of Object.keys(body)) if (!known.has(k)) issues.push({ path: k, message: `unknown field (known: ${[...known].join(', ')})` });
  for (const k of ['latency_ms', 'jitter_ms', 'timeout_ms'] as const) {
    const v = body[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 600_000) issues.push({ path: k, message: 'number of ms in [0, 600000]' });
    else out[k] = v;
  }
  if (body.error_rate !== undefined) {
    const v = body.error_rate;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) issues.push({ path: 'error_rate', message: 'number in [0, 1]' });
    else out.error_rate = v;
  }
  if (body.error_status !== undefined) {
    const v = body.error_status;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 500 || v > 599) issues.push({ path: 'error_status', message: 'integer in [500, 599]' });
    else out.error_status = v;
  }
  if (body.mode !== undefined) {
    if (body.mode !== 'normal' && body.mode !== 'timeout' && body.mode !== 'hang') issues.push({ path: 'mode', message: 'one of normal, timeout, hang' });
    else out.mode = body.mode;
  }
  if (issues.length > 0) throw invalid(issues);
  return out;
}

function releaseHeld(): void {
  for (const release of [...held]) release();
}

const server = createService({
  metrics,
  ready: () => true,
  routes: [
    { method: 'POST', pattern: /^\/charge$/, label: '/charge', handler: charge },
    {
      method: 'GET',
      pattern: /^\/charges\/([^/]+)$/,
      label: '/charges/:key',
      handler: (_req, [key]) => {
        const found = charges.get(decodeURIComponent(key));
        if (!found && inProgress.has(decodeURIComponent(key))) throw new HttpError(409, 'CHARGE_IN_PROGRESS', 'a charge with that idempotency key is being processed');
        if (!found) throw new HttpError(404, 'CHARGE_NOT_FOUND', 'no charge with that idempotency key');
        return { status: 200, body: found };
      },
    },
    {
      method: 'GET',
      pattern: /^\/stats$/,
      label: '/stats',
      handler: () => {
        let dup = 0;
        for (const c of charges.values()) dup += c.calls - 1;
        return { status: 200, body: { charges: charges.size, duplicate_calls: dup, held: held.size } };
      },
    },
    { method: 'GET', pattern: /^\/control$/, label: '/control', handler: () => ({ status: 200, body: control }) },
    {
      method: 'POST',
      pattern: /^\/control$/,
      label: '/control',
      handler: async (req) => {
        control = { ...control, ...parseControl(await readJsonObject(req)) };
        if (control.mode === 'normal') releaseHeld();
        return { status: 200, body: control };
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/control$/,
      label: '/control',
      handler: () => {
        control = { ...DEFAULTS };
        releaseHeld();
        return { status: 200, body: control };
      },
    },
  ],
});

await serve(server, host, port, async () => releaseHeld());
process.stdout.write(`${name} listening on ${host}:${port}\n`);
