/* Protocols the core speaks to the outside: the HTTP client seam (libcurl
 * behind it), and upstream OAuth 2.0 with the providers' quirks. */
#ifndef CN_PROTO_H
#define CN_PROTO_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include "cn_model.h"

/* ---- the HTTP client seam ---- */
/* Outgoing HTTP: a small seam (a function table) so the core can call
 * providers; libcurl is the implementation the module uses. */

typedef struct cn_http_request_t {
    const char *method;       /* "GET" or "POST" */
    const char *url;
    const char *content_type; /* of BODY, for POST */
    const char *body;
    apr_size_t body_len;
    const char *bearer;       /* Authorization: Bearer <bearer>, or NULL */
    const char *accept;       /* the Accept header; NULL: application/json */
    const char *const *headers; /* more "Name: value" lines (NULL-terminated), or NULL */
    apr_size_t max_response;  /* a lower size cap than the client's, or 0 */
    long timeout_ms;          /* a shorter time cap than the client's, or 0 */
    /* The URL's host was chosen by a user or by DNS answers (auto-discovery),
     * not by the operator: the request gets a handle of its own (no
     * connection, DNS entry or TLS session of another request), and
     * connects only where cn_addr_permitted(ALLOW) permits (cn_curl_guard). */
    int user_chosen;
    const cn_addr_allow_t *allow; /* with user_chosen: ConnectAllowAddresses; NULL: none */
    const char *pinned;       /* with user_chosen, or NULL: "HOST:PORT:ADDR[,ADDR...]"
                               * (IPv6 in brackets), where the caller's resolver found
                               * the URL's host: libcurl connects there, asking no one */
} cn_http_request_t;

typedef struct cn_http_response_t {
    int status;               /* HTTP status, 0 when no answer came */
    const char *content_type; /* may be NULL */
    const char *body;         /* NUL-terminated */
    apr_size_t body_len;
    const char *error;        /* transport failure, for logs (no secrets) */
} cn_http_response_t;

struct cn_http_t {
    /* APR_SUCCESS when an HTTP answer came (whatever its status);
     * APR_TIMEUP on a timeout, APR_ENOSPC when the answer exceeds the size
     * cap, APR_EACCES when a user_chosen host is at no permitted address
     * (nothing was connected), APR_EGENERAL for other transport failures. */
    apr_status_t (*perform)(cn_http_t *http, apr_pool_t *pool, const cn_http_request_t *req,
                            cn_http_response_t *resp);
    void *baton;
};

typedef struct cn_http_options_t {
    const char *ca_file;      /* NULL: the system's trust store */
    long connect_timeout_ms;
    long timeout_ms;
    apr_size_t max_response;  /* bytes */
} cn_http_options_t;

/* Process-wide libcurl setup; call once before threads start. */
apr_status_t cn_http_global_init(void);

/* A libcurl client whose easy handles are pooled in POOL (a process-lifetime
 * pool): no redirects are followed, only http/https, TLS verified. */
apr_status_t cn_http_curl_make(apr_pool_t *pool, const cn_http_options_t *opts,
                               cn_http_t **out);

/* application/x-www-form-urlencoded from name/value pairs (NULL-terminated,
 * NULL values skipped). */
const char *cn_http_form(apr_pool_t *pool, const char *const *pairs);

/* Append name=value pairs (NULL-terminated) to URL as a query string. */
const char *cn_http_url_with_query(apr_pool_t *pool, const char *url,
                                   const char *const *pairs);

/* ---- where libcurl connects for a user ---- */

typedef struct cn_curl_guard_t {
    apr_pool_t *pool;             /* for the words of a refusal */
    const cn_addr_allow_t *allow; /* ConnectAllowAddresses; NULL: public addresses only */
    const char *refused;          /* after the transfer: why an address was refused (the
                                   * last one), for the log; NULL when none was */
} cn_curl_guard_t;

