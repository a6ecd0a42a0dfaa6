/* The stored things and what the API does with them: integrations,
 * credentials, grants and their settings, hosted login requests, the event
 * log. Each operation takes a context (cn_core.h) and returns APR_SUCCESS
 * with its result, or a failure described in ctx->res. */
#ifndef CN_MODEL_H
#define CN_MODEL_H

#include <apr_pools.h>
#include <jansson.h>

#include "cn_core.h"

/* ---- what an upstream step proved: provider tokens and who signed in ---- */

typedef struct cn_tokens_t {
    const char *access_token;
    const char *refresh_token; /* may be NULL */
    const char *id_token;      /* may be NULL */
    const char *scope;         /* space separated, as granted; may be NULL */
    long expires_in;
    json_t *claims;            /* the id_token's payload, or NULL */
} cn_tokens_t;

/* Who signed in. A grant is keyed by SUBJECT, what the provider guarantees
 * stable and unique (Google: sub; Microsoft: tid/oid), never by the email,
 * which a user or a tenant admin may set. */
typedef struct cn_identity_t {
    const char *subject;        /* the grant's key */
    const char *legacy_subject; /* the key a grant of schema 4 has (Microsoft: the oid) */
    const char *user_id;        /* provider_user_id: Google's sub, Microsoft's oid */
    const char *email;          /* lowercased; only an address the provider vouches for */
} cn_identity_t;

/* The providers an integration can be made for (a row each), and what
 * they can do. */
#define CN_PROVIDER_OAUTH 0x1    /* OAuth 2.0 sign-in (hosted) and refresh tokens (native) */
#define CN_PROVIDER_PASSWORD 0x2 /* a mailbox password (IMAP) */
typedef struct cn_provider_t {
    const char *name;
    unsigned caps;
} cn_provider_t;

/* The row of NAME, or NULL when no such provider is supported. */
const cn_provider_t *cn_provider(const char *name);
/* True when NAME is supported and can do all of CAPS. */
int cn_provider_can(const char *name, unsigned caps);

/* Paging: LIMIT and OFFSET query values; defaults 10 and 0, limit 1..200. */
apr_status_t cn_paging_parse(cn_ctx_t *ctx, const char *limit, const char *offset, int *lim,
                             int *off);

/* Integrations (one per provider per application). */
apr_status_t cn_integration_create(cn_ctx_t *ctx, json_t *body, json_t **out);
apr_status_t cn_integration_list(cn_ctx_t *ctx, int limit, int offset, json_t **out);
apr_status_t cn_integration_read(cn_ctx_t *ctx, const char *provider, json_t **out);
apr_status_t cn_integration_update(cn_ctx_t *ctx, const char *provider, json_t *body,
                                   json_t **out);
apr_status_t cn_integration_delete(cn_ctx_t *ctx, const char *provider);

/* The integration row of (app, provider): id and sealed client secret are
 * what later flows need. APR_ENOENT when there is none. */
typedef struct cn_integration_t {
    const char *id, *app_id, *provider, *name;
    json_t *settings;            /* without client_secret */
    const char *client_secret;   /* sealed, may be NULL */
    json_t *redirect_uris, *scope;
    int expires_in;
    apr_int64_t created_at, updated_at;
    /* When a credential stands in for the integration's own provider app
     * (cn_integration_with): its id, and its client secret opened (which
     * cn_integration_secret then answers). NULL otherwise. */
    const char *credential_id, *credential_secret;
} cn_integration_t;
apr_status_t cn_integration_load(cn_ctx_t *ctx, const char *provider, cn_integration_t **out);

/* The same for an operation that needs it: a missing integration (or an
 * unknown provider) fails with integration_not_found, a database error with
 * internal_error, both in ctx->res. */
apr_status_t cn_integration_require(cn_ctx_t *ctx, const char *provider, cn_integration_t **out);

/* The application's integrations (oldest first) whose redirect URIs have
 * REDIRECT_URI: what a login screen may offer. */
apr_status_t cn_integration_usable(cn_ctx_t *ctx, const char *redirect_uri,
                                   apr_array_header_t **out);

