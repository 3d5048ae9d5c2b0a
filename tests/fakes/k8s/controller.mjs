// controller.mjs — what kube-controller-manager and the kubelet would do
// for Deployments, folded into one: keep spec.replicas pods of the current
// pod template (named <deploy>-<template hash>-<5 chars>, as a ReplicaSet's
// pods are), roll them on a template change (Recreate: old ones first;
// RollingUpdate: new ones first, old ones once the new are ready), start
// them after a delay, and report the Deployment's status. Image names steer
// the container's fate (README.md): "badimage", "crash", "oom".
import { createHash, randomInt } from 'node:crypto';
import { RESOURCES } from './resources.mjs';
import { clone, now } from './store.mjs';

const PODS = RESOURCES.find((r) => r.plural === 'pods');
const DEPLOYMENTS = RESOURCES.find((r) => r.plural === 'deployments');
// The alphabet Kubernetes uses for generated names (no vowels, no 0/1/3).
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const NODES = ['fake-node-1', 'fake-node-2'];

const randomName = (n) => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

export function templateHash(template) {
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  return Array.from(digest.subarray(0, 10), (b) => ALPHABET[b % ALPHABET.length]).join('');
}

const envOn = (c, name) => (c.env ?? []).some((e) => e.name === name && e.value === '1');

// The fate of a container, from its image name or a FAKE_* env var.
export function fate(c) {
  const image = c.image ?? '';
  if (image.includes('badimage')) return 'badimage';
  if (image.includes('oom') || envOn(c, 'FAKE_OOM')) return 'oom';
  if (image.includes('crash') || envOn(c, 'FAKE_CRASH')) return 'crash';
  return 'ok';
}

