// defaults.mjs — what the API server fills in on write (defaulting) and the
// status a kind starts with, for the fields a runtime plugin reads back.
let nextIP = 10;

const DEFAULTS = {
  Namespace(o) {
    o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name };
    o.spec ??= { finalizers: ['kubernetes'] };
    o.status ??= { phase: 'Active' };
  },
  Secret(o) {
    o.type ??= 'Opaque';
    // stringData is write-only: merged into data, base64-encoded.
    if (o.stringData) {
      o.data ??= {};
      for (const [k, v] of Object.entries(o.stringData)) o.data[k] = Buffer.from(v).toString('base64');
      delete o.stringData;
    }
  },
  Service(o, old) {
    const s = o.spec ??= {};
    s.type ??= 'ClusterIP';
    s.sessionAffinity ??= 'None';
    // clusterIP is immutable: kept from the old object when not sent.
    s.clusterIP ??= old?.spec?.clusterIP ?? `10.96.0.${nextIP++ % 250}`;
    s.clusterIPs ??= [s.clusterIP];
    for (const p of s.ports ?? []) { p.protocol ??= 'TCP'; p.targetPort ??= p.port; }
    o.status ??= { loadBalancer: {} };
  },
  PersistentVolumeClaim(o, old) {
    o.spec.volumeMode ??= 'Filesystem';
    o.spec.volumeName ??= old?.spec?.volumeName ?? `pvc-${o.metadata.uid}`;
    // The fake has a provisioner that binds at once.
    o.status ??= { phase: 'Bound', accessModes: o.spec.accessModes, capacity: { storage: o.spec.resources?.requests?.storage } };
  },
  Deployment(o) {
    const s = o.spec;
    s.replicas ??= 1;
    s.strategy ??= { type: 'RollingUpdate' };
    if (s.strategy.type === 'RollingUpdate') s.strategy.rollingUpdate ??= { maxSurge: '25%', maxUnavailable: '25%' };
    // A switch to Recreate by apply: the real server drops the defaulted
    // rollingUpdate (its applier owns it); the fake's apply does not track
    // defaults, so it is dropped here.
    else delete s.strategy.rollingUpdate;
    s.revisionHistoryLimit ??= 10;
    s.progressDeadlineSeconds ??= 600;
    o.status ??= {};
  },
  Ingress(o) { o.status ??= { loadBalancer: {} }; },
};

// fill(obj, old): obj is about to be stored; old is what it replaces.
export function fill(obj, old) {
  DEFAULTS[obj.kind]?.(obj, old);
}