/* A login screen's prompt (seed: "select_provider,detect"): which parts it
 * shows, in the order given. APR_EINVAL for anything else. NULL or "": none. */
typedef struct cn_prompt_t {
    int select, detect, detect_first;
} cn_prompt_t;
apr_status_t cn_prompt_parse(const char *prompt, cn_prompt_t *out);

/* Credentials of an integration. */
apr_status_t cn_credential_create(cn_ctx_t *ctx, const char *provider, json_t *body,
                                  json_t **out);
apr_status_t cn_credential_list(cn_ctx_t *ctx, const char *provider, int limit, int offset,
                                const char *sort_by, const char *order_by, json_t **out);
apr_status_t cn_credential_read(cn_ctx_t *ctx, const char *provider, const char *id,
                                json_t **out);
apr_status_t cn_credential_update(cn_ctx_t *ctx, const char *provider, const char *id,
                                  json_t *body, json_t **out);
apr_status_t cn_credential_delete(cn_ctx_t *ctx, const char *provider, const char *id);

/* ---- credentials in use: app permissions and integration credentials ---- */

/* A credential as a flow or a grant uses it. */
typedef struct cn_credential_t {
    const char *id, *integration_id, *type, *name;
    json_t *data;                 /* credential_data opened: never logged, never returned */
    const char *consented_tenant; /* adminconsent: the tenant whose admin consented, or NULL */
} cn_credential_t;

/* The kinds of credential (seed "Credentials"). */
#define CN_CRED_ADMINCONSENT "adminconsent"     /* Microsoft app permissions */
#define CN_CRED_SERVICEACCOUNT "serviceaccount" /* Google service accounts */
#define CN_CRED_INTEGRATION "integration"       /* another provider app of the integration */

/* Credential ID of integration IT with its data opened (in a database
 * section). Unknown, or another integration's: credential_not_found. */
apr_status_t cn_credential_use(cn_ctx_t *ctx, const cn_integration_t *it, const char *id,
                               cn_credential_t **out);

/* A copy of IT made for CRED: its credential_id set and, for a credential
 * with a client_id and a client_secret (integration, adminconsent), those in
 * place of the integration's own. NULL when that data is missing. */
cn_integration_t *cn_integration_with(apr_pool_t *pool, const cn_integration_t *it,
                                      const cn_credential_t *cred);

/* Admin consent given: CRED's consented tenant is TENANT from now on (in a
 * database section). */
apr_status_t cn_credential_consented(cn_ctx_t *ctx, const cn_credential_t *cred,
                                     const char *tenant);

/* Re-seal every stored secret not sealed with the ring's first key, in one
 * transaction. *COUNT gets the number of values re-sealed. */
apr_status_t cn_store_reencrypt(cn_ctx_t *ctx, int *count);

/* Grants, hosted login requests and recorded events. */

typedef struct cn_grant_t {
    const char *id, *app_id, *integration_id, *provider, *email, *grant_status;
    json_t *scope;
    const char *user_agent, *ip, *state, *provider_user_id;
    const char *subject;       /* the provider identity: the grant's key, never shown */
    json_t *settings;          /* NULL until parsed from settings_text */
    const char *settings_text;
    const char *refresh_token, *access_token; /* sealed */
    apr_int64_t access_expires_at, created_at, updated_at;
} cn_grant_t;

typedef struct cn_grant_query_t {
    int limit, offset;
    const char *sort_by, *order_by; /* created_at|updated_at, asc|desc */
    apr_int64_t since, before;      /* created_at window */
    const char *email, *grant_status, *ip, *provider; /* "" or NULL: any */
} cn_grant_query_t;

/* Parse the list's query values (strings or NULL) into Q. */
apr_status_t cn_grant_query_parse(cn_ctx_t *ctx, const char *sort_by, const char *order_by,
                                  const char *since, const char *before, const char *email,
                                  const char *grant_status, const char *ip, const char *provider,
                                  cn_grant_query_t *q);

