/**
 * The system file (`faultline.yaml`): what faultline acts on and judges. This module alone owns its shape —
 * services (managed or attached), dependency edges (one fault proxy each), endpoints with SLO defaults, counters,
 * integrity checks and a mitigations switch — and its validation, which reports every problem at once with its
 * path. The JSON Schema editors use is generated from the same definition (`faultline schema`).
 *
 * Ports: a number is an absolute port; a string "+N" is an offset from `base_port`, so one file can run as many
 * copies on one machine as there are free port ranges (`faultline up --base-port`).
 *
 * @example
 *   services:
 *     shop: { command: [node, server.mjs], port: 8080, health: { http: /readyz }, env: { REDIS_URL: '${deps.redis.url}' } }
 *     redis: { type: redis, port: "+479" }
 *   dependencies:
 *     redis: { upstream: redis, listen: "+379" }
 */
import { z } from 'zod';

/** An absolute port, or "+N": an offset from base_port. */
const PORT_REF = 'an absolute port (1–65535) or "+N", an offset from base_port';
export const PortRef = z.union([z.number().int().min(1, PORT_REF).max(65_535, PORT_REF), z.string().regex(/^\+\d{1,5}$/, PORT_REF)], { error: PORT_REF });
export type PortRef = z.infer<typeof PortRef>;

const Name = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'lower-case letters, digits and -, starting with a letter (at most 40)');

const Health = z.union([
  z.strictObject({ http: z.string().startsWith('/'), expect_status: z.number().int().min(100).max(599).default(200) }),
  z.strictObject({ tcp: z.literal(true) }),
  z.strictObject({ postgres: z.literal(true) }),
  z.strictObject({ redis: z.literal(true) }),
]);

const Restart = z.enum(['always', 'on-failure', 'never']);

/** What every service may declare, whatever runs it. */
const Common = {
  /** Where its Prometheus metrics are (a path on its port, or a URL): a second source beside users' SLIs. */
  metrics: z.string().min(1).optional(),
  /** Start after these are healthy (or, for jobs, done). */
  after: z.array(Name).default([]),
  /** Opt in to clock faults: started under libfaketime reading an offset file (managed node-style commands). */
  clock: z.boolean().default(false),
  /** Path of a dependency control endpoint it serves (a stub of a third party): dependency faults act there. */
  control: z.string().startsWith('/').optional(),
};

const Command = z.array(z.string().min(1)).min(1);

const Managed = z.strictObject({
  type: z.literal('command').default('command'),
  /** argv; each element may use ${…} templates. */
  command: Command,
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  port: PortRef.optional(),
  health: Health.optional(),
  restart: Restart.default('always'),
  /**
   * Start it with faultline's runtime agent loaded (`--import` of the built agent, through NODE_OPTIONS): faults
   * inside the process (route_exception, call_latency, call_error, event_loop_block, heap_growth) and discovery of
   * what it calls. Node services only; its code needs no change.
   */
  agent: z.boolean().default(false),
  /** Run this many instances, named <service>-1 … <service>-N, ports port, port+1, …: a group target. */
  replicas: z.number().int().min(1).max(16).default(1),
  /** Signal for a clean stop, and how long it may take before the process group is SIGKILLed. */
  stop_signal: z.enum(['SIGTERM', 'SIGINT', 'SIGQUIT']).default('SIGTERM'),
  stop_grace_ms: z.number().int().min(100).max(120_000).default(5_000),
  ...Common,
});

const Job = z.strictObject({
  type: z.literal('job'),
  command: Command,
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  after: z.array(Name).default([]),
});

const Postgres = z.strictObject({
  type: z.literal('postgres'),
  port: PortRef,
  /** Superuser created by initdb (trust auth, loopback only) and the database clients use. */
  user: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('postgres'),
  database: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
  /** A streaming replica of another postgres service of this file (pg_basebackup on first start). */
  replica_of: Name.optional(),
  /** A size-bounded filesystem for its data (disk faults fill it); needs root. */
  volume: z.strictObject({ size_mb: z.number().int().min(64).max(65_536) }).optional(),
  /** Durability: off trades crash safety for speed (a disposable practice database). */
  durable: z.boolean().default(true),
  ...Common,
});

