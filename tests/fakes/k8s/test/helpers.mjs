// helpers.mjs — start the fake as a child process the way a C test would
// (read "LISTENING <port>" from its stdout) and talk to it over HTTP(S).
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const SERVER = fileURLToPath(new URL('../server.mjs', import.meta.url));
export const TOKEN = 'test-token';

export async function startFake(args = [], { ca } = {}) {
  if (!existsSync(fileURLToPath(new URL('../node_modules/kubernetes-models/package.json', import.meta.url)))) {
    throw new Error('tests/fakes/k8s/node_modules is missing: run `npm ci` there (scripts/test.sh does)');
  }
  const child = spawn(process.execPath, [SERVER, '--token', TOKEN, '--pod-start-ms', '40', '--crash-ms', '80', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => { const m = l.match(/^LISTENING (\d+)$/); m ? resolve(Number(m[1])) : reject(new Error(l)); });
    child.once('exit', (c) => reject(new Error(`fake exited ${c}`)));
  });
  const mod = ca ? https : http;
  // request('GET', path, { body, type, token, stream }) → { code, body, headers }
  // body: an object is sent as JSON (type application/json unless given).
  const request = (method, path, { body, type, token = TOKEN, onData } = {}) => new Promise((resolve, reject) => {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    let data;
    if (body !== undefined) {
      data = typeof body === 'string' ? body : JSON.stringify(body);
      headers['Content-Type'] = type ?? 'application/json';
    }
    const req = mod.request({ host: '127.0.0.1', port, method, path, headers, ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; onData?.(c); });
      res.on('end', () => {
        let parsed = text;
        if ((res.headers['content-type'] ?? '').includes('json')) parsed = JSON.parse(text);
        resolve({ code: res.statusCode, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
  const stop = () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); });
  return { port, request, stop };
}

export async function waitFor(what, fn, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function deployment(name, { replicas = 1, image = 'nginx:1.27', containers, annotations } = {}) {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...(annotations ? { annotations } : {}) },
        spec: { containers: containers ?? [{ name: 'main', image }] },
      },
    },
  };
}

export const APPLY = 'application/apply-patch+yaml';
export const depPath = (ns, name = '') => `/apis/apps/v1/namespaces/${ns}/deployments${name ? '/' + name : ''}`;
