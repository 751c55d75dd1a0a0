/**
 * The injector contract: what one fault type exports. A fault type is a params schema (units in the field names,
 * validated strictly, every error reported) plus four operations the controller drives:
 *
 *   validate ─▶ plan(target, params) = handle ─▶ journal (fsync) ─▶ apply(handle) ─▶ verify ─▶ … ─▶ revert(handle) ─▶ verify
 *
 * The handle (plain JSON) names everything apply will create, so it is journaled *before* apply runs and a
 * restarted controller can revert what a dead one may have applied. apply and revert are idempotent: the
 * controller may call them again after a crash. A target that vanished counts as reverted.
 */
import type { z } from 'zod';

/** Something faults act on: a lab service or a target the user registered. */
export interface Target {
  name: string;
  /** The toxiproxy-compatible proxy in front of it: network faults act there. */
  proxy?: { api: string; name: string };
  /** Its HTTP base URL (HTTP-level faults, health probes). */
  http?: string;
  /** URL of the dependency control endpoint it serves, when it is a dependency stub that has one. */
  control?: string;
  /** The port the service itself listens on (kernel-level network faults match on it). */
  port?: number;
  /**
   * Where its process is recorded: a JSON pid record `{pid, pgid, start_ticks, …}` the supervisor rewrites
   * when it restarts the process, so process faults always act on the current one.
   */
  pidFile?: string;
  /** Mount point of a size-bounded filesystem that holds the service's data (disk faults fill it). */
  volume?: string;
  /** The libfaketime offset file the process was started with (clock faults write it; "+0" = no skew). */
  clockFile?: string;
  /** Names this system's kernel objects (nftables table, cgroups) apart from any other's (see core/scope.ts). */
  scope?: string;
  /**
   * A faultline runtime agent runs inside its process (src/agent) under this service name: agent faults travel to
   * it over the channel it opened to the controller (AGENT_HUB). Declared (`agent: true`) or registered at run time.
   */
  agent?: { service: string };
}

export interface ApplyContext {
  /** Fault id: injectors name what they create after it, so apply is idempotent and revert finds it. */
  id: string;
  /** Seconds the fault may live; injectors pass it to where the fault lives when that place can expire it. */
  ttl_s: number;
  /** Aborted when a halt arrives while apply still runs: a long apply (a rolling restart) stops at its next step. */
  signal?: AbortSignal;
}

export interface Injector<P = Record<string, unknown>, H = unknown> {
  readonly type: string;
  readonly family: string;
  readonly summary: string;
  readonly params: z.ZodType<P>;
  /** Why this injector cannot act on the target (null when it can). */
  unsupported(target: Target): string | null;
  /**
   * Optional capability check that may touch the system (run a command, read /sys): why this type cannot work
   * on this machine at all, or null when it can. `unsupported` stays the cheap per-target check.
   */
  probe?(): Promise<string | null>;
  /** The mechanism that will carry the fault on this target, as shown to users. */
  mechanism(target: Target): string;
  /** What apply will create, computed without side effects (deterministic from target, params and fault id). */
  plan(target: Target, params: P, ctx: ApplyContext): H;
  apply(handle: H, params: P, ctx: ApplyContext): Promise<void>;
  revert(handle: H): Promise<void>;
  /** Probes the real system: true while the fault is in effect, false once it is gone. */
  verify(handle: H): Promise<boolean>;
  /**
   * Optional: what the fault did while it was on, read from the system just before the revert (counts the kernel
   * kept, e.g. OOM kills inside a memory cap, periods a CPU quota throttled). Kept with the fault's record.
   */
  observe?(handle: H): Promise<Record<string, number>>;
}

/** Identity helper that keeps an injector's params and handle types tied together. */
export function defineInjector<P, H>(injector: Injector<P, H>): Injector<P, H> {
  return injector;
}
