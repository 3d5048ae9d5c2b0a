/*
 * test-logs.js — the behaviour of test-logs.html: sign in (POST
 * /api/auth/login), list the caller's instances (GET /api/instances), follow
 * one through the Socket.IO namespace /k8s-logs (docs/openapi.yaml, "Live logs") with
 * the browser build of socket.io-client that Dermaga serves at
 * /vendor/socket.io.min.js. The access token is refreshed before it expires;
 * when the server closes the socket (it does when the token it was given
 * expires) the page reconnects with the current token and subscribes again.
 * Tokens live in this page's memory only. Log lines are rendered as text,
 * never as HTML, and at most maxLines of them stay in the page.
 */
(function () {
    'use strict';

    var NAMESPACE = '/k8s-logs';
    var SOCKET_PATH = '/socket.io/';
    var TAIL_LINES = 100;
    /* Lines kept in the page (and held while paused): ?maxLines=N, 10..100000. */
    var maxLines = (function () {
        var n = parseInt(new URLSearchParams(window.location.search).get('maxLines') || '', 10);
        return Number.isFinite(n) ? Math.min(Math.max(n, 10), 100000) : 2000;
    })();
    /* Give up reconnecting after this many server closes in a row that no
     * successful subscription separated (a server that refuses us). */
    var MAX_SERVER_CLOSES = 3;

    var $ = function (id) { return document.getElementById(id); };
    var el = {
        error: $('error'), who: $('who'), whoEmail: $('who-email'), signOut: $('sign-out'),
        signIn: $('sign-in'), form: $('sign-in-form'), email: $('email'), password: $('password'),
        signInButton: $('sign-in-button'),
        instances: $('instances'), reload: $('reload-instances'), instancesNote: $('instances-note'),
        rows: $('instance-rows'),
        follow: $('follow'), followId: $('follow-id'), connState: $('conn-state'), connDetail: $('conn-detail'),
        notice: $('notice'), pause: $('pause'), clear: $('clear'), unsubscribe: $('unsubscribe'),
        counts: $('counts'), log: $('log')
    };

    /* {accessToken, refreshToken, expiresAt (ms since the epoch), email} or null. */
    var session = null;
    var refreshTimer = null;
    var refreshing = null;   /* the refresh in flight (a promise) */
    var socket = null;
    var socketToken = '';    /* the token the socket last connected with */
    var authRetried = false; /* a refused connection was retried with a fresh token */
    var serverCloses = 0;
    /* {instanceId, first (no subscription made yet), ended (the server said
     * logs-ended: not subscribed again on a reconnection), resumeAfter (the
     * last line before a reconnection: replayed lines up to it are skipped)}. */
    var follow = null;
    var lastLine = null;     /* the newest line received for this follow */
    var paused = false;
    var held = [];           /* lines received while paused */
    var pending = [];        /* lines waiting for the next render */
    var renderTimer = null;
    var counts = { received: 0, dropped: 0 };

    /* ---- messages --------------------------------------------------------- */

    function showError(text) {
        el.error.textContent = text;
        el.error.hidden = false;
    }

    function clearError() {
        el.error.textContent = '';
        el.error.hidden = true;
    }

    function setNotice(text) {
        el.notice.textContent = text;
    }

    /* state: connecting | connected | subscribed | disconnected; why: a few words. */
    function setState(state, why) {
        el.connState.textContent = state;
        el.connState.dataset.state = state;
        el.connDetail.textContent = why ? '(' + why + ')' : '';
    }

    /* ---- REST -------------------------------------------------------------- */

    /* One JSON request; resolves to the parsed envelope, rejects with an
     * Error carrying .status (0 when the server was not reached). */
    function api(method, path, body, token) {
        var headers = { Accept: 'application/json' };
        if (body !== undefined) {
            headers['Content-Type'] = 'application/json';
        }
        if (token) {
            headers.Authorization = 'Bearer ' + token;
        }
        return fetch(path, {
            method: method, headers: headers, cache: 'no-store', credentials: 'omit',
            body: body === undefined ? undefined : JSON.stringify(body)
        }).then(function (res) {
            return (res.status === 204 ? Promise.resolve(null) : res.json().catch(function () { return null; }))
                .then(function (doc) {
                    if (res.ok) {
                        return doc;
                    }
                    var e = new Error((doc && doc.error && doc.error.message) || 'HTTP ' + res.status);
                    e.status = res.status;
                    throw e;
                });
        }, function (cause) {
            var e = new Error('the server cannot be reached (' + cause.message + ')');
            e.status = 0;
            throw e;
        });
    }

    /* An authenticated request; a 401 refreshes the session once and retries. */
    function authed(method, path, body) {
        if (!session) {
            return Promise.reject(new Error('not signed in'));
        }
        return api(method, path, body, session.accessToken).catch(function (e) {
            if (e.status !== 401) {
                throw e;
            }
            return refreshSession().then(function () {
                return api(method, path, body, session.accessToken);
            });
        });
    }

    /* ---- the session --------------------------------------------------------- */

    function setSession(data, email) {
        session = {
            accessToken: data.accessToken,
            refreshToken: data.refreshToken,
            expiresAt: Date.now() + data.expiresIn * 1000,
            email: (data.user && data.user.email) || email || (session && session.email) || ''
        };
        /* Refresh at three quarters of the token's life. */
        scheduleRefresh(Math.max(1000, data.expiresIn * 750));
    }

    function scheduleRefresh(ms) {
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(function () {
            refreshSession().catch(function () { /* already reported */ });
        }, ms);
    }

    /* New tokens for the refresh token (spent by the server). One refresh at a
     * time. A refusal (401) ends the session; a failure to reach the server
     * is retried while the access token may still be good. */
    function refreshSession() {
        if (refreshing) {
            return refreshing;
        }
        if (!session) {
            return Promise.reject(new Error('not signed in'));
        }
        var mine = session;
        refreshing = api('POST', '/api/auth/refresh', { refreshToken: mine.refreshToken }).then(function (doc) {
            if (session === mine) {
                setSession(doc.data);
            }
            return session;
        }, function (e) {
            if (session === mine) {
                if (e.status === 401) {
                    signOutHere('Your session has ended (' + e.message + '); sign in again.');
                } else {
                    showError('Could not refresh the session: ' + e.message + '; retrying.');
                    scheduleRefresh(5000);
                }
            }
            throw e;
        }).finally(function () {
            refreshing = null;
        });
        return refreshing;
    }

    function signIn(ev) {
        ev.preventDefault();
        clearError();
        var email = el.email.value.trim();
        el.signInButton.disabled = true;
        api('POST', '/api/auth/login', { email: email, password: el.password.value }).then(function (doc) {
            setSession(doc.data, email);
            el.password.value = '';
            el.whoEmail.textContent = session.email;
            el.who.hidden = false;
            el.signIn.hidden = true;
            el.instances.hidden = false;
            return loadInstances();
        }).catch(function (e) {
            showError('Sign-in failed: ' + e.message);
        }).finally(function () {
            el.signInButton.disabled = false;
        });
    }

    /* Forget the session here (the server's copy is revoked by signOut). */
    function signOutHere(message) {
        clearTimeout(refreshTimer);
        session = null;
        stopFollowing();
        if (socket) {
            socket.disconnect();
        }
        el.rows.textContent = '';
        el.instances.hidden = true;
        el.follow.hidden = true;
        el.who.hidden = true;
        el.signIn.hidden = false;
        if (message) {
            showError(message);
        }
    }

    function signOut() {
        if (session) {
            api('POST', '/api/auth/logout', { refreshToken: session.refreshToken }).catch(function () { /* gone anyway */ });
        }
        clearError();
        signOutHere('');
    }

    /* ---- instances ----------------------------------------------------------- */

    function cell(row, content) {
        var td = document.createElement('td');
        if (typeof content === 'string') {
            td.textContent = content;
        } else if (content) {
            td.appendChild(content);
        }
        row.appendChild(td);
        return td;
    }

    /* A link only for http(s) addresses; anything else is shown as text. */
    function address(urls) {
        var u = urls && (urls.public || urls.admin);
        if (typeof u !== 'string' || u === '') {
            return '—';
        }
        try {
            var parsed = new URL(u);
            if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
                var a = document.createElement('a');
                a.href = parsed.href;
                a.rel = 'noopener noreferrer';
                a.target = '_blank';
                a.textContent = u;
                return a;
            }
        } catch (e) { /* not a URL: plain text */ }
        return u;
    }

    function renderInstances(list) {
        el.rows.textContent = '';
        list.forEach(function (inst) {
            var row = document.createElement('tr');
            row.dataset.instanceId = inst.id;
            var code = document.createElement('code');
            code.textContent = inst.id;
            cell(row, code);
            cell(row, String(inst.status || 'UNKNOWN')).className = 'status status-' + String(inst.status || '').toLowerCase();
            cell(row, address(inst.urls));
            var b = document.createElement('button');
            b.type = 'button';
            b.className = 'follow-button';
            b.textContent = 'Follow';
            b.setAttribute('aria-label', 'Follow the log of ' + inst.id);
            b.addEventListener('click', function () { followInstance(inst.id); });
            cell(row, b);
            el.rows.appendChild(row);
        });
        el.instancesNote.textContent = list.length === 0 ? 'You have no instances yet.'
            : list.length + (list.length === 1 ? ' instance' : ' instances');
    }

    function loadInstances() {
        el.instancesNote.textContent = 'Loading…';
        return authed('GET', '/api/instances?limit=100').then(function (doc) {
            renderInstances(Array.isArray(doc && doc.data) ? doc.data : []);
        }).catch(function (e) {
            el.instancesNote.textContent = '';
            if (session) {
                showError('Could not list your instances: ' + e.message);
            }
        });
    }

    /* ---- lines ----------------------------------------------------------------- */

    /* "2026-11-26T01:02:03.5Z" → "2026-11-26T01:02:03.500000000Z", so that
     * string order is time order; null for anything else. */
    function sortableTime(ts) {
        var m = typeof ts === 'string' && /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(ts);
        return m ? m[1] + '.' + ((m[2] || '') + '000000000').slice(0, 9) + 'Z' : null;
    }

    /* After a reconnection the server sends its recent lines again: skip
     * those older than the last line this page had, and those of the same
     * time up to that line itself. */
    function isReplayed(msg) {
        var after = follow.resumeAfter;
        if (!after) {
            return false;
        }
        var t = sortableTime(msg.timestamp);
        if (t === null || after.time === null || t > after.time || (t === after.time && after.seen)) {
            follow.resumeAfter = null; /* the first new line: the replay is over */
            return false;
        }
        if (t === after.time && msg.line === after.line && msg.stream === after.stream) {
            after.seen = true;
        }
        return true;
    }

    function lineNode(msg) {
        var div = document.createElement('div');
        div.className = 'line ' + (msg.stream === 'stderr' ? 'stderr' : 'stdout');
        var ts = document.createElement('span');
        ts.className = 'ts';
        ts.textContent = typeof msg.timestamp === 'string' ? msg.timestamp.replace('T', ' ').slice(0, 23) : '';
        var text = document.createElement('span');
        text.className = 'text';
        text.textContent = msg.line;
        div.appendChild(ts);
        div.appendChild(text);
        return div;
    }

    function markerNode(text) {
        var div = document.createElement('div');
        div.className = 'line marker';
        div.textContent = '— ' + text + ' —';
        return div;
    }

    /* Keep at most limit items of a list, counting those dropped. */
    function bound(list, limit) {
        if (list.length > limit) {
            counts.dropped += list.length - limit;
            list.splice(0, list.length - limit);
        }
    }

    function updateCounts() {
        var shown = el.log.querySelectorAll('.line:not(.marker)').length;
        var text = counts.received + ' received, ' + shown + ' shown';
        if (paused) {
            text += ', ' + held.length + ' held while paused';
        }
        if (counts.dropped > 0) {
            text += ', ' + counts.dropped + ' dropped (the page keeps ' + maxLines + ')';
        }
        el.counts.textContent = text;
    }

    /* Append what is pending, then trim the page to maxLines lines. */
    function render() {
        renderTimer = null;
        var atBottom = el.log.scrollTop + el.log.clientHeight >= el.log.scrollHeight - 4;
        var batch = pending;
        pending = [];
        var frag = document.createDocumentFragment();
        batch.forEach(function (item) {
            frag.appendChild(item.marker !== undefined ? markerNode(item.marker) : lineNode(item));
        });
        el.log.appendChild(frag);
        var extra = el.log.children.length - maxLines;
        for (; extra > 0; extra--) {
            if (!el.log.firstChild.classList.contains('marker')) {
                counts.dropped++;
            }
            el.log.removeChild(el.log.firstChild);
        }
        if (atBottom) {
            el.log.scrollTop = el.log.scrollHeight;
        }
        updateCounts();
    }

    /* Queue an item (a line, or {marker: text}) for rendering; renders are
     * batched so that a fast log does not re-lay the page per line. */
    function enqueue(item) {
        pending.push(item);
        bound(pending, maxLines);
        if (renderTimer === null) {
            renderTimer = setTimeout(render, 50);
        }
    }

    function onLog(msg) {
        if (!follow || !msg || msg.instanceId !== follow.instanceId || typeof msg.line !== 'string') {
            return;
        }
        if (isReplayed(msg)) {
            return;
        }
        serverCloses = 0;
        lastLine = msg;
        counts.received++;
        if (paused) {
            held.push(msg);
            bound(held, maxLines);
            updateCounts();
        } else {
            enqueue(msg);
        }
    }

    /* Empty the page of lines (and of those pending or held). */
    function clearLines() {
        clearTimeout(renderTimer);
        renderTimer = null;
        pending = [];
        held = [];
        el.log.textContent = '';
        updateCounts();
    }

    function setPaused(on) {
        paused = on;
        el.pause.textContent = on ? 'Resume' : 'Pause';
        el.pause.setAttribute('aria-pressed', on ? 'true' : 'false');
        if (!on && held.length > 0) {
            held.forEach(enqueue);
            held = [];
        }
        updateCounts();
    }

    /* ---- the socket ------------------------------------------------------------- */

    function ensureSocket() {
        if (socket) {
            return socket;
        }
        if (typeof window.io !== 'function') {
            showError('The Socket.IO client (/vendor/socket.io.min.js) did not load, so logs cannot be followed.');
            return null;
        }
        socket = window.io(NAMESPACE, {
            path: SOCKET_PATH,
            autoConnect: false,
            /* Asked again on every (re)connection, so it sends the current token. */
            auth: function (cb) {
                socketToken = session ? session.accessToken : '';
                cb({ token: socketToken });
            }
        });
        socket.on('connect', onConnect);
        socket.on('connect_error', onConnectError);
        socket.on('disconnect', onDisconnect);
        socket.on('log', onLog);
        socket.on('logs-error', function (data) {
            showError('Log error: ' + ((data && data.message) || 'unknown error'));
        });
        socket.on('logs-ended', function (data) {
            /* The end of a follow this page already left (it names it). */
            if (follow && data && data.instanceId && data.instanceId !== follow.instanceId) {
                return;
            }
            setNotice('The log stream ended.');
            if (follow) {
                follow.ended = true;
                if (socket.connected) {
                    setState('connected', 'the stream ended; follow again to resume');
                }
            }
        });
        socket.io.on('reconnect_attempt', function (n) {
            setState('connecting', 'attempt ' + n);
        });
        return socket;
    }

    function subscribe() {
        if (!follow || follow.ended || !socket || !socket.connected) {
            return;
        }
        if (!follow.first) {
            follow.resumeAfter = lastLine ? {
                time: sortableTime(lastLine.timestamp), line: lastLine.line, stream: lastLine.stream, seen: false
            } : null;
            enqueue({ marker: 'reconnected at ' + new Date().toISOString() });
        }
        follow.first = false;
        socket.emit('subscribe-logs', { instanceId: follow.instanceId, tailLines: TAIL_LINES });
        setState('subscribed', 'following ' + follow.instanceId);
    }

    function onConnect() {
        authRetried = false;
        clearError();
        if (follow && !follow.ended) {
            subscribe();
        } else {
            setState('connected', follow ? 'the stream ended' : 'not following');
        }
    }

    function onConnectError(err) {
        var why = (err && err.message) || 'unknown error';
        if (socket.active) {
            /* A transport failure: socket.io-client retries by itself. */
            setState('connecting', 'retrying after: ' + why);
            return;
        }
        /* The namespace refused us. Maybe the token just expired: once, with a fresh one. */
        if (!authRetried && session) {
            authRetried = true;
            setState('connecting', 'refused (' + why + '); retrying with a fresh token');
            refreshSession().then(function () { socket.connect(); }, function () { /* reported */ });
            return;
        }
        setState('disconnected', 'refused: ' + why);
        showError('The log server refused the connection: ' + why);
    }

    function onDisconnect(reason) {
        if (reason === 'io client disconnect') {
            setState('disconnected', 'closed by this page');
            return;
        }
        if (reason !== 'io server disconnect') {
            setState('disconnected', reason + '; reconnecting'); /* socket.io-client retries */
            return;
        }
        /* The server closed the socket: its token expired (docs/openapi.yaml). Come back
         * with a fresh token unless it keeps doing so. */
        if (!session || !follow || follow.ended) {
            setState('disconnected', 'closed by the server');
            return;
        }
        serverCloses++;
        if (serverCloses > MAX_SERVER_CLOSES) {
            setState('disconnected', 'closed by the server ' + MAX_SERVER_CLOSES + ' times in a row');
            showError('The log server keeps closing the connection; follow again to retry.');
            return;
        }
        setState('disconnected', 'closed by the server; reconnecting with a fresh token');
        /* Refreshed since the socket connected: that token will do. */
        var fresh = session.accessToken !== socketToken && session.expiresAt > Date.now() + 1000;
        (fresh ? Promise.resolve() : refreshSession()).then(function () {
            if (session && follow) {
                setState('connecting', 'reconnecting');
                socket.connect();
            }
        }, function () { /* reported */ });
    }

    function followInstance(id) {
        clearError();
        if (follow && socket && socket.connected) {
            socket.emit('unsubscribe-logs', { instanceId: follow.instanceId });
        }
        follow = { instanceId: id, first: true, ended: false, resumeAfter: null };
        lastLine = null;
        serverCloses = 0;
        authRetried = false;
        clearLines();
        counts = { received: 0, dropped: 0 };
        setPaused(false);
        setNotice('');
        el.followId.textContent = id;
        el.follow.hidden = false;
        var s = ensureSocket();
        if (!s) {
            setState('disconnected', 'no Socket.IO client');
            return;
        }
        if (s.connected) {
            subscribe();
        } else {
            setState('connecting', '');
            s.connect();
        }
    }

    function stopFollowing() {
        if (follow && socket && socket.connected) {
            socket.emit('unsubscribe-logs', { instanceId: follow.instanceId });
        }
        follow = null;
        if (socket && socket.connected) {
            setState('connected', 'not following');
        }
    }

    /* ---- wiring ----------------------------------------------------------------- */

    el.form.addEventListener('submit', signIn);
    el.signOut.addEventListener('click', signOut);
    el.reload.addEventListener('click', function () { clearError(); loadInstances(); });
    el.pause.addEventListener('click', function () { setPaused(!paused); });
    el.clear.addEventListener('click', clearLines);
    el.unsubscribe.addEventListener('click', function () {
        stopFollowing();
        setNotice('Unsubscribed.');
    });
    setState('disconnected', 'not following');
    updateCounts();
}());