const Redis = z.strictObject({
  type: z.literal('redis'),
  port: PortRef,
  ...Common,
});

const Attached = z
  .strictObject({
    type: z.literal('attached'),
    /** How to find the process: its pid file, or the port it listens on. faultline never starts or stops it. */
    pid_file: z.string().min(1).optional(),
    port: PortRef.optional(),
    health: Health.optional(),
    ...Common,
  })
  .refine((s) => s.pid_file !== undefined || s.port !== undefined, { message: 'an attached service needs pid_file or port to be found by' });

/** Each service type's schema, chosen by its `type` (default `command`), so an error names that type's fields. */
export const SERVICE_TYPES = { command: Managed, job: Job, postgres: Postgres, redis: Redis, attached: Attached } as const;
export type ServiceType = keyof typeof SERVICE_TYPES;
export type ManagedDecl = z.output<typeof Managed>;
export type JobDecl = z.output<typeof Job>;
export type PostgresDecl = z.output<typeof Postgres>;
export type RedisDecl = z.output<typeof Redis>;
export type AttachedDecl = z.output<typeof Attached>;
export type ServiceDecl = ManagedDecl | JobDecl | PostgresDecl | RedisDecl | AttachedDecl;
const ServiceSchema = z.union([Postgres, Redis, Job, Attached, Managed]);

const Dependency = z.strictObject({
  /** A service of this file (its port; each replica gets its own proxy), or host:port on loopback. */
  upstream: z.string().min(1),
  /** Where its fault proxy listens; clients reach the dependency there (through ${deps.<name>.…}). */
  listen: PortRef,
});

const Endpoint = z.strictObject({
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  /** Path template: /orders/:id. */
  path: z.string().startsWith('/'),
  /** Statuses that count as ok (default 200–399). */
  expect: z.array(z.number().int().min(100).max(599)).optional(),
  /** Its SLO defaults: the steady-state hypothesis a default suite checks. */
  slo: z
    .strictObject({
      latency_p99_ms: z.number().positive().optional(),
      error_rate: z.number().min(0).max(1).optional(),
      availability: z.number().min(0).max(1).optional(),
      /** A breach of this endpoint under any fault is a failure, not a degradation (the critical path). */
      critical: z.boolean().default(false),
    })
    .default({ critical: false }),
});

/**
 * `per_endpoint`: the entry endpoint whose offered requests this counter is compared with — its increase per
 * offered request is the effective/offered ratio (retry amplification), before and under the fault.
 */
const PerEndpoint = { per_endpoint: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/).optional() };
const Counter = z.union([
  /** Bytes or connections through a dependency's proxy (read from the controller's proxy metrics). */
  z.strictObject({ proxy: Name, measure: z.enum(['connections', 'bytes_up', 'bytes_down']), ...PerEndpoint }),
  /** A Prometheus series of a service's metrics, summed over its labels (a counter: its increase is used). */
  z.strictObject({ service: Name, series: z.string().min(1), labels: z.record(z.string(), z.string()).default({}), ...PerEndpoint }),
]);

const Integrity = z.union([
  z.strictObject({ sql: z.string().min(1), on: Name, expect: z.union([z.string(), z.number(), z.boolean(), z.null()]) }),
  /**
   * Acknowledged writes are kept: `sql` gets $1 = the keys (body field `writes.key`) of every request the run sent
   * to `writes.endpoint` and answers how many of them the database holds; at least as many as were acknowledged
   * (answered with one of `writes.acknowledged`, default 200/201) must be there. `wait_s`: how long to wait for
   * the count to get there (an asynchronous replica).
   */
  z.strictObject({
    sql: z.string().min(1),
    on: Name,
    writes: z.strictObject({
      endpoint: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/),
      key: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
      acknowledged: z.array(z.number().int().min(200).max(299)).min(1).default([200, 201]),
    }),
    wait_s: z.number().min(0).max(120).default(0),
  }),
  z.strictObject({ command: Command, expect: z.enum(['exit0', 'json-ok']).default('exit0') }),
]);

