// pricing-stub: a stand-in for the third-party pricing API the shop calls for quotes.
//
//   GET /quote?product_id=<int>&quantity=<int>  -> 200 {"total_cents": <int>} after ~20 ms
//   GET /healthz                                -> 200 {"ok": true}
//
// Prices are deterministic: the unit price follows the same list as the shop's seed data,
// 199 + (product_id * 7919) % 9800 cents, and orders of 10 or more get 10 % off.
// PORT from the environment (default 9090), bound to HOST (default 127.0.0.1).

import http from 'node:http';

const PORT = Number(process.env.PORT ?? 9090);
const HOST = process.env.HOST || '127.0.0.1';
const LATENCY_MS = 20;

function quoteCents(productId, quantity) {
  const unit = 199 + ((productId * 7919) % 9800);
  const gross = unit * quantity;
  return quantity >= 10 ? Math.round(gross * 0.9) : gross;
}

function send(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

const positiveInt = (s) => (s !== null && /^\d{1,9}$/.test(s) && Number(s) > 0 ? Number(s) : null);

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://stub');
  if (req.method !== 'GET') return send(res, 404, { error: 'not found' });
  if (url.pathname === '/healthz') return send(res, 200, { ok: true });
  if (url.pathname === '/quote') {
    const productId = positiveInt(url.searchParams.get('product_id'));
    const quantity = positiveInt(url.searchParams.get('quantity'));
    if (productId === null) return send(res, 400, { error: 'product_id must be a positive integer' });
    if (quantity === null) return send(res, 400, { error: 'quantity must be a positive integer' });
    setTimeout(() => send(res, 200, { total_cents: quoteCents(productId, quantity) }), LATENCY_MS);
    return;
  }
  send(res, 404, { error: 'not found' });
});

server.listen(PORT, HOST, () => {
  const addr = server.address();
  console.error(`pricing-stub: listening on http://${addr.address}:${addr.port}`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