/* The grant as the API shows it: never a token or a password. A grant of a
 * password provider (IMAP) shows its settings (where the mailbox is), their
 * secret-bearing keys left out. */
json_t *cn_grant_json(apr_pool_t *pool, const cn_grant_t *g);
apr_status_t cn_grant_list(cn_ctx_t *ctx, const cn_grant_query_t *q, cn_text_t **items, int *count);
apr_status_t cn_grant_load(cn_ctx_t *ctx, const char *id, cn_grant_t **out); /* grant_not_found */
apr_status_t cn_grant_update(cn_ctx_t *ctx, const char *id, json_t *body, json_t **out);
/* Deletes the grant and its secrets; *REFRESH gets the opened refresh token
 * (or NULL) so the caller can revoke it upstream once the database is free. */
apr_status_t cn_grant_delete(cn_ctx_t *ctx, const char *id, cn_grant_t **gone,
                             const char **refresh);

/* ---- grant settings ---- */

#define CN_GRANT_SETTINGS_MAX 16384 /* bytes of a grant's stored settings (compact JSON) */

/* True when the values of settings key KEY are secrets (refresh_token,
 * access_token, password, imap_password, smtp_password, client_secret; in any
 * case): never stored in the clear, never returned. */
int cn_grant_setting_is_secret(const char *key);

/* The AAD of secret KEY in the settings of grant GRANT_ID:
 * "grants.settings.<key>.<grant id>". */
const char *cn_grant_setting_aad(apr_pool_t *pool, const char *grant_id, const char *key);

/* The settings of grant GRANT_ID once PATCH is merged into STORED (top-level
 * keys replace), as a new object in *MERGED; STORED is not changed. Secret
 * values are sealed in place, except refresh_token, which is left out and
 * handed back in *REFRESH (or NULL) for its own column. APR_EINVAL: a secret
 * is not a non-empty string, or sits below the top level; APR_ENOSPC: the
 * result would dump to more than MAX bytes; *WHY says which (never with a
 * value). APR_EGENERAL: sealing failed. */
apr_status_t cn_grant_settings_merge(apr_pool_t *pool, const cn_keyring_t *ring,
                                     const char *grant_id, const json_t *stored,
                                     const json_t *patch, apr_size_t max, json_t **merged,
                                     const char **refresh, const char **why);

/* ConnectReencrypt for SETTINGS of grant GRANT_ID, in place: secrets sealed
 * with another key than the ring's first are re-sealed with it, secrets kept
 * in the clear (before settings secrets were sealed) are sealed. *CHANGED
 * counts them. APR_EINVAL when a sealed value does not open (*WHY names its
 * key), APR_EGENERAL when sealing fails. */
apr_status_t cn_grant_settings_reseal(apr_pool_t *pool, const cn_keyring_t *ring,
                                      const char *grant_id, json_t *settings, int *changed,
                                      const char **why);

/* What a proof leaves with its grant besides who signed in: the provider's
 * tokens (OAuth), or a mailbox password (IMAP) and the settings that say
 * where the mailbox is. */
typedef struct cn_grant_secrets_t {
    const cn_tokens_t *tokens; /* OAuth: sealed in the refresh_token and access_token columns */
    const char *password;      /* else: the mailbox password, sealed in the refresh_token
                                * column under its own AAD (CN_GRANT_PASSWORD_AAD) */
    json_t *settings;          /* keys set in the grant's settings on creation and re-auth
                                * (a null value removes one); NULL: settings unchanged */
    const char *credential_id; /* the credential the grant is made with (app permissions, an
                                * integration credential), or NULL: the integration's own app */
} cn_grant_secrets_t;

/* The AAD column of a mailbox password kept in a grant's refresh_token
 * column: "grants.imap_password.<grant id>", so it never opens as a refresh
 * token (nor one as a password). */
#define CN_GRANT_PASSWORD_AAD "imap_password"

/* Create the grant of (app, provider, ID's subject) or re-authenticate the
 * existing one, with SECRETS sealed, its settings updated and the email
 * updated, and record the event; in one transaction. REAUTH_ID: the grant a
 * re-auth was asked for (it must belong to the same identity, else
 * reauth_email_invalid). *REAUTHENTICATED tells which happened. */
