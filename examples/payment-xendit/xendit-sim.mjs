#!/usr/bin/env node
// xendit-sim.mjs — the part of Xendit's Invoice API payment-xendit uses, for
// tests and local runs: node xendit-sim.mjs [--port 0] [--secret-key K]
// [--callback-token T]; prints "LISTENING <port>".
//
//   POST /v2/invoices             {external_id, amount, description?, invoice_duration?,
//                                  success_redirect_url?, payer_email?, payment_methods?}
//                                 → 200 {id, external_id, user_id, status:"PENDING", merchant_name,
//                                        amount, description, invoice_url, expiry_date, currency, …}
//   GET  /v2/invoices/{id}        → 200 the invoice (paid_amount, payment_method once paid);
//                                   404 INVOICE_NOT_FOUND_ERROR
//   POST /invoices/{id}/expire!   → 200 the invoice, status "EXPIRED"; 404 when not PENDING
//   each needs "Authorization: Basic base64(<secret key>:)" (else 401 INVALID_API_KEY)
//
// Callbacks are the invoice object POSTed with "x-callback-token: <the
// account's verification token>"; Xendit signs nothing else. For
// `dermaga plugin-check --against <url>` and tests, the simulator hands out
// the callback it would send (and applies its status to the invoice):
//   POST /__dermaga/notification {"reference": <external_id>, "status"}
//     → {"headers": {…}, "body": "…"}   status: paid | settled | expired | pending,
//       anything else is sent upper-cased and changes nothing.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({ options: {
  port: { type: 'string', default: '0' },
  'secret-key': { type: 'string', default: 'xnd_development_sim' },
  'callback-token': { type: 'string', default: 'sim-callback-token' },
} });
const basic = `Basic ${Buffer.from(`${opt['secret-key']}:`).toString('base64')}`;
const invoices = new Map(); // id → invoice

function send(res, code, body) {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
const notFound = (res) => send(res, 404, { error_code: 'INVOICE_NOT_FOUND_ERROR', message: 'Invoice not found' });

function callback(inv, word) {
  const status = word.toUpperCase();
  const now = new Date().toISOString();
  if (inv.status === 'PENDING' && (status === 'PAID' || status === 'SETTLED')) {
    Object.assign(inv, { status, paid_amount: inv.amount, paid_at: now, payment_method: 'BANK_TRANSFER',
                         payment_channel: 'BCA', updated: now });
  } else if (inv.status === 'PENDING' && status === 'EXPIRED') {
    Object.assign(inv, { status, updated: now });
  }
  const body = JSON.stringify({ ...inv, status, user_id: inv.user_id, is_high: false });
  return { headers: { 'Content-Type': 'application/json', 'x-callback-token': opt['callback-token'] }, body };
}

function route(req, body, res) {
  const url = new URL(req.url, 'http://sim');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'POST' && url.pathname === '/__dermaga/notification') {
    // Xendit allows an external_id on several invoices: the latest one.
    const inv = [...invoices.values()].reverse().find((x) => x.external_id === body.reference);
    return inv ? send(res, 200, callback(inv, String(body.status))) : notFound(res);
  }
  if (req.headers.authorization !== basic) {
    return send(res, 401, { error_code: 'INVALID_API_KEY', message: 'API key is not authorized for this API service' });
  }
  if (req.method === 'POST' && url.pathname.replace(/\/$/, '') === '/v2/invoices') {
    if (typeof body.external_id !== 'string' || body.external_id === '' || typeof body.amount !== 'number' ||
        !(body.amount > 0)) {
      return send(res, 400, { error_code: 'API_VALIDATION_ERROR', message: 'external_id and amount are required' });
    }
    const id = randomBytes(12).toString('hex');
    const now = new Date();
    const duration = Number.isInteger(body.invoice_duration) && body.invoice_duration > 0 ? body.invoice_duration : 86400;
    const inv = { id, external_id: body.external_id, user_id: 'sim-business', status: 'PENDING',
                  merchant_name: 'Dermaga Sim', amount: body.amount, description: body.description ?? '',
                  invoice_url: `http://${req.headers.host}/web/${id}`,
                  expiry_date: new Date(now.getTime() + 1000 * duration).toISOString(),
                  currency: 'IDR', created: now.toISOString(), updated: now.toISOString() };
    if (body.payer_email) inv.payer_email = body.payer_email;
    if (body.success_redirect_url) inv.success_redirect_url = body.success_redirect_url;
    if (Array.isArray(body.payment_methods)) inv.available_banks = body.payment_methods;
    invoices.set(id, inv);
    return send(res, 200, inv);
  }
  if (req.method === 'GET' && parts.length === 3 && parts[0] === 'v2' && parts[1] === 'invoices') {
    const inv = invoices.get(parts[2]);
    return inv ? send(res, 200, inv) : notFound(res);
  }
  if (req.method === 'POST' && parts.length === 3 && parts[0] === 'invoices' && parts[2] === 'expire!') {
    const inv = invoices.get(parts[1]);
    if (!inv || inv.status !== 'PENDING') return notFound(res);
    Object.assign(inv, { status: 'EXPIRED', updated: new Date().toISOString() });
    return send(res, 200, inv);
  }
  return send(res, 404, { error_code: 'NOT_FOUND', message: 'no such route' });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = {};
    try { body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}; } catch {
      return send(res, 400, { error_code: 'API_VALIDATION_ERROR', message: 'not JSON' });
    }
    route(req, body, res);
  });
});
server.listen(Number(opt.port), '127.0.0.1', () => process.stdout.write(`LISTENING ${server.address().port}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
