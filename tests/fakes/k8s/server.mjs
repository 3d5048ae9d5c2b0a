#!/usr/bin/env node
// server.mjs — a fake Kubernetes API server on loopback for the
// runtime-kubernetes plugin's tests (README.md). Prints "LISTENING <port>"
// once it accepts connections.
//   node server.mjs [--port 0] [--token T] [--https --cert F --key F]
//                   [--deny verb:resource]... [--no-metrics]
//                   [--pod-start-ms 200] [--crash-ms 500] [--user dermaga]
//                   [--schema-errors 422|400] [--rbac manifest.yaml]
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Store } from './store.mjs';
import { Logs } from './logs.mjs';
import { Controller } from './controller.mjs';
import { Api } from './api.mjs';
import { scale } from './scale.mjs';
import { Metrics, seed } from './cluster.mjs';
import { Control, parseDeny } from './control.mjs';
import { parsePath } from './resources.mjs';
import { Rbac, attributes } from './rbac.mjs';
import * as S from './status.mjs';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    token: { type: 'string' },
    https: { type: 'boolean', default: false },
    cert: { type: 'string' },
    key: { type: 'string' },
    deny: { type: 'string', multiple: true, default: [] },
    'no-metrics': { type: 'boolean', default: false },
    'pod-start-ms': { type: 'string', default: '200' },
    'crash-ms': { type: 'string', default: '500' },
    user: { type: 'string' },
    'schema-errors': { type: 'string', default: '422' },
    rbac: { type: 'string' },
  },
});
// Under --rbac requests are made as the service account the manifest binds.
const user = opt.user ?? (opt.rbac ? 'system:serviceaccount:dermaga:dermaga' : 'dermaga');
let rbac = null;
if (opt.rbac) {
  try { rbac = Rbac.load(opt.rbac, user); } catch (e) { console.error(`--rbac: ${e.message}`); process.exit(2); }
}
if (opt.https && (!opt.cert || !opt.key)) {
  console.error('--https needs --cert and --key (gen-certs.sh makes them)');
  process.exit(2);
}

const store = new Store();
seed(store);
const logs = new Logs();
const controller = new Controller(store, logs, { podStartMs: Number(opt['pod-start-ms']), crashMs: Number(opt['crash-ms']) });
const api = new Api(store, controller, { schemaCode: Number(opt['schema-errors']) });
const metrics = new Metrics(store, !opt['no-metrics']);
const requests = [];
const deny = opt.deny.map(parseDeny);
const control = new Control({ store, logs, metrics, requests, deny, api, controller, rbac });

