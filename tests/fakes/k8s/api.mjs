// api.mjs — the verbs on resources: get, list, create, update (PUT with
// resourceVersion preconditions), patch (merge, strategic, server-side
// apply), delete (with propagationPolicy), deletecollection, and the
// deployments' scale subresource. Pure request → answer; server.mjs does
// HTTP, auth and routing.
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { RESOURCES } from './resources.mjs';
import { clone, now } from './store.mjs';
import { fill } from './defaults.mjs';
import { check } from './validate.mjs';
import { rules } from './rules.mjs';
import { labelMatcher, fieldMatcher } from './selector.mjs';
import { mergePatch, strategicMerge, apply, isMap } from './merge.mjs';
import * as S from './status.mjs';

const NS = RESOURCES.find((r) => r.plural === 'namespaces');

const sameJSON = (a, b) => JSON.stringify(a) === JSON.stringify(b);
// Everything but metadata and status: a change here bumps generation.
const specOf = (o) => { const { metadata, status, ...rest } = o; return rest; };

export class Api {
  // schemaCode: 422 (Invalid) or 400 (BadRequest, what the real server
  // answers for a body it cannot decode or, under Strict, an unknown field).
  constructor(store, controller, { schemaCode = 422 } = {}) {
    this.store = store;
    this.controller = controller;
    this.schemaCode = schemaCode;
    this.applied = new Map(); // `${uid}/${manager}` → last applied object
  }

  // ---- reads
  get(res, ns, name) {
    const o = this.store.get(res, ns, name);
    if (!o) throw S.notFound(res, name);
    return clone(o);
  }

