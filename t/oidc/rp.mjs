// An OpenID Connect relying party that knows only the issuer URL, driven by
// t/oidc_rp.t: openid-client (a certified RP library) finds every endpoint
// by discovery, sends the user through the authorization request with PKCE
// S256, a state and a nonce, plays the browser through the provider's
// redirects (cookies kept, no redirect followed blindly), exchanges the code,
// verifies the id_token against the published JWKS, asks the issuer's
// /tokeninfo (mod_connect's, with the client's credentials) about the
// id_token it verified, refreshes, revokes, asks again, and prints what it
// saw as one JSON object. Every failure is reported, not
// thrown, so the test can say which step broke.
//
//   node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI PROVIDER LOGIN_HINT
import * as client from 'openid-client';
import { browse as browseTo } from '../lib/js/browse.mjs';

const [issuer, clientId, clientSecret, redirectUri, provider, loginHint] = process.argv.slice(2);
const out = { steps: [] };
const step = (name, data) => out.steps.push({ name, ...data });

const browse = (start) => browseTo(start, redirectUri);

// What GET /tokeninfo?id_token= says, asked with the client's credentials.
async function tokeninfo(idToken) {
  const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
  const res = await fetch(`${issuer}/tokeninfo?id_token=${encodeURIComponent(idToken)}`, {
    headers: { authorization: `Basic ${basic}` },
  });
  const body = await res.json().catch(() => ({}));
  return {
    status: res.status,
    token_type: body.data?.token_type,
    grant_id: body.data?.grant_id,
    event_code: body.error?.event_code,
  };
}

try {
  const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const meta = config.serverMetadata();
  step('discovery', { issuer: meta.issuer, token_endpoint: meta.token_endpoint, jwks_uri: meta.jwks_uri });

  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    provider,
    login_hint: loginHint,
    access_type: 'offline',
  });
  const back = await browse(authUrl.href);
  step('authorize', { returned_to_redirect_uri: back.startsWith(redirectUri) });

  const tokens = await client.authorizationCodeGrant(config, new URL(back), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  step('code_exchange', {
    token_type: tokens.token_type,
    has_access_token: !!tokens.access_token,
    has_refresh_token: !!tokens.refresh_token,
    id_token_verified: true,
    claims,
    grant_id: tokens.grant_id,
  });
  step('tokeninfo', await tokeninfo(tokens.id_token));

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  step('refresh', {
    new_access_token: !!refreshed.access_token && refreshed.access_token !== tokens.access_token,
    rotated: !!refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token,
  });

  let reuse = 'accepted';
  try {
    await client.refreshTokenGrant(config, tokens.refresh_token);
  } catch (e) {
    reuse = e.error || e.code || String(e.message);
  }
  step('refresh_reuse', { result: reuse });

  await client.tokenRevocation(config, refreshed.refresh_token);
  let afterRevoke = 'accepted';
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (e) {
    afterRevoke = e.error || e.code || String(e.message);
  }
  step('revoke', {
    refresh_after_revoke: afterRevoke,
    tokeninfo: refreshed.id_token ? await tokeninfo(refreshed.id_token) : null,
  });
  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = `${e.name}: ${e.message}${e.cause ? ` (${JSON.stringify(e.cause).slice(0, 300)})` : ''}`;
}
console.log(JSON.stringify(out));