apr_status_t cn_grant_store(cn_ctx_t *ctx, const cn_integration_t *it, json_t *scope,
                            const char *state, const char *reauth_id,
                            const cn_grant_secrets_t *secrets, const cn_identity_t *id,
                            cn_grant_t **out, int *reauthenticated);

/* ---- a grant's provider access token (POST /grants/{id}/access_token) ---- */

/* Open the sealed value SEALED of G's COLUMN (refresh_token, access_token,
 * or CN_GRANT_PASSWORD_AAD); internal_error when it does not open. */
apr_status_t cn_grant_secret_open(cn_ctx_t *ctx, const cn_grant_t *g, const char *column,
                                  const char *sealed, const char **plain);
/* Take G's refresh lease until UNTIL, in a short transaction: only when no
 * lease runs at NOW, the grant is valid and its access token is missing or
 * expires before STALE_BEFORE. *WON tells whether this caller took it. */
apr_status_t cn_grant_lease(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t now,
                            apr_int64_t until, apr_int64_t stale_before, int *won);
/* The same lease for the refresh of a grant whose refresh token went unused
 * (no refresh, no sign-in) since before UNUSED_BEFORE, whatever its access
 * token (the refresh job). */
apr_status_t cn_grant_lease_unused(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t now,
                                   apr_int64_t until, apr_int64_t unused_before, int *won);
/* A refresh under the lease taken until UNTIL failed: the lease given back,
 * FAILURES (in a row) and the cool-down's end RETRY_AT stored; until then
 * no lease is taken for G. */
apr_status_t cn_grant_refresh_failed(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t until,
                                     int failures, apr_int64_t retry_at);
/* G's failed refreshes in a row and the end of its cool-down (0: none). */
apr_status_t cn_grant_refresh_state(cn_ctx_t *ctx, const cn_grant_t *g, int *failures,
                                    apr_int64_t *retry_at);
/* Give back the lease taken until UNTIL (a failed refresh). */
apr_status_t cn_grant_lease_release(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t until);
/* Store the refreshed tokens T sealed in G (and in its row), releasing the
 * lease and ending any cool-down (refreshed at ctx->now); a T without a
 * refresh token keeps the stored one. */
apr_status_t cn_grant_tokens_refreshed(cn_ctx_t *ctx, cn_grant_t *g, const cn_tokens_t *t);
/* The provider refused G's refresh token: G becomes invalid and the event
 * grant_expired is recorded, in one transaction. */
apr_status_t cn_grant_invalidate(cn_ctx_t *ctx, cn_grant_t *g);

/* The credential grant G was made with, or NULL (in a database section). */
apr_status_t cn_grant_credential_id(cn_ctx_t *ctx, const cn_grant_t *g, const char **id);

/* The integration of grant G as its provider calls use it: with the client
 * of the integration credential G was made with (cn_integration_with), else
 * its own; integration_not_found, or credential_not_found when G's credential
 * is gone (in a database section). */
apr_status_t cn_grant_integration(cn_ctx_t *ctx, const cn_grant_t *g, cn_integration_t **it);

/* Native authentication, phase 1 (database): validate BODY, load the
 * integration and open its client secret. */
apr_status_t cn_grant_native_prepare(cn_ctx_t *ctx, json_t *body, cn_integration_t **it,
                                     const char **client_secret, const char **refresh,
                                     json_t **scope, const char **state);

/* Open the sealed client secret of an integration. */
apr_status_t cn_integration_secret(cn_ctx_t *ctx, const cn_integration_t *it,
                                   const char **secret);

/* ---- hosted login requests ---- */

/* The kinds of login request: what began it (a flow kind's name). */
#define CN_LOGIN_HOSTED "hosted"       /* POST /auth; its id is handed out for GET /login */
#define CN_LOGIN_AUTHORIZE "authorize" /* GET /auth; its id is never handed out */
#define CN_LOGIN_ADMINCONSENT "adminconsent" /* GET /auth?response_type=adminconsent; the same */