/* Make the libcurl handle EASY (a CURL *) connect only where
 * cn_addr_permitted(GUARD->allow) says it may: each address is checked on
 * the socket libcurl is about to connect (CURLOPT_OPENSOCKETFUNCTION),
 * after the name was resolved, so the address checked is the address
 * connected to (no second lookup a DNS server could answer otherwise). A
 * refused address fails like one where nothing listens (libcurl tries the
 * next, then gives up with CURLE_COULDNT_CONNECT). No proxy is used: its
 * address would be checked instead of the server's. GUARD must outlive the
 * transfer. APR_EGENERAL when libcurl refuses an option. */
apr_status_t cn_curl_guard(void *easy, cn_curl_guard_t *guard);

/* ---- IMAP: a mailbox password proven by a LOGIN ---- */
/* The IMAP client seam (libcurl's IMAP behind it in the module; unit tests
 * of callers may put another there): connect, secure the connection, LOGIN,
 * log out. Nothing else is asked of the server. */

/* How a connection to an IMAP server is secured: TLS from the first byte
 * (IMAPS, port 993), STARTTLS on a plain connection (port 143), or not at
 * all (only where ConnectIMAPAllowPlain allows it). */
#define CN_IMAP_SSL "ssl"
#define CN_IMAP_STARTTLS "starttls"
#define CN_IMAP_PLAIN "plain"
#define CN_IMAP_PORT_SSL 993
#define CN_IMAP_PORT_STARTTLS 143

typedef struct cn_imap_request_t {
    const char *host;     /* a DNS name or an IPv4 address (cn_imap_host_valid) */
    int port;             /* 1-65535 */
    const char *security; /* CN_IMAP_SSL, CN_IMAP_STARTTLS or CN_IMAP_PLAIN */
    const char *username, *password;
    const char *pinned;   /* "HOST:PORT:ADDR[,ADDR...]": where HOST is, as the module's own
                           * resolver (ConnectDNSServer) found it; NULL: the system's */
} cn_imap_request_t;

/* What a LOGIN came to. */
typedef enum cn_imap_outcome_t {
    CN_IMAP_LOGGED_IN,     /* the server accepted the username and password */
    CN_IMAP_DENIED,        /* it refused them */
    CN_IMAP_NO_MECHANISM,  /* it offers no password login (AUTHENTICATE PLAIN or LOGIN) */
    CN_IMAP_NO_ANSWER,     /* no connection, no answer in time, or not an IMAP answer */
    CN_IMAP_ADDRESS_REFUSED, /* the host is at no address a user's connection may go to
                              * (cn_addr_permitted): nothing was connected */
    CN_IMAP_TLS_UNTRUSTED, /* its certificate is not trusted, or not issued for the host */
    CN_IMAP_TLS_FAILED,    /* no TLS: STARTTLS refused, or no TLS spoken on the port */
    CN_IMAP_PLAIN_REFUSED, /* security plain, which the operator does not allow */
    CN_IMAP_CLIENT_FAILED  /* the client itself could not run */
} cn_imap_outcome_t;

struct cn_imap_t {
    /* LOGIN as REQ says, then log out. *OUTCOME says how it went, *ERROR
     * (may be NULL) what the client saw, for the log: never a secret.
     * APR_SUCCESS exactly when logged in. */
    apr_status_t (*login)(cn_imap_t *imap, apr_pool_t *pool, const cn_imap_request_t *req,
                          cn_imap_outcome_t *outcome, const char **error);
    int allow_plain;     /* ConnectIMAPAllowPlain: security plain may be used */
    long timeout_ms;     /* what a LOGIN may take, for messages */
    void *baton;
};

typedef struct cn_imap_options_t {
    const char *ca_file; /* NULL: the system's trust store */
    long timeout_ms;     /* bounds the connection and the whole LOGIN (ConnectIMAPTimeout) */
    int allow_plain;
    const cn_addr_allow_t *allow; /* ConnectAllowAddresses; NULL: public addresses only */
} cn_imap_options_t;

