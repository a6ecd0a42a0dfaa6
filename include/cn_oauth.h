/* The upstream side of OAuth 2.0: provider endpoints, the authorize URL,
 * token requests (code and refresh), identity, revocation. Provider answers
 * become cn_result_t failures with the seed's event types. */
#ifndef CN_OAUTH_H
#define CN_OAUTH_H

#include <jansson.h>

#include "cn_service.h"

typedef struct cn_oauth_tokens_t {
    const char *access_token;
    const char *refresh_token; /* may be NULL */
    const char *id_token;      /* may be NULL */
    const char *scope;         /* space separated, as granted; may be NULL */
    long expires_in;
    json_t *claims;            /* the id_token's payload, or NULL */
} cn_oauth_tokens_t;

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
                            cn_oauth_tokens_t **out);

/* Who signed in. A grant is keyed by SUBJECT, what the provider guarantees
 * stable and unique (Google: sub; Microsoft: tid/oid), never by the email,
 * which a user or a tenant admin may set. */
typedef struct cn_oauth_identity_t {
    const char *subject;        /* the grant's key */
    const char *legacy_subject; /* the key a grant of schema 4 has (Microsoft: the oid) */
    const char *user_id;        /* provider_user_id: Google's sub, Microsoft's oid */
    const char *email;          /* lowercased; only an address the provider vouches for */
} cn_oauth_identity_t;

/* The identity from the id_token claims, completed from userinfo (Google)
 * or Graph /me (Microsoft) when they lack something. Google's email counts
 * only with email_verified; Microsoft's `email` claim only with xms_edov,
 * else the userPrincipalName from Graph /me (never `mail`). */
apr_status_t cn_oauth_identity(cn_ctx_t *ctx, const cn_integration_t *it,
                               const cn_oauth_tokens_t *tokens, cn_oauth_identity_t **out);

/* Requested scopes missing from GRANTED (space separated); NULL when all are
 * there. Provider spellings are normalised (Google's userinfo.* aliases,
 * Graph URL prefixes; openid/offline_access are not echoed by providers). */
const char *cn_oauth_missing_scope(apr_pool_t *pool, const char *provider, json_t *requested,
                                   const char *granted);

/* Best-effort revocation at the provider (Google only has an endpoint). */
void cn_oauth_revoke(cn_ctx_t *ctx, const cn_integration_t *it, const char *token);

/* The payload of a JWT as JSON (no signature check: only for tokens received
 * directly from the provider's token endpoint over TLS). */
json_t *cn_jwt_claims(apr_pool_t *pool, const char *jwt);

#endif
