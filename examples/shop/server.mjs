// shop: a small product-and-orders HTTP API.
//
// Dependencies: PostgreSQL (products, orders), Redis (product cache) and a third-party
// pricing API (quotes for orders). Configured through environment variables only:
//   PORT         port to listen on (default 8080)
//   HOST         address to bind (default 127.0.0.1)
//   DATABASE_URL postgres://user:pass@host:port/db
//   REDIS_URL    redis://host:port
//   PRICING_URL  base URL of the pricing API, e.g. http://127.0.0.1:9090
//
// Run: node server.mjs

import http from 'node:http';
import pg from 'pg';
import Redis from 'ioredis';

const PORT = Number(process.env.PORT ?? 8080);
const HOST = process.env.HOST || '127.0.0.1';
const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
const PRICING_URL = (process.env.PRICING_URL ?? '').replace(/\/+$/, '');

for (const [name, value] of Object.entries({ DATABASE_URL, REDIS_URL, PRICING_URL })) {
  if (!value) {
    console.error(`shop: ${name} is required`);
    process.exit(1);
  }
}
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`shop: PORT must be a port number, got ${process.env.PORT}`);
  process.exit(1);
}

const CACHE_TTL_S = 30;
const PRICING_TIMEOUT_MS = 2000;
const READY_CHECK_TIMEOUT_MS = 1000;
const SHUTDOWN_DEADLINE_MS = 4500;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_QUANTITY = 1000;
const INT4_MAX = 2147483647;

// ---------------------------------------------------------------------------
// Dependencies

const db = new pg.Pool({
  connectionString: DATABASE_URL,
  max: 10,
  connectionTimeoutMillis: 2000,
  idleTimeoutMillis: 10000,
  query_timeout: 5000,
  application_name: 'shop',
});
// An idle client losing its connection (database restart, network cut) is reported here;
// without a listener it would crash the process. The pool replaces the client on demand.
db.on('error', (err) => console.error(`shop: postgres idle client error: ${err.message}`));

// Connects at once and reconnects forever; the cache is optional for serving, /readyz reports it.
const redis = new Redis(REDIS_URL, {
  enableOfflineQueue: false, // fail fast while disconnected instead of queueing commands
  maxRetriesPerRequest: 1,
  commandTimeout: 500,
  connectTimeout: 2000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
});
let redisUp = false;
let redisErrorLogged = false;
redis.on('ready', () => {
  console.error('shop: redis connected');
  redisUp = true;
  redisErrorLogged = false;
});
redis.on('close', () => {
  if (redisUp) {
    console.error('shop: redis connection lost, reconnecting');
    redisErrorLogged = false;
  }
  redisUp = false;
});
redis.on('error', (err) => {
  // ioredis emits an error on every failed reconnect attempt; log the first of a run only.
  if (!redisErrorLogged) console.error(`shop: redis error: ${err.message}`);
  redisErrorLogged = true;
});

// ---------------------------------------------------------------------------
// Schema and seed data

const ADJECTIVES = ['Sturdy', 'Compact', 'Vintage', 'Bright', 'Quiet', 'Rapid', 'Classic', 'Smart', 'Tiny', 'Heavy'];
const NOUNS = ['Kettle', 'Lamp', 'Backpack', 'Notebook', 'Headphones', 'Mug', 'Chair', 'Umbrella', 'Keyboard', 'Bottle'];
const SEED_COUNT = 100;

function seedProducts() {
  const ids = [];
  const names = [];
  const prices = [];
  for (let id = 1; id <= SEED_COUNT; id++) {
    ids.push(id);
    names.push(`${ADJECTIVES[(id - 1) % 10]} ${NOUNS[Math.floor((id - 1) / 10) % 10]}`);
    prices.push(199 + ((id * 7919) % 9800));
  }
  return { ids, names, prices };
}

