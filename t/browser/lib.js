'use strict';
// The headless-browser harness of the hosted pages: Debian's chromium
// driven by playwright-core, axe-core injected into each page. A walk is a
// node script (t/browser/*.js) that a .t file runs (t/lib/CnTest/Browser.pm);
// it prints TAP ("ok N - ...", "not ok N - ...", "# ..." and the plan
// "1..N" last), which the .t file replays as its own tests.
//
//   const lib = require('./lib');
//   lib.main(async (h) => {
//     await h.checkPage(h.url('/login?id=bogus'), {
//       name: 'login-bogus', status: 400, text: [/cannot be used/],
//     });
//     const v = await h.open(h.url('/preview/imap'), { width: 360 });
//     await v.page.fill('#email', 'a@b.example');   // any playwright Page call
//     h.ok(await v.page.isVisible('#password'), 'the password field shows');
//     await h.checks(v, 'imap-typed');               // the standard checks on it, now
//     await v.close();
//   });
//
// Environment: CN_BASE_URL (the mount, e.g. http://127.0.0.1:8529/connect),
// CN_BROWSER_OUT (where screenshots go; default t/logs/browser), CN_CHROMIUM
// (default /usr/bin/chromium).
//
// The standard checks of a page (checks(), and checkPage() at 360 px and at
// 1280 px): the HTTP status when asked; no console error, no uncaught
// exception, no failed request; no Content-Security-Policy violation (the
// securitypolicyviolation events of the page and Chromium's console reports
// of them); axe-core with zero violations (WCAG 2.x A/AA and best practices),
// printed readably when there are any; nothing wider than the viewport; each
// stop of the tab order visibly focused; the texts asked for; a full-page
// screenshot NAME-WIDTH.png.
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CN_CHROMIUM || '/usr/bin/chromium';
const AXE = require.resolve('axe-core/axe.min.js');
const WIDTHS = [360, 1280];
// An image for routes that answer for hosts the test has no server for
// (an application's logo): a 1x1 PNG.
const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64');

