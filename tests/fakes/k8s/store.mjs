// store.mjs — the fake's etcd: objects in memory under one global
// resourceVersion counter, and a 'change' event per write so the controller
// and log followers react the way watches make real controllers react.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';

export const clone = (o) => structuredClone(o);
export const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export class Store extends EventEmitter {
  constructor() {
    super();
    this.objects = new Map();
    this.rv = 100;
  }

  key(res, ns, name) { return `${res.plural}/${ns ?? ''}/${name}`; }

  get(res, ns, name) { return this.objects.get(this.key(res, ns, name)); }

  // Sorted by namespace then name, which is also the continue order.
  list(res, ns) {
    const prefix = ns === undefined ? `${res.plural}/` : `${res.plural}/${ns}/`;
    return [...this.objects.entries()].filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  resourceVersion() { return String(this.rv); }

  // Stamps a fresh resourceVersion (and uid on first save) and stores obj.
  save(res, obj) {
    const m = obj.metadata;
    const type = this.get(res, m.namespace, m.name) ? 'MODIFIED' : 'ADDED';
    m.uid ??= randomUUID();
    m.creationTimestamp ??= now();
    m.resourceVersion = String(++this.rv);
    this.objects.set(this.key(res, m.namespace, m.name), obj);
    this.emit('change', { type, res, obj });
    return obj;
  }

  remove(res, obj) {
    const k = this.key(res, obj.metadata.namespace, obj.metadata.name);
    if (!this.objects.delete(k)) return false;
    this.rv++;
    this.emit('change', { type: 'DELETED', res, obj });
    return true;
  }
}
