/*
 * page_smoke.mjs — the log page as Dermaga serves it, before anyone signs
 * in: it loads in headless Chromium with its script, style and the
 * socket.io-client build, under its Content-Security-Policy (an inline
 * script is refused), with not one console error. Needs no database and no
 * Socket.IO server: the page connects only after sign-in.
 *   node page_smoke.mjs --base http://127.0.0.1:PORT --artifacts DIR
 */
import { parseArgs, run, consoleErrors } from './lib/harness.mjs';

const args = parseArgs(process.argv.slice(2), ['base', 'artifacts']);

await run('page-smoke', args.artifacts, 60000, async (b) => {
    const { page } = b;
    const res = await page.goto(`${args.base}/test-logs.html`, { waitUntil: 'load', timeout: 30000 });
    if (res.status() !== 200) {
        throw new Error(`GET /test-logs.html: ${res.status()}`);
    }
    const csp = res.headers()['content-security-policy'] || '';
    if (!/script-src 'self'(;|$)/.test(csp) || !/connect-src 'self'(;|$)/.test(csp)) {
        throw new Error(`the page's Content-Security-Policy is "${csp}"`);
    }
    await page.waitForSelector('#sign-in-form', { state: 'visible', timeout: 10000 });
    const seen = await page.evaluate(() => ({
        io: typeof window.io,
        /* Set by test-logs.js once it ran. */
        state: document.getElementById('conn-state').dataset.state,
        counts: document.getElementById('counts').textContent,
        /* From test-logs.css. */
        logFont: getComputedStyle(document.getElementById('log')).fontFamily,
        errorHidden: getComputedStyle(document.getElementById('error')).display === 'none',
        instancesHidden: document.getElementById('instances').hidden,
    }));
    const want = { io: 'function', state: 'disconnected', counts: '0 received, 0 shown', errorHidden: true, instancesHidden: true };
    for (const [k, v] of Object.entries(want)) {
        if (seen[k] !== v) {
            throw new Error(`${k} is ${JSON.stringify(seen[k])}, want ${JSON.stringify(v)} (all: ${JSON.stringify(seen)})`);
        }
    }
    if (!/monospace/.test(seen.logFont)) {
        throw new Error(`the log pane's font is "${seen.logFont}": test-logs.css did not apply`);
    }
    const errors = consoleErrors(b);
    if (errors.length > 0) {
        throw new Error(`console errors before sign-in: ${JSON.stringify(errors)}`);
    }
    /* The policy is enforced: an inline script never runs. */
    const ran = await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'window.inlineRan = true;';
        document.body.appendChild(s);
        return window.inlineRan === true;
    });
    if (ran) {
        throw new Error('an inline script ran: the Content-Security-Policy is not in force');
    }
});
