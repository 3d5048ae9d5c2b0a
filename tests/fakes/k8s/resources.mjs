// resources.mjs — the resource types the fake serves and how a URL path
// names one (the API server's /api/v1 and /apis/{group}/{version} trees).

const R = (plural, group, version, kind, namespaced, extra = {}) =>
  ({ plural, group, version, kind, namespaced, apiVersion: group ? `${group}/${version}` : version, ...extra });

export const RESOURCES = [
  R('namespaces', '', 'v1', 'Namespace', false),
  R('nodes', '', 'v1', 'Node', false, { readOnly: true }),
  R('secrets', '', 'v1', 'Secret', true),
  R('persistentvolumeclaims', '', 'v1', 'PersistentVolumeClaim', true),
  R('services', '', 'v1', 'Service', true),
  // Pods are made by the fake's deployment controller; clients may read and
  // delete them (a deleted pod is replaced), not write them.
  R('pods', '', 'v1', 'Pod', true, { clientCreates: false }),
  R('deployments', 'apps', 'v1', 'Deployment', true),
  R('ingresses', 'networking.k8s.io', 'v1', 'Ingress', true),
];

export const byKind = (kind) => RESOURCES.find((r) => r.kind === kind);

// parsePath('/apis/apps/v1/namespaces/ns/deployments/web/scale') →
// { res, ns: 'ns', name: 'web', sub: 'scale' }; null when not a resource
// path (the caller answers 404). A namespaced resource may be listed across
// namespaces with /api/v1/pods.
export function parsePath(path) {
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group, version, rest;
  if (seg[0] === 'api') [group, version, rest] = ['', seg[1], seg.slice(2)];
  else if (seg[0] === 'apis') [group, version, rest] = [seg[1], seg[2], seg.slice(3)];
  else return null;
  let ns;
  if (rest[0] === 'namespaces' && rest.length >= 3) { ns = rest[1]; rest = rest.slice(2); }
  const [plural, name, sub, ...more] = rest;
  if (more.length) return null;
  const res = RESOURCES.find((r) => r.plural === plural && r.group === group && r.version === version);
  if (!res) return null;
  if (ns !== undefined && !res.namespaced) return null;
  if (ns === undefined && res.namespaced && name !== undefined) return null;
  return { res, ns, name, sub };
}
