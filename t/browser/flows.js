'use strict';
// The hosted sign-ins in headless Chromium, through the real module, as a
// person does them (t/browser_flows.t creates the integrations and the
// login links and passes them here as JSON):
//
//   * the IMAP form: typing the address, a wrong password (and the server
//     under "Advanced settings"), the form again with the error on the
//     password field, then the right password (a real Dovecot checks it) and
//     the answer's redirect to the application;
//   * three wrong passwords: the application hears auth_limit_reached;
//   * the login screen (prompt "select_provider,detect"): the Google button
//     on through the fake Google to the application; an address at gmail.com
//     typed into the email box, to the fake Google with it as login_hint; an
//     address the browser or the module refuses; an address of an unknown
//     domain, to the IMAP form;
//   * the error pages on the way: the form of an ended sign-in (sent from a
//     second tab, and opened again), a spent login link, a button of a
//     spent login screen.
//
// Each page is checked (lib.js: no console error, no CSP violation —
// including Chromium's form-action check of the redirect after a form is
// sent —, axe-core, the viewport, visible focus, screenshots) at 360 px and
// 1280 px.
//
// The application's redirect URI (https://app-one.example/...) has no
// server: the walk answers it with a small page at the DevTools protocol's
// Fetch domain (lib.js intercept(): Playwright's routes never see the hop
// of a redirect), and reads the query the module sent there.
//
// The fake providers speak TLS under the suite's test CA, which Chromium
// does not know: before it starts, the walk connects to the fake with
// Node's TLS client trusting that CA only, and tells Chromium to accept
// exactly the public key that verified connection showed
// (--ignore-certificate-errors-spki-list): any other certificate still
// goes through Chromium's own checks. The browser itself talks to the fake
// (nothing is proxied), so its redirects, cookies and CSP are the real ones.
//
//   node t/browser/flows.js '{"fake":"https://127.0.0.1:N","ca_file":"...","redirect_uri":"...",
//                            "imap":{"email":..,"username":..,"host":..,"port":..,"password":..},
//                            "logins":{"imap":URL,"imap_limit":URL,"screen_button":URL,
//                                      "screen_email":URL,"screen_invalid":URL,"screen_other":URL}}'
const crypto = require('crypto');
const fs = require('fs');
const tls = require('tls');
const lib = require('./lib');

const cfg = JSON.parse(process.argv[2] || '{}');
const APP = new URL(cfg.redirect_uri);
const FAKE = new URL(cfg.fake);
const APP_PAGE = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>App One</title></head>'
  + '<body><main><h1>Back at the application</h1></main></body></html>';

// The switch that lets Chromium accept the fake's certificate: the SHA-256
// of the public key the fake shows a client that trusts the test CA.
async function fakeKeyPin() {
  const der = await new Promise((resolve, reject) => {
    const s = tls.connect({ host: FAKE.hostname, port: Number(FAKE.port), ca: fs.readFileSync(cfg.ca_file) }, () => {
      const cert = s.getPeerX509Certificate();
      s.end();
      resolve(cert.publicKey.export({ type: 'spki', format: 'der' }));
    });
    s.on('error', (e) => reject(new Error(`the fake providers at ${FAKE.origin} under the test CA: ${e.message}`)));
  });
  return [`--ignore-certificate-errors-spki-list=${crypto.createHash('sha256').update(der).digest('base64')}`];
}

// ---- helpers ----

// A page of WIDTH px in a fresh context whose requests to the application
// get a small page of its own, at URL.
async function openFlow(h, url, width) {
  const v = await h.open(null, { width });
  await h.intercept(v, APP.origin, { body: APP_PAGE });
  v.response = await v.page.goto(url, { waitUntil: 'load' });
  return v;
}

// Run ACTION (a click) and wait for the navigation it starts to load: its
// (last) response becomes the page's.
async function navigate(v, action) {
  try {
    const [resp] = await Promise.all([v.page.waitForNavigation({ waitUntil: 'load' }), action()]);
    v.response = resp;
    return resp;
  } catch (e) {
    // What the page said about it (a Content-Security-Policy refusal, say).
    await v.page.waitForTimeout(300);
    const events = await v.page.evaluate(() => window.__cnViolations || []).catch(() => []);
    const said = `at ${v.page.url()}; the console said:\n${v.console.map((m) => m.text).concat(events).join('\n')}`;
    e.stack = `${e.stack}\n${said}`;
    throw e;
  }
}

