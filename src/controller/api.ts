/**
 * The chaos API over a Controller (DESIGN.md's seed contract, kept verbatim where it exists):
 *
 *   POST   /chaos/inject {type, target, params, duration_s?, concurrent?} → 201 {id, t_start, …}
 *   POST   /chaos/validate {faults: [InjectRequest…]}                      → 200 {ok, faults: [{issues}]} (a dry run: nothing applied)
 *   POST   /chaos/revert/{id}                                            → 200 {id, t_stop, mttr_s, verified, observed?}
 *   POST   /chaos/faults/{id}/mttr {mttr_s, source}                      → 200 (the runner's observed MTTR)
 *   DELETE /chaos/faults                                                  → 200 {reverted, still_active, not_applied} (halt, ≤ 400 ms)
 *   GET    /chaos/faults                                                  → 200 {faults}
 *   GET    /chaos/targets                                                 → 200 {targets}
 *   POST   /chaos/experiments/status {run_id, title, phase, verdict?, dir?} → 200 (the runner's live status)
 *   GET    /chaos/experiments                                             → 200 {running, recent, schedule}
 *
 * Mutations need `Authorization: Bearer <token>` when they come from off the machine or from a browser (an
 * Origin header), so a web page cannot inject faults through a user's browser. Errors are {error, code, hint?}.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AGENT_HUB } from '../agent/hub.ts';
import { FaultlineError, isFaultlineError } from '../core/errors.ts';
import type { Controller, InjectRequest } from './controller.ts';
import type { FaultRecord } from './journal.ts';

const MAX_BODY = 64 << 10;
/** How long DELETE /chaos/faults waits for reverts before it answers (the target: halt ≤ 500 ms). */
const HALT_ANSWER_MS = 400;

export interface ChaosApiOptions {
  /** Required for mutations from a browser or a non-loopback address. */
  token: string;
  /** Where the runner's status posts go (the dashboard's board); without one those routes answer 404. */
  experiments?: ExperimentStatusSink;
  /**
   * Toxics set through the toxiproxy API served on the same port, by any local client, outside the journal:
   * `GET /chaos/faults` lists them beside the faults and halt removes them too, so there is one view of what is
   * in effect. (They live in this process, so a dead controller cannot strand them: its proxies die with it.)
   */
  unjournaled?: UnjournaledToxics;
}

export interface UnjournaledToxic {
  proxy: string;
  name: string;
  type: string;
  stream: string;
}

export interface UnjournaledToxics {
  list(): UnjournaledToxic[];
  /** Removes every one; answers what it removed. */
  clear(): Promise<UnjournaledToxic[]>;
}

/** Records experiment status posts (validating them) and shows the last ones. */
export interface ExperimentStatusSink {
  update(raw: unknown): unknown;
  snapshot(): unknown;
}

