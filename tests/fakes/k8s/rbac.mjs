// rbac.mjs — `--rbac FILE`: authorise every API request the way the
// Kubernetes RBAC authorizer does, from a manifest of Roles, ClusterRoles
// and their bindings (multi-document YAML), and keep count of which grant
// allowed what, so a test can show a manifest holds nothing unused.
//
// Request attributes follow the API server's RequestInfo: the verb from the
// method (GET on a collection is list, DELETE on one deletecollection), the
// API group, the resource and subresource ("pods/log", "deployments/scale"),
// the namespace (a namespace object's own path carries its name as the
// namespace: /api/v1/namespaces/x is namespace "x"). A Role's rules count
// only in the namespace of the RoleBinding that names it; a ClusterRole's
// through a ClusterRoleBinding count everywhere, through a RoleBinding in
// that binding's namespace. Paths outside /api and /apis (discovery,
// /version) are allowed, as the default system:discovery role does.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { ApiError } from './status.mjs';

const KINDS = ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'];
// Paths under a namespace that are the namespace's own subresources.
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
const VERBS = { GET: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

// The RBAC attributes of a request, or null for a non-resource path.
//   attributes('GET', '/apis/apps/v1/namespaces/ns/deployments', q)
//   → { verb: 'list', group: 'apps', resource: 'deployments', sub: '', namespace: 'ns', name: '' }
export function attributes(method, pathname, query) {
  const seg = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group, parts;
  if (seg[0] === 'api' && seg.length >= 2) [group, parts] = ['', seg.slice(2)];
  else if (seg[0] === 'apis' && seg.length >= 3) [group, parts] = [seg[1], seg.slice(3)];
  else return null;
  if (parts.length === 0) return null; // /api/v1, /apis/apps/v1: discovery
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1];
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2])) parts = parts.slice(2);
  }
  const [resource, name = '', sub = ''] = parts;
  let verb = VERBS[method] ?? method.toLowerCase();
  if (name === '' && verb === 'get') verb = query?.get('watch') === 'true' ? 'watch' : 'list';
  if (name === '' && verb === 'delete') verb = 'deletecollection';
  return { verb, group, resource, sub, namespace, name };
}

const combined = (a) => (a.sub ? `${a.resource}/${a.sub}` : a.resource);

// One grant: a single verb on a single apiGroup/resource of one rule, as
// bound: scope is a namespace, or '' for cluster-wide.
function atomMatches(g, a) {
  if (g.scope !== '' && g.scope !== a.namespace) return false;
  if (g.verb !== '*' && g.verb !== a.verb) return false;
  if (g.group !== '*' && g.group !== a.group) return false;
  const r = g.resource;
  const ok = r === '*' || r === combined(a) || (a.sub !== '' && r === `*/${a.sub}`);
  if (!ok) return false;
  return g.resourceNames.length === 0 || g.resourceNames.includes(a.name);
}

function subjectMatches(s, user) {
  if (s.kind === 'User') return s.name === user.name;
  if (s.kind === 'Group') return user.groups.includes(s.name);
  if (s.kind === 'ServiceAccount') return `system:serviceaccount:${s.namespace}:${s.name}` === user.name;
  return false;
}

// The user a request is made as: a service account's name brings its groups.
export function userOf(name) {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(name);
  const groups = ['system:authenticated'];
  if (m) groups.push('system:serviceaccounts', `system:serviceaccounts:${m[1]}`);
  return { name, groups };
}

export class Rbac {
  // text: the manifest (multi-document YAML); user: the name requests are
  // made as (e.g. system:serviceaccount:dermaga:dermaga).
  constructor(text, userName, source = 'manifest') {
    this.source = source;
    this.user = userOf(userName);
    this.docs = YAML.parseAllDocuments(text).map((d) => {
      if (d.errors.length) throw new Error(`${source}: ${d.errors[0].message}`);
      return d.toJS();
    }).filter((o) => o && KINDS.includes(o.kind));
    this.build();
  }

  static load(file, userName) {
    return new Rbac(readFileSync(file, 'utf8'), userName, file);
  }