// The URLs a navigation went through, its redirects first.
function hops(resp) {
  const urls = [];
  for (let r = resp && resp.request(); r; r = r.redirectedFrom()) urls.unshift(r.url());
  return urls;
}

// The standard checks at each width, on the page as it is (its viewport
// changed, not reloaded: a page that a form's answer showed is checked at
// both widths too).
async function checkBoth(h, v, name, opts = {}) {
  for (const width of lib.WIDTHS) {
    if (v.width !== width) {
      await v.page.setViewportSize({ width, height: width < 600 ? 740 : 900 });
      v.width = width;
    }
    await h.checks(v, name, opts);
  }
}

// The page is the application's redirect URI: its query (or null).
function atApplication(h, v, name) {
  const u = new URL(v.page.url());
  const there = u.origin === APP.origin && u.pathname === APP.pathname;
  h.ok(there, `${name}: the browser lands on the application's redirect URI`, `at ${v.page.url()}`);
  return there ? Object.fromEntries(u.searchParams) : {};
}

// Nothing the pages on the way to the application reported: no CSP
// violation (the form-action check of a redirect is reported on the page
// that sent the form), no console error.
async function cleanWay(h, v, name) {
  const csp = await h.violations(v);
  h.ok(csp.length === 0, `${name}: no Content-Security-Policy violation on the way`, csp.join('\n'));
  const errors = h.consoleMessages(v).filter((m) => !/Content Security Policy/i.test(m)).concat(v.errors);
  h.ok(errors.length === 0, `${name}: no console error on the way`, errors.join('\n'));
}

const field = (v, label) => v.page.getByLabel(label, { exact: true });

// Type into the IMAP form: the address, the server under "Advanced
// settings" (opened when closed), the password.
async function fillImapForm(h, v, password) {
  const p = v.page;
  await field(v, 'Email address').fill(cfg.imap.email);
  const details = p.locator('details.advanced');
  if (!(await details.evaluate((d) => d.open))) {
    await p.getByText('Advanced settings', { exact: true }).click();
  }
  h.ok(await details.evaluate((d) => d.open) && await p.isVisible('#host'), 'Advanced settings open and show the server fields');
  await p.getByLabel(/^User name/).fill(cfg.imap.username);
  await field(v, 'IMAP server').fill(cfg.imap.host);
  await field(v, 'Port').fill(String(cfg.imap.port));
  await field(v, 'Security').selectOption('ssl');
  await field(v, 'Password').pressSequentially(password);
}

const submitImap = (v) => navigate(v, () => v.page.getByRole('button', { name: 'Connect' }).click());

// The IMAP form again with the wrong-password error on the password field.
async function wrongPasswordShown(h, v, name) {
  const p = v.page;
  h.ok(v.response && v.response.status() === 200 && p.url() === h.url('/imap'),
    `${name}: the form again (200 at ${h.url('/imap')})`, `${v.response && v.response.status()} at ${p.url()}`);
  h.ok(await p.evaluate(() => document.activeElement && document.activeElement.id) === 'password',
    `${name}: the focus is on the password field`);
  const pw = field(v, 'Password');
  h.ok(await pw.getAttribute('aria-invalid') === 'true', `${name}: the password field is marked invalid`);
  const described = (await pw.getAttribute('aria-describedby') || '').split(/\s+/);
  h.ok(described[0] === 'password-error', `${name}: its description starts with the error (${described.join(' ')})`);
  const message = await p.locator('#password-error').innerText().catch(() => '');
  h.ok(/The email address or password is not right/.test(message), `${name}: the error says what is wrong`, message);
  h.ok(await pw.evaluate((e) => e.value) === '', `${name}: the password field is empty`);
  h.ok(await field(v, 'Email address').inputValue() === cfg.imap.email, `${name}: the address is kept`);
  h.ok(await field(v, 'IMAP server').inputValue() === cfg.imap.host
    && await field(v, 'Port').inputValue() === String(cfg.imap.port)
    && await p.getByLabel(/^User name/).inputValue() === cfg.imap.username,
  `${name}: the server, port and user name are kept`);
}