/* The libcurl IMAP client: imap/imaps only, a fresh connection per LOGIN
 * (never reused: it was logged in), TLS 1.2 or later verified against
 * CA_FILE, STARTTLS required when asked for, the password sent by
 * AUTHENTICATE PLAIN or LOGIN (never in a URL), then NOOP and LOGOUT.
 * The server is whatever a user typed or discovery found: it is connected
 * only at an address cn_addr_permitted(ALLOW) permits (cn_curl_guard);
 * a host at no such address is CN_IMAP_ADDRESS_REFUSED. */
apr_status_t cn_imap_curl_make(apr_pool_t *pool, const cn_imap_options_t *opts,
                               cn_imap_t **out);

/* What a libcurl IMAP transfer that ended with CODE (a CURLcode) and error
 * text ERRBUF (may be NULL) came to. */
cn_imap_outcome_t cn_imap_curl_outcome(int code, const char *errbuf);

/* The event a LOGIN that came to OUTCOME fails with (CN_EV__COUNT for
 * CN_IMAP_LOGGED_IN): invalid_authentication, provider_not_responding (no
 * answer, or a refused address: to the application, a server that cannot
 * be reached), provider_tls_failed, provider_settings_invalid,
 * service_unavailable. */
cn_event_id_t cn_imap_outcome_event(cn_imap_outcome_t outcome);

/* 1 when HOST is a host name an IMAP request may name: DNS labels of
 * letters, digits and hyphens (not at either end) joined by dots, at most
 * 253 bytes (IPv4 addresses are of that form). */
int cn_imap_host_valid(const char *host);

/* 1 when SECURITY is CN_IMAP_SSL, CN_IMAP_STARTTLS or CN_IMAP_PLAIN. */
int cn_imap_security_valid(const char *security);

/* The core's LOGIN through ctx->imap: refused without a call when a
 * database handle is held (internal_error: the rule of every outgoing call),
 * when the process has no IMAP client (service_unavailable), and for
 * security plain unless ctx->imap->allow_plain (provider_settings_invalid).
 * A LOGIN that fails is in ctx->res with cn_imap_outcome_event's event. */
apr_status_t cn_imap_login(cn_ctx_t *ctx, const cn_imap_request_t *req);

/* The SASL XOAUTH2 initial response of USER with bearer TOKEN, base64
 * encoded (APR's base64): base64("user=" USER "\x01auth=Bearer " TOKEN
 * "\x01\x01"). NULL when either is NULL or holds a \x01. */
const char *cn_imap_xoauth2(apr_pool_t *pool, const char *user, const char *token);

/* The IMAP server of an OAuth provider's mailboxes (google: imap.gmail.com,
 * microsoft: outlook.office365.com), or NULL. Port 993, implicit TLS. */
const char *cn_imap_oauth_host(const char *provider);

/* ---- upstream OAuth 2.0 ---- */
/* The upstream side of OAuth 2.0: provider endpoints, the authorize URL,
 * token requests (code and refresh), identity, revocation. Provider answers
 * become cn_result_t failures with the seed's event types. */


/* The URL of endpoint NAME (authorize, token, userinfo, revoke, adminconsent,
 * graph) of PROVIDER, with {tenant} replaced by TENANT ("common" when NULL),
 * percent-encoded. NULL when the endpoint is unknown, or has {tenant} and
 * TENANT is not one (cn_url_tenant_valid). */
const char *cn_oauth_endpoint(cn_ctx_t *ctx, const char *provider, const char *name,
                              const char *tenant);

/* The tenant of a Microsoft integration ("common" by default). */
const char *cn_oauth_tenant(const cn_integration_t *it);

/* The provider's authorize URL for the hosted dance. SCOPE is a JSON array.
 * NULL when the integration's tenant is not valid. */
const char *cn_oauth_authorize_url(cn_ctx_t *ctx, const cn_integration_t *it, json_t *scope,
                                   const char *state, const char *code_challenge,
                                   const char *login_hint);

/* The callback URI registered at the provider: <ConnectBaseURL>/callback. */
const char *cn_oauth_redirect_uri(cn_ctx_t *ctx);