typedef struct cn_login_t {
    const char *digest, *kind, *app_id, *integration_id, *provider;
    json_t *request; /* redirect_uri, scope[], state, login_hint, grant_id, cookie_nonce;
                      * an authorization request's own fields besides (cn_flow_authorize_begin) */
    apr_int64_t expires_at, used_at;
} cn_login_t;

/* Store LOGIN (digest, kind, app, integration, provider, request,
 * expires_at), not yet used. */
apr_status_t cn_login_save(cn_ctx_t *ctx, const cn_login_t *login);

/* POST /auth: validate, store a new single-use login request, answer with
 * its url, id, expires_at and request. */
apr_status_t cn_login_create(cn_ctx_t *ctx, json_t *body, json_t **out);

/* GET /login, before anything is written: login ID as it stands (unknown,
 * used or expired → login_id_invalid; a cookie_nonce request needs
 * COOKIE_NONCE to match). Spends nothing: a HEAD or a failed session write
 * leaves the link usable. */
apr_status_t cn_login_check(cn_ctx_t *ctx, const char *id, const char *cookie_nonce,
                            cn_login_t **login);

/* GET /login, once the browser's session holds the flow: spend LOGIN (of two
 * concurrent visits one wins; the other gets login_id_invalid) for its
 * provider and integration (a login screen's login takes the ones chosen:
 * LOGIN->provider and ->integration_id set before), and load its
 * integration (gone → integration_no_longer_exists; the redirect URI no
 * longer allowed → redirect_uri_not_allowed). */
apr_status_t cn_login_spend(cn_ctx_t *ctx, cn_login_t *login, cn_integration_t **it);

/* GET /callback: the spent login request of KIND (by digest) and its
 * integration; marks it called back, once (a second call, or another kind →
 * login_id_invalid). */
apr_status_t cn_login_by_digest(cn_ctx_t *ctx, const char *kind, const char *digest,
                                cn_login_t **login, cn_integration_t **it);

/* Record an event of TYPE (seed event table) with DATA (may be NULL). */
apr_status_t cn_event_record(cn_ctx_t *ctx, cn_event_id_t type, const char *level,
                             json_t *data);

/* ---- the OAuth 2.0 authorization server: codes and tokens (GET /auth, POST /token) ---- */

/* What an authorization request (GET /auth) asked, kept with its code. */
typedef struct cn_code_request_t {
    const char *client_id;
    const char *redirect_uri;          /* exactly as the request had it */
    const char *scope;                 /* space separated, as granted to the grant */
    const char *nonce;                 /* for the id_token, or NULL */
    const char *code_challenge;        /* or NULL */
    const char *code_challenge_method; /* "S256" or "plain" as sent (any case), or NULL */
    int offline;                       /* access_type=offline: a refresh token may be issued */
    long token_expires_in;             /* seconds the access token lives (300-86400; 0: 3600) */
    apr_int64_t auth_time;             /* when the user signed in at the provider */
} cn_code_request_t;

/* A new authorization code for GRANT_ID of the calling application
 * (ctx->app_id), with what REQ asked: 256 random bits with a recognizable
 * prefix, stored only as its SHA-256, single use, valid 10 minutes. In the
 * caller's database section. */
apr_status_t cn_code_issue(cn_ctx_t *ctx, const char *grant_id, const cn_code_request_t *req,
                           const char **code);

/* Lifetimes (seconds) and the prefixes that make the module's secrets
 * recognizable (in a leaked log or a repository scan). Each secret is the
 * prefix and 256 random bits in base64url; the store keeps its SHA-256. */
#define CN_CODE_TTL 600
#define CN_ACCESS_TTL_DEFAULT 3600
#define CN_ACCESS_TTL_MIN 300
#define CN_ACCESS_TTL_MAX 86400
#define CN_REFRESH_TTL (90 * 86400) /* each use issues a new one for as long again */
#define CN_CODE_PREFIX "cnac_"
#define CN_ACCESS_PREFIX "cnat_"
#define CN_REFRESH_PREFIX "cnrt_"

