#!/usr/bin/env node
// gateway-sim.mjs — a tiny payment gateway ("Example Pay") for the payment
// template to talk to while you build: node gateway-sim.mjs [--port 0]
// [--api-key K] [--webhook-secret S]; prints "LISTENING <port>". Replace
// it with your gateway's sandbox once the plugin speaks its API.
//
//   POST /v1/payments             {"reference","amount","method","expires_in"}
//                                 → 201 {"id","reference","amount","method","status":"pending",
//                                        "checkout_url","expires_at"}
//   GET  /v1/payments/{id}        → 200 the payment, 404 unknown
//   POST /v1/payments/{id}/cancel → 200 status "cancelled", 409 when not pending
//   every call needs "Authorization: Bearer <api key>" (else 401)
//
// Notifications are JSON {"id","reference","amount","status"} signed with
// "X-Signature: <hex HMAC-SHA256 of the body with the webhook secret>".
// For `dermaga plugin-check --against <url>`, the simulator hands out the
// notification it would send (and applies its status):
//   POST /__dermaga/notification {"reference","status"} → {"headers":{…},"body":"…"}
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({ options: {
  port: { type: 'string', default: '0' },
  'api-key': { type: 'string', default: 'sim-api-key' },
  'webhook-secret': { type: 'string', default: 'sim-webhook-secret' },
} });
const payments = new Map(); // id → payment

function send(res, code, body) {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function notification(p, status) {
  if (['paid', 'failed', 'cancelled', 'expired', 'refunded'].includes(status)) p.status = status;
  const body = JSON.stringify({ id: p.id, reference: p.reference, amount: p.amount, status });
  const sig = createHmac('sha256', opt['webhook-secret']).update(body).digest('hex');
  return { headers: { 'Content-Type': 'application/json', 'X-Signature': sig }, body };
}

function route(req, body, res) {
  const url = new URL(req.url, 'http://sim');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'POST' && url.pathname === '/__dermaga/notification') {
    const p = [...payments.values()].find((x) => x.reference === body.reference);
    return p ? send(res, 200, notification(p, String(body.status))) : send(res, 404, { error: 'no such payment' });
  }
  if (req.headers.authorization !== `Bearer ${opt['api-key']}`) return send(res, 401, { error: 'bad api key' });
  if (req.method === 'POST' && url.pathname === '/v1/payments') {
    if (typeof body.reference !== 'string' || !Number.isInteger(body.amount) || body.amount <= 0) {
      return send(res, 400, { error: 'reference (string) and amount (positive integer) are required' });
    }
    const id = `pay_${randomBytes(8).toString('hex')}`;
    const p = { id, reference: body.reference, amount: body.amount, method: body.method ?? 'card',
                status: 'pending', checkout_url: `http://${req.headers.host}/checkout/${id}`,
                expires_at: Date.now() + 1000 * (Number(body.expires_in) || 86400) };
    payments.set(id, p);
    return send(res, 201, p);
  }
  const p = parts[0] === 'v1' && parts[1] === 'payments' ? payments.get(parts[2]) : undefined;
  if (!p) return send(res, 404, { error: 'no such payment' });
  if (req.method === 'GET' && parts.length === 3) return send(res, 200, p);
  if (req.method === 'POST' && parts[3] === 'cancel') {
    if (p.status !== 'pending') return send(res, 409, { error: `payment is ${p.status}` });
    p.status = 'cancelled';
    return send(res, 200, p);
  }
  return send(res, 404, { error: 'no such route' });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = {};
    try { body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}; } catch { return send(res, 400, { error: 'not JSON' }); }
    route(req, body, res);
  });
});
server.listen(Number(opt.port), '127.0.0.1', () => process.stdout.write(`LISTENING ${server.address().port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
