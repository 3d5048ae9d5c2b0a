/*
 * logs_relay.mjs — the comparison server of bench/logs.sh: a plain Node
 * `socket.io` server (the npm package of tests/node) with the namespace
 * /k8s-logs that relays the same lines the way one would write it in
 * Node: one engine log follow per instance (logs_docker.mjs, the same API
 * call runtime-docker makes), each line emitted to a room of every socket
 * that subscribed. The token is checked once per connection with Dermaga's
 * GET /api/auth/me, like tests/node/standin.mjs; unlike the stand-in, it
 * does not follow Dermaga's SSE stream per socket (1000 sockets would be
 * 1000 SSE streams on Dermaga, measuring both servers at once), so the
 * comparison is server against server on the same source. No slow-consumer
 * policy: socket.io queues without bound, which is the stock behaviour.
 *   node logs_relay.mjs UPSTREAM_URL DOCKER_SOCK     prints "LISTENING <port>"
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { followDocker } from './logs_docker.mjs';

const require = createRequire(new URL('../tests/node/package.json', import.meta.url));
const { Server } = require('socket.io');
const [upstream, sock] = process.argv.slice(2);
if (!upstream || !sock) {
    process.stderr.write('usage: node logs_relay.mjs UPSTREAM_URL DOCKER_SOCK\n');
    process.exit(2);
}

const server = http.createServer((req, res) => res.writeHead(404).end());
const io = new Server(server, { serveClient: false });
const nsp = io.of('/k8s-logs');
const follows = new Map(); /* instanceId → stop() */

nsp.use(async (socket, next) => {
    const token = socket.handshake.auth && socket.handshake.auth.token;
    const me = typeof token === 'string' && token !== ''
        ? await fetch(`${upstream}/api/auth/me`, { headers: { Authorization: `Bearer ${token}` } }).catch(() => null)
        : null;
    if (me) await me.arrayBuffer();
    next(me && me.status === 200 ? undefined : new Error('invalid or expired token'));
});

function follow(id) {
    if (follows.has(id)) return;
    follows.set(id, followDocker(sock, `dm-${id}`,
        (line, stream, timestamp) => nsp.to(id).emit('log', { instanceId: id, line, stream, timestamp }),
        (e) => {
            follows.delete(id);
            if (e) nsp.to(id).emit('logs-error', { message: 'the container runtime could not stream the log' });
            nsp.to(id).emit('logs-ended', { instanceId: id });
        }));
}

nsp.on('connection', (socket) => {
    socket.on('subscribe-logs', (p, ack) => {
        const id = p && typeof p.instanceId === 'string' ? p.instanceId : '';
        if (!/^[0-9a-f-]{36}$/.test(id)) {
            if (typeof ack === 'function') ack({ success: false, message: 'not found' });
            return;
        }
        socket.join(id);
        follow(id);
        if (typeof ack === 'function') ack({ success: true });
    });
    socket.on('unsubscribe-logs', (p, ack) => {
        if (p && p.instanceId) socket.leave(p.instanceId);
        if (typeof ack === 'function') ack({ success: true });
    });
});

/* The last socket of an instance gone: stop its follow, as Dermaga does. */
nsp.adapter.on('delete-room', (room) => {
    const stop = follows.get(room);
    if (stop) { follows.delete(room); stop(); }
});

server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${server.address().port}\n`));
process.on('SIGTERM', () => { io.close(); process.exit(0); });
