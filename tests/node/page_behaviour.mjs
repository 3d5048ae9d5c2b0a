/*
 * page_behaviour.mjs — what the log page does, in headless Chromium, against
 * the fake stand-in of standin.mjs (sign-in, refresh, instances and the
 * namespace answered by the fake; the page and its files by the Dermaga
 * at --upstream): a refused sign-in is shown; the instance list shows
 * statuses and never turns a javascript: address into a link; following
 * shows the tail and live lines as text (markup stays text); pause holds
 * lines and counts them, resume shows them; clear empties the view; the
 * page keeps at most ?maxLines lines; logs-error and logs-ended are shown;
 * unsubscribe is sent; a refused connection is retried once with a fresh
 * token and then shown; the token is refreshed before it expires, and when
 * the server closes the socket at expiry the page reconnects with the new
 * token, subscribes again and shows no line twice.
 *   node page_behaviour.mjs --upstream http://127.0.0.1:PORT --artifacts DIR
 */
import { parseArgs, run, consoleErrors, logTexts, waitState, waitLine, signIn } from './lib/harness.mjs';
import { startStandin, FAKE_PASSWORD } from './standin.mjs';

const args = parseArgs(process.argv.slice(2), ['upstream', 'artifacts']);
const MAX_LINES = 10;

function check(ok, what) {
    if (!ok) {
        throw new Error(what);
    }
}

/* Poll pred() (in this process) until true, for at most ms. */
async function until(pred, ms, what) {
    const end = Date.now() + ms;
    while (!(await pred())) {
        if (Date.now() > end) {
            throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, 25));
    }
}

async function text(page, sel) {
    return (await page.textContent(sel)).trim();
}

async function signOut(page) {
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in-form', { state: 'visible' });
}

const standin = await startStandin({ upstream: args.upstream, fake: true });
const fake = standin.fake;
const base = `http://127.0.0.1:${standin.port}`;

async function follow(page, id) {
    await page.click(`tr[data-instance-id="${id}"] .follow-button`);
}

