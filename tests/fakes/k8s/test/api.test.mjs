// The fake's API semantics: auth, Status errors, apply, optimistic
// concurrency, selectors, collection delete, schema validation, RBAC denial.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, deployment, APPLY, depPath } from './helpers.mjs';

let fake;
before(async () => { fake = await startFake(['--deny', 'delete:ingresses']); });
after(() => fake.stop());

const isStatus = (b, code, reason) => {
  assert.equal(b.kind, 'Status');
  assert.equal(b.apiVersion, 'v1');
  assert.equal(b.status, 'Failure');
  assert.equal(b.code, code);
  assert.equal(b.reason, reason);
};

test('a missing or wrong bearer token gets 401 Status', async () => {
  for (const token of [null, 'wrong']) {
    const r = await fake.request('GET', '/api/v1/namespaces', { token });
    assert.equal(r.code, 401);
    isStatus(r.body, 401, 'Unauthorized');
  }
  assert.equal((await fake.request('GET', '/api/v1/namespaces')).code, 200);
});

test('unknown paths and missing objects are 404 Status', async () => {
  isStatus((await fake.request('GET', '/apis/example.com/v1/widgets')).body, 404, 'NotFound');
  const r = await fake.request('GET', depPath('default', 'nope'));
  isStatus(r.body, 404, 'NotFound');
  assert.deepEqual(r.body.details, { name: 'nope', group: 'apps', kind: 'deployments' });
});

test('server-side apply creates, then updates with a new resourceVersion and generation', async () => {
  await fake.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ssa' } } });
  const path = `${depPath('ssa', 'web')}?fieldManager=dermaga&force=true`;
  const first = await fake.request('PATCH', path, { body: deployment('web'), type: APPLY });
  assert.equal(first.code, 201);
  assert.equal(first.body.metadata.generation, 1);
  const second = await fake.request('PATCH', path, { body: deployment('web', { replicas: 3 }), type: APPLY });
  assert.equal(second.code, 200);
  assert.equal(second.body.spec.replicas, 3);
  assert.equal(second.body.metadata.generation, 2);
  assert.ok(Number(second.body.metadata.resourceVersion) > Number(first.body.metadata.resourceVersion));
  // A field this manager applied before and no longer applies is removed.
  const withAnn = deployment('web', { replicas: 3 });
  withAnn.metadata.annotations = { a: '1', b: '2' };
  await fake.request('PATCH', path, { body: withAnn, type: APPLY });
  delete withAnn.metadata.annotations.b;
  const pruned = await fake.request('PATCH', path, { body: withAnn, type: APPLY });
  assert.deepEqual(pruned.body.metadata.annotations, { a: '1' });
  // Switching the strategy to Recreate by apply leaves no rollingUpdate.
  const recreate = deployment('web', { replicas: 3 });
  recreate.spec.strategy = { type: 'Recreate' };
  const sw = await fake.request('PATCH', path, { body: recreate, type: APPLY });
  assert.deepEqual(sw.body.spec.strategy, { type: 'Recreate' });
  // Apply without fieldManager: the real server's Invalid PatchOptions.
  const noManager = await fake.request('PATCH', depPath('ssa', 'web'), { body: deployment('web'), type: APPLY });
  isStatus(noManager.body, 422, 'Invalid');
  assert.equal(noManager.body.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  // The request log shows what the client sent.
  const log = (await fake.request('GET', '/fake/requests')).body.items;
  const applied = log.filter((e) => e.method === 'PATCH' && e.contentType === APPLY && e.query.fieldManager === 'dermaga');
  assert.ok(applied.length >= 2);
  assert.equal(JSON.parse(applied[0].body).metadata.name, 'web');
});

test('PUT with a stale resourceVersion is a 409 Conflict; POST twice is AlreadyExists', async () => {
  const path = '/api/v1/namespaces/default/secrets';
  const body = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's1' }, stringData: { k: 'v' } };
  const made = await fake.request('POST', path, { body });
  assert.equal(made.code, 201);
  assert.equal(made.body.data.k, Buffer.from('v').toString('base64'));
  isStatus((await fake.request('POST', path, { body })).body, 409, 'AlreadyExists');
  const fresh = { ...made.body, data: { k: 'eA==' } };
  const ok = await fake.request('PUT', `${path}/s1`, { body: fresh });
  assert.equal(ok.code, 200);
  const stale = await fake.request('PUT', `${path}/s1`, { body: fresh });
  assert.equal(stale.code, 409);
  isStatus(stale.body, 409, 'Conflict');
});