  list(res, ns, q) {
    if (q.get('watch') === 'true' || q.get('watch') === '1') throw S.badRequest('the fake does not serve watch');
    const lm = labelMatcher(q.get('labelSelector'));
    const fm = fieldMatcher(q.get('fieldSelector'));
    let items = this.store.list(res, ns).filter((o) => lm(o.metadata.labels) && fm(o));
    const meta = { resourceVersion: this.store.resourceVersion() };
    const after = q.get('continue');
    if (after) {
      let key;
      try { key = JSON.parse(Buffer.from(after, 'base64url').toString()).after; } catch { throw S.badRequest('continue key is not valid'); }
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > key);
    }
    const limit = Number(q.get('limit') || 0);
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1];
      meta.continue = Buffer.from(JSON.stringify({ after: `${last.metadata.namespace ?? ''}/${last.metadata.name}` })).toString('base64url');
      meta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    return this.listOf(res, items, meta);
  }

  // Items of a typed list carry no kind/apiVersion, as the API server's.
  listOf(res, items, meta = { resourceVersion: this.store.resourceVersion() }) {
    return {
      kind: `${res.kind}List`, apiVersion: res.apiVersion, metadata: meta,
      items: items.map((o) => { const { kind, apiVersion, ...rest } = clone(o); return rest; }),
    };
  }

  // ---- writes: shared checks
  needNamespace(res, ns) {
    if (res.namespaced && !this.store.get(NS, undefined, ns)) throw S.notFound(NS, ns);
  }

  // The body must be the URL's kind, in the URL's namespace, named as the URL.
  checkBody(res, ns, name, body) {
    if (!isMap(body)) throw S.badRequest('the request body must be a JSON object');
    body.apiVersion ??= res.apiVersion;
    body.kind ??= res.kind;
    if (body.apiVersion !== res.apiVersion) throw S.badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${res.apiVersion})`);
    if (body.kind !== res.kind) throw S.badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${res.kind})`);
    const m = body.metadata ??= {};
    if (!isMap(m)) throw S.invalid(res, name ?? '', [{ field: 'metadata', message: 'must be object' }]);
    if (res.namespaced) {
      if (m.namespace !== undefined && m.namespace !== ns) throw S.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      m.namespace = ns;
    }
    if (name !== undefined) {
      m.name ??= name;
      if (m.name !== name) throw S.badRequest(`the name of the object (${m.name}) does not match the name on the URL (${name})`);
    }
  }

  validate(res, obj, q) {
    return check(res, obj, q.get('fieldValidation') || 'Strict', this.schemaCode);
  }

  managed(obj, manager, operation) {
    const mf = (obj.metadata.managedFields ?? []).filter((e) => !(e.manager === manager && e.operation === operation));
    mf.push({ manager, operation, apiVersion: obj.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {} });
    obj.metadata.managedFields = mf;
  }

  // ---- create
  create(res, ns, body, q, manager = q.get('fieldManager') || 'unknown', op = 'Update') {
    if (res.readOnly || res.clientCreates === false) throw S.methodNotAllowed(`the fake does not let clients create ${res.plural}`);
    this.checkBody(res, ns, undefined, body);
    const m = body.metadata;
    if (m.name === undefined && m.generateName) m.name = m.generateName + randomBytes(3).toString('hex').slice(0, 5);
    if (m.name === undefined) throw S.invalid(res, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    this.needNamespace(res, ns);
    const warnings = this.validate(res, body, q);
    rules(res, body);
    if (this.store.get(res, ns, m.name)) throw S.alreadyExists(res, m.name);
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'managedFields']) delete m[k];
    delete body.status; // status is the system's to write
    m.generation = 1;
    this.managed(body, manager, op);
    fill(body);
    return { code: 201, body: clone(this.store.save(res, body)), warnings };
  }

  // ---- update: the common end of PUT, PATCH and apply on an existing object
  commit(res, cur, next, q, manager, op) {
    this.checkBody(res, cur.metadata.namespace, cur.metadata.name, next);
    const rv = next.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== cur.metadata.resourceVersion) throw S.conflict(res, cur.metadata.name);
    const warnings = this.validate(res, next, q);
    rules(res, next, cur);
    for (const k of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'managedFields']) {
      if (cur.metadata[k] === undefined) delete next.metadata[k]; else next.metadata[k] = clone(cur.metadata[k]);
    }
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    if (cur.status !== undefined) next.status = clone(cur.status); else delete next.status;
    fill(next, cur);
    if (!sameJSON(specOf(next), specOf(cur))) next.metadata.generation = (cur.metadata.generation ?? 0) + 1;
    this.managed(next, manager, op);
    // A write that changes nothing keeps the resourceVersion, as the real one.
    const { managedFields: a, ...m1 } = next.metadata;
    const { managedFields: b, ...m2 } = cur.metadata;
    if (sameJSON({ ...next, metadata: m1 }, { ...cur, metadata: m2 })) return { code: 200, body: clone(cur), warnings };
    return { code: 200, body: clone(this.store.save(res, next)), warnings };
  }

  existing(res, ns, name) {
    const cur = this.store.get(res, ns, name);
    if (!cur) throw S.notFound(res, name);
    return cur;
  }

  writable(res) {
    if (res.readOnly || res.clientCreates === false) throw S.methodNotAllowed(`the fake does not let clients write ${res.plural}`);
  }

  replace(res, ns, name, body, q) {
    this.writable(res);
    const cur = this.existing(res, ns, name);
    if (!isMap(body)) throw S.badRequest('the request body must be a JSON object');
    return this.commit(res, cur, body, q, q.get('fieldManager') || 'unknown', 'Update');
  }

  patch(res, ns, name, raw, type, q) {
    this.writable(res);
    if (type === 'application/apply-patch+yaml') return this.applyPatch(res, ns, name, raw, q);
    const cur = this.existing(res, ns, name);
    const body = this.patchBody(raw, type);
    const merged = type === 'application/strategic-merge-patch+json' ? strategicMerge(clone(cur), body) : mergePatch(clone(cur), body);
    // A patch without a resourceVersion is unconditional.
    if (body.metadata?.resourceVersion === undefined) merged.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.commit(res, cur, merged, q, q.get('fieldManager') || 'unknown', 'Update');
  }

  patchBody(raw, type) {
    if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') throw S.unsupportedMediaType(type);
    let body;
    try { body = JSON.parse(raw); } catch (e) { throw S.badRequest(`error decoding patch: ${e.message}`); }
    if (!isMap(body)) throw S.badRequest('the patch must be a JSON object');
    return body;
  }

  applyPatch(res, ns, name, raw, q) {
    const manager = q.get('fieldManager');
    // The real server's answer: an Invalid PatchOptions.
    if (!manager) throw S.invalid({ kind: 'PatchOptions', group: 'meta.k8s.io', plural: 'patchoptions' }, '', [{ field: 'fieldManager', message: 'Required value: is required for apply patch', reason: 'FieldValueRequired' }]);
    let body;
    try { body = YAML.parse(raw); } catch (e) { throw S.badRequest(`error decoding YAML: ${e.message}`); }
    if (!isMap(body)) throw S.badRequest('the apply patch must be an object');
    if (!body.apiVersion || !body.kind) throw S.badRequest('apiVersion and kind must be set in an apply patch');
    this.checkBody(res, ns, name, body);
    const cur = this.store.get(res, ns, name);
    let out;
    if (!cur) {
      out = this.create(res, ns, clone(body), q, manager, 'Apply');
    } else {
      const key = `${cur.metadata.uid}/${manager}`;
      const next = apply(cur, this.applied.get(key), body);
      if (body.metadata.resourceVersion === undefined) next.metadata.resourceVersion = cur.metadata.resourceVersion;
      out = this.commit(res, cur, next, q, manager, 'Apply');
    }
    this.applied.set(`${out.body.metadata.uid}/${manager}`, body);
    return out;
  }

  // ---- delete
  deleteOptions(q, raw) {
    let opts = {};
    if (raw && raw.trim()) {
      try { opts = JSON.parse(raw); } catch (e) { throw S.badRequest(`error decoding DeleteOptions: ${e.message}`); }
    }
    const policy = q.get('propagationPolicy') || opts.propagationPolicy || 'Background';
    if (!['Background', 'Foreground', 'Orphan'].includes(policy)) throw S.badRequest(`propagationPolicy: Unsupported value: "${policy}"`);
    return { policy, preconditions: opts.preconditions ?? {} };
  }

  remove(res, ns, name, q, raw) {
    if (res.readOnly) throw S.methodNotAllowed(`the fake does not let clients delete ${res.plural}`);
    const { policy, preconditions } = this.deleteOptions(q, raw);
    const cur = this.existing(res, ns, name);
    const pre = preconditions;
    if ((pre.uid && pre.uid !== cur.metadata.uid) || (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)) throw S.conflict(res, name);
    return this.removeObject(res, cur, policy);
  }

  removeObject(res, cur, policy) {
    const m = cur.metadata;
    if (res.plural === 'namespaces') {
      for (const r of RESOURCES.filter((x) => x.namespaced)) for (const o of this.store.list(r, m.name)) this.store.remove(r, o);
      this.store.remove(res, cur);
      const gone = clone(cur);
      gone.metadata.deletionTimestamp = now();
      gone.status = { phase: 'Terminating' };
      return { code: 200, body: gone };
    }
    if (res.plural === 'deployments' && policy === 'Foreground') {
      // The owner stays, marked, until its pods are gone; then it goes.
      const marked = clone(cur);
      marked.metadata.deletionTimestamp = now();
      marked.metadata.finalizers = [...(m.finalizers ?? []), 'foregroundDeletion'];
      this.store.save(res, marked);
      this.controller.deletePodsOf(marked);
      this.store.remove(res, marked);
      return { code: 200, body: clone(marked) };
    }
    this.store.remove(res, cur);
    if (res.plural === 'deployments') {
      if (policy === 'Background') setImmediate(() => this.controller.deletePodsOf(cur));
      else this.controller.orphan(cur);
    }
    if (res.plural === 'pods') return { code: 200, body: clone(cur) };
    return { code: 200, body: S.success(res, m.name, m.uid) };
  }

  removeCollection(res, ns, q, raw) {
    if (res.readOnly) throw S.methodNotAllowed(`the fake does not let clients delete ${res.plural}`);
    const { policy } = this.deleteOptions(q, raw);
    const lm = labelMatcher(q.get('labelSelector'));
    const fm = fieldMatcher(q.get('fieldSelector'));
    const gone = this.store.list(res, ns).filter((o) => lm(o.metadata.labels) && fm(o));
    for (const o of gone) this.removeObject(res, o, policy);
    return { code: 200, body: this.listOf(res, gone) };
  }
}