const Mitigations = z.union([
  z.strictObject({ http: z.strictObject({ method: z.enum(['POST', 'PUT']).default('POST'), path: z.string().startsWith('/'), services: z.array(Name).min(1) }) }),
  z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/), restart: z.literal(true) }),
]);

export const SystemSchema = z.strictObject({
  /** A short name (state dir, kernel object names). */
  name: Name,
  description: z.string().default(''),
  base_port: z.number().int().min(1024).max(60_000).default(27_000),
  /** The controller's port: the toxiproxy-compatible API, /chaos, /ui and /metrics. */
  controller: z.strictObject({ port: PortRef }).default({ port: '+474' }),
  services: z.record(Name, ServiceSchema).refine((s) => Object.keys(s).length > 0, 'a system needs at least one service'),
  dependencies: z.record(Name, Dependency).default({}),
  /** The user-facing entry: where load goes (a dependency's proxy or a service), and its endpoints. */
  entry: z.strictObject({ via: Name, endpoints: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), Endpoint).default({}) }).optional(),
  counters: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), Counter).default({}),
  integrity: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), Integrity).default({}),
  mitigations: Mitigations.optional(),
  /**
   * The services' own request metrics, for server-source SLIs and the server side of the blast radius: a
   * Prometheus histogram (seconds) with `service`, `method`, `route` and `status` labels, and optionally one of
   * outgoing dependency calls (`dependency`, `outcome` labels). Routes listed in `ops_routes` are not user traffic.
   */
  server_metrics: z
    .strictObject({
      http_histogram: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/),
      dependency_histogram: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/).optional(),
      ops_routes: z.array(z.string().min(1)).default(['/metrics', '/readyz', '/healthz', '/livez', 'unmatched']),
      /**
       * Extra dashboard lines per service: a gauge series summed over its labels (`minus`: less the same series
       * with these labels, e.g. busy = total − idle; `by`: one line per value of that label).
       */
      gauges: z
        .array(
          z.strictObject({
            panel: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/),
            title: z.string().min(1).optional(),
            name: z.string().min(1).max(60),
            series: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/),
            labels: z.record(z.string(), z.string()).default({}),
            minus: z.record(z.string(), z.string()).optional(),
            by: z.string().min(1).optional(),
          }),
        )
        .default([]),
      /**
       * Gauges that hold a state (a breaker's closed / half-open / open, an instance in or out of rotation): each
       * run reports when they changed, in seconds from the first inject (`by`: one track per value of that label;
       * `values`: a name for each value).
       */
      states: z
        .array(
          z.strictObject({
            name: z.string().min(1).max(60),
            series: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/),
            by: z.string().min(1).optional(),
            labels: z.record(z.string(), z.string()).default({}),
            values: z.record(z.string().regex(/^-?\d+(\.\d+)?$/, 'a gauge value such as 0, 1 or 2'), z.string().min(1).max(40)).default({}),
          }),
        )
        .default([]),
    })
    .optional(),
  /** Where this system's committed experiments are (the dashboard shows their schedule); relative to this file. */
  experiments: z.string().min(1).default('experiments'),
});
export type SystemDecl = Omit<z.output<typeof SystemSchema>, 'services'> & { services: Record<string, ServiceDecl> };

/** The top level with each service left unparsed: services are validated one by one, by their own type. */
export const SystemShape = SystemSchema.extend({ services: z.record(Name, z.unknown()).refine((s) => Object.keys(s).length > 0, 'a system needs at least one service') });

/** The JSON Schema of the system file, for editors (`faultline schema > faultline.schema.json`). */
export function systemJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'faultline system file (faultline.yaml)',
    ...(z.toJSONSchema(SystemSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
  };
}
