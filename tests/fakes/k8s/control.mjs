// control.mjs — the test-only control API under /fake/ (no token needed):
// what a test needs to steer the fake or look behind it. README.md lists it.
import { RESOURCES, parsePath } from './resources.mjs';
import { notFound, badRequest, pathNotFound } from './status.mjs';

const PODS = RESOURCES.find((r) => r.plural === 'pods');

export function parseDeny(rule) {
  const [verb, resource] = String(rule).split(':');
  if (!verb || !resource) throw badRequest(`a deny rule is verb:resource, e.g. create:deployments or *:deployments/scale; got "${rule}"`);
  return { verb, resource };
}

// The RBAC verb of an API request (as in server.mjs) and its resource
// ("deployments", "deployments/scale"), for the rules below; null when the
// path is not an API resource.
function verbResource(method, pathname) {
  const p = parsePath(pathname);
  const verbs = { GET: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  if (!p || !verbs[method]) return null;
  let verb = verbs[method];
  if (p.name === undefined && method === 'GET') verb = 'list';
  if (p.name === undefined && method === 'DELETE') verb = 'deletecollection';
  return { verb, resource: p.sub ? `${p.res.plural}/${p.sub}` : p.res.plural };
}

const matches = (rules, vr) => vr !== null && rules.some((r) => (r.verb === '*' || r.verb === vr.verb) && (r.resource === '*' || r.resource === vr.resource));

export class Control {
  constructor({ store, logs, metrics, requests, deny, api, controller, rbac = null }) {
    Object.assign(this, { store, logs, metrics, requests, deny, api, controller, rbac });
    this.delay = { ms: 0, rules: [] };   // /fake/delay
    this.policy = { rules: [], message: '' }; // /fake/admission-policy
    this.conflicts = { times: 0, rules: [] }; // /fake/conflict
  }

  // True when this request is to meet a 409 Conflict (/fake/conflict: as
  // if another writer changed the object first), counting it down.
  conflictNow(verb, resource) {
    if (this.conflicts.times <= 0 || !matches(this.conflicts.rules, { verb, resource })) return false;
    this.conflicts.times--;
    return true;
  }

  // How long (ms) to hold an API request before serving it: /fake/delay.
  delayFor(method, pathname) {
    if (this.delay.ms <= 0) return 0;
    if (!this.delay.rules.length) return this.delay.ms;
    return matches(this.delay.rules, verbResource(method, pathname)) ? this.delay.ms : 0;
  }

  // The message of the admission policy that refuses this request, or null.
  policyRefuses(verb, resource) {
    return matches(this.policy.rules, { verb, resource }) ? this.policy.message : null;
  }

  // Back to a fresh cluster without restarting: Deployments go first so
  // that the controller does not replace the pods removed after them.
  reset() {
    const order = [...RESOURCES].sort((a, b) => (b.plural === 'deployments') - (a.plural === 'deployments'));
    for (const r of order) {
      if (r.readOnly) continue;
      for (const o of this.store.list(r)) {
        if (r.plural === 'namespaces' && ['default', 'kube-system'].includes(o.metadata.name)) continue;
        this.store.remove(r, o);
      }
    }
    this.api.applied.clear();
    this.requests.length = 0;
    this.deny.length = 0;
    this.metrics.enabled = true;
    this.metrics.usage.clear();
    this.controller.admission = null;
    this.delay = { ms: 0, rules: [] };
    this.policy = { rules: [], message: '' };
    this.conflicts = { times: 0, rules: [] };
    this.rbac?.build(); // the manifest as loaded, no use counted
  }

  json(raw) {
    try { return JSON.parse(raw || '{}'); } catch (e) { throw badRequest(`not JSON: ${e.message}`); }
  }

  // → { code, body } (an object is sent as JSON).
  handle(method, seg, q, raw) {
    const [what, ...rest] = seg;
    const setting = method === 'PUT' || method === 'POST';
    if (what === 'requests' && rest.length === 0) {
      if (method === 'GET') return { code: 200, body: { items: this.requests } };
      if (method === 'DELETE') { this.requests.length = 0; return { code: 200, body: { items: [] } }; }
    }
    if (what === 'pods' && rest.length === 3 && rest[2] === 'log' && method === 'POST') {
      const [ns, name] = rest;
      const pod = this.store.get(PODS, ns, name);
      if (!pod) throw notFound(PODS, name);
      const container = this.logs.container(pod, q);
      const lines = raw.split('\n');
      if (lines.at(-1) === '') lines.pop();
      for (const l of lines) this.logs.append(ns, name, container, l);
      return { code: 200, body: { appended: lines.length, container } };
    }
    if (what === 'reset' && rest.length === 0 && method === 'POST') {
      this.reset();
      return { code: 200, body: { reset: true } };
    }
    if (what === 'deny' && rest.length === 0) {
      if (setting) this.deny.splice(0, this.deny.length, ...(this.json(raw).rules ?? []).map(parseDeny));
      return { code: 200, body: { rules: this.deny.map((r) => `${r.verb}:${r.resource}`) } };
    }
    if (what === 'pod-admission' && rest.length === 0) {
      if (setting) {
        this.controller.admission = this.json(raw).deny || null;
        this.controller.resync();
      }
      return { code: 200, body: { deny: this.controller.admission } };
    }
    if (what === 'delay' && rest.length === 0) {
      if (setting) {
        const b = this.json(raw);
        this.delay = { ms: Math.max(0, Number(b.ms) || 0), rules: (b.rules ?? []).map(parseDeny) };
      }
      return { code: 200, body: { ms: this.delay.ms, rules: this.delay.rules.map((r) => `${r.verb}:${r.resource}`) } };
    }
    if (what === 'admission-policy' && rest.length === 0) {
      if (setting) {
        const b = this.json(raw);
        this.policy = { rules: (b.rules ?? []).map(parseDeny), message: String(b.message ?? 'failed expression: false') };
      }
      return { code: 200, body: { rules: this.policy.rules.map((r) => `${r.verb}:${r.resource}`), message: this.policy.message } };
    }
    if (what === 'conflict' && rest.length === 0) {
      if (setting) {
        const b = this.json(raw);
        this.conflicts = { times: Math.max(0, Number(b.times ?? 0)), rules: (b.rules ?? []).map(parseDeny) };
      }
      return { code: 200, body: { times: this.conflicts.times, rules: this.conflicts.rules.map((r) => `${r.verb}:${r.resource}`) } };
    }
    if (what === 'metrics-server' && rest.length === 0) {
      if (setting) this.metrics.enabled = this.json(raw).enabled !== false;
      return { code: 200, body: { enabled: this.metrics.enabled } };
    }
    if (what === 'metrics' && rest.length === 2 && setting) {
      this.metrics.set(rest[0], rest[1], this.json(raw).containers ?? {});
      return { code: 200, body: { ok: true } };
    }
    if (what === 'rbac') return this.rbacControl(method, rest, raw);
    throw pathNotFound();
  }

  // /fake/rbac/used (GET: what the authorizer allowed, refused, and how
  // often each grant was used; DELETE: counts back to 0) and
  // /fake/rbac/remove (PUT {"verb","resource","apiGroup"?}: that grant
  // gone from every rule; 400 when there is none).
  rbacControl(method, rest, raw) {
    if (!this.rbac) throw badRequest('the fake runs without --rbac');
    const [sub, ...more] = rest;
    if (sub === 'used' && more.length === 0 && method === 'GET') return { code: 200, body: this.rbac.report() };
    if (sub === 'used' && more.length === 0 && method === 'DELETE') { this.rbac.clearUse(); return { code: 200, body: this.rbac.report() }; }
    if (sub === 'remove' && more.length === 0 && (method === 'PUT' || method === 'POST')) {
      const { verb, resource, apiGroup } = this.json(raw);
      const removed = this.rbac.remove({ verb, resource, apiGroup });
      if (removed === 0) throw badRequest(`no grant of ${verb} on ${resource}${apiGroup !== undefined ? ` in API group "${apiGroup}"` : ''} to remove`);
      return { code: 200, body: { removed } };
    }
    throw pathNotFound();
  }
}