/* Token endpoint call: grant_type authorization_code (CODE + VERIFIER) or,
 * with CODE NULL, refresh_token (REFRESH). CLIENT_SECRET is the opened secret.
 * Failures: provider_code_request_failed / refresh_token_invalid (invalid_grant),
 * invalid_client, provider_not_responding, oauth_provider_error. */
apr_status_t cn_oauth_token(cn_ctx_t *ctx, const cn_integration_t *it, const char *client_secret,
                            const char *code, const char *verifier, const char *refresh,
                            cn_tokens_t **out);


/* The identity from the id_token claims, completed from userinfo (Google)
 * or Graph /me (Microsoft) when they lack something. Google's email counts
 * only with email_verified; Microsoft's `email` claim only with xms_edov,
 * else the userPrincipalName from Graph /me (never `mail`). */
apr_status_t cn_oauth_identity(cn_ctx_t *ctx, const cn_integration_t *it,
                               const cn_tokens_t *tokens, cn_identity_t **out);

/* Requested scopes missing from GRANTED (space separated); NULL when all are
 * there. Provider spellings are normalised (Google's userinfo.* aliases,
 * Graph URL prefixes; openid/offline_access are not echoed by providers). */
const char *cn_oauth_missing_scope(apr_pool_t *pool, const char *provider, json_t *requested,
                                   const char *granted);

/* Best-effort revocation at the provider (Google only has an endpoint). */
void cn_oauth_revoke(cn_ctx_t *ctx, const cn_integration_t *it, const char *token);

/* The payload of a JWT (a JWS of three segments) as a JSON object, or NULL
 * (no signature check: only for tokens received directly from the
 * provider's token endpoint over TLS). */
json_t *cn_jwt_claims(apr_pool_t *pool, const char *jwt);

/* ---- app permissions upstream (proto/app_oauth.c) ---- */

/* The scope of a Microsoft app-only token: every application permission the
 * tenant's admin consented to. */
#define CN_GRAPH_DEFAULT_SCOPE "https://graph.microsoft.com/.default"

/* Microsoft: an app-only access token by client credentials at TENANT's
 * token endpoint, as IT's client (an adminconsent credential's: see
 * cn_integration_with). Failures: invalid_client (a wrong secret, an app the
 * tenant does not know: no consent there), invalid_grant,
 * provider_not_responding, oauth_provider_error. */
apr_status_t cn_oauth_client_credentials(cn_ctx_t *ctx, const cn_integration_t *it,
                                         const char *tenant, cn_tokens_t **out);

/* Microsoft Graph GET /users/{EMAIL} with the app-only TOKEN of TENANT: the
 * identity of that user (subject TENANT/id, provider_user_id the id, the
 * email its userPrincipalName lowercased). Failures: invalid_grant (no such
 * user), oauth_failed (the consent does not cover reading users),
 * provider_not_responding, oauth_provider_error. */
apr_status_t cn_graph_user(cn_ctx_t *ctx, const char *token, const char *tenant,
                           const char *email, cn_identity_t **out);

/* Google: an access token for USER by a service account (RFC 7523): an
 * assertion signed with KEY's private_key (kid private_key_id, iss
 * client_email, sub USER, scope SCOPE joined, aud the token endpoint, valid
 * one hour), exchanged with grant_type jwt-bearer. Failures:
 * credential_missing_param (a key that cannot sign), invalid_grant,
 * invalid_client (the service account may not act for USER with SCOPE),
 * provider_not_responding, oauth_provider_error. */
apr_status_t cn_oauth_service_account(cn_ctx_t *ctx, json_t *key, const char *user,
                                      json_t *scope, cn_tokens_t **out);

/* ---- the OAuth 2.0 authorization server: protocol pieces ---- */
/* What GET /auth and POST /token read and answer, without the store: PKCE
 * (RFC 7636, and the form the Nylas SDKs send), request parameters, scope
 * strings, and the RFC 6749 names of failures. */

