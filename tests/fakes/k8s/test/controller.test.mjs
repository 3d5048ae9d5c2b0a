// The fake's cluster behaviour: the deployment controller, pod fates, logs,
// metrics, and HTTPS with a throwaway CA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFake, waitFor, deployment, APPLY, depPath } from './helpers.mjs';

let fake;
before(async () => { fake = await startFake(); });
after(() => fake.stop());

const NS = 'default';
const pods = async (app) => (await fake.request('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=app%3D${app}`)).body.items;
const applyDep = (d) => fake.request('PATCH', `${depPath(NS, d.metadata.name)}?fieldManager=dermaga&force=true`, { body: d, type: APPLY });
const readyPods = (app, n) => waitFor(`${n} ready pods of ${app}`, async () => {
  const ps = await pods(app);
  return ps.length === n && ps.every((p) => p.status.containerStatuses.every((c) => c.ready)) && ps;
});

test('scale 1 → 0 removes the pod, 0 → 1 makes a new one; status follows', async () => {
  assert.equal((await applyDep(deployment('sc'))).code, 201);
  const [p1] = await readyPods('sc', 1);
  assert.match(p1.metadata.name, /^sc-[a-z0-9]+-[a-z0-9]{5}$/);
  assert.equal(p1.metadata.ownerReferences[0].kind, 'ReplicaSet');
  assert.equal(p1.status.phase, 'Running');
  const dep = await waitFor('available', async () => {
    const d = (await fake.request('GET', depPath(NS, 'sc'))).body;
    return d.status.availableReplicas === 1 && d.status.observedGeneration === d.metadata.generation && d;
  });
  assert.equal(dep.status.conditions.find((c) => c.type === 'Available').status, 'True');
  const scale = await fake.request('GET', `${depPath(NS, 'sc')}/scale`);
  assert.equal(scale.body.kind, 'Scale');
  assert.equal(scale.body.apiVersion, 'autoscaling/v1');
  assert.equal(scale.body.spec.replicas, 1);
  const down = await fake.request('PATCH', `${depPath(NS, 'sc')}/scale`, { body: { spec: { replicas: 0 } }, type: 'application/merge-patch+json' });
  assert.equal(down.code, 200);
  await waitFor('no pods', async () => (await pods('sc')).length === 0);
  const cur = (await fake.request('GET', `${depPath(NS, 'sc')}/scale`)).body;
  const stale = { ...cur, metadata: { ...cur.metadata, resourceVersion: '1' }, spec: { replicas: 1 } };
  assert.equal((await fake.request('PUT', `${depPath(NS, 'sc')}/scale`, { body: stale })).code, 409);
  const up = await fake.request('PUT', `${depPath(NS, 'sc')}/scale`, { body: { ...cur, spec: { replicas: 1 } } });
  assert.equal(up.code, 200);
  const [p2] = await readyPods('sc', 1);
  assert.notEqual(p2.metadata.name, p1.metadata.name);
});

test('a restartedAt annotation replaces the pods with new names (RollingUpdate and Recreate)', async () => {
  for (const strategy of ['RollingUpdate', 'Recreate']) {
    const name = `rs-${strategy.toLowerCase()}`;
    const d = deployment(name, { replicas: 2 });
    d.spec.strategy = { type: strategy };
    await applyDep(d);
    const before = (await readyPods(name, 2)).map((p) => p.metadata.name);
    const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } };
    const r = await fake.request('PATCH', depPath(NS, name), { body: patch, type: 'application/strategic-merge-patch+json' });
    assert.equal(r.code, 200);
    assert.equal(r.body.metadata.generation, 2);
    const after = await waitFor('new pods', async () => {
      const ps = await readyPods(name, 2);
      return ps.every((p) => !before.includes(p.metadata.name)) && ps;
    });
    assert.ok(after.every((p) => p.metadata.annotations['kubectl.kubernetes.io/restartedAt']));
  }
});

