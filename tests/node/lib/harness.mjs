/*
 * harness.mjs — what the browser scripts of tests/node share: their command
 * line (--name value), lines on stdout for the C test that runs them
 * (tests/support/e2e_node.h), headless Chromium (Debian's, through
 * playwright-core, with the flags this machine needs and a fresh profile),
 * the page's console kept for failure reports, and one way to fail: a
 * screenshot, the console and the reason, then exit 1.
 */
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.DERMAGA_TEST_CHROMIUM || '/usr/bin/chromium';

/* Without the background-networking flags Chromium keeps dialling hosts
 * that this machine's closed network refuses. */
export const CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/* --name value pairs into an object; every name in required must be there. */
export function parseArgs(argv, required) {
    const out = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
            throw new Error(`bad arguments near "${argv[i]}": want --name value pairs`);
        }
        out[argv[i].slice(2)] = argv[i + 1];
    }
    for (const name of required) {
        if (out[name] === undefined) {
            throw new Error(`--${name} is required`);
        }
    }
    return out;
}

/* One line for the C test that reads our stdout. */
export function say(line) {
    process.stdout.write(`${line}\n`);
}

/* Headless Chromium with a fresh profile; the page's console, errors and
 * failed requests are collected in `console`, the URLs of the WebSockets
 * it opens in `websockets`. */
export async function openBrowser() {
    const profile = await mkdtemp(join(tmpdir(), 'dm-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60000,
    });
    const page = context.pages()[0] || await context.newPage();
    const b = { context, page, profile, console: [], websockets: [] };
    page.on('websocket', (ws) => b.websockets.push(ws.url()));
    page.on('console', (m) => b.console.push({ type: m.type(), text: `${m.text()} (${m.location().url || 'no url'})` }));
    page.on('pageerror', (e) => b.console.push({ type: 'pageerror', text: e.message }));
    page.on('requestfailed', (r) => b.console.push({
        type: 'requestfailed', text: `${r.method()} ${r.url()}: ${r.failure() ? r.failure().errorText : '?'}`,
    }));
    return b;
}

export async function closeBrowser(b) {
    if (!b) {
        return;
    }
    await b.context.close().catch(() => {});
    await rm(b.profile, { recursive: true, force: true }).catch(() => {});
}

/* Console entries that are errors, less those expected (regexps). */
export function consoleErrors(b, expected = []) {
    return b.console.filter((m) => ['error', 'pageerror', 'requestfailed'].includes(m.type)
        && !expected.some((re) => re.test(m.text)));
}

/* What the page shows of its state, for failure reports. */
async function pageState(page) {
    return page.evaluate(() => {
        const text = (id) => { const e = document.getElementById(id); return e ? e.textContent.trim() : null; };
        const state = document.getElementById('conn-state');
        const lines = Array.from(document.querySelectorAll('#log .line')).slice(-10).map((e) => e.textContent);
        return { url: location.href, error: text('error'), state: state && state.dataset.state, detail: text('conn-detail'),
            notice: text('notice'), counts: text('counts'), lastLines: lines };
    }).catch((e) => ({ unavailable: e.message }));
}

/*
 * Run body(browser) with the whole run bounded by timeoutMs. On any failure:
 * a screenshot in artifacts (made if needed), then "FAIL reason" and
 * "SCREENSHOT path" on stdout and the page's state and console on stderr;
 * exit 1. On success "OK" and exit 0. The browser is always closed.
 */
export async function run(name, artifacts, timeoutMs, body) {
    let b = null;
    let timer = null;
    try {
        b = await openBrowser();
        const overall = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${name} did not finish within ${timeoutMs} ms`)), timeoutMs);
        });
        await Promise.race([body(b), overall]);
        say('OK');
        process.exitCode = 0;
    } catch (e) {
        say(`FAIL ${String(e && e.message || e).split('\n')[0]}`);
        if (b) {
            await mkdir(artifacts, { recursive: true }).catch(() => {});
            const shot = join(artifacts, `${name}-failure.png`);
            await b.page.screenshot({ path: shot, fullPage: true, timeout: 10000 })
                .then(() => say(`SCREENSHOT ${shot}`), (err) => say(`SCREENSHOT none (${err.message})`));
            process.stderr.write(`${name}: ${e && e.stack || e}\n`);
            process.stderr.write(`page state: ${JSON.stringify(await pageState(b.page))}\n`);
            process.stderr.write(`console:\n${b.console.map((m) => `  ${m.type}: ${m.text}`).join('\n')}\n`);
        } else {
            process.stderr.write(`${name}: ${e && e.stack || e}\n`);
        }
        process.exitCode = 1;
    } finally {
        clearTimeout(timer);
        await closeBrowser(b);
    }
}

/* The texts of the page's log lines (markers left out). */
export function logTexts(page) {
    return page.$$eval('#log .line:not(.marker) .text', (els) => els.map((e) => e.textContent));
}

/* Wait until the page's connection state is `state` (bounded). */
export async function waitState(page, state, timeoutMs = 15000) {
    await page.waitForSelector(`#conn-state[data-state="${state}"]`, { timeout: timeoutMs });
}

/* Wait until a log line's text is exactly text (bounded). */
export async function waitLine(page, text, timeoutMs = 15000) {
    await page.waitForFunction((t) => Array.from(document.querySelectorAll('#log .line:not(.marker) .text'))
        .some((e) => e.textContent === t), text, { timeout: timeoutMs, polling: 50 });
}

/* Sign in through the form and wait for the instance list. */
export async function signIn(page, email, password, timeoutMs = 20000) {
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('#sign-in-button');
    await page.waitForSelector('#instances:not([hidden])', { timeout: timeoutMs });
}
