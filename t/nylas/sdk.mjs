// The Nylas Node.js SDK (npm `nylas`, unchanged) against mod_connect's Nylas
// v3 layout, driven by t/nylas_sdk.t: an application that only set apiUri
// and apiKey. It runs the PKCE sign-in (the SDK's URL, the browser's hops
// through the fake provider, the SDK's code exchange with its verifier),
// reads, lists (every page, through the SDK's iterator), updates, refreshes,
// asks about the id_token, detects a provider, connects a mailbox by native
// (custom) authentication, revokes and deletes; then provokes the SDK's
// error classes. It prints what it saw as one JSON object; every failure is
// reported, not thrown, so the test can say which step broke.
//
//   node sdk.mjs API_URI API_KEY CLIENT_ID REDIRECT_URI LOGIN_HINT PROVIDER_REFRESH_TOKEN
import Nylas, { NylasApiError, NylasOAuthError } from 'nylas';
import { browse as browseTo } from '../lib/js/browse.mjs';

const [apiUri, apiKey, clientId, redirectUri, loginHint, providerRefreshToken] = process.argv.slice(2);
const out = { steps: [] };
const step = (name, data) => out.steps.push({ name, ...data });
const nylas = new Nylas({ apiKey, apiUri, timeout: 30 });

const browse = (start) => browseTo(start, redirectUri);

// What the SDK threw: its class, status, request id and what it read.
async function thrown(fn) {
  try {
    await fn();
    return { thrown: false };
  } catch (e) {
    return {
      thrown: true,
      api_error: e instanceof NylasApiError,
      oauth_error: e instanceof NylasOAuthError,
      status: e.statusCode,
      request_id: e.requestId,
      type: e.type,
      message: e.message,
      error: e.error,
      error_code: e.errorCode,
    };
  }
}

try {
  // ---- the sign-in, with PKCE ----
  const auth = nylas.auth.urlForOAuth2PKCE({
    clientId, redirectUri, provider: 'google', loginHint, accessType: 'offline', state: 'sdk-state',
  });
  const back = new URL(await browse(auth.url));
  step('authorize', {
    url: auth.url, code: !!back.searchParams.get('code'), state: back.searchParams.get('state'),
  });
  const tokens = await nylas.auth.exchangeCodeForToken({
    clientId, redirectUri, code: back.searchParams.get('code'), codeVerifier: auth.secret,
  });
  const grantId = tokens.grantId;
  step('code_exchange', {
    grant_id: grantId, email: tokens.email, provider: tokens.provider,
    token_type: tokens.tokenType, expires_in: tokens.expiresIn, scope: tokens.scope,
    has_access_token: !!tokens.accessToken, has_refresh_token: !!tokens.refreshToken,
    has_id_token: !!tokens.idToken, request_id: tokens.requestId,
  });

  // ---- the grants API ----
  const found = await nylas.grants.find({ grantId });
  step('find', {
    request_id: found.requestId, id: found.data?.id, email: found.data?.email,
    provider: found.data?.provider, grant_status: found.data?.grantStatus,
  });

  const pages = [];
  const ids = [];
  // The SDK's pager: the first page, then next() until it says done.
  const first = await nylas.grants.list({ queryParams: { limit: 2, provider: 'google' } });
  for (let page = first; ;) {
    pages.push({ n: page.data.length, next_cursor: page.nextCursor ?? null, request_id: page.requestId });
    for (const g of page.data) ids.push(g.id);
    if (pages.length > 20) throw new Error('the list iterator does not end');
    const next = await first.next();
    if (next.done) break;
    page = next.value;
  }
  const filtered = await nylas.grants.list({ queryParams: { email: loginHint } });
  const none = await nylas.grants.list({ queryParams: { provider: 'microsoft' } });
  step('list', {
    pages, ids, filtered: filtered.data.map((g) => g.email), filtered_next: filtered.nextCursor ?? null,
    none: none.data.length,
  });

  const updated = await nylas.grants.update({ grantId, requestBody: { scope: ['openid', 'email'] } });
  step('update', { request_id: updated.requestId, id: updated.data?.id, scope: updated.data?.scope });

  // ---- the OAuth server ----
  const refreshed = await nylas.auth.refreshAccessToken({
    clientId, redirectUri, refreshToken: tokens.refreshToken,
  });
  step('refresh', {
    new_access_token: !!refreshed.accessToken && refreshed.accessToken !== tokens.accessToken,
    rotated: !!refreshed.refreshToken && refreshed.refreshToken !== tokens.refreshToken,
    grant_id: refreshed.grantId, email: refreshed.email, provider: refreshed.provider,
  });

  const info = await nylas.auth.idTokenInfo(refreshed.idToken);
  step('id_token_info', { request_id: info.requestId, ...info.data });
  const ainfo = await nylas.auth.accessTokenInfo(refreshed.accessToken);
  step('access_token_info', { request_id: ainfo.requestId, sub: ainfo.data?.sub, aud: ainfo.data?.aud });

  const detected = await nylas.auth.detectProvider({ email: 'someone@gmail.com', allProviderTypes: true });
  const unknown = await nylas.auth.detectProvider({ email: 'someone@outlook.com' });
  step('detect', {
    request_id: detected.requestId, ...detected.data,
    other: { email_address: unknown.data?.emailAddress, detected: unknown.data?.detected, provider: unknown.data?.provider },
  });

  const custom = await nylas.auth.customAuthentication({
    requestBody: { provider: 'google', settings: { refresh_token: providerRefreshToken }, state: 'custom-state' },
  });
  step('custom', {
    request_id: custom.requestId, id: custom.data?.id, email: custom.data?.email,
    provider: custom.data?.provider, state: custom.data?.state,
  });

  const revoked = await nylas.auth.revoke(refreshed.accessToken);
  step('revoke', {
    revoked,
    info_after: await thrown(() => nylas.auth.accessTokenInfo(refreshed.accessToken)),
    refresh_after: await thrown(() => nylas.auth.refreshAccessToken({
      clientId, redirectUri, refreshToken: refreshed.refreshToken,
    })),
  });

  const destroyed = await nylas.grants.destroy({ grantId: custom.data.id });
  step('destroy', {
    request_id: destroyed.requestId,
    find_after: await thrown(() => nylas.grants.find({ grantId: custom.data.id })),
  });

  // ---- the SDK's error classes ----
  const wrong = new Nylas({ apiKey: `${apiKey}-not-it`, apiUri, timeout: 30 });
  step('errors', {
    wrong_key: await thrown(() => wrong.grants.find({ grantId })),
    wrong_key_token: await thrown(() => wrong.auth.exchangeCodeForToken({
      clientId, redirectUri, code: 'cnac_whatever', codeVerifier: auth.secret,
    })),
    unknown_grant: await thrown(() => nylas.grants.find({ grantId: '00000000-0000-4000-8000-000000000000' })),
    bad_code: await thrown(() => nylas.auth.exchangeCodeForToken({
      clientId, redirectUri, code: 'cnac_not-a-code', codeVerifier: auth.secret,
    })),
  });
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = `${e.constructor?.name}: ${e.message}${e.statusCode ? ` (${e.statusCode})` : ''}`;
}
process.stdout.write(JSON.stringify(out));
