/*
 * logs_clients.mjs — the client half of bench/logs.sh (which builds, starts
 * PostgreSQL, a private Podman, the server, and cleans up).
 *
 *   node logs_clients.mjs setup URL DOCKER_SOCK ADMIN_EMAIL ADMIN_PASSWORD
 *       registers the bench user, subscribes it to the bench-lines plan,
 *       waits for RUNNING; prints {"instanceId","controlPort"} as JSON.
 *   node logs_clients.mjs run MODE URL DOCKER_SOCK INSTANCE_ID CONTROL_PORT PID
 *       MODE sio | sse | podman: CLIENTS subscribers (socket.io-client on
 *       URL/k8s-logs, SSE on URL's stream, or the engine's log follow),
 *       spread over PROCS processes; PID is the server whose memory and CPU
 *       are sampled. Then: RSS with every subscriber idle, one burst of
 *       DURATION s at RATE lines/s (0: unlimited) from the container, and
 *       the figures, as one line of text and one line of JSON.
 * Env: CLIENTS (1000), PROCS (2), RATE (0), DURATION (10), SETTLE_S (3),
 * DRAIN_S (longest wait for the last lines after the burst, 20), BURSTS (1:
 * bursts in a row on the same subscribers, each with its own figures),
 * BENCH_EMAIL / BENCH_PASSWORD (the bench user), API_URL (Dermaga, when URL is
 * the relay).
 *
 * Lag is the receive time (performance.timeOrigin + now(), CLOCK_REALTIME in
 * ms) minus the print time in the line; clients, server and container share
 * the machine's clock (and its two cores). Only lines printed after the
 * burst was asked for count, so a tail or an earlier burst does not.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { followDocker, engineCall } from './logs_docker.mjs';

const require = createRequire(new URL('../tests/node/package.json', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? Number(process.env[k]) : d);
const EMAIL = process.env.BENCH_EMAIL || 'logs-bench@example.id';
const PASSWORD = process.env.BENCH_PASSWORD || 'bench-password-1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();

/* ---- the API --------------------------------------------------------------- */

