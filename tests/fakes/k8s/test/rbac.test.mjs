// --rbac: requests authorised from a manifest as Kubernetes RBAC does it
// (Role in its namespace through a RoleBinding, ClusterRole everywhere
// through a ClusterRoleBinding, subresources, apply that creates needing
// create), the real 403 Status, and the record of used grants.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFake, deployment, APPLY, depPath } from './helpers.mjs';
import { attributes, Rbac } from '../rbac.mjs';

const SA = 'system:serviceaccount:dermaga:dermaga';
const MANIFEST = `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: work, namespace: dermaga}
rules:
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, patch, create]
  - apiGroups: [apps]
    resources: [deployments/scale]
    verbs: [patch]
  - apiGroups: [""]
    resources: [pods/log]
    verbs: [get]
  - apiGroups: [""]
    resources: [secrets]
    verbs: [patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: work, namespace: dermaga}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: work}
subjects: [{kind: ServiceAccount, name: dermaga, namespace: dermaga}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: wide}
rules:
  - apiGroups: [""]
    resources: [namespaces]
    verbs: [create, patch]
  - apiGroups: [""]
    resources: [nodes]
    verbs: [list]
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: wide}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wide}
subjects: [{kind: ServiceAccount, name: dermaga, namespace: dermaga}]
---
# bound to someone else: grants nothing to the service account
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: other}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wide}
subjects: [{kind: User, name: alice}]
`;

let fake, dir;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fake-rbac-'));
  writeFileSync(join(dir, 'rbac.yaml'), MANIFEST);
  fake = await startFake(['--rbac', join(dir, 'rbac.yaml')]);
});
after(async () => { await fake.stop(); rmSync(dir, { recursive: true, force: true }); });

const ns = (name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const applyPath = (p) => `${p}?fieldManager=t&force=true`;

test('request attributes follow the API server (verb, group, resource/subresource, namespace)', () => {
  const q = new URLSearchParams();
  assert.deepEqual(attributes('GET', '/apis/apps/v1/namespaces/a/deployments', q),
    { verb: 'list', group: 'apps', resource: 'deployments', sub: '', namespace: 'a', name: '' });
  assert.deepEqual(attributes('DELETE', '/api/v1/namespaces/a/secrets', q),
    { verb: 'deletecollection', group: '', resource: 'secrets', sub: '', namespace: 'a', name: '' });
  assert.deepEqual(attributes('PATCH', '/apis/apps/v1/namespaces/a/deployments/w/scale', q),
    { verb: 'patch', group: 'apps', resource: 'deployments', sub: 'scale', namespace: 'a', name: 'w' });
  // a namespace's own path names it as the namespace of the request
  assert.deepEqual(attributes('GET', '/api/v1/namespaces/a', q),
    { verb: 'get', group: '', resource: 'namespaces', sub: '', namespace: 'a', name: 'a' });
  assert.equal(attributes('GET', '/api/v1/pods', new URLSearchParams('watch=true')).verb, 'watch');
  assert.equal(attributes('GET', '/apis', q), null);
  assert.equal(attributes('GET', '/version', q), null);
});

test('Role grants apply in its namespace only; refusals are the real 403 Status', async () => {
  // namespaces through the ClusterRole: apply creates (patch + create)
  for (const n of ['dermaga', 'other']) {
    assert.equal((await fake.request('PATCH', applyPath(`/api/v1/namespaces/${n}`), { body: ns(n), type: APPLY })).code, 201);
  }
  const ok = await fake.request('PATCH', applyPath(depPath('dermaga', 'web')), { body: deployment('web'), type: APPLY });
  assert.equal(ok.code, 201);
  const no = await fake.request('PATCH', applyPath(depPath('other', 'web')), { body: deployment('web'), type: APPLY });
  assert.equal(no.code, 403);
  assert.deepEqual(no.body, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
    message: `deployments.apps "web" is forbidden: User "${SA}" cannot patch resource "deployments" in API group "apps" in the namespace "other"`,
    details: { name: 'web', group: 'apps', kind: 'deployments' },
  });
  // list is not granted even in dermaga; nor delete
  const list = await fake.request('GET', depPath('dermaga'));
  assert.equal(list.code, 403);
  assert.match(list.body.message, /^deployments\.apps is forbidden: User ".*" cannot list resource "deployments" in API group "apps" in the namespace "dermaga"$/);
  assert.equal((await fake.request('DELETE', depPath('dermaga', 'web'))).code, 403);
  // cluster scope
  assert.equal((await fake.request('GET', '/api/v1/nodes')).code, 200);
  const nsl = await fake.request('GET', '/api/v1/namespaces');
  assert.equal(nsl.code, 403);
  assert.match(nsl.body.message, /cannot list resource "namespaces" in API group "" at the cluster scope$/);
  // discovery needs no grant
  assert.equal((await fake.request('GET', '/apis')).code, 200);
});