/** Returns a handler that answers /chaos/* requests and returns false for anything else. */
export function createChaosApi(controller: Controller, options: ChaosApiOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0];
    if (!path.startsWith('/chaos/')) return false;
    try {
      const method = req.method ?? 'GET';
      if (method !== 'GET') authorize(req, options.token);
      if (path === '/chaos/inject' && method === 'POST') {
        const body = (await readJson(req)) as InjectRequest;
        const record = await controller.inject(body);
        send(res, 201, { ...publicRecord(record) });
      } else if (path === '/chaos/validate' && method === 'POST') {
        const body = (await readJson(req)) as { faults?: unknown };
        if (!Array.isArray(body.faults)) throw new FaultlineError('INVALID_INPUT', 'faults: an array of {type, target, params?, duration_s?}', { field: 'faults' });
        const faults = body.faults.map((f) => ({ issues: f && typeof f === 'object' ? controller.check(f as InjectRequest) : [{ path: '(root)', message: 'must be an object' }] }));
        send(res, 200, { ok: faults.every((f) => f.issues.length === 0), faults });
      } else if (path.startsWith('/chaos/revert/') && method === 'POST') {
        const record = await controller.revert(decodeURIComponent(path.slice('/chaos/revert/'.length)));
        // mttr_s: what the runner observed once users' SLIs settled (null while it is not yet known).
        // observed: what the fault did while on (e.g. OOM kills in a memory cap), when its injector counts that.
        send(res, 200, { id: record.id, t_stop: record.t_stop, mttr_s: record.mttr_s ?? null, verified: record.verified ?? false, ...(record.observed ? { observed: record.observed } : {}) });
      } else if (/^\/chaos\/faults\/[^/]+\/mttr$/.test(path) && method === 'POST') {
        const id = decodeURIComponent(path.split('/')[3]);
        const body = (await readJson(req)) as { mttr_s?: unknown; source?: unknown };
        if (body.mttr_s !== null && typeof body.mttr_s !== 'number') throw new FaultlineError('INVALID_INPUT', 'mttr_s: seconds (a number ≥ 0) or null', { field: 'mttr_s' });
        const record = controller.observeMttr(id, body.mttr_s as number | null, typeof body.source === 'string' ? body.source.slice(0, 200) : 'reported');
        send(res, 200, { id: record.id, mttr_s: record.mttr_s ?? null, mttr_source: record.mttr_source });
      } else if (path === '/chaos/faults' && method === 'DELETE') {
        // Halt answers within HALT_ANSWER_MS with every record as it stands; anything still reverting carries on.
        const [records, external] = await Promise.all([controller.halt({ answerWithinMs: HALT_ANSWER_MS }), options.unjournaled?.clear() ?? Promise.resolve([])]);
        send(res, 200, {
          // Toxics set through the toxiproxy API outside the journal, removed by this halt too.
          unjournaled_removed: external,
          reverted: records.filter((r) => r.phase === 'reverted').map(publicRecord),
          // Still being reverted when the answer went out (each carries its last error, if any); they go on.
          still_active: records.filter((r) => r.phase === 'injected' || r.phase === 'pending').map(publicRecord),
          // Applies the halt stopped or that failed on their own: terminal, never in effect.
          not_applied: records.filter((r) => r.phase === 'failed').map(publicRecord),
        });
      } else if (path === '/chaos/faults' && method === 'GET') {
        send(res, 200, { faults: controller.list().map(publicRecord), unjournaled: options.unjournaled?.list() ?? [] });
      } else if (path === '/chaos/targets' && method === 'GET') {
        send(res, 200, {
          targets: controller.targets().map((t) => ({
            name: t.name,
            proxy: t.proxy?.name ?? null,
            http: t.http ?? null,
            // A runtime agent's process, libraries, health and discovered dependencies (null: none registered yet).
            ...(t.agent ? { agent: AGENT_HUB.describe(t.agent.service) } : {}),
          })),
        });
      } else if (path === '/chaos/experiments/status' && method === 'POST' && options.experiments) {
        send(res, 200, options.experiments.update(await readJson(req)));
      } else if (path === '/chaos/experiments' && method === 'GET' && options.experiments) {
        send(res, 200, options.experiments.snapshot());
      } else {
        throw new FaultlineError('ROUTE_NOT_FOUND', `no route ${method} ${path}`);
      }
    } catch (err) {
      const e = isFaultlineError(err) ? err : new FaultlineError('INTERNAL', String((err as Error).message ?? err));
      // A 413 leaves the rest of the body unread: close the connection after answering rather than parse it.
      if (e.code === 'BODY_TOO_LARGE') res.setHeader('connection', 'close');
      send(res, e.status, { error: e.message, code: e.publicCode, ...(e.field ? { field: e.field } : {}), ...(e.hint ? { hint: e.hint } : {}) });
    }
    return true;
  };
}

/** A fault as the API shows it: everything but the injector's internal handle. */
export function publicRecord(r: FaultRecord): Omit<FaultRecord, 'handle'> {
  const { handle: _handle, ...rest } = r;
  return rest;
}

function authorize(req: IncomingMessage, token: string): void {
  const remote = req.socket.remoteAddress ?? '';
  const loopback = remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.');
  const fromBrowser = req.headers.origin !== undefined || (req.headers['user-agent'] ?? '').startsWith('Mozilla/');
  if (loopback && !fromBrowser) return;
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new FaultlineError('UNAUTHORIZED');
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return; // drained and dropped: the 413 below is answered on an intact connection
      size += c.length;
      if (size > MAX_BODY) {
        tooLarge = true;
        chunks.length = 0;
        reject(new FaultlineError('BODY_TOO_LARGE', `request body larger than ${MAX_BODY} bytes (the limit)`, { hint: `send at most ${MAX_BODY} bytes` }));
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) return reject(new FaultlineError('BAD_REQUEST_BODY', 'bad request body: empty'));
      try {
        const parsed = JSON.parse(text);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          reject(new FaultlineError('BAD_REQUEST_BODY', 'bad request body: must be a JSON object'));
        } else resolve(parsed);
      } catch (err) {
        reject(new FaultlineError('BAD_REQUEST_BODY', `bad request body: ${(err as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
