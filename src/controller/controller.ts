/**
 * The fault controller: the one place faults are injected, reverted and accounted for. It owns the guarantees
 * a chaos tool owes its users:
 *
 * - a fault is journaled (fsync) before it is applied, and a controller that starts reverts what a dead one left;
 * - every fault has a TTL, passed down to where the fault lives when that place can expire it (proxy toxics),
 *   and enforced here by a timer too;
 * - after every revert a probe verifies the fault is really gone; a revert that fails or does not verify keeps
 *   the fault `injected`, is reported, and is retried with back-off until it succeeds;
 * - only registered targets can be acted on, one fault per target unless the caller asks for more.
 *
 *   inject ─▶ validate ─▶ guard ─▶ plan ─▶ journal(pending) ─▶ apply ─▶ journal(injected) ─▶ event + metric
 *   revert ─▶ injector.revert ─▶ verify ─▶ journal(reverted) ─▶ event + metric
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { FaultlineError, isFaultlineError, type Issue } from '../core/errors.ts';
import { issuesFromZod } from '../core/schema.ts';
import type { Target } from '../faults/injector.ts';
import { FAULT_TYPES, type AnyInjector } from '../faults/registry.ts';
import { Journal, type FaultRecord } from './journal.ts';

export interface InjectRequest {
  type: string;
  target: string;
  params?: Record<string, unknown>;
  /** Seconds the fault stays on before the controller (and the place it lives) removes it. */
  duration_s?: number;
  /** Allow another fault on a target that already has one. */
  concurrent?: boolean;
}

/** Who acted on a fault: the controller itself, or the watchdog after the controller died. */
export type Actor = 'controller' | 'watchdog';

/** An annotation: the start or stop of a fault, for dashboards and reports. */
export interface FaultEvent {
  ts: number;
  event: 'start' | 'stop' | 'revert_failed';
  id: string;
  type: string;
  target: string;
  mechanism: string;
  /** Who carried it out. */
  by: Actor;
  error?: string;
}

export interface ControllerOptions {
  stateDir: string;
  targets: Target[];
  types?: ReadonlyMap<string, AnyInjector>;
  /** TTL of a fault injected without duration_s. */
  defaultTtlS?: number;
  /** Who this instance acts as; stamped on every record it finishes and every event it emits. */
  actor?: Actor;
}

const MAX_TTL_S = 86_400;

/** What a failure says to a user: the message, without the external command line a CommandError carries. */
function userMessage(err: unknown): string {
  const message = String((err as Error)?.message ?? err);
  return message.split('\n')[0].slice(0, 300);
}
const RETRY_MAX_MS = 30_000;

export class Controller {
  readonly events = new EventEmitter<{ fault: [FaultEvent] }>();
  readonly metrics = new Registry();
  readonly #types: ReadonlyMap<string, AnyInjector>;
  readonly #targets: Map<string, Target>;
  readonly #records: Map<string, FaultRecord>;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Failed revert attempts per fault, for back-off. */
  readonly #retries = new Map<string, number>();
  readonly #journal: Journal;
  readonly #eventsFile: string;
  readonly #defaultTtl: number;
  readonly #actor: Actor;
  /** The operation in progress on each fault: apply and revert of one fault never interleave. */
  readonly #locks = new Map<string, Promise<unknown>>();
  /** While a halt runs, injects are refused: nothing may start that the halt would not see. */
  #halting = false;
  /** The abort switch of each apply in progress (a halt stops long applies such as rolling restarts). */
  readonly #applying = new Map<string, AbortController>();
  readonly #active: Gauge;
  readonly #injected: Counter;
  readonly #revertFailures: Counter;

