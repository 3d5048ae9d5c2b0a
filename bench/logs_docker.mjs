/*
 * logs_docker.mjs — follow a container's log through the engine's
 * Docker-compatible API, as runtime-docker does (logs?follow=1&stdout=1&
 * stderr=1&timestamps=1&tail=0): the multiplexed frames are split into
 * lines and each line's engine timestamp is split off. Shared by the
 * "podman" clients of logs_clients.mjs (what the engine alone delivers) and
 * by logs_relay.mjs (the plain Node socket.io server).
 */
import http from 'node:http';

/* Call onLine(text, stream, timestamp) per line and onEnd(error|null) once.
 * Returns a function that stops the follow. */
export function followDocker(socketPath, container, onLine, onEnd) {
    let done = false;
    const end = (e) => { if (!done) { done = true; onEnd(e); } };
    const path = `/v1.41/containers/${encodeURIComponent(container)}/logs?follow=1&stdout=1&stderr=1&timestamps=1&tail=0`;
    const req = http.request({ socketPath, path, method: 'GET' }, (res) => {
        if (res.statusCode !== 200) {
            res.resume();
            end(new Error(`engine answered ${res.statusCode}`));
            return;
        }
        let pending = null;
        const partial = ['', '', ''];
        res.on('data', (chunk) => {
            let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
            let off = 0;
            while (buf.length - off >= 8) {
                const size = buf.readUInt32BE(off + 4);
                if (buf.length - off - 8 < size) break;
                const s = buf[off] === 2 ? 2 : 1;
                let text = partial[s] + buf.toString('utf8', off + 8, off + 8 + size);
                off += 8 + size;
                /* A frame may hold several lines or part of one. */
                for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
                    const line = text.slice(0, nl);
                    text = text.slice(nl + 1);
                    const sp = line.indexOf(' ');
                    onLine(sp < 0 ? line : line.slice(sp + 1), s === 2 ? 'stderr' : 'stdout', sp < 0 ? '' : line.slice(0, sp));
                }
                partial[s] = text;
            }
            pending = off < buf.length ? buf.subarray(off) : null;
        });
        res.on('end', () => end(null));
        res.on('error', end);
    });
    req.on('error', end);
    req.end();
    return () => { done = true; req.destroy(); };
}

/* GET/POST on the engine socket: {status, doc}. */
export function engineCall(socketPath, method, path) {
    return new Promise((resolve, reject) => {
        const req = http.request({ socketPath, path, method }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c) => { text += c; });
            res.on('end', () => {
                let doc = null;
                try { doc = JSON.parse(text); } catch { /* not JSON */ }
                resolve({ status: res.statusCode, doc, text });
            });
        });
        req.on('error', reject);
        req.end();
    });
}