// What a page reports into the page itself before any of its own content
// runs: an init script is added through the DevTools protocol, so the
// page's CSP does not apply to it.
function recordViolations() {
  window.__cnViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cnViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`
      + `${e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : ''}`);
  });
}

class Harness {
  constructor(browser, opts) {
    this.browser = browser;
    this.base = (process.env.CN_BASE_URL || '').replace(/\/+$/, '');
    this.out = process.env.CN_BROWSER_OUT || path.join(__dirname, '..', 'logs', 'browser');
    fs.mkdirSync(this.out, { recursive: true });
    this.routes = opts.routes || {};
    this.n = 0;
    this.failed = 0;
    this.axeSource = fs.readFileSync(AXE, 'utf8');
  }

  url(p) { return this.base + (p || ''); }

  // ---- TAP ----
  ok(cond, name, diag) {
    this.n += 1;
    if (!cond) this.failed += 1;
    process.stdout.write(`${cond ? 'ok' : 'not ok'} ${this.n} - ${String(name).replace(/[\r\n#]+/g, ' ')}\n`);
    if (!cond && diag) this.diag(diag);
    return !!cond;
  }

  diag(text) {
    for (const line of String(text).split('\n')) process.stdout.write(`# ${line}\n`);
  }

  // ---- pages ----
  // A fresh context (no cookies) of WIDTH px unless opts.context is given,
  // a page in it, URL loaded; what the page reports is collected.
  async open(url, opts = {}) {
    const width = opts.width || 1280;
    const ownContext = !opts.context;
    const context = opts.context || await this.browser.newContext({
      viewport: { width, height: width < 600 ? 740 : 900 },
      bypassCSP: false,
      ignoreHTTPSErrors: false,
    });
    for (const [pattern, answer] of Object.entries(this.routes)) {
      await context.route(pattern, (route) => route.fulfill(answer));
    }
    const page = await context.newPage();
    const v = {
      page, context, width, response: null,
      console: [], errors: [], failed: [],
      close: async () => { if (ownContext) await context.close(); else await page.close(); },
    };
    await page.addInitScript(recordViolations);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') {
        v.console.push({ text: `${m.type()}: ${m.text()}`, url: m.location().url });
      }
    });
    page.on('pageerror', (e) => v.errors.push(String(e && e.message ? e.message : e)));
    page.on('requestfailed', (r) => v.failed.push(`${r.method()} ${r.url()}: ${r.failure() ? r.failure().errorText : '?'}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && r.request().resourceType() !== 'document') {
        v.failed.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
      }
    });
    if (url) v.response = await page.goto(url, { waitUntil: 'load' });
    return v;
  }

  // Answer the requests of V's page to ORIGIN (a host the test has no
  // server for: an application's redirect URI) with ANSWER ({status,
  // contentType, body}), the next hops of redirects included. Playwright's
  // routes see only the requests a page makes itself, never the hop a
  // redirect leads to (microsoft/playwright#3993, as designed); the DevTools
  // protocol's Fetch domain, which Playwright's routes are made of, does.
  // Call it before the page goes anywhere near ORIGIN.
  async intercept(v, origin, answer) {
    const cdp = await v.context.newCDPSession(v.page);
    const headers = [{ name: 'Content-Type', value: answer.contentType || 'text/html; charset=utf-8' }];
    cdp.on('Fetch.requestPaused', (e) => {
      cdp.send('Fetch.fulfillRequest', {
        requestId: e.requestId,
        responseCode: answer.status || 200,
        responseHeaders: headers,
        body: Buffer.from(answer.body || '').toString('base64'),
      }).catch(() => {});
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${origin}/*`, requestStage: 'Request' }] });
    return cdp;
  }

  // What the page's console said (errors and warnings), but for Chromium's
  // report of the document's own error status: an error page is meant to
  // have one (its status is checked).
  consoleMessages(v) {
    const doc = v.response;
    return v.console.filter((m) => {
      const st = /^error: Failed to load resource: the server responded with a status of (\d+)/.exec(m.text);
      return !(st && doc && m.url === doc.url() && Number(st[1]) === doc.status());
    }).map((m) => m.text);
  }

  // The CSP violations the page saw, and Chromium's console reports of them.
  async violations(v) {
    const events = await v.page.evaluate(() => window.__cnViolations || []).catch(() => []);
    const reported = this.consoleMessages(v).filter((m) => /Content Security Policy/i.test(m));
    return events.concat(reported);
  }

  // axe-core in the page's main world: evaluated through DevTools, so the
  // page's CSP (no script at all) need not allow it.
  async axe(v) {
    const ready = await v.page.evaluate(() => typeof window.axe === 'object');
    if (!ready) await v.page.evaluate(this.axeSource);
    return v.page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    }).then((r) => r.violations.map((x) => ({
      id: x.id,
      impact: x.impact,
      help: x.help,
      nodes: x.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`),
    }))));
  }

  // Tab through the page: what gets the focus, in order, and whether it is
  // visibly marked (an outline or a box shadow).
  async tabOrder(v, max = 25) {
    const stops = [];
    await v.page.evaluate(() => { if (document.activeElement) document.activeElement.blur(); window.scrollTo(0, 0); });
    for (let i = 0; i < max; i += 1) {
      await v.page.keyboard.press('Tab');
      const s = await v.page.evaluate(() => {
        const e = document.activeElement;
        if (!e || e === document.body) return null;
        const cs = getComputedStyle(e);
        const id = e.id ? `#${e.id}` : '';
        const label = (e.getAttribute('name') || e.textContent || '').trim().slice(0, 30);
        return {
          what: `${e.tagName.toLowerCase()}${id}${label && !id ? `(${label})` : ''}`,
          visible: (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none',
        };
      });
      if (!s || (stops.length && stops[0].what === s.what)) break;
      stops.push(s);
    }
    return stops;
  }

  // The standard checks of an open page (see the top of this file). opts:
  // status, text (regexes the visible text must match), notText, axe (false: skip).
  async checks(v, name, opts = {}) {
    const label = `${name} @${v.width}px`;
    if (opts.status) {
      this.ok(v.response && v.response.status() === opts.status, `${label}: status ${opts.status}`,
        `got ${v.response ? v.response.status() : 'no response'}`);
    }
    const shot = path.join(this.out, `${name}-${v.width}.png`);
    await v.page.screenshot({ path: shot, fullPage: true });
    this.ok(fs.existsSync(shot) && fs.statSync(shot).size > 0, `${label}: screenshot ${path.basename(shot)}`);
    const text = await v.page.innerText('body');
    for (const re of opts.text || []) this.ok(re.test(text), `${label}: the page says ${re}`, text);
    for (const re of opts.notText || []) this.ok(!re.test(text), `${label}: the page does not say ${re}`, text);
    const csp = await this.violations(v);
    this.ok(csp.length === 0, `${label}: no Content-Security-Policy violation`, csp.join('\n'));
    const consoleErrors = this.consoleMessages(v).filter((m) => !/Content Security Policy/i.test(m));
    this.ok(consoleErrors.length === 0 && v.errors.length === 0,
      `${label}: no console error or uncaught exception`, consoleErrors.concat(v.errors).join('\n'));
    this.ok(v.failed.length === 0, `${label}: every request of the page succeeded`, v.failed.join('\n'));
    const overflow = await v.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    this.ok(overflow <= 0, `${label}: nothing wider than the viewport`, `${overflow} px too wide`);
    if (opts.axe !== false) {
      const found = await this.axe(v);
      this.ok(found.length === 0, `${label}: axe-core finds no violation`, found.map((x) =>
        `${x.id} (${x.impact}): ${x.help}\n${x.nodes.map((n) => `    ${n}`).join('\n')}`).join('\n'));
    }
    const stops = await this.tabOrder(v);
    const unmarked = stops.filter((s) => !s.visible).map((s) => s.what);
    this.ok(unmarked.length === 0, `${label}: every tab stop shows its focus (${stops.map((s) => s.what).join(' > ') || 'none'})`,
      `no visible focus on ${unmarked.join(', ')}`);
    return { text, stops };
  }

  // URL at each width (360 px and 1280 px): open, the standard checks, close.
  async checkPage(url, opts = {}) {
    const results = [];
    for (const width of opts.widths || WIDTHS) {
      const v = await this.open(url, { width });
      try {
        results.push(await this.checks(v, opts.name, opts));
      } finally {
        await v.close();
      }
    }
    return results;
  }
}

