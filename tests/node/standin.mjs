/*
 * standin.mjs — a stand-in for Dermaga's Socket.IO side (docs/openapi.yaml, "Live
 * logs") while the server has none of its own: an HTTP server whose
 * /socket.io/ is the npm `socket.io` server with the namespace /k8s-logs,
 * and whose every other request goes to a real Dermaga (--upstream), so the
 * page and its files are Dermaga's own. Two kinds:
 *  - relay (the command line, for test_log_page with
 *    DERMAGA_TEST_LOG_PAGE_STANDIN=1): a token is good when Dermaga's
 *    GET /api/auth/me takes it; `subscribe-logs` follows Dermaga's SSE
 *    stream of the instance and relays its lines, `logs-error` and
 *    `logs-ended`; the socket is closed when its token expires.
 *  - fake (startStandin({ fake: true }), for page_behaviour.mjs): sign-in,
 *    refresh, sign-out and the instance list are answered here, with tokens
 *    of a lifetime the test chooses per user, and the test sends the lines.
 *   node standin.mjs --upstream http://127.0.0.1:PORT     prints "LISTENING <port>"
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Server } from 'socket.io';

const NAMESPACE = '/k8s-logs';

/* ---- plumbing -------------------------------------------------------------- */

function sendJson(res, status, doc) {
    const body = doc === undefined ? '' : JSON.stringify(doc);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
}

function apiError(res, status, code, message) {
    sendJson(res, status, { success: false, error: { code, message, details: [] } });
}

function readJson(req) {
    return new Promise((resolve) => {
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (c) => { text += c; });
        req.on('end', () => { try { resolve(JSON.parse(text)); } catch { resolve(null); } });
    });
}

function bearer(value) {
    const m = /^Bearer (.+)$/.exec(value || '');
    return m ? m[1] : null;
}

/* Pass a request on to Dermaga as it is, and its answer back. */
function proxy(upstream, req, res) {
    const url = new URL(req.url, upstream);
    const up = http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
    });
    up.on('error', (e) => apiError(res, 502, 'BAD_GATEWAY', `the stand-in cannot reach Dermaga: ${e.message}`));
    req.pipe(up);
}

/* GET path on Dermaga with a Bearer token: {status, doc}. */
function getJson(upstream, path, token) {
    return new Promise((resolve) => {
        const req = http.get(new URL(path, upstream), { headers: { Authorization: `Bearer ${token}` } }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c) => { text += c; });
            res.on('end', () => { let doc = null; try { doc = JSON.parse(text); } catch { /* not JSON */ } resolve({ status: res.statusCode, doc }); });
        });
        req.on('error', () => resolve({ status: 0, doc: null }));
    });
}

/* The exp claim of a JWT (seconds), or null. */
function jwtExp(token) {
    try {
        const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).exp;
        return Number.isFinite(exp) ? exp : null;
    } catch {
        return null;
    }
}

/* Close socket when its token's expiry (ms since the epoch) comes, as
 * Dermaga's namespace does. */
function closeAtExpiry(socket, expMs) {
    if (expMs === null) {
        return;
    }
    const timer = setTimeout(() => socket.disconnect(true), Math.max(0, expMs - Date.now()));
    socket.on('disconnect', () => clearTimeout(timer));
}

function tailOf(payload) {
    const n = Number(payload && payload.tailLines);
    return Number.isInteger(n) && n >= 1 ? Math.min(n, 1000) : 100;
}

/* ---- relay: lines from Dermaga's SSE stream --------------------------------- */

/* Follow GET /api/instances/:id/logs/stream and call on.log(data),
 * on.error(message), on.ended() (once). Returns a function that stops it. */
function followSse(upstream, token, instanceId, tail, on) {
    let ended = false;
    const end = () => { if (!ended) { ended = true; on.ended(); } };
    const url = new URL(`/api/instances/${encodeURIComponent(instanceId)}/logs/stream?tail=${tail}`, upstream);
    const req = http.get(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
            res.resume();
            on.error(res.statusCode === 404 ? 'not found' : `the log stream answered ${res.statusCode}`);
            end();
            return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
            buf += chunk;
            for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
                const block = buf.slice(0, i);
                buf = buf.slice(i + 2);
                let event = '';
                const data = [];
                for (const line of block.split('\n')) {
                    if (line.startsWith('event:')) event = line.slice(6).trim();
                    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
                }
                if (data.length === 0) continue; /* a comment: connected, keep-alive */
                const doc = JSON.parse(data.join('\n'));
                if (event === '') on.log(doc);
                else if (event === 'logs-error') on.error(doc.message);
                else if (event === 'logs-ended') end();
            }
        });
        res.on('end', end);
        res.on('error', end);
    });
    req.on('error', (e) => { if (!ended) { on.error(`the log stream failed: ${e.message}`); end(); } });
    return () => { ended = true; req.destroy(); };
}