/* The client of a token or revocation request, as the glue authenticated it. */
typedef struct cn_oauth_client_t {
    const char *client_id; /* a configured application the request names, or NULL */
    int authenticated;     /* it proved its secret */
} cn_oauth_client_t;

/* POST /token with PARAMS (grant_type authorization_code or refresh_token)
 * from CLIENT: *ANSWER is RFC 6749 §5.1's (access_token, expires_in,
 * refresh_token when issued, scope, token_type, id_token when a signing key
 * is configured, grant_id). A code is spent once; a second redemption
 * revokes every token issued from it. A refresh token is exchanged once for
 * a new one of the same family; presenting a spent one revokes the family.
 * Failures in ctx->res with the events invalid_request, invalid_client,
 * invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope
 * (cn_oauth_token_error names them). In one transaction per request. */
apr_status_t cn_token_exchange(cn_ctx_t *ctx, const cn_oauth_client_t *client,
                               const apr_table_t *params, json_t **answer);
/* The same, with *GRANT the grant the tokens were issued for (answers in
 * other layouts name its email and provider). */
apr_status_t cn_token_exchange_grant(cn_ctx_t *ctx, const cn_oauth_client_t *client,
                                     const apr_table_t *params, json_t **answer,
                                     const cn_grant_t **grant);

/* POST /revoke (RFC 7009): TOKEN (an access, refresh or id token) and every
 * token of its family (its siblings and its refresh tokens) revoked. An
 * unknown token is no failure. A CLIENT that names itself must own the
 * token (else unauthorized_client); TOKEN missing: invalid_request. */
apr_status_t cn_token_revoke(cn_ctx_t *ctx, const cn_oauth_client_t *client, const char *token);

/* GET /grants/me: the grant of ACCESS_TOKEN; unknown, revoked or expired →
 * invalid_token. Sets ctx->app_id to the token's application. */
apr_status_t cn_token_grant(cn_ctx_t *ctx, const char *access_token, cn_grant_t **grant);

/* GET /tokeninfo: what ACCESS_TOKEN or ID_TOKEN (exactly one) of the calling
 * application is: iss, aud, sub, email, iat, exp, grant_id, client_id,
 * provider, scope, token_type. Unknown, another application's, revoked or
 * expired → invalid_token; neither or both given → invalid_query_params. */
apr_status_t cn_token_info(cn_ctx_t *ctx, const char *access_token, const char *id_token,
                           json_t **out);

/* Delete expired login requests, codes and tokens (at start-up); *COUNT
 * gets how many rows went. */
apr_status_t cn_oauth_purge(cn_ctx_t *ctx, int *count);

/* ---- the Context.IO 2.0 API: accounts, their sources, connect tokens ---- */

#define CN_CIO_TOKEN_LIFETIME 86400 /* seconds an unused connect token lives */

/* An account: one application's user; its sources are its grants. */
typedef struct cn_cio_account_t {
    const char *id, *app_id, *email, *first_name, *last_name;
    const char *access_token;        /* 3-legged applications: names the account; else NULL */
    const char *access_token_secret; /* sealed (as stored), or NULL */
    apr_int64_t suspended, created_at;
} cn_cio_account_t;

/* The account ID of the application (not_found_error). */
apr_status_t cn_cio_account_load(cn_ctx_t *ctx, const char *id, cn_cio_account_t **out);
/* The account whose access token is ACCESS_TOKEN, and its secret opened
 * (invalid_request_error for an unknown token). */
apr_status_t cn_cio_account_by_access_token(cn_ctx_t *ctx, const char *access_token,
                                            cn_cio_account_t **out, const char **secret);
/* id, created, suspended, email_addresses, first_name, last_name, sources. */
apr_status_t cn_cio_account_json(cn_ctx_t *ctx, const cn_cio_account_t *a, json_t **out);
/* The application's accounts (of EMAIL when given), oldest first. */
apr_status_t cn_cio_account_list(cn_ctx_t *ctx, const char *email, int limit, int offset,
                                 json_t **out);
