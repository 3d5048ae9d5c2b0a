// selector.mjs — labelSelector and fieldSelector query strings, parsed as
// the API server documents them: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
// `a notin (x)`, `a` (exists), `!a` (does not exist), joined by commas.
import { badRequest } from './status.mjs';

// Split on commas that are not inside parentheses.
function terms(s) {
  const out = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const KEY = '([A-Za-z0-9][-A-Za-z0-9_./]*)';

function term(t) {
  let m;
  if ((m = t.match(new RegExp(`^${KEY}\\s*(==|=|!=)\\s*([-A-Za-z0-9_.]*)$`)))) {
    const [, k, op, v] = m;
    return op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v;
  }
  if ((m = t.match(new RegExp(`^${KEY}\\s+(in|notin)\\s*\\(([^)]*)\\)$`)))) {
    const [, k, op, list] = m;
    const vals = list.split(',').map((v) => v.trim());
    return op === 'in' ? (l) => k in l && vals.includes(l[k]) : (l) => !(k in l) || !vals.includes(l[k]);
  }
  if ((m = t.match(new RegExp(`^!${KEY}$`)))) return (l) => !(m[1] in l);
  if ((m = t.match(new RegExp(`^${KEY}$`)))) return (l) => m[1] in l;
  throw badRequest(`unable to parse requirement: ${t}`);
}

// labelMatcher('app=web,tier') → (labels) => boolean
export function labelMatcher(s) {
  const ts = s ? terms(s).map(term) : [];
  return (labels) => ts.every((f) => f(labels || {}));
}

const FIELDS = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace,
  'status.phase': (o) => o.status?.phase,
  'spec.nodeName': (o) => o.spec?.nodeName,
};

// fieldMatcher('metadata.name=web') → (object) => boolean; only the
// fields above, with =, == and !=.
export function fieldMatcher(s) {
  const ts = (s ? terms(s) : []).map((t) => {
    const m = t.match(/^([a-zA-Z.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m || !FIELDS[m[1]]) throw badRequest(`field label not supported: ${t}`);
    const [, f, op, v] = m;
    return op === '!=' ? (o) => FIELDS[f](o) !== v : (o) => FIELDS[f](o) === v;
  });
  return (o) => ts.every((f) => f(o));
}