/* Verifier lengths: RFC 7636's form, and the hex form's shorter minimum. */
#define CN_PKCE_VERIFIER_MIN 43
#define CN_PKCE_HEX_VERIFIER_MIN 32
#define CN_PKCE_VERIFIER_MAX 128

/* The code_challenge_method as an authorization request names it ("plain"
 * or "S256", in any case; NULL: plain, RFC 7636's default), normalised to
 * "plain" or "S256"; NULL when it is neither. */
const char *cn_pkce_method(const char *method);

/* base64url(SHA-256(VERIFIER)) without padding: RFC 7636's S256 challenge. */
const char *cn_pkce_s256(apr_pool_t *pool, const char *verifier);

/* base64(lowercase hex of SHA-256(VERIFIER)) without padding, standard
 * alphabet: the S256 challenge of seed 004's example and of the Nylas SDKs
 * (86 characters). */
const char *cn_pkce_s256_hex(apr_pool_t *pool, const char *verifier);

/* APR_SUCCESS when CHALLENGE may be stored for METHOD (normalised): plain,
 * 43-128 unreserved characters; S256, 43 base64url characters (RFC 7636) or
 * 86 base64 characters (the hex form). APR_EINVAL with *WHY otherwise. */
apr_status_t cn_pkce_challenge_check(const char *challenge, const char *method,
                                     const char **why);

/* APR_SUCCESS when VERIFIER answers CHALLENGE by METHOD (normalised; the
 * challenge's length tells the S256 forms apart), compared in constant time.
 * A verifier is 43-128 unreserved characters (RFC 7636 §4.1), 32-128 for the
 * hex form. APR_EINVAL with *WHY (never quoting either value) otherwise. */
apr_status_t cn_pkce_verify(apr_pool_t *pool, const char *challenge, const char *method,
                            const char *verifier, const char **why);

/* The parameters of an OAuth 2.0 request body (POST /token, POST /revoke) of
 * CONTENT_TYPE (the header as sent; parameters such as charset ignored):
 * application/x-www-form-urlencoded, decoded strictly (a bad
 * percent-escape, a NUL, an empty name are refused), or a JSON object
 * whose values are strings. No name may come twice (RFC 6749 §3.2); at most
 * CN_OAUTH_PARAMS_MAX of them. An empty body is an empty table. APR_EINVAL
 * with *WHY (never quoting the input) otherwise. */
#define CN_OAUTH_PARAMS_MAX 64
apr_status_t cn_oauth_params_parse(apr_pool_t *pool, const char *content_type, const char *body,
                                   apr_size_t len, apr_table_t **out, const char **why);

/* A space-delimited scope (RFC 6749 §3.3) as a JSON array of its tokens
 * (duplicates dropped), or NULL when it is not one: a token of characters
 * outside %x21 / %x23-5B / %x5D-7E, longer than 512 bytes, or more than 100. */
json_t *cn_oauth_scope_parse(apr_pool_t *pool, const char *scope);

/* A JSON array of strings as one space-delimited string. */
const char *cn_oauth_scope_string(apr_pool_t *pool, const json_t *scope);

/* The RFC 6749 §5.2 error of a failed token or revocation request with event
 * EV, and its HTTP status (*STATUS): invalid_request, invalid_client (401),
 * invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope;
 * server_error (500) and temporarily_unavailable (503) for the rest. */
const char *cn_oauth_token_error(const cn_event_t *ev, int *status);

/* The RFC 6749 §4.1.2.1 error an authorization request's redirect carries for
 * event EV: access_denied for a refused consent or sign-in, invalid_request,
 * invalid_scope, unsupported_response_type, temporarily_unavailable, else
 * server_error (an upstream failure is the server's, never the client's). */
const char *cn_oauth_authorize_error(const cn_event_t *ev);

/* An error_description for RES: its event's type and code, and its
 * description (or the event's message), in the characters RFC 6749 allows
 * (%x20-21 / %x23-5B / %x5D-7E), at most 300 bytes. */