// ---- the walks ----

async function imapForm(h) {
  const v = await openFlow(h, cfg.logins.imap, 360);
  const formUrl = v.page.url();
  h.ok(formUrl.startsWith(h.url('/imap?state=')), 'the IMAP login link leads to the module\'s form', formUrl);
  h.ok(hops(v.response)[0] === cfg.logins.imap, '... through the login link');
  await checkBoth(h, v, 'imap-form', {
    status: 200, text: [/Connect your mailbox/, /Email address/, /Password/, /Advanced settings/, /App One <Mail & Co>/],
  });
  h.ok(!(await v.page.locator('details.advanced').evaluate((d) => d.open)), 'the advanced settings start closed');

  await fillImapForm(h, v, 'not-the-password');
  await submitImap(v);
  await wrongPasswordShown(h, v, 'a wrong password');
  await checkBoth(h, v, 'imap-form-wrong-password', {
    status: 200, text: [/The email address or password is not right/], notText: [/not-the-password/],
  });

  // The same form in a second tab, left there while the first one finishes.
  const tab = await h.open(formUrl, { context: v.context, width: 1280 });
  h.ok(tab.response && tab.response.status() === 200, 'the form open in a second tab too');

  await field(v, 'Password').pressSequentially(cfg.imap.password);
  const resp = await submitImap(v);
  const q = atApplication(h, v, 'the right password');
  const before = resp && resp.request().redirectedFrom();
  const post = before && await before.response();
  h.ok(before && before.method() === 'POST' && before.url() === h.url('/imap') && post && post.status() === 303,
    '... sent there by a 303 answering the form', before ? `${before.method()} ${before.url()}: ${post && post.status()}` : 'no redirect');
  h.ok(q.success === 'true' && q.provider === 'imap' && q.email === cfg.imap.email && q.state === 'imap-form',
    '... with success=true, provider=imap, the address and the state', JSON.stringify(q));
  h.ok(/^[A-Za-z0-9-]{8,}$/.test(q.grant_id || ''), '... and a grant_id', JSON.stringify(q));
  await cleanWay(h, v, 'the right password');

  // The second tab's form sent once the sign-in has ended; the form's
  // address again; its login link again: error pages.
  await fillImapForm(h, tab, cfg.imap.password);
  await submitImap(tab);
  await checkBoth(h, tab, 'imap-form-sent-after-end', {
    status: 400, text: [/This sign-in link cannot be used/, /login_id_invalid/],
  });
  await tab.close();
  const ended = await h.open(formUrl, { context: v.context, width: 360 });
  await checkBoth(h, ended, 'imap-form-ended', {
    status: 400, text: [/This sign-in link cannot be used/, /login_id_invalid/], notText: [/Password/],
  });
  await ended.close();
  const spent = await h.open(cfg.logins.imap, { context: v.context, width: 1280 });
  await h.checks(spent, 'login-link-spent', { status: 400, text: [/This sign-in link cannot be used/] });
  await spent.close();
  await v.close();
}

async function imapLimit(h) {
  const v = await openFlow(h, cfg.logins.imap_limit, 1280);
  const formUrl = v.page.url();
  h.ok(formUrl.startsWith(h.url('/imap?state=')), 'another IMAP login: the form', formUrl);
  await fillImapForm(h, v, 'wrong-1');
  await submitImap(v);
  await wrongPasswordShown(h, v, 'wrong password 1');
  // The focus is on the password field: type and press Enter, as a person would.
  await v.page.keyboard.type('wrong-2');
  await navigate(v, () => v.page.keyboard.press('Enter'));
  await wrongPasswordShown(h, v, 'wrong password 2');
  await v.page.keyboard.type('wrong-3');
  await navigate(v, () => v.page.keyboard.press('Enter'));
  const q = atApplication(h, v, 'wrong password 3');
  h.ok(q.success === 'false' && q.error === 'auth_limit_reached' && q.state === 'imap-limit' && !q.grant_id,
    '... with success=false, error=auth_limit_reached, its state, no grant', JSON.stringify(q));
  await cleanWay(h, v, 'wrong password 3');
  const ended = await h.open(formUrl, { context: v.context, width: 1280 });
  await h.checks(ended, 'imap-form-limit-reached', { status: 400, text: [/This sign-in link cannot be used/] });
  await ended.close();
  await v.close();
}

