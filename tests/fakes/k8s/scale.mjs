// scale.mjs — the deployments' scale subresource (autoscaling/v1 Scale):
// GET, PUT (with the Deployment's resourceVersion as precondition) and
// PATCH; a write changes the Deployment's spec.replicas through api.commit.
import YAML from 'yaml';
import { clone } from './store.mjs';
import { mergePatch, isMap } from './merge.mjs';
import * as S from './status.mjs';

export function scaleOf(dep) {
  const m = dep.metadata;
  const sel = Object.entries(dep.spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return {
    kind: 'Scale', apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: dep.spec.replicas },
    status: { replicas: dep.status?.replicas ?? 0, selector: sel },
  };
}

export function scale(api, res, ns, name, method, raw, type, q) {
  if (res.plural !== 'deployments') throw S.pathNotFound();
  const dep = api.existing(res, ns, name);
  if (method === 'GET') return { code: 200, body: scaleOf(dep) };
  let body;
  if (method === 'PUT') {
    try { body = JSON.parse(raw); } catch (e) { throw S.badRequest(`error decoding Scale: ${e.message}`); }
    if (!isMap(body)) throw S.badRequest('the request body must be a JSON object');
  } else if (method === 'PATCH') {
    let p;
    try { p = type === 'application/apply-patch+yaml' ? YAML.parse(raw) : api.patchBody(raw, type); } catch (e) {
      throw e instanceof S.ApiError ? e : S.badRequest(`error decoding YAML: ${e.message}`);
    }
    body = mergePatch(scaleOf(dep), p);
    if (p?.metadata?.resourceVersion === undefined) body.metadata.resourceVersion = dep.metadata.resourceVersion;
  } else throw S.methodNotAllowed(`${method} is not supported on scale`);
  body.apiVersion ??= 'autoscaling/v1';
  body.kind ??= 'Scale';
  const scaleRes = { plural: 'deployments', group: 'apps', kind: 'Scale', sub: 'scale' };
  api.validate(scaleRes, body, q);
  const rv = body.metadata?.resourceVersion;
  if (rv && rv !== dep.metadata.resourceVersion) throw S.conflict(res, name);
  const next = clone(dep);
  next.spec.replicas = body.spec?.replicas ?? 0;
  const out = api.commit(res, dep, next, q, q.get('fieldManager') || 'unknown', 'Update');
  return { code: 200, body: scaleOf(out.body) };
}