test('label selectors list and delete collections', async () => {
  const path = '/api/v1/namespaces/default/services';
  for (const [name, tier] of [['a', 'web'], ['b', 'db'], ['c', 'web']]) {
    const r = await fake.request('POST', path, { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${name}`, labels: { tier, set: 'x' } }, spec: { ports: [{ port: 80 }] } } });
    assert.equal(r.code, 201, JSON.stringify(r.body));
  }
  const names = async (sel) => (await fake.request('GET', `${path}?labelSelector=${encodeURIComponent(sel)}`)).body.items.map((i) => i.metadata.name);
  assert.deepEqual(await names('tier=web'), ['svc-a', 'svc-c']);
  assert.deepEqual(await names('tier!=web,set'), ['svc-b']);
  assert.deepEqual(await names('tier in (db,cache)'), ['svc-b']);
  assert.deepEqual(await names('!set'), []);
  const page = await fake.request('GET', `${path}?labelSelector=set&limit=2`);
  assert.equal(page.body.items.length, 2);
  const rest = await fake.request('GET', `${path}?labelSelector=set&limit=2&continue=${page.body.metadata.continue}`);
  assert.deepEqual(rest.body.items.map((i) => i.metadata.name), ['svc-c']);
  const del = await fake.request('DELETE', `${path}?labelSelector=tier%3Dweb`);
  assert.equal(del.code, 200);
  assert.equal(del.body.kind, 'ServiceList');
  assert.deepEqual(await names('set'), ['svc-b']);
});

test('schema validation rejects a wrong type and an unknown field with 422 Invalid', async () => {
  const bad = deployment('bad');
  bad.spec.replicas = 'two';
  const r1 = await fake.request('POST', depPath('default'), { body: bad });
  isStatus(r1.body, 422, 'Invalid');
  assert.match(r1.body.message, /spec\.replicas/);
  const unknown = deployment('bad');
  unknown.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
  const r2 = await fake.request('PATCH', `${depPath('default', 'bad')}?fieldManager=dermaga`, { body: unknown, type: APPLY });
  isStatus(r2.body, 422, 'Invalid');
  assert.match(r2.body.message, /unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolicyy"/);
  // fieldValidation=Warn drops it with a Warning header instead.
  const r3 = await fake.request('POST', `${depPath('default')}?fieldValidation=Warn`, { body: unknown });
  assert.equal(r3.code, 201);
  assert.match(r3.headers.warning, /imagePullPolicyy/);
});

test('--deny answers 403 Forbidden naming verb and resource; /fake/deny changes the rules', async () => {
  const path = '/apis/networking.k8s.io/v1/namespaces/default/ingresses';
  const ing = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i' }, spec: { rules: [{ host: 'a.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80 } } } }] } }] } };
  assert.equal((await fake.request('POST', path, { body: ing })).code, 201);
  const r = await fake.request('DELETE', `${path}/i`);
  isStatus(r.body, 403, 'Forbidden');
  assert.match(r.body.message, /cannot delete resource "ingresses" in API group "networking.k8s.io"/);
  await fake.request('PUT', '/fake/deny', { body: { rules: ['patch:deployments/scale'] } });
  assert.equal((await fake.request('DELETE', `${path}/i`)).code, 200);
  await fake.request('PUT', '/fake/deny', { body: { rules: [] } });
});

test('/fake/admission-policy refuses matching writes with 422 as a ValidatingAdmissionPolicy; /fake/delay holds requests', async () => {
  await fake.request('PUT', '/fake/admission-policy', { body: { rules: ['patch:deployments'], message: 'failed expression: object.spec.replicas <= 5' } });
  const r = await fake.request('PATCH', `${depPath('default', 'pol')}?fieldManager=t`, { body: deployment('pol'), type: APPLY });
  isStatus(r.body, 422, 'Invalid');
  assert.equal(r.body.message, `Deployment.apps "pol" is invalid: : ValidatingAdmissionPolicy 'fake-policy' with binding 'fake-binding' denied request: failed expression: object.spec.replicas <= 5`);
  assert.equal((await fake.request('GET', depPath('default', 'pol'))).code, 404);
  await fake.request('PUT', '/fake/admission-policy', { body: { rules: [] } });
  await fake.request('PUT', '/fake/delay', { body: { ms: 300, rules: ['get:deployments'] } });
  let t = Date.now();
  assert.equal((await fake.request('GET', depPath('default', 'pol'))).code, 404);
  assert.ok(Date.now() - t >= 290, 'a matching request waits');
  t = Date.now();
  assert.equal((await fake.request('GET', '/api/v1/namespaces')).code, 200);
  assert.ok(Date.now() - t < 290, 'another does not');
  assert.deepEqual((await fake.request('PUT', '/fake/delay', { body: { ms: 0 } })).body, { ms: 0, rules: [] });
});

test('semantic rules: selector must match the template and is immutable; bad names are Invalid', async () => {
  const d = deployment('sel');
  d.spec.selector.matchLabels = { app: 'other' };
  const r1 = await fake.request('POST', depPath('default'), { body: d });
  isStatus(r1.body, 422, 'Invalid');
  assert.match(r1.body.message, /selector. does not match template .labels/);
  const ok = await fake.request('POST', depPath('default'), { body: deployment('sel') });
  assert.equal(ok.code, 201);
  // Without a resourceVersion: the controller writes status meanwhile.
  const moved = { ...ok.body, metadata: { ...ok.body.metadata, resourceVersion: undefined }, spec: { ...ok.body.spec, selector: { matchLabels: { app: 'sel', x: 'y' } } } };
  moved.spec.template.metadata.labels.x = 'y';
  const r2 = await fake.request('PUT', depPath('default', 'sel'), { body: moved });
  assert.match(r2.body.message, /field is immutable/);
  const r3 = await fake.request('POST', depPath('default'), { body: deployment('Bad_Name') });
  isStatus(r3.body, 422, 'Invalid');
  assert.match(r3.body.message, /metadata.name/);
  const r4 = await fake.request('POST', '/api/v1/namespaces/missing/secrets', { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } } });
  isStatus(r4.body, 404, 'NotFound');
  assert.equal(r4.body.message, 'namespaces "missing" not found');
});

test('--schema-errors 400 answers schema violations as the real server does', async () => {
  const real = await startFake(['--schema-errors', '400']);
  try {
    const bad = deployment('bad');
    bad.spec.replicaz = 1;
    const r = await real.request('POST', depPath('default'), { body: bad });
    isStatus(r.body, 400, 'BadRequest');
    assert.match(r.body.message, /strict decoding error: .*unknown field "spec.replicaz"/);
  } finally { await real.stop(); }
});