// The login screen's buttons: [label, href], in order.
const buttons = (v) => v.page.$$eval('ul.providers a', (as) => as.map((a) => [a.textContent.trim(), a.href]));

async function screenButton(h) {
  const v = await openFlow(h, cfg.logins.screen_button, 360);
  await checkBoth(h, v, 'login-screen', {
    status: 200,
    text: [/App One <Mail & Co> asks to connect your mailbox/, /Continue with Google/, /Continue with Microsoft/,
      /Email address/],
  });
  const b = await buttons(v);
  h.ok(JSON.stringify(b.map((x) => x[0])) === JSON.stringify(['Continue with Google', 'Continue with Microsoft', 'Other email (IMAP)']),
    'one button per integration, oldest first', JSON.stringify(b));
  h.ok(await v.page.evaluate(() => {
    const list = document.querySelector('ul.providers');
    const box = document.querySelector('form.detect');
    return !!(list && box && (list.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING));
  }), 'select_provider,detect: the buttons, then the email box');

  const resp = await navigate(v, () => v.page.getByRole('link', { name: 'Continue with Google' }).click());
  const way = hops(resp);
  const authorize = way.map((u) => new URL(u)).find((u) => u.origin === FAKE.origin);
  h.ok(authorize && authorize.pathname === '/google/authorize', 'the Google button leads to the fake Google', way.join('\n'));
  const aq = authorize ? authorize.searchParams : new URLSearchParams();
  h.ok(aq.get('client_id') === 'test-google-client' && aq.get('code_challenge_method') === 'S256'
    && aq.get('redirect_uri') === h.url('/callback'), '... with the integration\'s client, PKCE and the module\'s callback',
  authorize && authorize.search);
  h.ok(way.some((u) => u.startsWith(`${h.url('/callback')}?`)), '... which consents and sends the browser to /callback', way.join('\n'));
  const q = atApplication(h, v, 'Continue with Google');
  h.ok(q.success === 'true' && q.provider === 'google' && q.state === 'screen-button' && /\S/.test(q.grant_id || '')
    && q.email === 'user@example.com', '... with success=true, provider=google, a grant_id, the account\'s address',
  JSON.stringify(q));
  await cleanWay(h, v, 'Continue with Google');

  const again = await h.open(b[1][1], { context: v.context, width: 360 });
  await checkBoth(h, again, 'login-screen-spent', { status: 400, text: [/This sign-in link cannot be used/] });
  await again.close();
  await v.close();
}

async function screenEmail(h) {
  const v = await openFlow(h, cfg.logins.screen_email, 1280);
  await field(v, 'Email address').fill('someone@gmail.com');
  const resp = await navigate(v, () => v.page.getByRole('button', { name: 'Continue' }).click());
  const way = hops(resp);
  const authorize = way.map((u) => new URL(u)).find((u) => u.origin === FAKE.origin);
  h.ok(authorize && authorize.pathname === '/google/authorize', 'an address at gmail.com: the fake Google', way.join('\n'));
  h.ok(authorize && authorize.searchParams.get('login_hint') === 'someone@gmail.com', '... with the address as login_hint',
    authorize && authorize.search);
  const q = atApplication(h, v, 'an address at gmail.com');
  h.ok(q.success === 'true' && q.provider === 'google' && q.email === 'someone@gmail.com' && q.state === 'screen-email',
    '... success=true for that address', JSON.stringify(q));
  await cleanWay(h, v, 'an address at gmail.com');
  await v.close();
}

