// validate.mjs — what a client sends is checked offline against the
// Kubernetes OpenAPI schemas that the npm package kubernetes-models compiles
// (ajv). Those schemas allow any extra property, so an unknown field (a typo
// such as `replicaz`) would pass; the real API server rejects it under
// fieldValidation=Strict. The strict check here is derived from the same
// compiled validators: the object is walked through Proxies that record
// which keys the validator reads; a key of an object the validator looked
// into but never read is not declared in the schema.
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { Scale } from 'kubernetes-models/autoscaling/v1/Scale';
import { invalid, badRequest } from './status.mjs';

const MODELS = new Map(
  // ConfigMap: for deploy/kubernetes/ (tests/deploy/k8s_manifests.mjs).
  [Namespace, Secret, ConfigMap, PersistentVolumeClaim, Service, Pod, Deployment, Ingress, Scale]
    .map((m) => [`${m.apiVersion}/${m.kind}`, m]));

function dotted(base, key) {
  return /^\d+$/.test(key) ? `${base}[${key}]` : base ? `${base}.${key}` : key;
}

// A deep copy of value in which every object is a recording Proxy; recs
// gets one record per object: its path, its keys, the keys read.
function track(value, path, recs) {
  if (Array.isArray(value)) return value.map((v, i) => track(v, `${path}[${i}]`, recs));
  if (value === null || typeof value !== 'object') return value;
  const rec = { path, keys: Object.keys(value), read: new Set(), touched: false, listed: false };
  recs.push(rec);
  const copy = {};
  for (const k of rec.keys) copy[k] = track(value[k], dotted(path, k), recs);
  return new Proxy(copy, {
    get(t, k, r) {
      if (typeof k === 'string') { rec.touched = true; rec.read.add(k); }
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      if (typeof k === 'string') { rec.touched = true; rec.read.add(k); }
      return Reflect.has(t, k);
    },
    // A map (labels, data, …) is walked key by key: all its keys are fine.
    ownKeys(t) { rec.touched = true; rec.listed = true; return Reflect.ownKeys(t); },
  });
}

function unknownFields(recs) {
  const out = [];
  for (const r of recs) {
    if (!r.touched || r.listed) continue;
    for (const k of r.keys) if (!r.read.has(k)) out.push(dotted(r.path, k));
  }
  return out;
}

function ajvField(instancePath) {
  return instancePath.split('/').slice(1).reduce((acc, k) => dotted(acc, k), '');
}

function removePath(obj, field) {
  const parts = field.replace(/\[(\d+)\]/g, '.$1').split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) { cur = cur?.[p]; if (cur == null) return; }
  if (cur) delete cur[parts.at(-1)];
}

// check(res, obj, mode): throws a 422 Status when obj breaks the schema;
// unknown fields are errors under mode "Strict" (the fake's default), and
// dropped with a warning under "Warn" or silently under "Ignore", as the
// fieldValidation query parameter asks. code 400 answers BadRequest with
// the real server's wording instead of 422 Invalid. Returns the warnings.
export function check(res, obj, mode = 'Strict', code = 422) {
  const model = MODELS.get(`${obj.apiVersion}/${obj.kind}`);
  if (!model) throw new Error(`no schema for ${obj.apiVersion}/${obj.kind}`);
  const recs = [];
  const tracked = track(obj, '', recs);
  const problems = [];
  try {
    model.prototype.validate.call(tracked);
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    for (const err of e.errors) problems.push({ field: ajvField(err.instancePath) || '<root>', message: err.message });
  }
  const unknown = unknownFields(recs);
  const warnings = [];
  if (mode === 'Strict') {
    for (const f of unknown) problems.push({ field: f, message: `unknown field "${f}"` });
  } else {
    for (const f of unknown) {
      removePath(obj, f);
      if (mode === 'Warn') warnings.push(`unknown field "${f}"`);
    }
  }
  if (problems.length && code === 400) {
    const [, version = obj.apiVersion] = String(obj.apiVersion).split('/');
    throw badRequest(`${obj.kind} in version "${version}" cannot be handled as a ${obj.kind}: strict decoding error: ${problems.map((p) => `${p.field}: ${p.message}`).join(', ')}`);
  }
  if (problems.length) throw invalid(res, obj.metadata?.name ?? '', problems);
  return warnings;
}