test('image conventions: crash → CrashLoopBackOff, badimage → ImagePullBackOff, oom → OOMKilled', async () => {
  await applyDep(deployment('crashy', { image: 'example/crash:1' }));
  const crash = await waitFor('restarts', async () => {
    const [p] = await pods('crashy');
    return p?.status.containerStatuses[0].restartCount >= 2 && p;
  });
  const cs = crash.status.containerStatuses[0];
  assert.equal(crash.status.phase, 'Running');
  assert.equal(cs.ready, false);
  assert.equal(cs.state.waiting.reason, 'CrashLoopBackOff');
  const dep = (await fake.request('GET', depPath(NS, 'crashy'))).body;
  assert.equal(dep.status.availableReplicas, undefined);
  assert.equal(dep.status.conditions.find((c) => c.type === 'Available').status, 'False');
  await applyDep(deployment('pull', { image: 'example/badimage:1' }));
  const pull = await waitFor('pull backoff', async () => {
    const [p] = await pods('pull');
    return p?.status.containerStatuses[0].state.waiting?.reason === 'ImagePullBackOff' && p;
  });
  assert.equal(pull.status.phase, 'Pending');
  const logs = await fake.request('GET', `/api/v1/namespaces/${NS}/pods/${pull.metadata.name}/log`);
  assert.equal(logs.code, 400);
  await applyDep(deployment('oomy', { image: 'example/oom:1' }));
  const oom = await waitFor('oom', async () => {
    const [p] = await pods('oomy');
    return p?.status.containerStatuses[0].lastState?.terminated && p;
  });
  assert.equal(oom.status.containerStatuses[0].lastState.terminated.reason, 'OOMKilled');
  assert.equal(oom.status.containerStatuses[0].lastState.terminated.exitCode, 137);
});

test('a rollout past progressDeadlineSeconds is Progressing False; refused pods are ReplicaFailure', async () => {
  const d = deployment('late', { image: 'example/crash:1' });
  d.spec.progressDeadlineSeconds = 1;
  await applyDep(d);
  const late = await waitFor('deadline', async () => {
    const dep = (await fake.request('GET', depPath(NS, 'late'))).body;
    const p = dep.status.conditions?.find((c) => c.type === 'Progressing');
    return p?.status === 'False' && p;
  }, 4000);
  assert.equal(late.reason, 'ProgressDeadlineExceeded');
  await fake.request('PUT', '/fake/pod-admission', { body: { deny: 'exceeded quota: q, requested: pods=1' } });
  await applyDep(deployment('quota'));
  const failure = await waitFor('ReplicaFailure', async () => {
    const dep = (await fake.request('GET', depPath(NS, 'quota'))).body;
    return dep.status.conditions?.find((c) => c.type === 'ReplicaFailure');
  });
  assert.equal(failure.status, 'True');
  assert.match(failure.message, /^pods "quota-[a-z0-9]+-" is forbidden: exceeded quota/);
  assert.equal((await pods('quota')).length, 0);
  await fake.request('PUT', '/fake/pod-admission', { body: {} });
  await readyPods('quota', 1);
  const dep = (await fake.request('GET', depPath(NS, 'quota'))).body;
  assert.ok(!dep.status.conditions.some((c) => c.type === 'ReplicaFailure'));
});

test('log follow streams injected lines with timestamps and ends when the pod is deleted', async () => {
  await applyDep(deployment('lg', { containers: [{ name: 'app', image: 'app:1' }, { name: 'side', image: 'side:1' }] }));
  const [pod] = await readyPods('lg', 1);
  const base = `/api/v1/namespaces/${NS}/pods/${pod.metadata.name}/log`;
  const noContainer = await fake.request('GET', base);
  assert.equal(noContainer.code, 400);
  assert.match(noContainer.body.message, /choose one of: \[app side\]/);
  assert.equal((await fake.request('GET', `${base}?container=nope`)).code, 400);
  const plain = await fake.request('GET', `${base}?container=app`);
  assert.equal(plain.body, 'starting app:1\n');
  let got = '';
  const follow = fake.request('GET', `${base}?container=app&follow=true&timestamps=true`, { onData: (c) => { got += c; } });
  await waitFor('first line', async () => got.includes('starting app:1'));
  const inj = await fake.request('POST', `/fake/pods/${NS}/${pod.metadata.name}/log?container=app`, { body: 'hello\nworld\n', type: 'text/plain', token: null });
  assert.equal(inj.body.appended, 2);
  await waitFor('injected lines', async () => got.includes('world'));
  const lines = got.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z \S/);
  assert.equal((await fake.request('GET', `${base}?container=app&tailLines=1`)).body, 'world\n');
  await fake.request('DELETE', `/api/v1/namespaces/${NS}/pods/${pod.metadata.name}`);
  const done = await follow;
  assert.equal(done.code, 200);
  // The controller replaces the deleted pod.
  await waitFor('replacement', async () => (await pods('lg')).some((p) => p.metadata.name !== pod.metadata.name));
});

test('foreground delete of a deployment deletes its pods', async () => {
  await applyDep(deployment('gone', { replicas: 2 }));
  await readyPods('gone', 2);
  const r = await fake.request('DELETE', `${depPath(NS, 'gone')}?propagationPolicy=Foreground`);
  assert.equal(r.code, 200);
  assert.ok(r.body.metadata.deletionTimestamp);
  await waitFor('pods gone', async () => (await pods('gone')).length === 0);
  assert.equal((await fake.request('GET', depPath(NS, 'gone'))).code, 404);
});

