// oidc-provider on loopback for bench/run, the peer of mod_connect's POST
// /connect/token: one confidential client (client_secret_basic) allowed the
// authorization_code, refresh_token and client_credentials grants, scopes
// openid offline_access email, refresh token rotation on, the in-memory
// adapter, no TLS. Its id_tokens are signed like the module's: ES256 (P-256)
// with SIGNING=p256, RS256 (RSA 2048) otherwise.
//   node op.mjs PORT CLIENT_ID CLIENT_SECRET [p256|rsa [N TOKENS_FILE]]
// With N, it first makes N refresh tokens of one grant the way its code
// exchange would (a Grant for an account, saved; RefreshTokens of that grant),
// writes their values to TOKENS_FILE one a line, and only then listens and
// says so ("oidc-provider on http://...").
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';
// The adapter's store: the default one, a QuickLRU of 1,000 entries (which
// keeps at most 2,000), would drop the prepared tokens before their turn.
// The same class and adapter, sized to hold them and what the run adds.
import QuickLRU from 'quick-lru';
import { setStorage } from 'oidc-provider/lib/adapters/memory_adapter.js';

const [port, clientId, clientSecret, signing = 'rsa', count = '0', tokensFile] = process.argv.slice(2);
const n = Number(count);
if (!Number.isInteger(n) || n < 0 || (n > 0 && !tokensFile) || !['p256', 'rsa'].includes(signing)) {
  console.error('usage: node op.mjs PORT CLIENT_ID CLIENT_SECRET [p256|rsa [N TOKENS_FILE]]');
  process.exit(2);
}
// Each refresh adds two entries (the rotated refresh token, the access token).
setStorage(new QuickLRU({ maxSize: 3 * n + 10000 }));

const alg = signing === 'p256' ? 'ES256' : 'RS256';
const { privateKey } = signing === 'p256'
  ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
  : generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `bench-${signing}` };

const accountId = 'bench-account';
const email = 'bench-user@example.com';
const day = 24 * 60 * 60;
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: ['https://app.example/cb'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
    require_auth_time: true,
    scope: 'openid offline_access email api',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // The email in the id_token, as the module's carries it.
  conformIdTokenClaims: false,
  rotateRefreshToken: true,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() { return { sub: id, email, email_verified: true }; },
    };
  },
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  scopes: ['openid', 'offline_access', 'email', 'api'],
  ttl: {
    AccessToken: 3600, ClientCredentials: 3600, IdToken: 3600, Grant: 90 * day, RefreshToken: 90 * day,
  },
});
provider.proxy = false;

if (n > 0) {
  const client = await provider.Client.find(clientId);
  const scope = 'openid offline_access email';
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const authTime = Math.floor(Date.now() / 1000);
  const values = [];
  // As its authorization endpoint stores them for a client with
  // require_auth_time (auth_time in the id_token, as the module's has it).
  const claims = { id_token: { auth_time: { essential: true } } };
  for (let i = 0; i < n; i += 1) {
    const rt = new provider.RefreshToken({
      accountId,
      authTime,
      claims,
      client,
      expiresWithSession: false,
      grantId,
      gty: 'authorization_code',
      rotations: 0,
      scope,
      sessionUid: randomUUID(),
    });
    values.push(await rt.save());
  }
  writeFileSync(tokensFile, `${values.join('\n')}\n`);
}
provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider on http://127.0.0.1:${port}`));
