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
     * cap, APR_EGENERAL for other transport failures. */
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

#endif