test('background delete answers Status Success; deleting a namespace removes what is in it', async () => {
  await applyDep(deployment('bg'));
  await readyPods('bg', 1);
  const r = await fake.request('DELETE', depPath(NS, 'bg'));
  assert.equal(r.body.kind, 'Status');
  assert.equal(r.body.status, 'Success');
  await waitFor('pods gone', async () => (await pods('bg')).length === 0);
  await fake.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tmp' } } });
  const d = deployment('inner');
  assert.equal((await fake.request('PATCH', `${depPath('tmp', 'inner')}?fieldManager=dermaga`, { body: d, type: APPLY })).code, 201);
  await waitFor('inner pod', async () => (await fake.request('GET', '/api/v1/namespaces/tmp/pods')).body.items.length === 1);
  const ns = await fake.request('DELETE', '/api/v1/namespaces/tmp');
  assert.equal(ns.body.status.phase, 'Terminating');
  assert.equal((await fake.request('GET', '/api/v1/pods?fieldSelector=metadata.namespace%3Dtmp')).body.items.length, 0);
  assert.equal((await fake.request('GET', depPath('tmp', 'inner'))).code, 404);
});

test('metrics.k8s.io answers for running pods and nodes, and 404s when metrics-server is off', async () => {
  await applyDep(deployment('mt'));
  const [pod] = await readyPods('mt', 1);
  const path = `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods/${pod.metadata.name}`;
  await fake.request('PUT', `/fake/metrics/${NS}/${pod.metadata.name}`, { body: { containers: { main: { cpu: '150m', memory: '64Mi' } } } });
  const m = await fake.request('GET', path);
  assert.equal(m.body.kind, 'PodMetrics');
  assert.deepEqual(m.body.containers, [{ name: 'main', usage: { cpu: '150m', memory: '64Mi' } }]);
  const gone = await fake.request('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods/nope`);
  assert.equal(gone.body.message, `podmetrics.metrics.k8s.io "${NS}/nope" not found`);
  const nodes = await fake.request('GET', '/apis/metrics.k8s.io/v1beta1/nodes');
  assert.equal(nodes.body.items.length, 2);
  const list = await fake.request('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods?labelSelector=app%3Dmt`);
  assert.equal(list.body.items.length, 1);
  const nodeList = await fake.request('GET', '/api/v1/nodes');
  assert.equal(nodeList.body.items[0].status.allocatable.cpu, '1900m');
  await fake.request('PUT', '/fake/metrics-server', { body: { enabled: false } });
  const off = await fake.request('GET', path);
  assert.equal(off.code, 404);
  assert.equal(off.body.message, 'the server could not find the requested resource');
  assert.ok(!(await fake.request('GET', '/apis')).body.groups.some((g) => g.name === 'metrics.k8s.io'));
  await fake.request('PUT', '/fake/metrics-server', { body: { enabled: true } });
});

test('/fake/reset gives back a fresh cluster', async () => {
  await applyDep(deployment('rst'));
  await readyPods('rst', 1);
  await fake.request('PUT', '/fake/deny', { body: { rules: ['get:pods'] } });
  assert.equal((await fake.request('POST', '/fake/reset', { token: null })).code, 200);
  assert.equal((await fake.request('GET', depPath(NS))).body.items.length, 0);
  await new Promise((r) => setTimeout(r, 100)); // the controller would have acted by now
  assert.equal((await fake.request('GET', '/api/v1/pods')).body.items.length, 0);
  const nss = (await fake.request('GET', '/api/v1/namespaces')).body.items.map((n) => n.metadata.name);
  assert.deepEqual(nss, ['default', 'kube-system']);
  assert.equal((await fake.request('GET', '/api/v1/nodes')).body.items.length, 2);
});

test('HTTPS with a throwaway CA made by gen-certs.sh', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fake-k8s-'));
  try {
    execFileSync(fileURLToPath(new URL('../gen-certs.sh', import.meta.url)), [dir]);
    const ca = readFileSync(join(dir, 'ca.crt'));
    const tls = await startFake(['--https', '--cert', join(dir, 'server.crt'), '--key', join(dir, 'server.key')], { ca });
    try {
      const r = await tls.request('GET', '/api/v1/namespaces/default');
      assert.equal(r.code, 200);
      assert.equal(r.body.status.phase, 'Active');
    } finally { await tls.stop(); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