const char *cn_oauth_error_description(apr_pool_t *pool, const cn_result_t *res);

/* ---- JOSE: the keys that sign id_tokens (ConnectSigningKey) ---- */

/* The signing keys: the first signs, all are published in the JWKS. */

/* Load the private key of each PEM file in PATHS (RSA of at least 2048
 * bits: RS256; P-256: ES256), in order. APR_EINVAL with *ERR (naming the
 * file, never key material) for an unreadable, unparsable or weak key.
 * No paths: *OUT is NULL (no id_tokens; an empty JWKS). */
apr_status_t cn_jose_keys_load(apr_pool_t *pool, const apr_array_header_t *paths,
                               cn_signing_keys_t **out, const char **err);

/* CLAIMS (a JSON object) as a JWS compact serialisation signed with the
 * first key (header: alg, kid = RFC 7638 thumbprint, typ JWT). */
apr_status_t cn_jose_sign(apr_pool_t *pool, const cn_signing_keys_t *keys, json_t *claims,
                          const char **jwt);

/* The longest JWS cn_jose_verify reads. */
#define CN_JWS_MAX 8192

/* The claims (a JSON object, in *CLAIMS) of JWT, a JWS compact serialisation
 * of at most CN_JWS_MAX bytes signed by one of KEYS: the key its header's kid
 * names (without a kid, each key of its alg), its alg that key's own (RS256,
 * ES256; never none), the signature good. APR_EINVAL otherwise, with the
 * reason in *WHY (may be NULL; never any of the token). The claims are not
 * judged here (iss, aud, exp: the caller's). */
apr_status_t cn_jose_verify(apr_pool_t *pool, const cn_signing_keys_t *keys, const char *jwt,
                            json_t **claims, const char **why);

/* CLAIMS as a JWS compact serialisation signed RS256 with PEM, an
 * unencrypted RSA private key of at least 2048 bits (PKCS#8 or PKCS#1, as a
 * Google service account's key JSON holds it), its header kid KID and typ
 * JWT. APR_EINVAL with *WHY (never any key material) when PEM is not such a
 * key. */
apr_status_t cn_jose_sign_rs256_pem(apr_pool_t *pool, const char *pem, const char *kid,
                                    json_t *claims, const char **jwt, const char **why);

/* The JWK set of the public keys ({"keys":[...]}, each with kid, alg, use sig). */
json_t *cn_jose_jwks(apr_pool_t *pool, const cn_signing_keys_t *keys);

/* The algorithms of the keys (RS256, ES256), for discovery. */
json_t *cn_jose_algs(apr_pool_t *pool, const cn_signing_keys_t *keys);

/* ---- OpenID Connect discovery ---- */

/* The OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414) of
 * the issuer BASE_URL (ConnectBaseURL): its endpoints below it, what the
 * authorization server supports, and the algorithms of KEYS (may be NULL:
 * an empty list). */
json_t *cn_oidc_discovery(apr_pool_t *pool, const char *base_url,
                          const cn_signing_keys_t *keys);

/* ---- OAuth 1.0a request signatures (RFC 5849): the Context.IO API ---- */

#define CN_OAUTH1_WINDOW 300       /* seconds a timestamp may be off the server's time */
#define CN_OAUTH1_PARAMS_MAX 200   /* parameters of one signed request */
#define CN_OAUTH1_HEADER_MAX 8192  /* bytes of an Authorization header */
#define CN_OAUTH1_NONCE_MAX 255

/* One request parameter, decoded; duplicates and their order are kept. */
typedef struct cn_oauth1_param_t {
    const char *name;
    const char *value;
} cn_oauth1_param_t;

/* A request as the signer saw it. */
typedef struct cn_oauth1_request_t {
    const char *method;        /* "GET", "POST", ... */
    const char *authorization; /* the Authorization header, or NULL */
    const char *query;         /* the raw query string, or NULL */
    const char *form;          /* an application/x-www-form-urlencoded body, or NULL */
    apr_size_t form_len;
} cn_oauth1_request_t;