// Launch Chromium (no sandbox only as root, where Chromium refuses its
// sandbox: the suite runs as an unprivileged user, where it works), run the
// walk, print the plan, exit non-zero on any failure. opts.args: more
// command-line switches for Chromium, or an async function that finds them
// (its failure fails the walk).
async function main(walk, opts = {}) {
  let browser;
  let h;
  try {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (make deps installs Debian's chromium)`);
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const extra = typeof opts.args === 'function' ? await opts.args() : (opts.args || []);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: !root,
      args: (root ? ['--no-sandbox'] : []).concat(extra),
    });
    h = new Harness(browser, opts);
    h.diag(`chromium ${browser.version()}, axe-core ${require('axe-core/package.json').version}, `
      + `playwright-core ${require('playwright-core/package.json').version}${root ? ', no sandbox (root)' : ''}`);
    await walk(h);
  } catch (e) {
    if (!h) h = { n: 0, failed: 0 };
    h.n += 1;
    h.failed += 1;
    process.stdout.write(`not ok ${h.n} - the walk ran to its end\n`);
    for (const line of String(e && e.stack ? e.stack : e).split('\n')) process.stdout.write(`# ${line}\n`);
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
  process.stdout.write(`1..${h.n}\n`);
  process.exitCode = h.failed ? 1 : 0;
}

module.exports = { main, Harness, PNG_1X1, WIDTHS };
