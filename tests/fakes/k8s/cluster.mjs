// cluster.mjs — the fixed parts of the fake cluster: the default
// namespaces, two nodes with capacity, and the metrics.k8s.io API that a
// metrics-server adds (which can be switched off: its API group then
// answers 404, as on a cluster without metrics-server).
import { RESOURCES } from './resources.mjs';
import { labelMatcher } from './selector.mjs';
import { now } from './store.mjs';
import { notFound, pathNotFound } from './status.mjs';

const res = (plural) => RESOURCES.find((r) => r.plural === plural);
const METRICS = 'metrics.k8s.io/v1beta1';

export function seed(store) {
  for (const name of ['default', 'kube-system']) {
    store.save(res('namespaces'), {
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
      spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
    });
  }
  ['fake-node-1', 'fake-node-2'].forEach((name, i) => {
    const resources = { cpu: '2', memory: '8152352Ki', pods: '110', 'ephemeral-storage': '61202244Ki' };
    store.save(res('nodes'), {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
      spec: { podCIDR: `10.244.${i}.0/24` },
      status: {
        capacity: resources,
        allocatable: { ...resources, cpu: '1900m', memory: '7500000Ki' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now(), lastTransitionTime: now() }],
        addresses: [{ type: 'InternalIP', address: `10.0.0.${i + 1}` }, { type: 'Hostname', address: name }],
        nodeInfo: { kubeletVersion: 'v1.30.0', containerRuntimeVersion: 'containerd://1.7.0', operatingSystem: 'linux', architecture: 'amd64', osImage: 'Fake Linux', kernelVersion: '6.1.0', machineID: '', systemUUID: '', bootID: '', kubeProxyVersion: 'v1.30.0' },
      },
    });
  });
}

// The metrics.k8s.io/v1beta1 API, from the store's running pods.
export class Metrics {
  constructor(store, enabled = true) {
    this.store = store;
    this.enabled = enabled;
    this.usage = new Map(); // `${ns}/${pod}` → { container → { cpu, memory } }
  }

  set(ns, pod, containers) { this.usage.set(`${ns}/${pod}`, containers); }

  podMetrics(pod) {
    const { namespace: ns, name } = pod.metadata;
    const running = (pod.status?.containerStatuses ?? []).filter((c) => c.state?.running);
    if (!running.length) return null;
    const set = this.usage.get(`${ns}/${name}`) ?? {};
    return {
      kind: 'PodMetrics', apiVersion: METRICS,
      metadata: { name, namespace: ns, creationTimestamp: now(), labels: pod.metadata.labels },
      timestamp: now(), window: '15s',
      containers: running.map((c) => ({ name: c.name, usage: { cpu: '2500000n', memory: '20480Ki', ...(set[c.name] ?? {}) } })),
    };
  }

  nodeMetrics(node) {
    return {
      kind: 'NodeMetrics', apiVersion: METRICS,
      metadata: { name: node.metadata.name, creationTimestamp: now(), labels: node.metadata.labels },
      timestamp: now(), window: '20s', usage: { cpu: '250000000n', memory: '1048576Ki' },
    };
  }

  list(kind, items, q) {
    const lm = labelMatcher(q.get('labelSelector'));
    return { kind: `${kind}List`, apiVersion: METRICS, metadata: {}, items: items.filter((m) => m && lm(m.metadata.labels)) };
  }

  // seg: the path after /apis/metrics.k8s.io/v1beta1, split on '/'.
  handle(seg, q) {
    if (!this.enabled) throw pathNotFound();
    const pods = { plural: 'podmetrics', group: 'metrics.k8s.io' };
    const nodes = { plural: 'nodemetrics', group: 'metrics.k8s.io' };
    if (seg.length === 0) {
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: METRICS, resources: [
        { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
        { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] }] };
    }
    if (seg[0] === 'nodes' && seg.length <= 2) {
      const all = this.store.list(res('nodes'));
      if (seg.length === 1) return this.list('NodeMetrics', all.map((n) => this.nodeMetrics(n)), q);
      const n = all.find((x) => x.metadata.name === seg[1]);
      if (!n) throw notFound(nodes, seg[1]);
      return this.nodeMetrics(n);
    }
    let ns, rest = seg;
    if (seg[0] === 'namespaces') { ns = seg[1]; rest = seg.slice(2); }
    if (rest[0] !== 'pods' || rest.length > 2 || (rest.length === 2 && ns === undefined)) throw pathNotFound();
    if (rest.length === 1) return this.list('PodMetrics', this.store.list(res('pods'), ns).map((p) => this.podMetrics(p)), q);
    const p = this.store.get(res('pods'), ns, rest[1]);
    const m = p && this.podMetrics(p);
    if (!m) throw notFound(pods, `${ns}/${rest[1]}`);
    return m;
  }
}