async function screenInvalid(h) {
  const v = await openFlow(h, cfg.logins.screen_invalid, 360);
  const screenUrl = v.page.url();
  const email = field(v, 'Email address');
  // The browser's own check of the email box first: nothing is sent.
  await email.fill('not-an-address');
  await v.page.getByRole('button', { name: 'Continue' }).click();
  await v.page.waitForTimeout(300);
  h.ok(v.page.url() === screenUrl && !(await email.evaluate((e) => e.validity.valid)),
    'not an address: the browser itself keeps the form (type=email)', v.page.url());
  // A browser without that check: the module's answer.
  await v.page.evaluate(() => { document.querySelector('form.detect').noValidate = true; });
  const resp = await navigate(v, () => v.page.getByRole('button', { name: 'Continue' }).click());
  h.ok(resp && resp.status() === 200 && v.page.url().startsWith(`${h.url('/login')}?`),
    '... sent anyway: the login screen again', `${resp && resp.status()} ${v.page.url()}`);
  h.ok(await email.getAttribute('aria-invalid') === 'true'
    && await email.getAttribute('aria-describedby') === 'email-error', '... the error tied to the email box');
  h.ok(await v.page.evaluate(() => document.activeElement && document.activeElement.id) === 'email',
    '... which has the focus');
  const message = await v.page.locator('#email-error').innerText().catch(() => '');
  h.ok(/Enter your email address/.test(message), '... saying what to type', message);
  h.ok(await email.inputValue() === 'not-an-address', '... showing what was typed');
  await checkBoth(h, v, 'login-screen-invalid-address', {
    status: 200, text: [/Enter your email address, like name@example.com/, /Continue with Google/],
  });
  await v.close();
}

async function screenOther(h) {
  const v = await openFlow(h, cfg.logins.screen_other, 1280);
  await field(v, 'Email address').fill(cfg.imap.email);
  const resp = await navigate(v, () => v.page.getByRole('button', { name: 'Continue' }).click());
  h.ok(resp && resp.status() === 200 && v.page.url().startsWith(h.url('/imap?state=')),
    'an address of a domain nothing is known of: the IMAP form', `${resp && resp.status()} ${v.page.url()}`);
  h.ok(await field(v, 'Email address').inputValue() === cfg.imap.email, '... with the address filled in');
  await checkBoth(h, v, 'imap-form-from-screen', { status: 200, text: [/Connect your mailbox/] });
  await fillImapForm(h, v, cfg.imap.password);
  await submitImap(v);
  const q = atApplication(h, v, 'its password');
  h.ok(q.success === 'true' && q.provider === 'imap' && q.state === 'screen-other' && /\S/.test(q.grant_id || ''),
    '... success=true with a grant', JSON.stringify(q));
  await cleanWay(h, v, 'the IMAP form from the login screen');
  await v.close();
}

// The Context.IO connect UI: a connect token without an email shows its first
// page; the address and names typed go on through the fake Google back to
// the application with contextio_token.
async function contextioConnect(h) {
  const v = await openFlow(h, cfg.logins.cio, 360);
  await checkBoth(h, v, 'contextio-first-page', {
    status: 200, text: [/Connect your mailbox/, /Email address/, /First name/, /Last name/, /Continue with Google/],
  });
  h.ok(await v.page.locator('form button[name="provider"][value="google"]').count() === 1,
    '... the provider buttons are buttons of the same form (they send what was typed)');
  await field(v, 'Email address').fill('cio.walk@gmail.com');
  await field(v, 'First name').fill('Walk');
  await field(v, 'Last name').fill('Er');
  const resp = await navigate(v, () => v.page.getByRole('button', { name: 'Continue', exact: true }).click());
  const way = hops(resp);
  const authorize = way.map((u) => new URL(u)).find((u) => u.origin === FAKE.origin);
  h.ok(authorize && authorize.pathname === '/google/authorize', 'the connect UI: on to the fake Google', way.join('\n'));
  const q = atApplication(h, v, 'the connect UI');
  h.ok(q.contextio_token === cfg.cio_token, '... back with contextio_token', JSON.stringify(q));
  await cleanWay(h, v, 'the connect UI');
  await v.close();
}

lib.main(async (h) => {
  await contextioConnect(h);
  await imapForm(h);
  await imapLimit(h);
  await screenButton(h);
  await screenEmail(h);
  await screenInvalid(h);
  await screenOther(h);
}, {
  args: fakeKeyPin,
});
