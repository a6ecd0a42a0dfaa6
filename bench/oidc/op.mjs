// oidc-provider on loopback for bench/run: one confidential client allowed
// the client_credentials grant (the token-endpoint grant that can be driven
// without a browser), in-memory adapter, no TLS (as the module's side).
//   node op.mjs PORT CLIENT_ID CLIENT_SECRET
import Provider from 'oidc-provider';

const [port, clientId, clientSecret] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  scopes: ['api'],
  ttl: { ClientCredentials: 3600 },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider on http://127.0.0.1:${port}`));
