/**
 * The rules an agent holds: armed by a signed command, disarmed by one, and dropped at their TTL by the agent's
 * own timer whatever happens to the controller (the dead-man switch). It owns the per-kind lists the hooks read,
 * so a hook with no rule of its kind costs one length check; and the process-wide effects (event-loop blocks,
 * retained heap) that need no hook at all.
 *
 *   arm(rule) ─▶ compile match ─▶ lists (exceptions | calls | effects) ─▶ TTL timer ─▶ disarm(id)
 */
import { compileCallMatch, compileRouteMatch, roll, type CallInfo, type IncomingInfo } from './match.ts';
import type { Rule } from './protocol.ts';

export interface ExceptionRule {
  id: string;
  message?: string;
  matches: (r: IncomingInfo) => boolean;
  pct: number;
}

export interface CallRule {
  id: string;
  kind: 'latency' | 'error';
  matches: (c: CallInfo) => boolean;
  pct: number;
  delay_ms: number;
  jitter_ms: number;
  code?: string;
  message?: string;
}

/** What a call hook must do to one call: nothing, wait first, or fail as the library would. */
export type CallAction = { delayMs: number; error?: undefined; rule: CallRule } | { delayMs: 0; error: { code?: string; message?: string }; rule: CallRule };

interface Held {
  rule: Rule;
  timer: NodeJS.Timeout;
  stop?: () => void;
}

export class RuleTable {
  exceptions: ExceptionRule[] = [];
  calls: CallRule[] = [];
  readonly #held = new Map<string, Held>();
  /** Times each rule fired (threw, delayed, failed a call), reported to the controller. */
  readonly fired: Record<string, number> = {};
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  ids(): string[] {
    return [...this.#held.keys()];
  }

  has(id: string): boolean {
    return this.#held.has(id);
  }

  /** Arms a rule (re-arming the same id replaces it). Throws on a rule it cannot carry. */
  arm(rule: Rule): void {
    if (!(rule.ttl_s > 0)) throw new Error(`rule ${rule.id}: ttl_s must be > 0`);
    this.disarm(rule.id);
    let stop: (() => void) | undefined;
    switch (rule.type) {
      case 'route_exception':
        this.exceptions = [...this.exceptions, { id: rule.id, message: rule.message, matches: compileRouteMatch(rule.match), pct: rule.pct }];
        break;
      case 'call_latency':
        this.calls = [...this.calls, { id: rule.id, kind: 'latency', matches: compileCallMatch(rule.match), pct: rule.pct, delay_ms: rule.delay_ms, jitter_ms: rule.jitter_ms }];
        break;
      case 'call_error':
        this.calls = [...this.calls, { id: rule.id, kind: 'error', matches: compileCallMatch(rule.match), pct: rule.pct, delay_ms: 0, jitter_ms: 0, code: rule.code, message: rule.message }];
        break;
      case 'event_loop_block':
        stop = blockLoop(rule.block_ms, rule.every_ms, () => this.#fire(rule.id));
        break;
      case 'heap_growth':
        stop = growHeap(rule.mb_per_s, rule.max_mb, () => this.#fire(rule.id));
        break;
      default:
        throw new Error(`unknown rule type ${JSON.stringify((rule as { type: unknown }).type)}`);
    }
    // The dead-man switch: the rule ends at its TTL even if no controller ever says so.
    const timer = setTimeout(() => this.disarm(rule.id), Math.min(rule.ttl_s * 1000, 2 ** 31 - 1));
    timer.unref();
    this.#held.set(rule.id, { rule, timer, stop });
  }

  /** Removes a rule and undoes its effects; false when it was not held. */
  disarm(id: string): boolean {
    const held = this.#held.get(id);
    if (held === undefined) return false;
    clearTimeout(held.timer);
    held.stop?.();
    this.#held.delete(id);
    if (this.exceptions.some((r) => r.id === id)) this.exceptions = this.exceptions.filter((r) => r.id !== id);
    if (this.calls.some((r) => r.id === id)) this.calls = this.calls.filter((r) => r.id !== id);
    return true;
  }

  disarmAll(): void {
    for (const id of this.ids()) this.disarm(id);
  }

  /** The exception rule that fires for this request, if any (rolls each matching rule's dice). */
  incoming(info: IncomingInfo): ExceptionRule | undefined {
    for (const r of this.exceptions) {
      if (r.matches(info) && roll(r.pct, this.#random)) {
        this.#fire(r.id);
        return r;
      }
    }
    return undefined;
  }

  /** What to do to this call: an error rule that fires wins (and no latency rule counts as fired); else the delays of firing latency rules add up. */
  call(info: CallInfo): CallAction | undefined {
    for (const r of this.calls) {
      if (r.kind !== 'error' || !r.matches(info) || !roll(r.pct, this.#random)) continue;
      this.#fire(r.id);
      return { delayMs: 0, error: { code: r.code, message: r.message }, rule: r };
    }
    let delay = 0;
    let delayRule: CallRule | undefined;
    for (const r of this.calls) {
      if (r.kind !== 'latency' || !r.matches(info) || !roll(r.pct, this.#random)) continue;
      this.#fire(r.id);
      delay += Math.max(0, r.delay_ms + (r.jitter_ms > 0 ? (this.#random() * 2 - 1) * r.jitter_ms : 0));
      delayRule = r;
    }
    return delayRule === undefined ? undefined : { delayMs: delay, rule: delayRule };
  }

  #fire(id: string): void {
    this.fired[id] = (this.fired[id] ?? 0) + 1;
  }
}

/** Blocks the event loop for blockMs every everyMs (a synchronous spin: nothing else runs meanwhile). */
function blockLoop(blockMs: number, everyMs: number, fired: () => void): () => void {
  const timer = setInterval(() => {
    fired();
    const end = performance.now() + blockMs;
    while (performance.now() < end) {
      /* starving the loop on purpose */
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Retains mbPerS MiB of V8 heap per second (arrays of doubles, 8 bytes each) up to maxMb; released on stop. */
function growHeap(mbPerS: number, maxMb: number, fired: () => void): () => void {
  const retained: number[][] = [];
  let mb = 0;
  const tickMs = 100;
  const perTick = (mbPerS * tickMs) / 1000;
  let owed = 0;
  const timer = setInterval(() => {
    owed += perTick;
    while (owed >= 0.25 && mb < maxMb) {
      // 0.25 MiB per chunk: 32768 doubles, filled so the pages are really used.
      retained.push(new Array<number>(32_768).fill(Math.random()));
      mb += 0.25;
      owed -= 0.25;
      fired();
    }
    if (mb >= maxMb) owed = 0;
  }, tickMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    retained.length = 0;
  };
}
