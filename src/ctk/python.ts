/**
 * The `python` providers faultline runs without Python: every other module is refused when the file is validated.
 *
 *   chaostoxi.toxic.actions  create_toxic, create_latency_toxic, create_bandwith_degradation_toxic (and the
 *                            spelling …bandwidth…), create_slow_connection_close_toxic, create_timeout_toxic,
 *                            create_reset_peer_toxic, create_slicer_toxic, create_limiter_toxic, delete_toxic
 *   chaostoxi.proxy.actions  create_proxy, modify_proxy, enable_proxy, disable_proxy, delete_proxy, reset
 *   chaostoxi.proxy.probes   proxy_exist, get_proxy_attribute
 *   faultline.actions        inject_fault, revert_fault, start_load, stop_load
 *   faultline.probes         sli, active_faults
 *
 * chaostoxi functions talk toxiproxy's HTTP API, as the extension does: the running system's controller serves
 * it (its proxies are the system's dependency edges); with no system running, configuration's
 * toxiproxy_host / toxiproxy_port (default port 8474) name a real toxiproxy. Return values and failures follow
 * the extension: create_* return true (an API refusal fails the activity), delete_toxic returns whether the API
 * said ok, delete_proxy returns null. faultline.* act through the controller (journaled, with a TTL).
 */
import { isAbsolute, resolve } from 'node:path';
import { request } from 'undici';
import { loadMixFile, type MixSpec } from '../load/mix.ts';
import { runLoad } from '../load/run.ts';
import { RequestLog, sliOf, type Sample } from '../metrics/requests.ts';
import { labToken } from '../supervisor/token.ts';
import type { CtkSession } from './session.ts';
import type { Configuration } from './substitute.ts';
import { ActivityFailed } from './types.ts';

export interface PythonContext {
  session: CtkSession;
  config: Configuration;
  signal?: AbortSignal;
}

interface PyFunction {
  args: string[];
  required: string[];
  run(args: Record<string, unknown>, ctx: PythonContext): Promise<unknown>;
}

// ─── toxiproxy ───────────────────────────────────────────────────────────────────────────────────────────────

/** Base URL of the toxiproxy API the chaostoxi functions talk to (no trailing /proxies). */
export function toxiproxyBase(ctx: PythonContext): string {
  if (ctx.session.system) return ctx.session.system.controllerUrl;
  const host = ctx.config.toxiproxy_host ?? '127.0.0.1';
  const port = ctx.config.toxiproxy_port || 8474;
  return `http://${String(host)}:${String(port)}`;
}

