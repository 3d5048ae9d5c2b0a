/*
 * sio_logs.mjs — a stock socket.io-client (the version web/ serves) against
 * Dermaga's namespace /k8s-logs, for tests/e2e/test_socketio.c. It prints
 * one line per thing that happens and the C test decides what is right:
 *   OPENED <transport>           Engine.IO opened on this transport
 *   CONNECTED <transport>        the namespace accepted the token
 *   UPGRADED <transport>         Engine.IO moved to another transport
 *   REFUSED <message>            CONNECT_ERROR, then the script ends
 *   SUBSCRIBED | ACK-ERROR <m>   the acknowledgement of subscribe-logs
 *   LINE <json>                  a `log` event's payload
 *   LOGS-ERROR <message>         a `logs-error` event
 *   LOGS-ENDED <json>            a `logs-ended` event
 *   DISCONNECTED <reason>        the socket is closed
 *   COUNT <n>                    the number of LINE so far (on "REPORT")
 * Commands on stdin, one per line: SUBSCRIBE <instanceId>, UNSUBSCRIBE
 * <instanceId>, REPORT, QUIT.
 *
 *   node sio_logs.mjs --url http://127.0.0.1:PORT --token T
 *        [--transports websocket|polling] [--tail N]
 *        [--subscribe INSTANCE_ID | --subscription SUBSCRIPTION_ID]
 * --transports polling starts on long-polling and lets the client upgrade
 * (the client's default order); --subscribe waits for that upgrade first so
 * the test knows which transport carries the lines.
 */
import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';

function arg(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const say = (line) => process.stdout.write(`${line}\n`);

const url = arg('url');
const token = arg('token', '');
const mode = arg('transports', 'websocket');
const first = arg('subscribe') !== undefined ? { instanceId: arg('subscribe') }
    : arg('subscription') !== undefined ? { subscriptionId: arg('subscription') } : undefined;
const tail = Number(arg('tail', '100')); // as the log page asks: a line printed just after the ack may come in the tail

const socket = io(`${url}/k8s-logs`, {
    transports: mode === 'polling' ? ['polling', 'websocket'] : ['websocket'],
    auth: token === '' ? {} : { token },
    reconnection: false,
    timeout: 10000,
});
let lines = 0;

function subscribe(target) {
    socket.timeout(10000).emit('subscribe-logs', { ...target, tailLines: tail }, (err, ack) => {
        if (err) say(`ACK-ERROR no acknowledgement: ${err.message}`);
        else if (ack && ack.success === true) say('SUBSCRIBED');
        else say(`ACK-ERROR ${ack && ack.message}`);
    });
}

socket.on('connect', () => {
    const engine = socket.io.engine;
    say(`CONNECTED ${engine.transport.name}`);
    if (first === undefined) return;
    if (engine.transport.name === 'websocket' || mode !== 'polling') {
        subscribe(first);
        return;
    }
    engine.once('upgrade', () => subscribe(first));
});
socket.io.on('open', () => {
    say(`OPENED ${socket.io.engine.transport.name}`);
    socket.io.engine.on('upgrade', (t) => say(`UPGRADED ${t.name}`));
});
socket.on('connect_error', (e) => {
    say(`REFUSED ${e.message}`);
    process.exit(0);
});
socket.on('log', (payload) => {
    lines++;
    say(`LINE ${JSON.stringify(payload)}`);
});
socket.on('logs-error', (p) => say(`LOGS-ERROR ${p && p.message}`));
socket.on('logs-ended', (p) => say(`LOGS-ENDED ${JSON.stringify(p)}`));
socket.on('disconnect', (reason) => {
    say(`DISCONNECTED ${reason}`);
    process.exit(0);
});

createInterface({ input: process.stdin }).on('line', (cmd) => {
    const [verb, rest] = [cmd.split(' ')[0], cmd.slice(cmd.indexOf(' ') + 1)];
    if (verb === 'SUBSCRIBE') subscribe({ instanceId: rest });
    else if (verb === 'UNSUBSCRIBE') socket.emit('unsubscribe-logs', { instanceId: rest }, () => say('UNSUBSCRIBED'));
    else if (verb === 'REPORT') say(`COUNT ${lines}`);
    else if (verb === 'QUIT') { socket.close(); process.exit(0); }
});
