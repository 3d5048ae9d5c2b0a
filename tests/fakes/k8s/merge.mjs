// merge.mjs — the three PATCH flavours, simplified (README.md says how):
// JSON merge patch (RFC 7386), strategic merge patch (merge patch plus
// lists of named objects merged by name) and server-side apply (per field
// manager: fields it applied before and no longer applies are removed, the
// applied ones merged in; lists are replaced whole, not merged by key).

export const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// The map part of both patch flavours: null deletes a key, the rest recurses.
function mergeMap(target, patch, recur) {
  if (!isMap(patch)) return structuredClone(patch);
  const out = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = recur(out[k], v);
  }
  return out;
}

export const mergePatch = (target, patch) => mergeMap(target, patch, mergePatch);

const named = (l) => Array.isArray(l) && l.length > 0 && l.every((i) => isMap(i) && typeof i.name === 'string');

export function strategicMerge(target, patch) {
  if (named(target) && named(patch)) {
    const out = target.map((i) => structuredClone(i));
    for (const p of patch) {
      const i = out.findIndex((t) => t.name === p.name);
      if (p.$patch === 'delete') { if (i >= 0) out.splice(i, 1); } else if (i >= 0) out[i] = strategicMerge(out[i], p);
      else out.push(structuredClone(p));
    }
    return out;
  }
  return mergeMap(target, patch, strategicMerge);
}

// Remove from obj what `before` set and `after` no longer sets.
function prune(obj, before, after) {
  if (!isMap(obj) || !isMap(before)) return;
  for (const k of Object.keys(before)) {
    if (!isMap(after) || !(k in after)) delete obj[k];
    else if (isMap(before[k]) && isMap(after[k])) prune(obj[k], before[k], after[k]);
  }
}

function deepMerge(target, src) {
  if (!isMap(src) || !isMap(target)) return structuredClone(src);
  const out = { ...target };
  for (const [k, v] of Object.entries(src)) out[k] = deepMerge(out[k], v);
  return out;
}

// apply(current, lastApplied, applied): the object after a manager that
// last applied `lastApplied` (or nothing) applies `applied`.
export function apply(current, lastApplied, applied) {
  const out = structuredClone(current);
  prune(out, lastApplied, applied);
  return deepMerge(out, applied);
}