await run('page-behaviour', args.artifacts, 120000, async (b) => {
    const { page } = b;
    await page.goto(`${base}/test-logs.html?maxLines=${MAX_LINES}`, { waitUntil: 'load' });

    /* A refused sign-in is shown, and nothing else happens. */
    await page.fill('#email', 'user@example.id');
    await page.fill('#password', 'wrong');
    await page.click('#sign-in-button');
    await page.waitForSelector('#error:not([hidden])');
    check((await text(page, '#error')) === 'Sign-in failed: invalid email or password', `error: ${await text(page, '#error')}`);
    check(await page.isHidden('#instances'), 'the instances show after a refused sign-in');

    /* The instance list. */
    await signIn(page, 'user@example.id', FAKE_PASSWORD);
    check(await page.isHidden('#error'), 'the old error is still shown after signing in');
    check((await text(page, '#who-email')) === 'user@example.id', 'who is signed in');
    check((await text(page, 'tr[data-instance-id="inst-a"] .status')) === 'RUNNING', 'inst-a status');
    check((await text(page, 'tr[data-instance-id="inst-b"] .status')) === 'STOPPED', 'inst-b status');
    check(await page.$('tr[data-instance-id="inst-a"] a[href="http://site-a.example.id/"]') !== null, 'inst-a link');
    check(await page.$('tr[data-instance-id="inst-b"] a') === null, 'a javascript: address became a link');

    /* Follow: the tail first, then live lines, markup as text. */
    fake.line('inst-a', 'tail-1');
    fake.line('inst-a', 'tail-2', 'stderr');
    await follow(page, 'inst-a');
    await waitState(page, 'subscribed');
    await waitLine(page, 'tail-2');
    const evil = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    fake.line('inst-a', evil);
    fake.line('inst-a', 'live-1');
    await waitLine(page, 'live-1');
    check(JSON.stringify(await logTexts(page)) === JSON.stringify(['tail-1', 'tail-2', evil, 'live-1']),
        `lines: ${JSON.stringify(await logTexts(page))}`);
    check(await page.$('#log img, #log b') === null, 'a log line was rendered as HTML');
    check(await page.$('#log .line.stderr .text') !== null, 'stderr lines are marked');
    check(fake.events.find((e) => e.type === 'subscribe').tailLines === 100, 'the first subscription asks for 100 lines');

    /* Pause: lines are counted, not shown; resume shows them. */
    await page.click('#pause');
    check((await page.getAttribute('#pause', 'aria-pressed')) === 'true', 'pause is pressed');
    for (let i = 1; i <= 3; i++) fake.line('inst-a', `paused-${i}`);
    await page.waitForFunction(() => /7 received, 4 shown, 3 held while paused/.test(document.getElementById('counts').textContent));
    check(!(await logTexts(page)).includes('paused-1'), 'a line was shown while paused');
    await page.click('#pause');
    await waitLine(page, 'paused-3');
    check((await text(page, '#counts')) === '7 received, 7 shown', `counts after resume: ${await text(page, '#counts')}`);

    /* Clear, then new lines again. */
    await page.click('#clear');
    check((await logTexts(page)).length === 0, 'clear left lines');
    fake.line('inst-a', 'after-clear');
    await waitLine(page, 'after-clear');
    check((await logTexts(page)).length === 1, 'only the new line after clear');

    /* At most maxLines lines stay. */
    for (let i = 1; i <= 25; i++) fake.line('inst-a', `bulk-${i}`);
    await waitLine(page, 'bulk-25');
    const kept = await logTexts(page);
    check(kept.length === MAX_LINES && kept[0] === 'bulk-16', `kept ${kept.length} lines, from ${kept[0]}`);
    check(/dropped \(the page keeps 10\)/.test(await text(page, '#counts')), `counts: ${await text(page, '#counts')}`);

    /* Another instance: the first is unsubscribed before the second is
     * asked for; this one the server will not follow: logs-error, then
     * logs-ended. */
    await follow(page, 'inst-b');
    await until(() => fake.events.some((e) => e.type === 'subscribe' && e.instanceId === 'inst-b'), 5000, 'inst-b');
    const order = fake.events.filter((e) => e.type === 'unsubscribe' || e.type === 'subscribe').map((e) => `${e.type} ${e.instanceId}`);
    check(JSON.stringify(order.slice(-2)) === JSON.stringify(['unsubscribe inst-a', 'subscribe inst-b']), `order: ${order}`);
    await page.waitForSelector('#error:not([hidden])');
    check((await text(page, '#error')) === 'Log error: not found', `error: ${await text(page, '#error')}`);
    await page.waitForFunction(() => document.getElementById('notice').textContent === 'The log stream ended.');
    await waitState(page, 'connected');
    check((await logTexts(page)).length === 0, 'lines of inst-a under inst-b');

    /* Unsubscribe. */
    await follow(page, 'inst-a');
    await waitState(page, 'subscribed');
    await page.click('#unsubscribe');
    await until(() => fake.events.at(-1).type === 'unsubscribe' && fake.events.at(-1).instanceId === 'inst-a', 5000,
        'unsubscribe-logs');
    await waitState(page, 'connected');
    check((await text(page, '#notice')) === 'Unsubscribed.', `notice: ${await text(page, '#notice')}`);
    await signOut(page);

    /* A connection the namespace refuses: one retry with a fresh token, then shown. */
    fake.refused.add('refused@example.id');
    await signIn(page, 'refused@example.id', FAKE_PASSWORD);
    await follow(page, 'inst-a');
    await waitState(page, 'disconnected');
    await page.waitForFunction(() => /refused the connection: not allowed here/.test(document.getElementById('error').textContent));
    check(fake.events.filter((e) => e.type === 'refused').length === 2, 'not exactly one retry after a refusal');
    check(fake.events.filter((e) => e.type === 'refresh' && e.email === 'refused@example.id').length === 1,
        'the retry did not use a fresh token');
    await signOut(page);

    /* Short-lived tokens: refreshed before they expire; the server closes the
     * socket when the token it took expires; the page comes back with the new
     * token and shows every line once. */
    fake.ttlS.set('short@example.id', 6);
    await signIn(page, 'short@example.id', FAKE_PASSWORD);
    const connectsBefore = fake.count('connect');
    const subscribesBefore = fake.count('subscribe');
    await follow(page, 'inst-a');
    await waitState(page, 'subscribed');
    await waitLine(page, 'bulk-25'); /* the tail: the last 10 lines */
    const first = fake.events.filter((e) => e.type === 'connect').at(-1);
    await until(() => fake.events.some((e) => e.type === 'refresh' && e.email === 'short@example.id'), 8000,
        'a refresh before the token expires');
    const refreshed = fake.events.find((e) => e.type === 'refresh' && e.email === 'short@example.id');
    check(refreshed.at < first.expMs, 'the token was not refreshed before it expired');
    await until(() => fake.count('connect') >= connectsBefore + 2, 10000, 'a reconnection after the expiry');
    const second = fake.events.filter((e) => e.type === 'connect')[connectsBefore + 1];
    check(second.token !== first.token, 'the page reconnected with the expired token');
    check(fake.access.has(second.token) && fake.events.some((e) => e.type === 'refresh' && e.accessToken === second.token),
        'the page reconnected with a token it was not given');
    await until(() => fake.count('subscribe') >= subscribesBefore + 2, 5000, 'a subscription after the reconnection');
    await waitState(page, 'subscribed');
    /* The tail was sent twice (once per subscription) but counted once. */
    const tail = Math.min(100, fake.history.get('inst-a').length);
    fake.line('inst-a', 'after-reconnect');
    await waitLine(page, 'after-reconnect');
    const received = parseInt(await text(page, '#counts'), 10);
    check(received === tail + 1, `${received} lines received, want ${tail + 1}: the replayed tail was taken as new`);
    const texts = await logTexts(page);
    const twice = texts.filter((t, i) => texts.indexOf(t) !== i);
    check(twice.length === 0, `lines shown twice after the reconnection: ${JSON.stringify(twice)} in ${JSON.stringify(texts)}`);
    check(texts.at(-1) === 'after-reconnect' && texts.includes('bulk-25'), `lines: ${JSON.stringify(texts)}`);
    check(await page.$('#log .line.marker') !== null, 'no sign of the reconnection among the lines');
    await signOut(page);

    /* The console: only the refusals this test asked for, and Socket.IO's
     * own noise when a socket closes in the middle of its upgrade (a
     * polling request for the closed session is answered 400). */
    const errors = consoleErrors(b, [/status of 401/, /status of 400 .*\/socket\.io\//, /\/socket\.io\/.*ERR_ABORTED/]);
    check(errors.length === 0, `console errors: ${JSON.stringify(errors)}`);
    check(await page.evaluate(() => window.pwned === undefined), 'markup in a log line ran');
    /* Socket.IO moved from polling to a WebSocket, which connect-src 'self' allows. */
    check(b.websockets.some((u) => u.startsWith(`ws://127.0.0.1:${standin.port}/socket.io/`)),
        `no WebSocket to the server: ${JSON.stringify(b.websockets)}`);
});
await standin.close();