async function migrate() {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    // Several replicas may start together; serialise their migrations.
    await client.query('SELECT pg_advisory_xact_lock(872301)');
    await client.query(`
      CREATE TABLE IF NOT EXISTS products (
        id          integer PRIMARY KEY,
        name        text    NOT NULL,
        price_cents integer NOT NULL CHECK (price_cents >= 0)
      )`);
    await client.query(`
      CREATE TABLE IF NOT EXISTS orders (
        id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        product_id  integer NOT NULL REFERENCES products (id),
        quantity    integer NOT NULL CHECK (quantity > 0),
        total_cents bigint  NOT NULL CHECK (total_cents >= 0),
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    const { ids, names, prices } = seedProducts();
    await client.query(
      `INSERT INTO products (id, name, price_cents)
       SELECT * FROM unnest($1::integer[], $2::text[], $3::integer[])
       ON CONFLICT (id) DO NOTHING`,
      [ids, names, prices],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

// The database may come up after us (compose, systemd ordering): keep trying for a while.
async function migrateWithRetry(deadlineMs = 30000) {
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await migrate();
      return;
    } catch (err) {
      if (Date.now() - start > deadlineMs) throw err;
      if (attempt === 1 || attempt % 10 === 0) console.error(`shop: database not ready (${err.message}), retrying`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

// ---------------------------------------------------------------------------
// Domain

class HttpError extends Error {
  constructor(status, body) {
    super(body.error);
    this.status = status;
    this.body = body;
  }
}

const badField = (field, message) => new HttpError(400, { error: message, field });

// Cache-aside read. A Redis failure is treated as a cache miss: the product page keeps
// working from Postgres, only slower.
async function getProduct(id) {
  const key = `product:${id}`;
  let cacheOk = true;
  try {
    const cached = await redis.get(key);
    if (cached !== null) {
      const product = JSON.parse(cached);
      return { ...product, source: 'cache' };
    }
  } catch (err) {
    cacheOk = false;
    console.error(`shop: cache read failed for ${key}: ${err.message}`);
  }

  const { rows } = await db.query('SELECT id, name, price_cents FROM products WHERE id = $1', [id]);
  if (rows.length === 0) return null;
  const product = rows[0];

  if (cacheOk) {
    try {
      await redis.set(key, JSON.stringify(product), 'EX', CACHE_TTL_S);
    } catch (err) {
      console.error(`shop: cache write failed for ${key}: ${err.message}`);
    }
  }
  return { ...product, source: 'db' };
}

async function quote(productId, quantity) {
  const url = `${PRICING_URL}/quote?product_id=${encodeURIComponent(productId)}&quantity=${encodeURIComponent(quantity)}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PRICING_TIMEOUT_MS) });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`status ${res.status}`);
    }
    const body = await res.json();
    if (!Number.isSafeInteger(body?.total_cents) || body.total_cents < 0) {
      throw new Error('malformed quote');
    }
    return body.total_cents;
  } catch (err) {
    const reason = err?.name === 'TimeoutError' ? `timed out after ${PRICING_TIMEOUT_MS} ms` : err?.cause?.code ?? err?.message;
    console.error(`shop: pricing call failed: ${reason}`);
    throw new HttpError(502, { error: 'pricing unavailable' });
  }
}

async function createOrder(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new HttpError(400, { error: 'body must be a JSON object' });
  }
  const { product_id: productId, quantity } = input;
  if (!Number.isInteger(productId) || productId < 1 || productId > INT4_MAX) {
    throw badField('product_id', 'product_id must be a positive integer');
  }
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    throw badField('quantity', `quantity must be an integer between 1 and ${MAX_QUANTITY}`);
  }

  const product = await getProduct(productId);
  if (!product) throw new HttpError(404, { error: 'product not found', field: 'product_id' });

  const totalCents = await quote(productId, quantity);

  const { rows } = await db.query(
    'INSERT INTO orders (product_id, quantity, total_cents) VALUES ($1, $2, $3) RETURNING id',
    [productId, quantity, totalCents],
  );
  return { id: Number(rows[0].id), total_cents: totalCents };
}