async function toxi(ctx: PythonContext, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ ok: boolean; status: number; json: unknown }> {
  const url = `${toxiproxyBase(ctx)}${path}`;
  try {
    const res = await request(url, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json', 'user-agent': 'faultline-ctk' }, signal: ctx.signal, headersTimeout: 10_000 });
    const text = await res.body.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { ok: res.statusCode < 400, status: res.statusCode, json };
  } catch (err) {
    throw new ActivityFailed(`toxiproxy API at ${url} did not answer: ${(err as Error).message}`);
  }
}

const str = (v: unknown): string => String(v);

async function createToxic(ctx: PythonContext, a: { for_proxy: unknown; toxic_name: unknown; toxic_type: string; stream?: unknown; toxicity?: unknown; attributes?: Record<string, unknown> }): Promise<boolean> {
  const body = { name: str(a.toxic_name), type: a.toxic_type, stream: a.stream ?? 'downstream', toxicity: a.toxicity ?? 1.0, attributes: a.attributes ?? {} };
  const res = await toxi(ctx, 'POST', `/proxies/${encodeURIComponent(str(a.for_proxy))}/toxics`, body);
  if (!res.ok) throw new ActivityFailed(`unable to create toxic ${body.name} for proxy ${str(a.for_proxy)}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  ctx.session.record({ kind: 'toxic', id: `${str(a.for_proxy)}/${body.name}`, type: body.type, target: str(a.for_proxy), params: { ...body.attributes, stream: body.stream, toxicity: body.toxicity }, t_start: Date.now() / 1000, mechanism: 'toxiproxy API' });
  return (res.json as { name?: string }).name === body.name;
}

const toxicFn = (type: string, attrs: Record<string, string>, optional: Record<string, unknown> = {}): PyFunction => ({
  args: ['for_proxy', 'toxic_name', ...Object.keys(attrs), ...Object.keys(optional)],
  required: ['for_proxy', 'toxic_name', ...Object.keys(attrs)],
  run: (a, ctx) => {
    const attributes: Record<string, unknown> = {};
    for (const [arg, attr] of Object.entries(attrs)) attributes[attr] = a[arg];
    for (const [arg, dflt] of Object.entries(optional)) attributes[arg] = a[arg] ?? dflt;
    return createToxic(ctx, { for_proxy: a.for_proxy, toxic_name: a.toxic_name, toxic_type: type, attributes });
  },
});

const modifyProxy = async (ctx: PythonContext, name: string, body: Record<string, unknown>): Promise<boolean> => {
  const res = await toxi(ctx, 'POST', `/proxies/${encodeURIComponent(name)}`, body);
  if (!res.ok) throw new ActivityFailed(`unable to modify proxy ${name}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  const listen = String((res.json as { listen?: string }).listen ?? '');
  ctx.config[`${name}_PORT`] = listen.split(':').at(-1);
  return true;
};

const TOXIC_ACTIONS: Record<string, PyFunction> = {
  create_toxic: {
    args: ['for_proxy', 'toxic_name', 'toxic_type', 'stream', 'toxicity', 'attributes'],
    required: ['for_proxy', 'toxic_name', 'toxic_type'],
    run: (a, ctx) => createToxic(ctx, { for_proxy: a.for_proxy, toxic_name: a.toxic_name, toxic_type: str(a.toxic_type), stream: a.stream, toxicity: a.toxicity, attributes: a.attributes as Record<string, unknown> | undefined }),
  },
  create_latency_toxic: toxicFn('latency', { latency: 'latency' }, { jitter: 0 }),
  create_bandwith_degradation_toxic: toxicFn('bandwidth', { rate: 'rate' }),
  create_bandwidth_degradation_toxic: toxicFn('bandwidth', { rate: 'rate' }),
  create_slow_connection_close_toxic: toxicFn('slow_close', { delay: 'delay' }),
  create_timeout_toxic: toxicFn('timeout', { timeout: 'timeout' }),
  create_reset_peer_toxic: toxicFn('reset_peer', {}, { timeout: 0 }),
  create_slicer_toxic: toxicFn('slicer', { average_size: 'average_size', size_variation: 'size_variation', delay: 'delay' }),
  create_limiter_toxic: toxicFn('limit_data', { bytes_limit: 'bytes' }),
  delete_toxic: {
    args: ['for_proxy', 'toxic_name'],
    required: ['for_proxy', 'toxic_name'],
    run: async (a, ctx) => {
      const res = await toxi(ctx, 'DELETE', `/proxies/${encodeURIComponent(str(a.for_proxy))}/toxics/${encodeURIComponent(str(a.toxic_name))}`);
      if (res.ok) ctx.session.stopped(`${str(a.for_proxy)}/${str(a.toxic_name)}`);
      return res.ok;
    },
  },
};

const PROXY_ACTIONS: Record<string, PyFunction> = {
  create_proxy: {
    args: ['proxy_name', 'upstream_host', 'upstream_port', 'listen_host', 'listen_port', 'enabled'],
    required: ['proxy_name', 'upstream_host', 'upstream_port'],
    run: async (a, ctx) => {
      const fromEnv = (v: unknown): string => {
        const s = str(v);
        if (!s.startsWith('env:')) return s;
        const got = process.env[s.slice(4)];
        if (got === undefined) throw new ActivityFailed(`environment variable ${s.slice(4)} is not set`);
        return got;
      };
      const name = str(a.proxy_name);
      const body = { name, listen: `${str(a.listen_host ?? '127.0.0.1')}:${str(a.listen_port ?? 0)}`, upstream: `${fromEnv(a.upstream_host)}:${fromEnv(a.upstream_port)}`, enabled: a.enabled ?? true };
      const res = await toxi(ctx, 'POST', '/proxies', body);
      if (!res.ok) throw new ActivityFailed(`unable to create proxy ${name}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
      const port = String((res.json as { listen?: string }).listen ?? '').split(':').at(-1) ?? '';
      if (!/^\d+$/.test(port)) throw new ActivityFailed(`unable to parse the port from ${JSON.stringify(res.json)}`);
      ctx.config[`${name}_PORT`] = port;
      return true;
    },
  },
  modify_proxy: {
    args: ['proxy_name', 'listen_address', 'upstream_address', 'enabled'],
    required: ['proxy_name'],
    run: (a, ctx) => {
      const body: Record<string, unknown> = {};
      if (a.listen_address != null) body.listen = a.listen_address;
      if (a.upstream_address != null) body.upstream = a.upstream_address;
      if (a.enabled != null) body.enabled = a.enabled;
      return modifyProxy(ctx, str(a.proxy_name), body);
    },
  },
  enable_proxy: { args: ['proxy_name'], required: ['proxy_name'], run: (a, ctx) => modifyProxy(ctx, str(a.proxy_name), { enabled: true }) },
  disable_proxy: { args: ['proxy_name'], required: ['proxy_name'], run: (a, ctx) => modifyProxy(ctx, str(a.proxy_name), { enabled: false }) },
  delete_proxy: {
    args: ['proxy_name'],
    required: ['proxy_name'],
    run: async (a, ctx) => {
      const res = await toxi(ctx, 'DELETE', `/proxies/${encodeURIComponent(str(a.proxy_name))}`).catch(() => undefined);
      if (res && !res.ok) ctx.session.notes.push(`delete_proxy ${str(a.proxy_name)}: HTTP ${res.status}`);
      return null;
    },
  },
  reset: {
    args: [],
    required: [],
    run: async (_a, ctx) => {
      const res = await toxi(ctx, 'POST', '/reset');
      if (!res.ok) throw new ActivityFailed(`toxiproxy reset failed: HTTP ${res.status}`);
      for (const f of ctx.session.applied) if (f.kind === 'toxic') ctx.session.stopped(f.id);
      return true;
    },
  },
};

const PROXY_PROBES: Record<string, PyFunction> = {
  proxy_exist: {
    args: ['proxy_name'],
    required: ['proxy_name'],
    run: async (a, ctx) => {
      const res = await toxi(ctx, 'GET', `/proxies/${encodeURIComponent(str(a.proxy_name))}`);
      return res.ok && (res.json as { name?: string }).name === str(a.proxy_name);
    },
  },
  get_proxy_attribute: {
    args: ['proxy_name', 'attribute'],
    required: ['proxy_name', 'attribute'],
    run: async (a, ctx) => {
      const res = await toxi(ctx, 'GET', `/proxies/${encodeURIComponent(str(a.proxy_name))}`);
      if (!res.ok) return null;
      const v = (res.json as Record<string, unknown>)[str(a.attribute)];
      if (v === undefined) throw new ActivityFailed(`proxy ${str(a.proxy_name)} has no attribute ${str(a.attribute)}`);
      return v;
    },
  },
};

// ─── faultline's own ─────────────────────────────────────────────────────────────────────────────────────────

function needSystem(ctx: PythonContext, what: string) {
  const s = ctx.session.system;
  if (!s) throw new ActivityFailed(`${what} needs a running faultline system (faultline up --detach, same --state-dir)`);
  return s;
}

const FAULTLINE_ACTIONS: Record<string, PyFunction> = {
  inject_fault: {
    args: ['type', 'target', 'params', 'ttl_s', 'concurrent'],
    required: ['type', 'target'],
    run: async (a, ctx) => {
      const s = needSystem(ctx, 'faultline.actions.inject_fault');
      const ttl = a.ttl_s === undefined ? 300 : Number(a.ttl_s);
      if (!(ttl > 0)) throw new ActivityFailed('ttl_s must be > 0 seconds (a fault always has a TTL)');
      try {
        const f = await s.chaos.inject({ type: str(a.type), target: str(a.target), params: (a.params ?? {}) as Record<string, unknown>, duration_s: ttl, ...(a.concurrent ? { concurrent: true } : {}) });
        ctx.session.record({ kind: 'fault', id: f.id, type: f.type, target: f.target, params: f.params as Record<string, unknown>, t_start: f.t_start, mechanism: f.mechanism });
        return { id: f.id, type: f.type, target: f.target, params: f.params, ttl_s: ttl, t_start: f.t_start, mechanism: f.mechanism ?? null };
      } catch (err) {
        throw new ActivityFailed(`inject ${str(a.type)} on ${str(a.target)} failed: ${(err as Error).message}`);
      }
    },
  },
  revert_fault: {
    args: ['id', 'type', 'target'],
    required: [],
    run: async (a, ctx) => {
      const s = needSystem(ctx, 'faultline.actions.revert_fault');
      const mine = ctx.session.applied.filter((f) => f.kind === 'fault' && f.t_stop === undefined);
      const which = a.id !== undefined ? [{ id: str(a.id) }] : mine.filter((f) => (a.type === undefined || f.type === a.type) && (a.target === undefined || f.target === a.target));
      const out: unknown[] = [];
      for (const f of which) {
        try {
          const r = await s.chaos.revert(f.id);
          ctx.session.stopped(f.id, r.t_stop * 1000);
          out.push({ id: f.id, t_stop: r.t_stop, verified: r.verified });
        } catch (err) {
          throw new ActivityFailed(`revert of ${f.id} failed: ${(err as Error).message}`);
        }
      }
      return out;
    },
  },
  start_load: {
    args: ['rate', 'duration_s', 'mix', 'path', 'seed', 'timeout_ms', 'arrivals', 'target'],
    required: ['rate', 'duration_s'],
    run: async (a, ctx) => {
      const session = ctx.session;
      if (session.load && session.load.t_end === undefined) throw new ActivityFailed('load is already running (one start_load per run)');
      const target = a.target !== undefined ? str(a.target) : session.system?.entryUrl;
      if (!target) throw new ActivityFailed('start_load: no target (the system declares no entry; pass arguments.target)');
      const rate = Number(a.rate);
      const duration = Number(a.duration_s);
      if (!(rate > 0) || !(duration > 0)) throw new ActivityFailed('start_load: rate and duration_s must be > 0');
      const seed = a.seed === undefined ? Math.floor(Math.random() * 0xffffffff) : Number(a.seed);
      const timeout_ms = a.timeout_ms === undefined ? 10_000 : Number(a.timeout_ms);
      const mixFile = a.mix !== undefined ? (isAbsolute(str(a.mix)) ? str(a.mix) : resolve(session.experimentDir, str(a.mix))) : undefined;
      const mix: MixSpec | undefined = mixFile ? undefined : { name: 'ctk', endpoints: [{ name: 'default', weight: 1, method: 'GET', path: a.path !== undefined ? str(a.path) : '/' }] };
      // A lab-style mix reads its bearer token from the environment at compile time.
      let token: string | undefined;
      try {
        token = session.system ? labToken(session.system.stateDir, 6 * 3600, 'faultline-ctk') : undefined;
      } catch {
        token = undefined;
      }
      const prev = process.env.FAULTLINE_LAB_TOKEN;
      if (token) process.env.FAULTLINE_LAB_TOKEN = token;
      let requests: RequestLog | undefined;
      let run;
      try {
        if (mixFile) loadMixFile(mixFile);
        run = runLoad({
          target,
          schedule: { executor: 'constant', rate_rps: rate, duration_ms: duration * 1000 },
          arrivals: a.arrivals === 'poisson' ? 'poisson' : undefined,
          ...(mixFile ? { mixFile } : { mix }),
          seed,
          timeout_ms,
          max_lag_ms: 100,
          connections: 64,
          on_request: (r) => requests?.add(r),
        });
      } catch (err) {
        throw new ActivityFailed(`start_load: ${(err as Error).message}`);
      } finally {
        if (token) {
          if (prev === undefined) delete process.env.FAULTLINE_LAB_TOKEN;
          else process.env.FAULTLINE_LAB_TOKEN = prev;
        }
      }
      requests = new RequestLog(run.info.endpoints, timeout_ms);
      const state = { run, requests, t0: Date.now(), rate, seed, timeout_ms, mix: run.info.mix, mixFile, consumed: Promise.resolve() } as CtkSession['load'] & object;
      state.consumed = (async () => {
        for await (const e of run) if (e.type !== 'second') state.summary = e;
      })()
        .catch((err: unknown) => void session.notes.push(`load generator: ${(err as Error).message}`))
        .finally(() => {
          state.t_end ??= Date.now();
        });
      session.load = state;
      return { target, rate, duration_s: duration, seed, mix: run.info.mix, endpoints: run.info.endpoints };
    },
  },
  stop_load: {
    args: [],
    required: [],
    run: async (_a, ctx) => {
      const s = await ctx.session.stopLoad();
      return s ? { planned_requests: s.planned_requests, valid: s.valid, elapsed_s: s.elapsed_s } : null;
    },
  },
};

const METRICS = ['latency_ms', 'error_rate', 'availability'] as const;

const FAULTLINE_PROBES: Record<string, PyFunction> = {
  sli: {
    args: ['metric', 'endpoint', 'quantile', 'window_s'],
    required: ['metric'],
    run: async (a) => {
      throw new ActivityFailed(`faultline.probes.sli ${str(a.metric)}: internal: needs the run context`);
    },
  },
  active_faults: {
    args: [],
    required: [],
    run: async (_a, ctx) => {
      const s = needSystem(ctx, 'faultline.probes.active_faults');
      return (await s.chaos.list()).filter((f) => f.phase === 'injected').length;
    },
  },
};

/** The users' SLI over the last window_s of the run's load, as a number (latency in ms, ratios in 0–1). */
FAULTLINE_PROBES.sli.run = async (a, ctx) => {
  const metric = str(a.metric) as (typeof METRICS)[number];
  if (!METRICS.includes(metric)) throw new ActivityFailed(`metric must be one of ${METRICS.join(', ')} (got ${metric})`);
  const l = ctx.session.load;
  if (!l) throw new ActivityFailed('faultline.probes.sli: no load is running (start it with faultline.actions.start_load)');
  const now = l.t_end ?? Date.now();
  const window = (a.window_s === undefined ? 5 : Number(a.window_s)) * 1000;
  const names = a.endpoint === undefined ? l.requests.endpoints : [str(a.endpoint)];
  const idx = names.map((n) => l.requests.indexOf(n));
  if (idx.some((i) => i < 0)) throw new ActivityFailed(`no endpoint ${str(a.endpoint)} in the mix (it has: ${l.requests.endpoints.join(', ')})`);
  const open = l.t_end === undefined ? l.run.outstanding() : [];
  const parts = idx.map((i) => l.requests.window(i, Math.max(l.t0, now - window), now, open));
  const sample: Sample = {
    latencies: Float64Array.from(parts.flatMap((p) => [...p.latencies])).sort(),
    total: parts.reduce((n, p) => n + p.total, 0),
    bad: parts.reduce((n, p) => n + p.bad, 0),
    settled: parts.reduce((n, p) => n + p.settled, 0),
    outstanding: parts.reduce((n, p) => n + p.outstanding, 0),
  };
  if (sample.total === 0 && sample.latencies.length === 0) throw new ActivityFailed(`no request settled in the last ${window / 1000} s: the SLI is unknown`);
  const v = sliOf(sample, metric, a.quantile === undefined ? 0.99 : Number(a.quantile));
  if (!Number.isFinite(v)) throw new ActivityFailed('the SLI is unknown (no data)');
  return v;
};

export const MODULES: Record<string, Record<string, PyFunction>> = {
  'chaostoxi.toxic.actions': TOXIC_ACTIONS,
  'chaostoxi.proxy.actions': PROXY_ACTIONS,
  'chaostoxi.proxy.probes': PROXY_PROBES,
  'faultline.actions': FAULTLINE_ACTIONS,
  'faultline.probes': FAULTLINE_PROBES,
};

export const PYTHON_MODULES = Object.keys(MODULES).map((m) => `${m}.*`);

/** The mapped function for module/func, or undefined (then the provider is refused). */
export function pythonFunction(module: string, func: string): PyFunction | undefined {
  return Object.hasOwn(MODULES, module) && Object.hasOwn(MODULES[module], func) ? MODULES[module][func] : undefined;
}