const podReady = (p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export class Controller {
  constructor(store, logs, { podStartMs = 200, crashMs = 500 } = {}) {
    Object.assign(this, { store, logs, podStartMs, crashMs });
    this.owner = new Map(); // pod key → { uid, ns, name } of its Deployment
    this.timers = new Map(); // pod key → timers of its containers
    this.pending = new Set();
    this.admission = null; // a message: pod creation is refused (/fake/pod-admission)
    this.rollouts = new Map(); // `${deployment uid}/${hash}` → when that template's rollout began
    this.nextNode = 0;
    this.nextIP = 2;
    store.on('change', (ev) => this.onChange(ev));
  }

  podKey(p) { return `${p.metadata.namespace}/${p.metadata.name}`; }

  onChange({ type, res, obj }) {
    const { namespace: ns, name } = obj.metadata;
    if (res === DEPLOYMENTS && type !== 'DELETED') this.schedule(ns, name);
    if (res !== PODS) return;
    const key = this.podKey(obj);
    const owner = this.owner.get(key);
    if (type === 'DELETED') {
      for (const t of this.timers.get(key) ?? []) clearTimeout(t);
      this.timers.delete(key);
      this.owner.delete(key);
      this.logs.end(ns, name);
    }
    if (owner) this.schedule(owner.ns, owner.name);
  }

  // Many writes in one tick make one reconcile.
  schedule(ns, name) {
    const key = `${ns}/${name}`;
    if (this.pending.has(key)) return;
    this.pending.add(key);
    setImmediate(() => { this.pending.delete(key); this.reconcile(ns, name); });
  }

  podsOf(dep) {
    return this.store.list(PODS, dep.metadata.namespace).filter((p) => this.owner.get(this.podKey(p))?.uid === dep.metadata.uid);
  }

  deletePodsOf(dep) {
    for (const p of this.podsOf(dep)) this.store.remove(PODS, p);
  }

  // Orphan deletion: the pods stay, without their owner.
  orphan(dep) {
    for (const p of this.podsOf(dep)) {
      this.owner.delete(this.podKey(p));
      const q = clone(p);
      delete q.metadata.ownerReferences;
      this.store.save(PODS, q);
    }
  }

  reconcile(ns, name) {
    const dep = this.store.get(DEPLOYMENTS, ns, name);
    if (!dep || dep.metadata.deletionTimestamp) return;
    const hash = templateHash(dep.spec.template);
    const want = dep.spec.replicas ?? 1;
    const pods = this.podsOf(dep);
    let cur = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    const old = pods.filter((p) => !cur.includes(p));
    const recreate = dep.spec.strategy?.type === 'Recreate';
    if (recreate || want === 0) for (const p of old) this.store.remove(PODS, p);
    // Refused pods show as the ReplicaFailure condition, as quota refusals do.
    const refused = cur.length < want && this.admission
      ? `pods "${name}-${hash}-" is forbidden: ${this.admission}` : null;
    while (!refused && cur.length < want) cur.push(this.createPod(dep, hash));
    while (cur.length > want) this.store.remove(PODS, cur.pop());
    if (!recreate && cur.filter(podReady).length >= want) for (const p of old) if (this.store.get(PODS, ns, p.metadata.name)) this.store.remove(PODS, p);
    this.updateStatus(dep, hash, refused);
  }

  // Reconcile every Deployment again (after /fake/pod-admission changes).
  resync() {
    for (const d of this.store.list(DEPLOYMENTS)) this.schedule(d.metadata.namespace, d.metadata.name);
  }

  // When the rollout of this template began; the first call also arms a
  // reconcile at its progress deadline.
  rolloutStart(dep, hash) {
    const key = `${dep.metadata.uid}/${hash}`;
    if (!this.rollouts.has(key)) {
      this.rollouts.set(key, Date.now());
      const { namespace: ns, name } = dep.metadata;
      setTimeout(() => this.schedule(ns, name), (dep.spec.progressDeadlineSeconds ?? 600) * 1000 + 20).unref();
    }
    return this.rollouts.get(key);
  }

  createPod(dep, hash) {
    const t = dep.spec.template;
    const { namespace: ns, name: dname } = dep.metadata;
    const rs = `${dname}-${hash}`;
    const pod = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name: `${rs}-${randomName(5)}`, generateName: `${rs}-`, namespace: ns,
        labels: { ...(t.metadata?.labels ?? {}), 'pod-template-hash': hash },
        ...(t.metadata?.annotations ? { annotations: clone(t.metadata.annotations) } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `${dep.metadata.uid.slice(0, 24)}${hash.slice(0, 10)}00`, controller: true, blockOwnerDeletion: true }],
      },
      spec: { restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', ...clone(t.spec), nodeName: NODES[this.nextNode++ % NODES.length] },
      status: {
        phase: 'Pending', hostIP: '10.0.0.1', startTime: now(),
        conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: now() }],
        containerStatuses: t.spec.containers.map((c) => ({
          name: c.name, image: c.image, imageID: '', ready: false, started: false, restartCount: 0,
          state: { waiting: { reason: 'ContainerCreating' } },
        })),
      },
    };
    pod.status.hostIP = pod.spec.nodeName === NODES[0] ? '10.0.0.1' : '10.0.0.2';
    const saved = this.store.save(PODS, pod);
    const key = this.podKey(saved);
    this.owner.set(key, { uid: dep.metadata.uid, ns, name: dname });
    this.timers.set(key, [setTimeout(() => this.start(ns, saved.metadata.name), this.podStartMs)]);
    return saved;
  }

  // The kubelet's part: the containers start, or fail as their image says.
  start(ns, name) {
    const p = this.store.get(PODS, ns, name);
    if (!p) return;
    const pod = clone(p);
    const t = now();
    pod.status.podIP = `10.244.0.${this.nextIP++ % 250}`;
    pod.status.podIPs = [{ ip: pod.status.podIP }];
    pod.status.containerStatuses = pod.spec.containers.map((c, i) => {
      const st = pod.status.containerStatuses[i];
      const f = fate(c);
      if (f === 'badimage') {
        return { ...st, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } } };
      }
      this.logs.append(ns, name, c.name, `starting ${c.image}`);
      if (f === 'ok') return { ...st, imageID: `${c.image}@sha256:fake`, containerID: `containerd://${randomName(12)}`, ready: true, started: true, state: { running: { startedAt: t } } };
      this.crashLater(ns, name, c);
      return this.crashed(st, c, name, f);
    });
    this.setPhase(pod);
    this.store.save(PODS, pod);
  }

  crashed(st, c, pod, f) {
    const terminated = f === 'oom'
      ? { exitCode: 137, reason: 'OOMKilled', startedAt: now(), finishedAt: now() }
      : { exitCode: 1, reason: 'Error', startedAt: now(), finishedAt: now() };
    return {
      ...st, ready: false, started: false, restartCount: st.restartCount + 1,
      state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${c.name} pod=${pod}` } },
      lastState: { terminated },
    };
  }

  // A crashing container restarts every crashMs: restartCount grows and
  // each start writes its line.
  crashLater(ns, name, c) {
    const key = `${ns}/${name}`;
    const timer = setTimeout(() => {
      const p = this.store.get(PODS, ns, name);
      if (!p) return;
      const pod = clone(p);
      const i = pod.spec.containers.findIndex((x) => x.name === c.name);
      this.logs.append(ns, name, c.name, `starting ${c.image}`);
      pod.status.containerStatuses[i] = this.crashed(pod.status.containerStatuses[i], c, name, fate(c));
      this.store.save(PODS, pod);
      this.crashLater(ns, name, c);
    }, this.crashMs);
    this.timers.get(key)?.push(timer);
  }

  setPhase(pod) {
    const cs = pod.status.containerStatuses;
    const pulling = cs.some((c) => c.state.waiting?.reason === 'ImagePullBackOff');
    const ready = cs.every((c) => c.ready);
    pod.status.phase = pulling ? 'Pending' : 'Running';
    const t = now();
    const cond = (type, ok) => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: t, ...(ok ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${cs.filter((c) => !c.ready).map((c) => c.name).join(' ')}]` }) });
    pod.status.conditions = [cond('Initialized', true), cond('Ready', ready), cond('ContainersReady', ready), { type: 'PodScheduled', status: 'True', lastTransitionTime: t }];
  }

  updateStatus(dep, hash, refused) {
    const pods = this.podsOf(dep);
    const want = dep.spec.replicas ?? 1;
    const cur = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    const ready = pods.filter(podReady).length;
    const done = cur.length === want && cur.filter(podReady).length === want && pods.length === want;
    // Zero counts are left out, as the API server's JSON omits them.
    const status = { observedGeneration: dep.metadata.generation };
    const counts = { replicas: pods.length, updatedReplicas: cur.length, readyReplicas: ready, availableReplicas: ready, unavailableReplicas: Math.max(0, want - ready) };
    for (const [k, v] of Object.entries(counts)) if (v) status[k] = v;
    const prev = dep.status?.conditions ?? [];
    const cond = (type, ok, reason, message) => {
      const old = prev.find((c) => c.type === type);
      const st = ok ? 'True' : 'False';
      const same = old && old.status === st;
      return { type, status: st, lastUpdateTime: old && same && old.reason === reason ? old.lastUpdateTime : now(), lastTransitionTime: same ? old.lastTransitionTime : now(), reason, message };
    };
    status.conditions = [
      ready >= want ? cond('Available', true, 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
        : cond('Available', false, 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'),
      this.progressing(dep, hash, done, cond),
    ];
    if (refused) status.conditions.push(cond('ReplicaFailure', true, 'FailedCreate', refused));
    if (JSON.stringify(status) === JSON.stringify(dep.status)) return;
    const next = clone(dep);
    next.status = status;
    this.store.save(DEPLOYMENTS, next);
  }

  // Progressing: done, under way, or past spec.progressDeadlineSeconds.
  progressing(dep, hash, done, cond) {
    const rs = `${dep.metadata.name}-${hash}`;
    if (done) return cond('Progressing', true, 'NewReplicaSetAvailable', `ReplicaSet "${rs}" has successfully progressed.`);
    const late = Date.now() - this.rolloutStart(dep, hash) > (dep.spec.progressDeadlineSeconds ?? 600) * 1000;
    if (late) return cond('Progressing', false, 'ProgressDeadlineExceeded', `ReplicaSet "${rs}" has timed out progressing.`);
    return cond('Progressing', true, 'ReplicaSetUpdated', `ReplicaSet "${rs}" is progressing.`);
  }
}