async function api(url, method, path, body, token) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const doc = await res.json().catch(() => null);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(doc)}`);
    return doc && doc.data !== undefined ? doc.data : doc;
}

const login = async (url, email, password) =>
    (await api(url, 'POST', '/api/auth/login', { email, password })).accessToken;

async function setup([url, sock, adminEmail, adminPassword]) {
    const admin = await login(url, adminEmail, adminPassword);
    const reg = await api(url, 'POST', '/api/auth/register', { email: EMAIL, password: PASSWORD, name: 'Logs bench' });
    const plans = await api(url, 'GET', '/api/catalog/services/bench-lines/plans');
    await api(url, 'POST', `/api/admin/users/${reg.user.id}/credits`, { amount: plans[0].price * 2, reason: 'logs bench' }, admin);
    const sub = await api(url, 'POST', '/api/subscriptions', { planId: plans[0].id }, reg.accessToken);
    const id = sub.instance.id;
    for (const t0 = Date.now(); ; await sleep(100)) {
        const inst = await api(url, 'GET', `/api/instances/${id}`, undefined, reg.accessToken);
        if (inst.status === 'RUNNING') break;
        if (inst.status === 'ERROR' || Date.now() - t0 > 120000) throw new Error(`instance ${id} is ${inst.status}`);
    }
    const c = await engineCall(sock, 'GET', `/v1.41/containers/dm-${id}/json`);
    const port = c.doc.NetworkSettings.Ports['8080/tcp'][0].HostPort;
    process.stdout.write(`${JSON.stringify({ instanceId: id, controlPort: Number(port) })}\n`);
}

/* ---- a worker: some of the clients -------------------------------------------- */

const BUCKETS = 1200000; /* 0.1 ms each: lags up to 120 s */

function worker() {
    const { mode, url, sock, instanceId, token, first, count } = JSON.parse(process.env.LOGS_WORKER);
    const hist = new Uint32Array(BUCKETS);
    const st = { received: 0, notices: 0, dropped: 0, ends: 0, disconnects: 0, errors: [], first: 0, last: 0, printed: 0 };
    let t0 = Infinity; /* ms: lines printed before the burst was asked for do not count */
    const ready = [];

    function onLine(text) {
        if (text.charCodeAt(0) !== 116 /* t */ || text.charCodeAt(1) !== 61 /* = */) {
            if (text.startsWith('lines dropped: ')) { st.notices++; st.dropped += Number(text.slice(15)); }
            return;
        }
        const sp = text.indexOf(' ');
        const tPrint = Number(text.slice(2, sp)) / 1e6;
        if (tPrint < t0) return;
        const t = nowMs();
        const e = text.indexOf(' end lines=');
        if (e >= 0) { st.ends++; st.printed = Number(text.slice(e + 11)); st.last = Math.max(st.last, t); return; }
        st.received++;
        if (st.first === 0) st.first = t;
        st.last = t;
        hist[Math.min(BUCKETS - 1, Math.max(0, Math.round((t - tPrint) * 10)))]++;
    }

    function sioClient() {
        const { io } = require('socket.io-client');
        return new Promise((resolve) => {
            /* forceNew: one Engine.IO connection per client, as 1000 browsers would have. */
            const s = io(`${url}/k8s-logs`, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false, timeout: 30000 });
            s.on('connect', () => s.timeout(30000).emit('subscribe-logs', { instanceId, tailLines: 0 }, (err, ack) => {
                if (err || !ack || ack.success !== true) st.errors.push(`subscribe: ${err ? err.message : JSON.stringify(ack)}`);
                resolve();
            }));
            s.on('connect_error', (e) => { st.errors.push(`connect: ${e.message}`); resolve(); });
            s.on('log', (p) => onLine(p.line));
            s.on('disconnect', () => { st.disconnects++; });
        });
    }

    function sseClient() {
        const u = new URL(`/api/instances/${instanceId}/logs/stream?tail=1`, url);
        return new Promise((resolve) => {
            const req = http.get(u, { agent: false, headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } }, (res) => {
                if (res.statusCode !== 200) { st.errors.push(`stream: ${res.statusCode}`); res.resume(); resolve(); return; }
                resolve();
                let buf = '';
                res.setEncoding('utf8');
                res.on('data', (chunk) => {
                    buf += chunk;
                    let from = 0;
                    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n', from)) {
                        const block = buf.slice(from, i);
                        from = i + 2;
                        const d = block.indexOf('data: ');
                        if (d < 0 || block.startsWith('event:')) continue; /* comments, logs-ended */
                        onLine(JSON.parse(block.slice(d + 6, block.indexOf('\n', d) < 0 ? undefined : block.indexOf('\n', d))).line);
                    }
                    buf = buf.slice(from);
                });
                res.on('end', () => { st.disconnects++; });
                res.on('error', () => {});
            });
            req.on('error', (e) => { st.errors.push(`stream: ${e.message}`); resolve(); });
        });
    }

    function podmanClient() {
        followDocker(sock, `dm-${instanceId}`, onLine, (e) => { st.disconnects++; if (e) st.errors.push(e.message); });
        return sleep(200); /* the engine answers once the follow is set up; no ack to wait for */
    }

    const open = mode === 'sio' || mode === 'relay' ? sioClient : mode === 'sse' ? sseClient : podmanClient;
    process.on('message', async (m) => {
        if (m.cmd === 'connect') {
            /* 25 handshakes at a time: a crowd arriving, not a stampede. */
            for (let i = 0; i < count; i += 25) {
                const wave = [];
                for (let j = i; j < Math.min(count, i + 25); j++) wave.push(open());
                ready.push(...(await Promise.all(wave)));
            }
            process.send({ cmd: 'connected', errors: st.errors.slice(0, 3), nerrors: st.errors.length });
        } else if (m.cmd === 'start') {
            t0 = m.t0;
            hist.fill(0);
            Object.assign(st, { received: 0, notices: 0, dropped: 0, ends: 0, first: 0, last: 0, printed: 0 });
            process.send({ cmd: 'started', cpu: process.cpuUsage() });
        } else if (m.cmd === 'progress') {
            process.send({ cmd: 'progress', received: st.received, ends: st.ends });
        } else if (m.cmd === 'report') {
            const sparse = [];
            for (let i = 0; i < BUCKETS; i++) if (hist[i] !== 0) sparse.push(i, hist[i]);
            process.send({ cmd: 'report', st: { ...st, errors: st.errors.slice(0, 3), nerrors: st.errors.length }, hist: sparse, cpu: process.cpuUsage() });
        } else if (m.cmd === 'exit') {
            process.exit(0);
        }
    });
    void first;
}

/* ---- the parent: phases and figures ------------------------------------------- */

function rssKiB(pid) {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]);
}

/* utime + stime of pid, in seconds. */
function cpuS(pid) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100; /* USER_HZ is 100 on Linux */
}

function control(port, rate, seconds) {
    return new Promise((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => c.write(`burst ${rate} ${seconds}\n`));
        let answer = '';
        c.on('data', (d) => { answer += d; });
        c.on('end', () => (answer.startsWith('ok') ? resolve() : reject(new Error(`the generator answered '${answer}'`))));
        c.on('error', reject);
    });
}

function ask(workers, cmd, extra = {}) {
    return Promise.all(workers.map((w) => new Promise((resolve) => {
        const on = (m) => { if (m.cmd === (cmd === 'start' ? 'started' : cmd === 'connect' ? 'connected' : cmd)) { w.off('message', on); resolve(m); } };
        w.on('message', on);
        w.send({ cmd, ...extra });
    })));
}

function quantile(hist, total, q) {
    let need = Math.ceil(q * total), seen = 0;
    for (const [i, n] of hist) { seen += n; if (seen >= need) return i / 10; }
    return NaN;
}

async function run([mode, url, sock, instanceId, controlPort, pid]) {
    const clients = env('CLIENTS', 1000), procs = Math.max(1, Math.min(env('PROCS', 2), clients));
    const rate = env('RATE', 0), duration = env('DURATION', 10), drainS = env('DRAIN_S', 20);
    /* The relay checks tokens with Dermaga: log in there (API_URL), not at url. */
    const token = mode === 'podman' ? '' : await login(process.env.API_URL || url, EMAIL, PASSWORD);
    const pids = String(pid).split(',').map(Number); /* the first is "the server"; the rest count for CPU only */
    const rss0 = rssKiB(pids[0]);
    const workers = [];
    for (let p = 0, first = 0; p < procs; p++) {
        const count = Math.floor(clients / procs) + (p < clients % procs ? 1 : 0);
        workers.push(fork(SELF, ['worker'], { env: { ...process.env, LOGS_WORKER: JSON.stringify({ mode, url, sock, instanceId, token, first, count }) } }));
        first += count;
    }
    const tc = nowMs();
    const conn = await ask(workers, 'connect');
    const connectS = (nowMs() - tc) / 1000;
    const nerr = conn.reduce((a, c) => a + c.nerrors, 0);
    if (nerr > 0) process.stderr.write(`logs_clients: ${nerr} clients failed: ${conn.flatMap((c) => c.errors).join('; ')}\n`);
    await sleep(env('SETTLE_S', 3) * 1000);
    const rssIdle = rssKiB(pids[0]);

    /* BURSTS bursts on the same subscribers: the figures of each, and whether
     * the server's memory comes back between them. */
    for (let b = 1; b <= env('BURSTS', 1); b++) {
        const t0 = nowMs();
        const started = await ask(workers, 'start', { t0 });
        const cpu0 = pids.map(cpuS);
        await control(Number(controlPort), rate, duration);
        let rssPeak = rssIdle;
        const tEnd = t0 + duration * 1000;
        /* Until every client saw the burst's last line, nothing new came for 3 s, or DRAIN_S passed. */
        for (let lastCount = -1, still = 0; ; await sleep(250)) {
            rssPeak = Math.max(rssPeak, rssKiB(pids[0]));
            if (nowMs() < tEnd) continue;
            const pr = await ask(workers, 'progress');
            const got = pr.reduce((a, p) => a + p.received, 0), ends = pr.reduce((a, p) => a + p.ends, 0);
            still = got === lastCount ? still + 1 : 0;
            lastCount = got;
            if (ends >= clients - nerr || still >= 12 || nowMs() > tEnd + drainS * 1000) break;
        }
        const cpu1 = pids.map(cpuS);
        const reps = await ask(workers, 'report');
        const wall = (Math.max(...reps.map((r) => r.st.last)) - t0) / 1000;
        const rssAfter = rssKiB(pids[0]);
        const merged = new Map();
        let total = 0, notices = 0, dropped = 0, ends = 0, disc = 0, printed = 0, clientCpu = 0;
        reps.forEach((r, i) => {
            for (let k = 0; k < r.hist.length; k += 2) merged.set(r.hist[k], (merged.get(r.hist[k]) || 0) + r.hist[k + 1]);
            total += r.st.received; notices += r.st.notices; dropped += r.st.dropped; ends += r.st.ends;
            disc += r.st.disconnects; printed = Math.max(printed, r.st.printed);
            clientCpu += (r.cpu.user + r.cpu.system - started[i].cpu.user - started[i].cpu.system) / 1e6;
        });
        const hist = [...merged.entries()].sort((a, b) => a[0] - b[0]);
        const r = {
            mode, burst: b, clients, procs, rate, duration, connectS: +connectS.toFixed(1), failed: nerr,
            printed, printedPerS: Math.round(printed / duration),
            delivered: total, deliveredPerS: Math.round(total / wall), window: +wall.toFixed(2),
            /* printed is known only once a client saw the burst's last line */
            share: printed > 0 ? +(100 * total / (printed * (clients - nerr))).toFixed(1) : null,
            lagP50: quantile(hist, total, 0.5), lagP99: quantile(hist, total, 0.99), lagMax: hist.length ? hist[hist.length - 1][0] / 10 : NaN,
            notices, dropped, ends, disconnects: disc,
            rssBaseKiB: rss0, rssIdleKiB: rssIdle, perSubKiB: +((rssIdle - rss0) / Math.max(1, clients - nerr)).toFixed(2),
            rssPeakKiB: rssPeak, rssAfterKiB: rssAfter,
            cpuPct: pids.map((p, i) => Math.round(100 * (cpu1[i] - cpu0[i]) / wall)),
            clientCpuPct: Math.round(100 * clientCpu / wall),
        };
        process.stdout.write(`${mode}${b > 1 ? ` (burst ${b})` : ''}: ${clients} clients (${nerr} failed, connected in ${r.connectS} s); burst ${duration} s at ` +
            `${rate === 0 ? 'unlimited' : rate + ' lines/s'}: ${printed} printed (${r.printedPerS}/s); delivered ${total} in ` +
            `${r.window} s = ${r.deliveredPerS} lines/s (${r.share === null ? 'no client saw the end' : `${r.share}% of printed × clients`}); lag p50 ${r.lagP50} ms, p99 ` +
            `${r.lagP99} ms, max ${r.lagMax} ms; ${notices} "lines dropped" notices (${dropped} lines); ${ends} saw the end, ` +
            `${disc} disconnected; RSS ${rss0} → ${rssIdle} KiB idle (${r.perSubKiB} KiB/subscriber), peak ${rssPeak}, after ` +
            `${rssAfter}; CPU% ${pids.map((p, i) => `${p}:${r.cpuPct[i]}`).join(' ')}, clients ${r.clientCpuPct}\n`);
        process.stdout.write(`JSON ${JSON.stringify(r)}\n`);
        await sleep(env('SETTLE_S', 3) * 1000);
    }
    await Promise.all(workers.map((w) => new Promise((r) => { w.once('exit', r); w.send({ cmd: 'exit' }); })));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'worker') worker();
else if (cmd === 'setup') await setup(args);
else if (cmd === 'run') await run(args);
else { process.stderr.write('usage: logs_clients.mjs setup|run … (see the top of the file)\n'); process.exit(2); }