/* What a request says about its signature: the protocol parameters and the
 * parameters of its base string. */
typedef struct cn_oauth1_signed_t {
    const char *consumer_key, *token, *signature, *signature_method, *timestamp, *nonce,
        *version;                      /* token and version may be NULL */
    apr_array_header_t *params;        /* cn_oauth1_param_t: header (no realm), query, form */
    apr_array_header_t *dedup_params;  /* the same counting a form parameter that is also in
                                        * the query string once (the PHP client), or NULL */
    int from_header;
} cn_oauth1_signed_t;

/* S percent-encoded per RFC 5849 §3.6 (all but A-Z a-z 0-9 - . _ ~, upper
 * case hex digits); NULL when out of memory. */
const char *cn_oauth1_encode(apr_pool_t *pool, const char *s);

/* The parameters of an `Authorization: OAuth ...` header (§3.5.1: name="value"
 * pairs separated by commas and optional white space, percent-decoded, realm
 * left out), each name at most once. APR_EINVAL with *WHY otherwise. */
apr_status_t cn_oauth1_header_parse(apr_pool_t *pool, const char *header,
                                    apr_array_header_t **out, const char **why);

/* The pairs of an application/x-www-form-urlencoded string S[LEN] (a query
 * string or a form body; '+' is a space), appended to OUT in order. A bad
 * escape, a NUL or more than CN_OAUTH1_PARAMS_MAX pairs: APR_EINVAL. */
apr_status_t cn_oauth1_form_parse(apr_pool_t *pool, const char *s, apr_size_t len,
                                  apr_array_header_t *out, const char **why);

/* §3.4.1.2: scheme and host in lower case, the port unless it is the
 * scheme's default (PORT <= 0: none), the path ("/" when empty). */
const char *cn_oauth1_base_uri(apr_pool_t *pool, const char *scheme, const char *host, int port,
                               const char *path);

/* §3.4.1: the signature base string of METHOD (upper-cased), BASE_URI and
 * PARAMS (oauth_signature left out; names and values encoded, then sorted
 * by name and value). NULL when out of memory. */
const char *cn_oauth1_base_string(apr_pool_t *pool, const char *method, const char *base_uri,
                                  const apr_array_header_t *params);

/* §3.4.2: base64 of HMAC-SHA1(enc(CONSUMER_SECRET)&enc(TOKEN_SECRET), BASE);
 * a NULL secret is empty. */
const char *cn_oauth1_sign(apr_pool_t *pool, const char *base, const char *consumer_secret,
                           const char *token_secret);

/* The signature parameters of REQ: from the header when it has the OAuth
 * scheme, else the query string, else the form; the base string's parameters
 * from all three. A protocol parameter given twice, a missing one, or a
 * malformed source: APR_EINVAL with *WHY. */
apr_status_t cn_oauth1_collect(apr_pool_t *pool, const cn_oauth1_request_t *req,
                               cn_oauth1_signed_t **out, const char **why);

/* The checks that need no secret: HMAC-SHA1, version 1.0 when given, a
 * timestamp within CN_OAUTH1_WINDOW of NOW, a nonce of 1-255 characters. */
apr_status_t cn_oauth1_check_fields(const cn_oauth1_signed_t *s, apr_int64_t now,
                                    const char **why);

/* True when S's signature is that of METHOD and BASE_URI with the secrets,
 * for its parameters or (the PHP client's duplicates) its dedup_params;
 * compared in constant time. */
int cn_oauth1_signature_valid(apr_pool_t *pool, const cn_oauth1_signed_t *s, const char *method,
                              const char *base_uri, const char *consumer_secret,
                              const char *token_secret);

/* Spend S's nonce in ctx->cache (consumer, token, timestamp, nonce, for
 * twice the window): invalid_request_error when it was spent before;
 * service_unavailable when there is no cache or it fails (fail closed). */
apr_status_t cn_oauth1_nonce_spend(cn_ctx_t *ctx, const cn_oauth1_signed_t *s);

#endif
