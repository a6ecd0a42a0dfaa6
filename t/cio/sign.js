// An independent OAuth 1.0a signer for the Context.IO tests: the npm package
// oauth-1.0a (HMAC-SHA1 with node's crypto). Reads one JSON request from
// argv[2]: {key, secret, token?, token_secret?, method, url, data?, realm?,
// separator?, timestamp?, nonce?}; writes {header, oauth} where oauth holds
// the oauth_* parameters (the signature included) for query or form use.
'use strict';
const crypto = require('crypto');
const OAuth = require('oauth-1.0a');

const a = JSON.parse(process.argv[2]);
const oauth = OAuth({
    consumer: { key: a.key, secret: a.secret },
    signature_method: 'HMAC-SHA1',
    hash_function: (base, key) => crypto.createHmac('sha1', key).update(base).digest('base64'),
    nonce_length: 32,
    realm: a.realm,
    parameter_seperator: a.separator || ', ',
});
if (a.timestamp !== undefined) oauth.getTimeStamp = () => a.timestamp;
if (a.nonce !== undefined) oauth.getNonce = () => a.nonce;
const token = a.token !== undefined ? { key: a.token, secret: a.token_secret || '' } : undefined;
const auth = oauth.authorize({ url: a.url, method: a.method, data: a.data || {} }, token);
const only = {};
for (const k of Object.keys(auth)) if (k.startsWith('oauth_')) only[k] = String(auth[k]);
process.stdout.write(JSON.stringify({ header: oauth.toHeader(auth).Authorization, oauth: only }));
