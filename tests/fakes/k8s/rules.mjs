// rules.mjs — the checks the OpenAPI schema cannot express but the API
// server's validation makes (422 Invalid), limited to the mistakes a
// runtime plugin can plausibly make: a selector that misses the template,
// a changed immutable field, a bad label, a bad container name, a Secret
// value that is not base64.
import { invalid } from './status.mjs';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

// Namespaces and services are named by RFC 1123 labels, the rest by
// subdomains.
function name(out, res, n) {
  const label = res.plural === 'namespaces' || res.plural === 'services';
  if (typeof n === 'string' && (label ? n.length <= 63 && DNS_LABEL.test(n) : n.length <= 253 && DNS_SUBDOMAIN.test(n))) return;
  out.push({ field: 'metadata.name', message: `Invalid value: "${n}": a lowercase RFC 1123 ${label ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-'${label ? '' : " or '.'"}, and must start and end with an alphanumeric character` });
}

function labels(out, field, map) {
  for (const [k, v] of Object.entries(map ?? {})) {
    if (!LABEL_KEY.test(k) || k.split('/').at(-1).length > 63) out.push({ field, message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'` });
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) out.push({ field: `${field}`, message: `Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
  }
}

function containers(out, field, list) {
  const seen = new Set();
  (list ?? []).forEach((c, i) => {
    if (!DNS_LABEL.test(c.name ?? '') || c.name.length > 63) out.push({ field: `${field}[${i}].name`, message: `Invalid value: "${c.name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'` });
    if (seen.has(c.name)) out.push({ field: `${field}[${i}].name`, message: `Duplicate value: "${c.name}"` });
    seen.add(c.name);
    if (!c.image) out.push({ field: `${field}[${i}].image`, message: 'Required value' });
  });
}

const matches = (sel, lbls) => Object.entries(sel ?? {}).every(([k, v]) => lbls?.[k] === v);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

const RULES = {
  Deployment(o, old, out) {
    const t = o.spec.template;
    labels(out, 'spec.template.metadata.labels', t.metadata?.labels);
    containers(out, 'spec.template.spec.containers', t.spec?.containers);
    const sel = o.spec.selector?.matchLabels;
    if (!sel || !Object.keys(sel).length) out.push({ field: 'spec.selector', message: 'Invalid value: empty selector is invalid for deployment' });
    else if (!matches(sel, t.metadata?.labels)) out.push({ field: 'spec.template.metadata.labels', message: `Invalid value: ${JSON.stringify(t.metadata?.labels ?? {})}: \`selector\` does not match template \`labels\`` });
    if (old && !same(old.spec.selector, o.spec.selector)) out.push({ field: 'spec.selector', message: `Invalid value: ${JSON.stringify(o.spec.selector)}: field is immutable` });
    if (o.spec.replicas < 0) out.push({ field: 'spec.replicas', message: `Invalid value: ${o.spec.replicas}: must be greater than or equal to 0` });
  },
  Secret(o, old, out) {
    for (const [k, v] of Object.entries(o.data ?? {})) {
      if (typeof v !== 'string' || !BASE64.test(v) || v.length % 4) out.push({ field: `data[${k}]`, message: 'Invalid value: illegal base64 data' });
    }
    if (old?.immutable && (!same(old.data, o.data) || !same(old.type, o.type))) out.push({ field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' });
    if (old && old.type !== (o.type ?? 'Opaque')) out.push({ field: 'type', message: 'Invalid value: field is immutable' });
  },
  PersistentVolumeClaim(o, old, out) {
    if (!o.spec?.resources?.requests?.storage) out.push({ field: 'spec.resources[storage]', message: 'Required value' });
    if (!o.spec?.accessModes?.length) out.push({ field: 'spec.accessModes', message: 'Required value: at least 1 access mode is required' });
    if (old) {
      const strip = (s) => { const { resources, volumeName, volumeMode, ...rest } = s ?? {}; return rest; };
      if (!same(strip(old.spec), strip(o.spec))) out.push({ field: 'spec', message: 'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims' });
    }
  },
  Service(o, old, out) {
    const s = o.spec ?? {};
    if (s.type !== 'ExternalName' && s.clusterIP !== 'None' && !(s.ports ?? []).length) out.push({ field: 'spec.ports', message: 'Required value' });
    if (old?.spec?.clusterIP && s.clusterIP !== undefined && s.clusterIP !== old.spec.clusterIP) out.push({ field: 'spec.clusterIPs[0]', message: 'Invalid value: field is immutable' });
  },
};

// rules(res, obj, old): throws 422 Invalid when obj (replacing old, if
// any) breaks a rule of its kind; names and labels are checked for every
// kind.
export function rules(res, obj, old) {
  const out = [];
  name(out, res, obj.metadata.name);
  labels(out, 'metadata.labels', obj.metadata?.labels);
  RULES[obj.kind]?.(obj, old, out);
  if (out.length) throw invalid(res, obj.metadata.name, out);
}