  // Expand every bound rule into grants (one per verb × group × resource).
  build() {
    const roles = new Map();
    for (const o of this.docs) {
      if (o.kind === 'Role' || o.kind === 'ClusterRole') {
        const key = o.kind === 'Role' ? `Role/${o.metadata?.namespace ?? 'default'}/${o.metadata?.name}` : `ClusterRole/${o.metadata?.name}`;
        roles.set(key, o);
      }
    }
    this.grants = [];
    this.bindings = [];
    for (const b of this.docs) {
      if (b.kind !== 'RoleBinding' && b.kind !== 'ClusterRoleBinding') continue;
      const bns = b.metadata?.namespace ?? 'default';
      const ref = b.roleRef ?? {};
      if (b.kind === 'ClusterRoleBinding' && ref.kind !== 'ClusterRole') throw new Error(`${this.source}: ClusterRoleBinding ${b.metadata?.name} must refer to a ClusterRole`);
      const key = ref.kind === 'Role' ? `Role/${bns}/${ref.name}` : `ClusterRole/${ref.name}`;
      const role = roles.get(key);
      if (!role) throw new Error(`${this.source}: ${b.kind} ${b.metadata?.name} refers to ${key}, which the manifest does not hold`);
      if (!(b.subjects ?? []).some((s) => subjectMatches(s, this.user))) continue;
      const scope = b.kind === 'ClusterRoleBinding' ? '' : bns;
      const binding = `${b.kind}/${b.kind === 'RoleBinding' ? bns + '/' : ''}${b.metadata?.name}`;
      this.bindings.push(binding);
      (role.rules ?? []).forEach((rule, i) => {
        for (const verb of rule.verbs ?? []) {
          for (const group of rule.apiGroups ?? []) {
            for (const resource of rule.resources ?? []) {
              this.grants.push({ role: key, binding, rule: i, verb, group, resource, resourceNames: rule.resourceNames ?? [], scope, uses: 0 });
            }
          }
        }
      });
    }
    this.checks = new Map(); // "verb group resource ns" → { ..., count }
    this.denied = [];
  }

  // Remove one verb on one resource (and group, when given) from every
  // rule: a manifest without that grant. → how many grants went.
  remove({ verb, resource, apiGroup }) {
    const before = this.grants.length;
    this.grants = this.grants.filter((g) => !(g.verb === verb && g.resource === resource && (apiGroup === undefined || g.group === apiGroup)));
    return before - this.grants.length;
  }

  // Is attributes a allowed? Counts the use of every grant that allows it
  // (several may) and records the check; a refusal is recorded as denied.
  authorize(a) {
    const hits = this.grants.filter((g) => atomMatches(g, a));
    const key = `${a.verb} ${a.group} ${combined(a)} ${a.namespace}`;
    if (hits.length === 0) {
      this.denied.push({ verb: a.verb, apiGroup: a.group, resource: combined(a), namespace: a.namespace, name: a.name });
      return false;
    }
    for (const g of hits) g.uses++;
    const c = this.checks.get(key) ?? { verb: a.verb, apiGroup: a.group, resource: combined(a), namespace: a.namespace, count: 0 };
    c.count++;
    this.checks.set(key, c);
    return true;
  }

  // The API server's 403 for a request the authorizer refused.
  forbidden(a, qualifiedResource) {
    const what = a.name ? `${qualifiedResource} "${a.name}"` : qualifiedResource;
    const where = a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
    const details = { kind: a.resource };
    if (a.name) details.name = a.name;
    if (a.group) details.group = a.group;
    return new ApiError(403, 'Forbidden',
      `${what} is forbidden: User "${this.user.name}" cannot ${a.verb} resource "${combined(a)}" in API group "${a.group}"${where}`,
      details);
  }

  // An apply that creates is authorised again as create in the handler; its
  // refusal carries the authorizer's reason, which RBAC leaves empty.
  forbiddenCreate(a, qualifiedResource) {
    const details = { kind: a.resource, name: a.name };
    if (a.group) details.group = a.group;
    return new ApiError(403, 'Forbidden', `${qualifiedResource} "${a.name}" is forbidden: `, details);
  }

  // GET /fake/rbac/used
  report() {
    return {
      user: this.user.name,
      bindings: this.bindings,
      used: [...this.checks.values()],
      denied: this.denied,
      grants: this.grants.map(({ role, binding, rule, verb, group, resource, resourceNames, scope, uses }) =>
        ({ role, binding, rule, verb, apiGroup: group, resource, ...(resourceNames.length ? { resourceNames } : {}), scope: scope || '*', uses })),
    };
  }

  clearUse() {
    for (const g of this.grants) g.uses = 0;
    this.checks.clear();
    this.denied.length = 0;
  }
}
