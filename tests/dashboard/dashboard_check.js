#!/usr/bin/env node
// Opens the dashboard in headless Chromium the way a person would, and checks
// that it renders the listed nodes and tasks and then follows the live stream
// (a task's version going up without a reload).
//
//   node tests/dashboard/dashboard_check.js --url URL --nodes a,b --tasks t1 \
//       --wait-version t1=3 --screenshot PATH [--timeout-s 60]
//
// Prints one JSON line: {"ok", "first_render_ms", "version_seen_ms",
// "console_errors", "failed_requests", "errors", "status"}; exits 1 when
// anything failed, 2 on bad arguments. Times are from the start of navigation.
// Needs `npm ci` in web/ (puppeteer-core); the browser is /usr/bin/chromium
// or $CHROMIUM.
'use strict';

const path = require('path');

function usage(msg) {
  process.stderr.write(`dashboard_check: ${msg}\nusage: dashboard_check.js --url URL --nodes a,b --tasks t1,t2 `
    + '[--wait-version t1=3 ...] [--screenshot PATH] [--timeout-s 60]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { url: null, nodes: [], tasks: [], waits: [], screenshot: null, timeoutS: 60 };
  const csv = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const val = argv[++i];
    if (val === undefined) usage(`${flag} needs a value`);
    if (flag === '--url') a.url = val;
    else if (flag === '--nodes') a.nodes.push(...csv(val));
    else if (flag === '--tasks') a.tasks.push(...csv(val));
    else if (flag === '--screenshot') a.screenshot = val;
    else if (flag === '--timeout-s') a.timeoutS = Number(val);
    else if (flag === '--wait-version') {
      for (const w of csv(val)) {
        const m = /^(.+)=(\d+)$/.exec(w);
        if (!m) usage(`--wait-version wants TASK=VERSION, got ${w}`);
        a.waits.push({ task: m[1], version: Number(m[2]) });
      }
    } else usage(`unknown argument ${flag}`);
  }
  if (!a.url) usage('--url is required');
  if (!(a.timeoutS > 0)) usage('--timeout-s must be a positive number');
  return a;
}

// Runs in the page before its scripts: notes the ms since navigation at the
// first DOM change after which every listed row exists. Polling from here
// would measure puppeteer's round trips instead (a few hundred ms on 2 cores).
function watchFirstRender(nodes, tasks) {
  const has = (attr, name) => document.querySelector(`[${attr}="${CSS.escape(name)}"]`);
  const done = () => nodes.every((n) => has('data-node', n)) && tasks.every((t) => has('data-task', t));
  const observer = new MutationObserver(() => {
    if (!done()) return;
    window.__firstRenderMs = performance.now();
    observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true });
}

// Runs in the page: the ms since navigation when every wait is met, else false.
function versionsReached(waits) {
  for (const w of waits) {
    const e = document.querySelector(`[data-task-version="${CSS.escape(w.task)}"]`);
    const v = e ? parseInt(e.textContent, 10) : NaN;
    if (!(v >= w.version)) return false;
  }
  return performance.now();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const puppeteer = require(path.join(__dirname, '../../web/node_modules/puppeteer-core'));
  const deadline = Date.now() + args.timeoutS * 1000;
  const left = () => Math.max(1, deadline - Date.now());

  const out = { ok: false, first_render_ms: null, version_seen_ms: null, console_errors: [], failed_requests: [], errors: [], status: null };
  let recording = true;  // closing the page aborts the event stream: not a failure
  let navigations = 0;

  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    defaultViewport: { width: 1440, height: 900 },
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => { if (recording && m.type() === 'error') out.console_errors.push(m.text()); });
    page.on('pageerror', (e) => { if (recording) out.console_errors.push(`pageerror: ${e.message}`); });
    page.on('requestfailed', (r) => {
      if (recording) out.failed_requests.push(`${r.method()} ${r.url()}: ${r.failure() ? r.failure().errorText : 'failed'}`);
    });
    page.on('response', (r) => {
      if (recording && r.status() >= 400) out.failed_requests.push(`${r.request().method()} ${r.url()}: HTTP ${r.status()}`);
    });
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });

    try {
      await page.evaluateOnNewDocument(watchFirstRender, args.nodes, args.tasks);
      await page.goto(args.url, { waitUntil: 'domcontentloaded', timeout: left() });
      out.first_render_ms = Math.round(await (await page.waitForFunction(
        () => window.__firstRenderMs, { polling: 100, timeout: left() })).jsonValue());
    } catch (err) {
      out.errors.push(`rows not rendered: ${err.message.split('\n')[0]}`);
      out.missing = await page.evaluate((nodes, tasks) => ({
        nodes: nodes.filter((n) => !document.querySelector(`[data-node="${CSS.escape(n)}"]`)),
        tasks: tasks.filter((t) => !document.querySelector(`[data-task="${CSS.escape(t)}"]`)),
      }), args.nodes, args.tasks).catch(() => null);
    }

    if (out.first_render_ms !== null && args.waits.length) {
      try {
        out.version_seen_ms = Math.round(await (await page.waitForFunction(
          versionsReached, { polling: 'mutation', timeout: left() }, args.waits)).jsonValue());
      } catch (err) {
        out.errors.push(`version not reached: ${err.message.split('\n')[0]}`);
      }
    }

    // Opens the first waited-for task's details, so its version rows and
    // chart are drawn (and any error in them is caught) and shown.
    const open = args.waits[0] ? args.waits[0].task : args.tasks[0];
    if (open && out.first_render_ms !== null) {
      try {
        await page.click(`[data-task-toggle="${open}"]`);
        await page.waitForSelector(`tr[data-task="${open}"] + tr.detail [data-version^="${open}/"]`, { visible: true, timeout: 5000 });
      } catch (err) {
        out.errors.push(`details of ${open} not shown: ${err.message.split('\n')[0]}`);
      }
    }

    out.status = await page.$eval('#status', (e) => e.textContent).catch(() => null);
    if (out.status !== 'connected') out.errors.push(`#status is ${JSON.stringify(out.status)}, not "connected"`);
    if (navigations > 1) out.errors.push(`the page navigated ${navigations} times (reloaded?)`);
    if (args.screenshot) {
      await page.screenshot({ path: args.screenshot, fullPage: true }).catch((err) => out.errors.push(`screenshot: ${err.message}`));
    }
    recording = false;
  } finally {
    recording = false;
    await browser.close().catch(() => {});
  }

  if (out.console_errors.length) out.errors.push(`${out.console_errors.length} console error(s)`);
  if (out.failed_requests.length) out.errors.push(`${out.failed_requests.length} failed request(s)`);
  out.ok = out.errors.length === 0;
  return out;
}

main().then(
  (out) => {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(out.ok ? 0 : 1);
  },
  (err) => {
    process.stdout.write(`${JSON.stringify({ ok: false, first_render_ms: null, version_seen_ms: null,
      console_errors: [], failed_requests: [], errors: [`check crashed: ${err.message}`] })}\n`);
    process.exit(1);
  });
