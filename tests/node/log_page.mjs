/*
 * log_page.mjs — the log page against a server with a real Socket.IO
 * namespace, driven by tests/e2e/test_log_page.c: open --base's
 * /test-logs.html in headless Chromium, sign in, check that --instance is
 * listed (RUNNING) and follow it, wait until the page says it is
 * subscribed and print "SUBSCRIBED"; the C test then makes the container
 * print --marker, and the script waits for that line in the page, prints
 * "SEEN <marker>" and "OK". On a timeout or any failure: "FAIL why",
 * "SCREENSHOT path", and the page's state and console on stderr.
 *   node log_page.mjs --base URL --email E --password P --instance ID
 *        --marker TEXT --artifacts DIR [--timeout-ms N]
 */
import { parseArgs, run, say, signIn, waitState, waitLine } from './lib/harness.mjs';

const args = parseArgs(process.argv.slice(2), ['base', 'email', 'password', 'instance', 'marker', 'artifacts']);
const timeoutMs = Number(args['timeout-ms'] || 120000);

await run('log-page', args.artifacts, timeoutMs, async ({ page }) => {
    await page.goto(`${args.base}/test-logs.html`, { waitUntil: 'load', timeout: 30000 });
    await signIn(page, args.email, args.password);
    const row = `tr[data-instance-id="${args.instance}"]`;
    await page.waitForSelector(row, { timeout: 10000 });
    const status = (await page.textContent(`${row} .status`)).trim();
    if (status !== 'RUNNING') {
        throw new Error(`the page lists the instance as ${status}, not RUNNING`);
    }
    await page.click(`${row} .follow-button`);
    await waitState(page, 'subscribed', 30000);
    say('SUBSCRIBED');
    /* Printed by the container only after SUBSCRIBED. */
    await waitLine(page, args.marker, 30000);
    say(`SEEN ${args.marker}`);
});