function relayNamespace(nsp, upstream) {
    nsp.use(async (socket, next) => {
        const token = socket.handshake.auth && socket.handshake.auth.token;
        if (typeof token !== 'string' || token === '') {
            next(new Error('a token is required'));
            return;
        }
        const me = await getJson(upstream, '/api/auth/me', token);
        if (me.status !== 200) {
            next(new Error('invalid or expired token'));
            return;
        }
        socket.data.token = token;
        const exp = jwtExp(token);
        socket.data.expMs = exp === null ? null : exp * 1000;
        next();
    });
    nsp.on('connection', (socket) => {
        const follows = new Map(); /* instanceId → stop() */
        closeAtExpiry(socket, socket.data.expMs);
        socket.on('subscribe-logs', async (payload) => {
            let id = payload && payload.instanceId;
            if (!id && payload && payload.subscriptionId) {
                const sub = await getJson(upstream, `/api/subscriptions/${encodeURIComponent(payload.subscriptionId)}`, socket.data.token);
                id = sub.status === 200 && sub.doc.data.instance ? sub.doc.data.instance.id : null;
            }
            if (typeof id !== 'string' || id === '') {
                socket.emit('logs-error', { message: 'not found' });
                socket.emit('logs-ended', {});
                return;
            }
            if (follows.has(id)) follows.get(id)();
            follows.set(id, followSse(upstream, socket.data.token, id, tailOf(payload), {
                log: (doc) => socket.emit('log', doc),
                error: (message) => socket.emit('logs-error', { message }),
                ended: () => { follows.delete(id); socket.emit('logs-ended', { instanceId: id }); },
            }));
        });
        socket.on('unsubscribe-logs', (payload) => {
            for (const [id, stop] of follows) {
                if (!payload || !payload.instanceId || payload.instanceId === id) {
                    stop();
                    follows.delete(id);
                }
            }
        });
        socket.on('disconnect', () => { for (const stop of follows.values()) stop(); follows.clear(); });
    });
}

/* ---- fake: everything the page asks, answered here ------------------------- */

export const FAKE_PASSWORD = 'fake-password-1';

export class Fake {
    constructor() {
        this.nsp = null;
        this.access = new Map();  /* token → {email, expMs} */
        this.refresh = new Map(); /* token → email (deleted once spent) */
        this.ttlS = new Map();    /* email → token lifetime, default 3600 */
        this.refused = new Set(); /* emails the namespace refuses */
        this.events = [];         /* {type: login|refresh|connect|refused|subscribe|unsubscribe, …} */
        this.history = new Map(); /* instanceId → lines sent so far */
        this.lastTs = 0;
        this.instances = [
            { id: 'inst-a', subscriptionId: 'sub-a', status: 'RUNNING', urls: { public: 'http://site-a.example.id' } },
            /* An address that must never become a link. */
            { id: 'inst-b', subscriptionId: 'sub-b', status: 'STOPPED', urls: { public: 'javascript:alert(1)' } },
        ];
    }

    issue(email) {
        const ttl = this.ttlS.get(email) || 3600;
        const accessToken = `fake-access-${randomUUID()}`;
        const refreshToken = `fake-refresh-${randomUUID()}`;
        this.access.set(accessToken, { email, expMs: Date.now() + ttl * 1000 });
        this.refresh.set(refreshToken, email);
        return { user: { id: `user-${email}`, email, name: email, role: 'USER' }, accessToken, refreshToken, expiresIn: ttl };
    }

    /* The live session of an access token, or null. */
    session(token) {
        const s = token ? this.access.get(token) : null;
        return s && s.expMs > Date.now() ? s : null;
    }

    count(type) {
        return this.events.filter((e) => e.type === type).length;
    }

    /* Send one line of instanceId to its subscribers (and keep it for tails). */
    line(instanceId, text, stream = 'stdout') {
        this.lastTs = Math.max(Date.now(), this.lastTs + 1);
        const msg = { instanceId, line: text, stream, timestamp: new Date(this.lastTs).toISOString() };
        if (!this.history.has(instanceId)) this.history.set(instanceId, []);
        this.history.get(instanceId).push(msg);
        this.nsp.to(`inst:${instanceId}`).emit('log', msg);
    }

