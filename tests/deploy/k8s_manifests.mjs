// k8s_manifests.mjs BUILD_DIR — deploy/kubernetes/*.yaml as an operator
// applies them: every object passes the Kubernetes schemas strictly (the
// fake API server's validator, tests/fakes/k8s/validate.mjs: unknown fields
// are errors), the Deployment runs 2 replicas probed on /healthz (liveness)
// and /readyz (readiness), every Secret and ConfigMap key it refers to
// exists, the Service selects its pods on a port they name, the Secret holds
// only placeholders, every DERMAGA_* variable is one docs/configuration.md
// documents, and the built server accepts the ConfigMap's config.json
// (`dermaga plugins --config` exits 0: known keys, plugins that load).
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const fake = join(root, 'tests', 'fakes', 'k8s');
const build = process.argv[2];
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exit(1); };
if (!build) fail('usage: k8s_manifests.mjs BUILD_DIR');

let check, YAML;
try {
  ({ check } = await import(pathToFileURL(join(fake, 'validate.mjs'))));
  const req = createRequire(join(fake, 'package.json'));
  YAML = await import(pathToFileURL(req.resolve('yaml')));
} catch (e) {
  fail(`cannot load the fake's validator (run npm ci in tests/fakes/k8s): ${e.message}`);
}

const dir = join(root, 'deploy', 'kubernetes');
const objs = [];
for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
  for (const doc of YAML.parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
    if (doc.errors.length) fail(`${f}: ${doc.errors[0].message}`);
    const obj = doc.toJS();
    if (obj) objs.push({ file: f, obj });
  }
}
for (const { file, obj } of objs) {
  try {
    check({ kind: obj.kind, group: '', plural: `${obj.kind.toLowerCase()}s` }, obj);
  } catch (e) {
    fail(`${file}: ${obj.kind} ${obj.metadata?.name}: ${e.message}`);
  }
}
const one = (kind) => {
  const found = objs.filter(({ obj }) => obj.kind === kind).map(({ obj }) => obj);
  if (found.length !== 1) fail(`expected one ${kind}, found ${found.length}`);
  return found[0];
};
const dep = one('Deployment'), secret = one('Secret'), cm = one('ConfigMap'), svc = one('Service');

if (dep.spec.replicas !== 2) fail(`the Deployment runs ${dep.spec.replicas} replicas, not 2`);
const pod = dep.spec.template;
const [c] = pod.spec.containers;
if (c.livenessProbe?.httpGet?.path !== '/healthz') fail('liveness is not GET /healthz');
if (c.readinessProbe?.httpGet?.path !== '/readyz') fail('readiness is not GET /readyz');
const portNames = new Set((c.ports ?? []).map((p) => p.name));
for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
  if (!portNames.has(probe.httpGet.port)) fail(`a probe uses port ${probe.httpGet.port}, which the container does not name`);
}

const secretKeys = new Set(Object.keys({ ...secret.stringData, ...secret.data }));
for (const e of c.env ?? []) {
  const ref = e.valueFrom?.secretKeyRef;
  if (ref && (ref.name !== secret.metadata.name || !secretKeys.has(ref.key))) fail(`env ${e.name}: no Secret key ${ref.name}/${ref.key}`);
}
const mounts = new Map(c.volumeMounts.map((m) => [m.name, m.mountPath]));
const fileEnv = new Map();
for (const v of pod.spec.volumes) {
  if (!mounts.has(v.name)) fail(`volume ${v.name} is not mounted`);
  if (v.secret) {
    if (v.secret.secretName !== secret.metadata.name) fail(`volume ${v.name}: no Secret ${v.secret.secretName}`);
    for (const it of v.secret.items ?? []) {
      if (!secretKeys.has(it.key)) fail(`volume ${v.name}: no Secret key ${it.key}`);
      fileEnv.set(`${mounts.get(v.name)}/${it.path}`, it.key);
    }
  }
  if (v.configMap) {
    if (v.configMap.name !== cm.metadata.name) fail(`volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    if (!c.args.includes(`${mounts.get(v.name)}/config.json`)) fail('the server is not started with the ConfigMap\'s config.json');
  }
}
for (const e of c.env ?? []) {
  if (e.name.endsWith('_FILE') && !fileEnv.has(e.value)) fail(`env ${e.name}=${e.value} names no mounted Secret file`);
}
for (const [k, v] of Object.entries(secret.stringData ?? {})) {
  if (!/CHANGE-ME|example\.com/.test(v)) fail(`Secret key ${k} does not look like a placeholder: keep real secrets out of the repository`);
}

const sel = svc.spec.selector;
for (const [k, v] of Object.entries(sel)) {
  if (pod.metadata.labels[k] !== v) fail(`the Service selects ${k}=${v}, which the pods do not carry`);
}
for (const p of svc.spec.ports) {
  if (!portNames.has(p.targetPort)) fail(`the Service targets port ${p.targetPort}, which the container does not name`);
}

const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
for (const e of c.env ?? []) {
  if (!doc.includes(`\`${e.name}\``)) fail(`env ${e.name} is not a variable docs/configuration.md documents`);
}

const tmp = mkdtempSync(join(process.env.DERMAGA_TEST_TMPDIR ?? tmpdir(), 'k8s-manifests-'));
try {
  writeFileSync(join(tmp, 'config.json'), cm.data['config.json']);
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('DERMAGA_')) delete env[k];
  try {
    execFileSync(join(build, 'dermaga'), ['plugins', '--config', join(tmp, 'config.json')],
                 { env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    fail(`the built server refuses the ConfigMap's config.json:\n${e.stdout}${e.stderr}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`PASS: ${objs.length} objects in deploy/kubernetes valid; probes, references, placeholders and config.json checked`);