test('subresources need their own grant', async () => {
  const scale = `${depPath('dermaga', 'web')}/scale`;
  assert.equal((await fake.request('PATCH', scale, { body: { spec: { replicas: 0 } }, type: 'application/merge-patch+json' })).code, 200);
  const get = await fake.request('GET', scale);
  assert.equal(get.code, 403);
  assert.match(get.body.message, /cannot get resource "deployments\/scale" in API group "apps"/);
  // deployments get does not give pods/log's neighbour pods get
  const pods = await fake.request('GET', '/api/v1/namespaces/dermaga/pods/x');
  assert.equal(pods.code, 403);
  assert.match(pods.body.message, /^pods "x" is forbidden: .* cannot get resource "pods" in API group ""/);
  // pods/log is granted: past the authorizer to a 404 for the missing pod
  assert.equal((await fake.request('GET', '/api/v1/namespaces/dermaga/pods/x/log')).code, 404);
});

test('an apply that creates needs create as well as patch; one that updates does not', async () => {
  // secrets: patch only → creating through apply is refused after the patch check
  const sec = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque', data: {} };
  const r = await fake.request('PATCH', applyPath('/api/v1/namespaces/dermaga/secrets/s'), { body: sec, type: APPLY });
  assert.equal(r.code, 403);
  assert.equal(r.body.message, 'secrets "s" is forbidden: ');
  // with create removed from deployments, an existing one is still applied
  assert.equal((await fake.request('PUT', '/fake/rbac/remove', { body: { verb: 'create', resource: 'deployments', apiGroup: 'apps' } })).code, 200);
  assert.equal((await fake.request('PATCH', applyPath(depPath('dermaga', 'web')), { body: deployment('web'), type: APPLY })).code, 200);
  assert.equal((await fake.request('PATCH', applyPath(depPath('dermaga', 'web2')), { body: deployment('web2'), type: APPLY })).code, 403);
  // removing what is not there is an error, not a silent no-op
  assert.equal((await fake.request('PUT', '/fake/rbac/remove', { body: { verb: 'create', resource: 'deployments', apiGroup: 'apps' } })).code, 400);
});

test('GET /fake/rbac/used counts each grant and lists the refusals; reset restores the manifest', async () => {
  const { body } = await fake.request('GET', '/fake/rbac/used');
  assert.equal(body.user, SA);
  assert.deepEqual(body.bindings, ['RoleBinding/dermaga/work', 'ClusterRoleBinding/wide']);
  const uses = (verb, resource) => body.grants.find((g) => g.verb === verb && g.resource === resource)?.uses;
  assert.ok(uses('patch', 'deployments') >= 3);
  assert.equal(uses('get', 'deployments'), 0);
  assert.equal(uses('list', 'configmaps'), 0);
  assert.equal(uses('create', 'deployments'), undefined, 'removed');
  assert.equal(uses('create', 'namespaces'), 2);
  assert.equal(body.grants.find((g) => g.resource === 'nodes').scope, '*');
  assert.equal(body.grants.find((g) => g.resource === 'pods/log').scope, 'dermaga');
  assert.ok(body.used.some((u) => u.verb === 'patch' && u.resource === 'deployments/scale' && u.namespace === 'dermaga'));
  assert.ok(body.denied.some((d) => d.verb === 'list' && d.resource === 'namespaces' && d.namespace === ''));
  assert.ok(body.denied.some((d) => d.verb === 'create' && d.resource === 'secrets'));
  assert.equal((await fake.request('POST', '/fake/reset')).code, 200);
  const after = (await fake.request('GET', '/fake/rbac/used')).body;
  assert.equal(after.denied.length, 0);
  assert.ok(after.grants.every((g) => g.uses === 0));
  assert.ok(after.grants.some((g) => g.verb === 'create' && g.resource === 'deployments'), 'restored');
});

test('the committed manifests load and bind the service account (per-user: cluster-wide only)', () => {
  const file = (name) => new URL(`../../../../plugins/runtime-kubernetes/${name}`, import.meta.url).pathname;
  const ns = Rbac.load(file('rbac.yaml'), SA);
  assert.deepEqual(ns.bindings.sort(), ['ClusterRoleBinding/dermaga-inventory', 'ClusterRoleBinding/dermaga-runtime-namespace', 'RoleBinding/dermaga/dermaga-runtime']);
  // workload writes only inside the namespace
  assert.ok(ns.grants.filter((g) => g.verb !== 'list' && g.resource !== 'namespaces').every((g) => g.scope === 'dermaga'));
  const pu = Rbac.load(file('rbac-per-user.yaml'), SA);
  assert.deepEqual(pu.bindings.sort(), ['ClusterRoleBinding/dermaga-inventory', 'ClusterRoleBinding/dermaga-runtime-per-user']);
  assert.ok(pu.grants.every((g) => g.scope === ''));
  for (const verb of ['create', 'patch']) {
    assert.ok(pu.authorize({ verb, group: '', resource: 'namespaces', sub: '', namespace: 'dermaga-u1', name: 'dermaga-u1' }), verb);
  }
  for (const resource of ['deployments', 'secrets']) {
    const group = resource === 'deployments' ? 'apps' : '';
    assert.ok(pu.authorize({ verb: 'list', group, resource, sub: '', namespace: '', name: '' }), `list ${resource} across namespaces`);
    assert.ok(!ns.authorize({ verb: 'create', group, resource, sub: '', namespace: 'dermaga-u1', name: 'x' }), `rbac.yaml: no ${resource} outside dermaga`);
  }
});