async function getOrder(id) {
  const { rows } = await db.query(
    'SELECT id, product_id, quantity, total_cents, created_at FROM orders WHERE id = $1',
    [id],
  );
  if (rows.length === 0) return null;
  const o = rows[0];
  return {
    id: Number(o.id),
    product_id: o.product_id,
    quantity: o.quantity,
    total_cents: Number(o.total_cents),
    created_at: o.created_at.toISOString(),
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function readiness() {
  const checks = await Promise.allSettled([
    withTimeout(db.query('SELECT 1'), READY_CHECK_TIMEOUT_MS, 'postgres'),
    withTimeout(redis.ping(), READY_CHECK_TIMEOUT_MS, 'redis'),
  ]);
  const result = {};
  const failed = [];
  ['postgres', 'redis'].forEach((name, i) => {
    const c = checks[i];
    if (c.status === 'fulfilled') result[name] = 'ok';
    else {
      result[name] = c.reason?.message || String(c.reason);
      failed.push(name);
    }
  });
  return { ok: failed.length === 0, failed, checks: result };
}

// ---------------------------------------------------------------------------
// HTTP

let shuttingDown = false;

function send(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...(shuttingDown ? { connection: 'close' } : {}),
  });
  res.end(payload);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, { error: `body larger than ${MAX_BODY_BYTES} bytes` }));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, { error: 'body must be valid JSON' }));
      }
    });
    req.on('error', reject);
  });
}

// Ids in paths: digits only, and within the column's range (anything else cannot exist).
function parseId(raw, max) {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 1 && n <= max ? n : null;
}

async function route(req, res) {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method;
  let m;

  if (method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });

  if (method === 'GET' && path === '/readyz') {
    if (shuttingDown) return send(res, 503, { ok: false, failed: [], checks: {}, shutting_down: true });
    const r = await readiness();
    return send(res, r.ok ? 200 : 503, r);
  }

  if (method === 'GET' && (m = /^\/products\/(\d+)$/.exec(path))) {
    const id = parseId(m[1], INT4_MAX);
    const product = id === null ? null : await getProduct(id);
    if (!product) return send(res, 404, { error: 'product not found' });
    return send(res, 200, {
      id: product.id,
      name: product.name,
      price_cents: product.price_cents,
      source: product.source,
    });
  }

  if (method === 'POST' && path === '/orders') {
    const input = await readJson(req);
    const order = await createOrder(input);
    return send(res, 201, order);
  }

  if (method === 'GET' && (m = /^\/orders\/(\d+)$/.exec(path))) {
    const id = parseId(m[1], Number.MAX_SAFE_INTEGER);
    const order = id === null ? null : await getOrder(id);
    if (!order) return send(res, 404, { error: 'order not found' });
    return send(res, 200, order);
  }

  return send(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${req.method} ${req.url} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });
  route(req, res).catch((err) => {
    if (err instanceof HttpError) {
      if (!res.headersSent) send(res, err.status, err.body);
      return;
    }
    console.error(`shop: ${req.method} ${req.url} failed:`, err);
    if (!res.headersSent) send(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});
server.keepAliveTimeout = 5000;

// ---------------------------------------------------------------------------
// Lifecycle

async function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.error(`shop: ${signal} received, shutting down`);

  const force = setTimeout(() => {
    console.error('shop: shutdown deadline reached, exiting anyway');
    process.exit(0);
  }, SHUTDOWN_DEADLINE_MS);
  force.unref();

  // Stop accepting; let in-flight requests finish, then drop idle keep-alive sockets.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const stragglers = setTimeout(() => server.closeAllConnections(), 3000);
  stragglers.unref();
  await closed;
  clearTimeout(stragglers);

  await Promise.allSettled([
    db.end(),
    redis.quit().catch(() => redis.disconnect()),
  ]);
  console.error('shop: bye');
  process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

async function main() {
  await migrateWithRetry();
  if (shuttingDown) return;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, HOST, resolve);
  });
  const addr = server.address();
  console.error(`shop: listening on http://${addr.address}:${addr.port}`);
}

main().catch((err) => {
  console.error('shop: failed to start:', err);
  process.exit(1);
});
