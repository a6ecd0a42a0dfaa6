// A browser for the Node.js drivers of the tests (t/oidc/rp.mjs,
// t/nylas/sdk.mjs): follows the 302s from START until a URL that begins with
// STOP (the application's redirect URI), keeping the cookies each host sets,
// and answers that URL. A page that is not a redirect on the way fails.
export async function browse(start, stop) {
  const jar = new Map();
  let url = start;
  for (let hop = 0; hop < 10; hop++) {
    if (url.startsWith(stop)) return url;
    const u = new URL(url);
    const cookies = jar.get(u.host) || {};
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const sc of res.headers.getSetCookie()) {
      const [pair] = sc.split(';');
      const i = pair.indexOf('=');
      cookies[pair.slice(0, i)] = pair.slice(i + 1);
    }
    jar.set(u.host, cookies);
    const loc = res.headers.get('location');
    if (res.status !== 302 || !loc) {
      throw new Error(`hop ${hop}: ${res.status} at ${u.origin}${u.pathname} without a redirect`);
    }
    url = new URL(loc, url).href;
  }
  throw new Error('too many redirects');
}