  private constructor(options: ControllerOptions) {
    this.#types = options.types ?? FAULT_TYPES;
    this.#targets = new Map(options.targets.map((t) => [t.name, t]));
    this.#defaultTtl = options.defaultTtlS ?? 600;
    this.#actor = options.actor ?? 'controller';
    mkdirSync(options.stateDir, { recursive: true });
    this.#journal = new Journal(join(options.stateDir, 'faults.jsonl'));
    this.#eventsFile = join(options.stateDir, 'fault-events.jsonl');
    this.#records = this.#journal.read();
    this.#active = new Gauge({
      name: 'faultline_fault_active',
      help: '1 while a fault of this type is active on this target.',
      labelNames: ['type', 'target'],
      registers: [this.metrics],
      collect: () => this.#refreshActiveGauge(),
    });
    this.#injected = new Counter({
      name: 'faultline_faults_injected_total',
      help: 'Faults applied, by type and target.',
      labelNames: ['type', 'target'],
      registers: [this.metrics],
    });
    this.#revertFailures = new Counter({
      name: 'faultline_fault_revert_failures_total',
      help: 'Revert attempts that failed or did not verify (each is retried).',
      labelNames: ['type', 'target'],
      registers: [this.metrics],
    });
  }

  /**
   * Opens the controller on a state dir and reconciles what the journal says may still be in effect: each such
   * fault is reverted (and verified) before this resolves.
   * @example const controller = await Controller.open({ stateDir: '.faultline', targets });
   */
  static async open(options: ControllerOptions): Promise<Controller> {
    const controller = new Controller(options);
    await controller.#reconcile();
    return controller;
  }

  targets(): Target[] {
    return [...this.#targets.values()];
  }

  /**
   * Adds a target found at run time (a runtime agent that registered itself), or merges its fields into the
   * target of that name. Faults already on it are unaffected.
   * @example controller.addTarget({ name: 'shop', agent: { service: 'shop' } });
   */
  addTarget(target: Target): void {
    this.#targets.set(target.name, { ...this.#targets.get(target.name), ...target });
  }

  /** Active faults first, then the most recent finished ones. */
  list(): FaultRecord[] {
    const all = [...this.#records.values()];
    const open = all.filter((r) => r.phase === 'injected' || r.phase === 'pending');
    const done = all.filter((r) => r.phase === 'reverted' || r.phase === 'failed').slice(-100).reverse();
    return [...open, ...done];
  }

  get(id: string): FaultRecord {
    const record = this.#records.get(id);
    if (record === undefined) throw new FaultlineError('FAULT_NOT_FOUND', `fault not found: ${id}`, { field: 'id' });
    return record;
  }

  /**
   * Validates, journals, applies. Throws (4xx) with nothing applied on bad input, a busy target or a halt in
   * progress. Every path out of applying ends in a journaled state: injected, or failed (terminal, not active).
   * The TTL counts from the moment the fault is in effect, not from the plan.
   */
  async inject(request: InjectRequest): Promise<FaultRecord> {
    if (this.#halting) throw new FaultlineError('HALT_IN_PROGRESS');
    const { injector, target, params, ttl } = this.#validate(request);
    if (!request.concurrent) {
      const busy = [...this.#records.values()].find((r) => r.target === target.name && (r.phase === 'injected' || r.phase === 'pending'));
      if (busy) throw new FaultlineError('TARGET_BUSY', `${target.name} already has an active fault (${busy.type}, id ${busy.id})`, { field: 'target' });
    }
    const id = randomBytes(6).toString('hex');
    const ctx = { id, ttl_s: ttl };
    const now = Date.now() / 1000;
    const record: FaultRecord = {
      id,
      type: injector.type,
      target: target.name,
      params,
      ttl_s: ttl,
      t_start: now,
      expires_at: now + ttl,
      phase: 'pending',
      mechanism: injector.mechanism(target),
      handle: injector.plan(target, params, ctx),
    };
    this.#save(record);
    const abort = new AbortController();
    this.#applying.set(id, abort);
    return this.#locked(id, async () => {
      try {
        await injector.apply(record.handle, params, { ...ctx, signal: abort.signal });
      } catch (err) {
        // Not injected. Undo whatever part of it may have landed, then record the failure: terminal, not active.
        this.#applying.delete(id);
        await injector.revert(record.handle).catch(() => {});
        this.#save({ ...record, phase: 'failed', t_stop: Date.now() / 1000, error: userMessage(err) });
        throw isFaultlineError(err) && err.status < 500
          ? err
          : new FaultlineError('APPLY_FAILED', `${record.type} on ${record.target} could not be applied: ${userMessage(err)}; nothing stays in effect`);
      }
      const at = Date.now() / 1000;
      const injected: FaultRecord = { ...record, phase: 'injected', t_start: at, expires_at: at + ttl };
      this.#applying.delete(id);
      this.#save(injected);
      this.#injected.inc({ type: injected.type, target: injected.target });
      this.#emit('start', injected);
      this.#armTtl(injected);
      return injected;
    });
  }

  /**
   * Reverts a fault and verifies it is gone. Idempotent: reverting a reverted fault returns it unchanged. A fault
   * still being applied is reverted as soon as its apply has ended, from the record that apply left.
   */
  async revert(id: string): Promise<FaultRecord> {
    this.get(id);
    return this.#locked(id, () => this.#revertNow(id));
  }

  async #revertNow(id: string): Promise<FaultRecord> {
    const record = this.get(id);
    if (record.phase === 'reverted' || record.phase === 'failed') return record;
    this.#clearTimer(id);
    const injector = this.#injector(record.type);
    // Read before the revert removes what holds the figures (a cgroup's counters); never a reason not to revert.
    const observed = await injector.observe?.(record.handle).catch(() => undefined);
    try {
      await injector.revert(record.handle);
      if (await injector.verify(record.handle)) throw new Error('a probe still sees the fault in effect after the revert');
    } catch (err) {
      const message = String((err as Error).message ?? err);
      this.#save({ ...record, error: message });
      this.#revertFailures.inc({ type: record.type, target: record.target });
      this.#emit('revert_failed', record, message);
      this.#scheduleRetry(record.id);
      throw new FaultlineError('REVERT_FAILED', `revert of ${record.type} on ${record.target} failed: ${message}; it stays active and is retried`);
    }
    const reverted: FaultRecord = { ...record, phase: 'reverted', t_stop: Date.now() / 1000, verified: true, error: undefined, reverted_by: this.#actor, ...(observed ? { observed } : {}) };
    this.#save(reverted);
    this.#emit('stop', reverted);
    return reverted;
  }

  /**
   * Reverts every fault that is not terminal, at once, including those still being applied; injects that arrive
   * meanwhile are refused. Resolves with each one's final record (a failed revert stays injected, with its error).
   */
  async halt(options: { answerWithinMs?: number } = {}): Promise<FaultRecord[]> {
    this.#halting = true;
    const open = [...this.#records.values()].filter((r) => r.phase === 'injected' || r.phase === 'pending');
    // Applies still running (a rolling restart mid-roll) are told to stop: the halt does not wait out a roll.
    for (const r of open) this.#applying.get(r.id)?.abort(new FaultlineError('HALT_IN_PROGRESS', 'stopped by a halt'));
    const all = Promise.allSettled(open.map((r) => this.revert(r.id))).finally(() => (this.#halting = false));
    if (options.answerWithinMs !== undefined) {
      // Answer on time with what is known; the reverts go on, and each record says where it is.
      await Promise.race([all, new Promise((r) => setTimeout(r, options.answerWithinMs).unref())]);
    } else await all;
    return open.map((r) => this.get(r.id));
  }

  /**
   * Records the MTTR a runner observed for a reverted fault (null: it did not recover in the window). Later
   * reverts of the fault answer with it.
   */
  observeMttr(id: string, mttr_s: number | null, source: string): FaultRecord {
    const record = this.get(id);
    if (mttr_s !== null && !(Number.isFinite(mttr_s) && mttr_s >= 0)) throw new FaultlineError('INVALID_INPUT', `mttr_s: seconds ≥ 0 or null (got ${JSON.stringify(mttr_s)})`, { field: 'mttr_s' });
    const observed: FaultRecord = { ...record, mttr_s, mttr_source: source };
    this.#save(observed);
    return observed;
  }

  /** Stops timers and closes the journal. Active faults stay (bounded by their TTLs); call halt() first to end them. */
  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#journal.close();
  }

  /**
   * Every problem an inject of `request` would be refused for, without applying anything (a dry run): the type,
   * its params through the injector's schema, the target and whether it can take that type, the duration. How a
   * runner checks a whole experiment before any load starts.
   * @example controller.check({ type: 'latency', target: 'payments', params: { delay_ms: -1 } }) // [{ path: 'params.delay_ms', … }]
   */
  check(request: InjectRequest): Issue[] {
    try {
      this.#validate(request);
      return [];
    } catch (err) {
      return (err as FaultlineError & { issues?: Issue[] }).issues ?? [{ path: 'request', message: (err as Error).message }];
    }
  }

  #validate(request: InjectRequest): { injector: AnyInjector; target: Target; params: Record<string, unknown>; ttl: number } {
    const issues: Issue[] = [];
    const injector = typeof request.type === 'string' ? this.#types.get(request.type) : undefined;
    if (injector === undefined) {
      issues.push({ path: 'type', message: `unknown fault type ${JSON.stringify(request.type)}; one of: ${[...this.#types.keys()].join(', ')}` });
    }
    const target = typeof request.target === 'string' ? this.#targets.get(request.target) : undefined;
    if (target === undefined) {
      const names = [...this.#targets.keys()];
      issues.push({ path: 'target', message: `unknown target ${JSON.stringify(request.target)}; registered: ${names.join(', ') || 'none'}` });
    }
    const ttl = request.duration_s ?? this.#defaultTtl;
    if (typeof ttl !== 'number' || !(ttl > 0 && ttl <= MAX_TTL_S)) {
      issues.push({ path: 'duration_s', message: `must be a number of seconds in (0, ${MAX_TTL_S}] (got ${JSON.stringify(request.duration_s)})` });
    }
    let params: Record<string, unknown> = {};
    if (injector !== undefined) {
      const parsed = injector.params.safeParse(request.params ?? {});
      if (parsed.success) params = parsed.data as Record<string, unknown>;
      else for (const i of issuesFromZod(request.params ?? {}, parsed.error.issues)) issues.push({ path: `params.${i.path}`, message: i.message });
      const reason = target ? injector.unsupported(target) : null;
      if (reason !== null) {
        const able = [...this.#targets.values()].filter((t) => injector.unsupported(t) === null).map((t) => t.name);
        issues.push({
          path: 'target',
          message: `${target!.name} cannot take a ${injector.type} fault: ${reason}; targets that can: ${able.join(', ') || 'none'}`,
        });
      }
    }
    if (issues.length > 0) {
      const code = issues.length === 1 && issues[0].path === 'type' ? 'UNKNOWN_FAULT_TYPE' : issues.length === 1 && issues[0].path === 'target' && target === undefined ? 'UNKNOWN_TARGET' : 'INVALID_INPUT';
      throw Object.assign(new FaultlineError(code, issues.map((i) => `${i.path}: ${i.message}`).join('; '), { field: issues[0].path }), { issues });
    }
    return { injector: injector!, target: target!, params, ttl };
  }

  /** Runs `fn` once every earlier operation on fault `id` has settled (a per-fault queue). */
  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(fn);
    const tail = next.catch(() => {});
    this.#locks.set(id, tail);
    void tail.then(() => {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    });
    return next;
  }

  #injector(type: string): AnyInjector {
    const injector = this.#types.get(type);
    if (injector === undefined) throw new FaultlineError('UNKNOWN_FAULT_TYPE', `the journal names a fault type this build does not know: ${type}`);
    return injector;
  }

  /** Reverts everything a previous controller may have left in effect. */
  async #reconcile(): Promise<void> {
    const open = [...this.#records.values()].filter((r) => r.phase === 'injected' || r.phase === 'pending');
    await Promise.allSettled(open.map((r) => this.revert(r.id)));
  }

  #armTtl(record: FaultRecord): void {
    const ms = Math.max(0, record.expires_at * 1000 - Date.now());
    const timer = setTimeout(() => {
      this.#timers.delete(record.id);
      void this.revert(record.id).catch(() => {});
    }, ms);
    timer.unref();
    this.#timers.set(record.id, timer);
  }

  #scheduleRetry(id: string): void {
    this.#clearTimer(id);
    const attempt = (this.#retries.get(id) ?? 0) + 1;
    this.#retries.set(id, attempt);
    const timer = setTimeout(
      () => {
        this.#timers.delete(id);
        void this.revert(id).then(() => this.#retries.delete(id), () => {});
      },
      Math.min(RETRY_MAX_MS, 500 * 2 ** (attempt - 1)),
    );
    timer.unref();
    this.#timers.set(id, timer);
  }

  #clearTimer(id: string): void {
    const timer = this.#timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(id);
  }

  #save(record: FaultRecord): void {
    this.#journal.write(record);
    this.#records.set(record.id, record);
  }

  #emit(event: FaultEvent['event'], record: FaultRecord, error?: string): void {
    const ev: FaultEvent = {
      ts: event === 'stop' ? (record.t_stop ?? Date.now() / 1000) : event === 'start' ? record.t_start : Date.now() / 1000,
      event,
      id: record.id,
      type: record.type,
      target: record.target,
      mechanism: record.mechanism,
      by: this.#actor,
      ...(error ? { error } : {}),
    };
    appendFileSync(this.#eventsFile, `${JSON.stringify(ev)}\n`);
    this.events.emit('fault', ev);
  }

  #refreshActiveGauge(): void {
    this.#active.reset();
    for (const r of this.#records.values()) {
      this.#active.set({ type: r.type, target: r.target }, 0);
    }
    for (const r of this.#records.values()) {
      if (r.phase === 'injected' || r.phase === 'pending') this.#active.inc({ type: r.type, target: r.target });
    }
  }
}