/* bad_request unless EMAIL is an address and the names short text. */
apr_status_t cn_cio_account_check(cn_ctx_t *ctx, const char *email, const char *first_name,
                                  const char *last_name);
/* A new account, with GRANT_ID (may be NULL) as its source in the same
 * transaction; with THREE_LEGGED an access token and secret (the secret
 * sealed in the row, handed back once in *SECRET). */
apr_status_t cn_cio_account_create(cn_ctx_t *ctx, const char *email, const char *first_name,
                                   const char *last_name, int three_legged, const char *grant_id,
                                   cn_cio_account_t **out, const char **secret);
/* An access token and secret for account ID of a 3-legged application that
 * has none yet (one made by the connect UI): *TOKEN and *SECRET, the secret
 * sealed in the row; both NULL when the account has a token already (it was
 * handed out before: never twice). */
apr_status_t cn_cio_account_issue_token(cn_ctx_t *ctx, const char *id, const char **token,
                                        const char **secret);
/* The account row and its connect tokens gone (its grants are the caller's). */
apr_status_t cn_cio_account_remove(cn_ctx_t *ctx, const char *account_id);
/* The ids of the account's grants (its sources), oldest first. */
apr_status_t cn_cio_account_grant_ids(cn_ctx_t *ctx, const char *account_id,
                                      apr_array_header_t **ids);
/* Grant GRANT_ID becomes a source of ACCOUNT_ID. */
apr_status_t cn_cio_grant_link(cn_ctx_t *ctx, const char *grant_id, const char *account_id);
/* The account's sources in Context.IO's shape (label = the grant id). */
apr_status_t cn_cio_account_sources(cn_ctx_t *ctx, const char *account_id, json_t **out);
apr_status_t cn_cio_source_read(cn_ctx_t *ctx, const char *account_id, const char *label,
                                json_t **out);

/* A connect token as the connect UI needs it. */
typedef struct cn_cio_token_t {
    const char *digest, *token, *app_id, *account_id, *email, *first_name, *last_name;
    const char *callback_url;
    const char *source_callback_url; /* POSTed to once the source is connected, or NULL */
    int for_account;                 /* created under /accounts/{id}: adds a source to it */
    apr_int64_t created_at, expires_at, used_at;
} cn_cio_token_t;

/* The unused, unexpired token whose SHA-256 is DIGEST, its token opened
 * (login_id_invalid otherwise: the browser needs a new link). */
apr_status_t cn_cio_token_by_digest(cn_ctx_t *ctx, const char *digest, cn_cio_token_t **out);
/* The names the user typed on the connect UI's first page, kept on T (its
 * account gets them); bad_request for more than 100 bytes of text each. */
apr_status_t cn_cio_token_names(cn_ctx_t *ctx, cn_cio_token_t *t, const char *first_name,
                                const char *last_name);
/* T used by GRANT (the connect UI's end), in one transaction: a new account
 * (T's email, else the grant's, and T's names), or T's account for an
 * account-scoped token, gets the grant as a source, and T is marked used by
 * it; a token used meanwhile is login_id_invalid and nothing changes.
 * *ACCOUNT_ID gets the account. */
apr_status_t cn_cio_token_use(cn_ctx_t *ctx, const cn_cio_token_t *t, const cn_grant_t *grant,
                              const char **account_id);

/* POST /connect_tokens (ACCOUNT_ID NULL) or /accounts/{id}/connect_tokens:
 * PARAMS (query and form, oauth_* ignored) checked; *TOKEN the new token. */
apr_status_t cn_cio_token_create(cn_ctx_t *ctx, const char *account_id,
                                 const apr_table_t *params, const char **token);
/* Seed 000's token object; ACCOUNT_ID NULL finds account-scoped tokens too. */
apr_status_t cn_cio_token_read(cn_ctx_t *ctx, const char *account_id, const char *token,
                               json_t **out);
apr_status_t cn_cio_token_list(cn_ctx_t *ctx, const char *account_id, json_t **out);
apr_status_t cn_cio_token_delete(cn_ctx_t *ctx, const char *account_id, const char *token);

#endif
