'use strict';
// Visits each page a .t file lists (t/browser_pages.t) in headless Chromium
// at 360 px and 1280 px and runs the harness's standard checks on it (see
// lib.js): status, texts, no console error, no CSP violation, axe-core
// without violations, no horizontal overflow, visible focus, screenshots.
//
//   node t/browser/pages.js '[{"name":"login-bogus","path":"/login?id=x","status":400,
//                              "text":["cannot be used"],"notText":["sqlite"]}, ...]'
//
// "text" and "notText" are regular expressions (case-insensitive). Requests
// to https://logo.example/ are answered with a small PNG (the suite's
// application logo; no such host exists).
const lib = require('./lib');

const pages = JSON.parse(process.argv[2] || '[]');

lib.main(async (h) => {
  h.ok(pages.length > 0, `${pages.length} pages to visit`);
  for (const p of pages) {
    await h.checkPage(h.url(p.path), {
      name: p.name,
      status: p.status,
      text: (p.text || []).map((t) => new RegExp(t, 'i')),
      notText: (p.notText || []).map((t) => new RegExp(t, 'i')),
    });
  }
}, {
  routes: {
    'https://logo.example/**': { status: 200, contentType: 'image/png', body: lib.PNG_1X1 },
  },
});