// The request log keeps the newest entries only, so a long test stays small.
const MAX_REQUESTS = 10000;
const VERBS = { GET: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

function verbOf(method, name) {
  if (name === undefined && method === 'GET') return 'list';
  if (name === undefined && method === 'DELETE') return 'deletecollection';
  return VERBS[method];
}

function send(res, code, body, warnings = []) {
  const headers = { 'Content-Type': 'application/json' };
  if (warnings.length) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
  res.writeHead(code, headers);
  res.end(JSON.stringify(body));
}

function discovery(path) {
  if (path === '/version') return { major: '1', minor: '30', gitVersion: 'v1.30.0-fake', platform: 'linux/amd64' };
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (path === '/apis') {
    const g = (name, version) => ({ name, versions: [{ groupVersion: `${name}/${version}`, version }], preferredVersion: { groupVersion: `${name}/${version}`, version } });
    const groups = [g('apps', 'v1'), g('networking.k8s.io', 'v1'), g('autoscaling', 'v1')];
    if (metrics.enabled) groups.push(g('metrics.k8s.io', 'v1beta1'));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  return null;
}

// One request → { code, body, warnings } or a stream writer for logs.
function route(method, url, type, raw, user) {
  const seg = url.pathname.split('/').filter(Boolean);
  const q = url.searchParams;
  const known = method === 'GET' && discovery(url.pathname);
  if (known) return { code: 200, body: known };
  if (seg[0] === 'apis' && seg[1] === 'metrics.k8s.io' && seg[2] === 'v1beta1' && method === 'GET') {
    return { code: 200, body: metrics.handle(seg.slice(3), q) };
  }
  const p = parsePath(url.pathname);
  if (!p || !VERBS[method]) throw S.pathNotFound();
  const { res, ns, name, sub } = p;
  const verb = verbOf(method, name);
  const rname = sub ? `${res.plural}/${sub}` : res.plural;
  if (deny.some((r) => (r.verb === '*' || r.verb === verb) && (r.resource === '*' || r.resource === rname))) {
    throw S.forbidden(user, verb, { ...res, sub }, ns, name);
  }
  const refusal = control.policyRefuses(verb, rname);
  if (refusal !== null) throw S.policyDenied(res, name, refusal);
  if (name && control.conflictNow(verb, rname)) throw S.conflict(res, name);
  if (sub === 'scale') return scale(api, res, ns, name, method, raw, type, q);
  if (sub === 'log' && res.plural === 'pods' && method === 'GET') return { stream: logs.serve(api.get(res, ns, name), q) };
  if (sub !== undefined) throw S.pathNotFound();
  const parseBody = () => { try { return JSON.parse(raw); } catch (e) { throw S.badRequest(`error decoding the request body: ${e.message}`); } };
  if (name === undefined) {
    if (method === 'GET') return { code: 200, body: api.list(res, ns, q) };
    if (method === 'POST' && (ns !== undefined || !res.namespaced)) return api.create(res, ns, parseBody(), q);
    if (method === 'DELETE' && (ns !== undefined || !res.namespaced)) return api.removeCollection(res, ns, q, raw);
    throw S.methodNotAllowed(`${method} is not supported here`);
  }
  if (method === 'GET') return { code: 200, body: api.get(res, ns, name) };
  if (method === 'PUT') return api.replace(res, ns, name, parseBody(), q);
  if (method === 'PATCH') return api.patch(res, ns, name, raw, type, q);
  if (method === 'DELETE') return api.remove(res, ns, name, q, raw);
  throw S.methodNotAllowed(`${method} is not supported on ${res.plural}/${name}`);
}

// --rbac: the authorizer's check of the request, then, for a server-side
// apply of an object that does not exist yet, the patch handler's second
// check as create (the real API server's rule: an apply that creates needs
// both patch and create).
function authorize(method, url, type) {
  const a = attributes(method, url.pathname, url.searchParams);
  if (!a) return;
  const q = a.group ? `${a.resource}.${a.group}` : a.resource;
  if (!rbac.authorize(a)) throw rbac.forbidden(a, q);
  if (method !== 'PATCH' || type !== 'application/apply-patch+yaml' || !a.name || a.sub) return;
  const p = parsePath(url.pathname);
  if (p && !p.sub && !control.store.get(p.res, p.ns, p.name) && !rbac.authorize({ ...a, verb: 'create' })) {
    throw rbac.forbiddenCreate(a, q);
  }
}

function handler(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://fake');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
    try {
      if (url.pathname.startsWith('/fake/')) {
        const out = control.handle(req.method, url.pathname.split('/').filter(Boolean).slice(1), url.searchParams, raw);
        return send(res, out.code, out.body);
      }
      // Every API request is kept for tests (GET /fake/requests).
      const entry = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), contentType: type, body: raw };
      requests.push(entry);
      if (requests.length > MAX_REQUESTS) requests.splice(0, requests.length - MAX_REQUESTS);
      res.on('finish', () => { entry.code = res.statusCode; });
      if (opt.token !== undefined && req.headers.authorization !== `Bearer ${opt.token}`) throw S.unauthorized();
      if (rbac) authorize(req.method, url, type);
      const late = control.delayFor(req.method, url.pathname); // /fake/delay: a slow API server
      if (late > 0) return void setTimeout(() => answer(req, res, url, type, raw), late);
      answer(req, res, url, type, raw);
    } catch (e) {
      fail(res, e);
    }
  });
}

function fail(res, e) {
  if (!(e instanceof S.ApiError)) {
    console.error(e);
    e = new S.ApiError(500, 'InternalError', `fake k8s: ${e.message}`);
  }
  send(res, e.status.code, e.status);
}

function answer(req, res, url, type, raw) {
  try {
    const out = route(req.method, url, type, raw, user);
    if (out.stream) return out.stream(res);
    send(res, out.code, out.body, out.warnings);
  } catch (e) {
    fail(res, e);
  }
}

const server = opt.https
  ? https.createServer({ cert: readFileSync(opt.cert), key: readFileSync(opt.key) }, handler)
  : http.createServer(handler);
server.listen(Number(opt.port), '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
