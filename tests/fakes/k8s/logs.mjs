// logs.mjs — container logs: lines kept per pod and container, served by
// GET …/pods/{name}/log with the kubelet's query parameters (container,
// tailLines, timestamps, follow, sinceSeconds); a follow stream stays open
// (chunked) and ends when the pod is deleted.
import { badRequest } from './status.mjs';

// RFC3339Nano as Go prints it: nanoseconds, trailing zeros dropped. The
// digits below the millisecond come from the monotonic clock, and each
// stamp is later than the one before, so lines keep their order when a
// client sorts or resumes by time.
let lastNs = 0n;
function stamp() {
  let ns = BigInt(Date.now()) * 1000000n + (process.hrtime.bigint() % 1000000n);
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  const ms = Number(ns / 1000000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = String(ns % 1000000000n).padStart(9, '0').replace(/0+$/, '');
  return { ms, ts: `${base}${frac ? '.' + frac : ''}Z` };
}

export class Logs {
  constructor() {
    this.lines = new Map(); // `${ns}/${pod}` → Map(container → [{ms, ts, text}])
    this.followers = new Map(); // `${ns}/${pod}` → Set({ container, out, timestamps })
  }

  append(ns, pod, container, text) {
    const key = `${ns}/${pod}`;
    if (!this.lines.has(key)) this.lines.set(key, new Map());
    const byC = this.lines.get(key);
    if (!byC.has(container)) byC.set(container, []);
    const line = { ...stamp(), text };
    byC.get(container).push(line);
    for (const f of this.followers.get(key) ?? []) if (f.container === container) f.out.write(format(line, f.timestamps));
  }

  // The pod is gone: its follow streams end.
  end(ns, pod) {
    const key = `${ns}/${pod}`;
    for (const f of this.followers.get(key) ?? []) f.out.end();
    this.followers.delete(key);
    this.lines.delete(key);
  }

  started(ns, pod, container) { return (this.lines.get(`${ns}/${pod}`)?.get(container)?.length ?? 0) > 0; }

  // Which container a log request means, or a 400 Status as the API's.
  container(pod, q) {
    const names = pod.spec.containers.map((c) => c.name);
    const want = q.get('container');
    if (!want) {
      if (names.length === 1) return names[0];
      throw badRequest(`a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]`);
    }
    if (!names.includes(want)) throw badRequest(`container ${want} is not valid for pod ${pod.metadata.name}`);
    return want;
  }

  // Validates first (so errors are Status answers), then returns a function
  // that writes the answer on an http.ServerResponse.
  serve(pod, q) {
    const { namespace: ns, name } = pod.metadata;
    const container = this.container(pod, q);
    if (!this.started(ns, name, container)) {
      const st = pod.status?.containerStatuses?.find((c) => c.name === container);
      const why = st?.state?.waiting?.reason ?? 'ContainerCreating';
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${why}`);
    }
    const timestamps = q.get('timestamps') === 'true';
    const follow = q.get('follow') === 'true';
    let lines = this.lines.get(`${ns}/${name}`).get(container);
    const since = Number(q.get('sinceSeconds') || 0);
    if (since > 0) lines = lines.filter((l) => l.ms >= Date.now() - since * 1000);
    if (q.get('tailLines') !== null) {
      const n = Number(q.get('tailLines'));
      if (!Number.isInteger(n) || n < 0) throw badRequest(`tailLines: Invalid value: "${q.get('tailLines')}"`);
      lines = n === 0 ? [] : lines.slice(-n);
    }
    return (out) => {
      out.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
      for (const l of lines) out.write(format(l, timestamps));
      if (!follow) return out.end();
      const key = `${ns}/${name}`;
      if (!this.followers.has(key)) this.followers.set(key, new Set());
      const f = { container, out, timestamps };
      this.followers.get(key).add(f);
      out.on('close', () => this.followers.get(key)?.delete(f));
    };
  }
}

function format(line, timestamps) {
  return timestamps ? `${line.ts} ${line.text}\n` : `${line.text}\n`;
}
