// status.mjs — every error the fake answers is a metav1.Status, as the real
// API server's are, so the plugin's error parsing is exercised for real.

// ApiError carries a ready Status body; handlers throw it and server.mjs
// writes it with status.code as the HTTP status.
export class ApiError extends Error {
  constructor(code, reason, message, details = {}) {
    super(message);
    this.status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      details,
      code,
    };
  }
}

// "deployments.apps" / "secrets": how the API server names a resource in
// messages (plural, then the group unless it is the core group).
export function qualified(res) {
  return res.group ? `${res.plural}.${res.group}` : res.plural;
}

function details(res, name) {
  const d = { kind: res.plural };
  if (name !== undefined) d.name = name;
  if (res.group) d.group = res.group;
  return d;
}

export const notFound = (res, name) =>
  new ApiError(404, 'NotFound', `${qualified(res)} "${name}" not found`, details(res, name));

export const alreadyExists = (res, name) =>
  new ApiError(409, 'AlreadyExists', `${qualified(res)} "${name}" already exists`, details(res, name));

export const conflict = (res, name) =>
  new ApiError(409, 'Conflict',
    `Operation cannot be fulfilled on ${qualified(res)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details(res, name));

export const badRequest = (message) => new ApiError(400, 'BadRequest', message);

// 422 with one cause per validator complaint, the shape `kubectl` prints.
export function invalid(res, name, messages) {
  const d = details(res, name);
  d.kind = res.kind;
  d.causes = messages.map((m) => ({ reason: m.reason ?? 'FieldValueInvalid', message: m.message, field: m.field }));
  return new ApiError(422, 'Invalid',
    `${res.kind}${res.group ? '.' + res.group : ''} "${name}" is invalid: ${messages.map((m) => `${m.field}: ${m.message}`).join(', ')}`, d);
}

// A ValidatingAdmissionPolicy (reason Invalid, the default) refusing a
// write: 422 with the policy's message, as the real server words it.
export const policyDenied = (res, name, message) =>
  invalid(res, name ?? '', [{ field: '', message: `ValidatingAdmissionPolicy 'fake-policy' with binding 'fake-binding' denied request: ${message}` }]);

// The real API server's answer for a path it does not serve (also what an
// absent metrics-server's API group gives).
export const pathNotFound = () =>
  new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

export const unauthorized = () => new ApiError(401, 'Unauthorized', 'Unauthorized');

export function forbidden(user, verb, res, ns, name) {
  const what = name !== undefined ? `${qualified(res)} "${name}"` : qualified(res);
  const sub = res.sub ? `${res.plural}/${res.sub}` : res.plural;
  const where = ns ? ` in the namespace "${ns}"` : ' at the cluster scope';
  return new ApiError(403, 'Forbidden',
    `${what} is forbidden: User "${user}" cannot ${verb} resource "${sub}" in API group "${res.group}"${where}`,
    details(res, name));
}

export const methodNotAllowed = (message) => new ApiError(405, 'MethodNotAllowed', message);

export const unsupportedMediaType = (type) =>
  new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (the fake: no json-patch); got "${type}"`);

export function success(res, name, uid) {
  const d = details(res, name);
  if (uid) d.uid = uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: d };
}