    async rest(req, res) {
        const path = req.url.split('?')[0];
        if (req.method === 'POST' && path === '/api/auth/login') {
            const body = await readJson(req);
            if (!body || body.password !== FAKE_PASSWORD) {
                apiError(res, 401, 'INVALID_CREDENTIALS', 'invalid email or password');
                return true;
            }
            this.events.push({ type: 'login', email: body.email });
            sendJson(res, 200, { success: true, data: this.issue(body.email) });
            return true;
        }
        if (req.method === 'POST' && path === '/api/auth/refresh') {
            const body = await readJson(req);
            const email = body && this.refresh.get(body.refreshToken);
            if (!email) {
                apiError(res, 401, 'UNAUTHORIZED', 'the refresh token is not valid');
                return true;
            }
            this.refresh.delete(body.refreshToken);
            const data = this.issue(email);
            this.events.push({ type: 'refresh', email, accessToken: data.accessToken, at: Date.now() });
            sendJson(res, 200, { success: true, data });
            return true;
        }
        if (req.method === 'POST' && path === '/api/auth/logout') {
            res.writeHead(204).end();
            return true;
        }
        if (req.method === 'GET' && path === '/api/instances') {
            if (!this.session(bearer(req.headers.authorization))) {
                apiError(res, 401, 'UNAUTHORIZED', 'a valid access token is required');
                return true;
            }
            const n = this.instances.length;
            sendJson(res, 200, { success: true, data: this.instances, pagination: { page: 1, limit: 100, total: n, totalPages: 1 } });
            return true;
        }
        return false;
    }

    attach(nsp) {
        this.nsp = nsp;
        nsp.use((socket, next) => {
            const token = socket.handshake.auth && socket.handshake.auth.token;
            const s = this.session(token);
            if (!s || this.refused.has(s.email)) {
                this.events.push({ type: 'refused', token });
                next(new Error(s ? 'not allowed here' : 'invalid or expired token'));
                return;
            }
            socket.data.token = token;
            socket.data.expMs = s.expMs;
            next();
        });
        nsp.on('connection', (socket) => {
            this.events.push({ type: 'connect', token: socket.data.token, expMs: socket.data.expMs, at: Date.now() });
            closeAtExpiry(socket, socket.data.expMs);
            socket.on('subscribe-logs', (payload) => {
                const id = payload && payload.instanceId;
                this.events.push({ type: 'subscribe', instanceId: id, tailLines: payload && payload.tailLines });
                if (!this.instances.some((i) => i.id === id && i.status === 'RUNNING')) {
                    socket.emit('logs-error', { message: 'not found' });
                    socket.emit('logs-ended', { instanceId: id });
                    return;
                }
                for (const msg of (this.history.get(id) || []).slice(-tailOf(payload))) socket.emit('log', msg);
                socket.join(`inst:${id}`);
            });
            socket.on('unsubscribe-logs', (payload) => {
                this.events.push({ type: 'unsubscribe', instanceId: payload && payload.instanceId });
                socket.leave(`inst:${payload && payload.instanceId}`);
            });
        });
    }
}

/* ---- the server ------------------------------------------------------------- */

/* Listen on 127.0.0.1 (port 0: any). Resolves to {port, fake (or null), close()}. */
export async function startStandin({ upstream, fake = false, port = 0 }) {
    const f = fake ? new Fake() : null;
    const server = http.createServer((req, res) => {
        (f ? f.rest(req, res) : Promise.resolve(false)).then((done) => { if (!done) proxy(upstream, req, res); });
    });
    /* Socket.IO takes /socket.io/ (polling and the WebSocket upgrade) and
     * hands every other request to the listener above. */
    const io = new Server(server, { path: '/socket.io/', serveClient: false });
    if (f) f.attach(io.of(NAMESPACE));
    else relayNamespace(io.of(NAMESPACE), upstream);
    await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
    return {
        port: server.address().port,
        fake: f,
        close: () => new Promise((resolve) => { io.close(); server.close(() => resolve()); server.closeAllConnections(); }),
    };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    const i = process.argv.indexOf('--upstream');
    if (i < 0 || !process.argv[i + 1]) {
        process.stderr.write('usage: node standin.mjs --upstream http://127.0.0.1:PORT\n');
        process.exit(2);
    }
    const s = await startStandin({ upstream: process.argv[i + 1] });
    process.stdout.write(`LISTENING ${s.port}\n`);
    const stop = () => s.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}
