/* The flow engine: every way a mailbox gets connected is one flow.
 *
 * Something starts it (GET /login of a hosted login request, GET /auth), the
 * browser carries it in one sealed session value keyed by its state, an
 * upstream step proves the mailbox (today the OAuth 2.0 code exchange), and
 * a finisher stores the result and tells the application (a redirect with
 * grant_id, or with an authorization code). Steps and the kinds of flow are rows of small tables of
 * function pointers (flow/engine.c): a new way in or out is a new row.
 *
 * The engine opens and closes short database sections through the
 * context's seam and never holds a handle while it talks to a provider. */
#ifndef CN_FLOW_H
#define CN_FLOW_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "cn_core.h"
#include "cn_model.h"

/* Prefix of the session keys of flows; at most this many flows per browser
 * session (the oldest goes when another starts). */
#define CN_FLOW_SESSION_PREFIX "connect-flow-"
#define CN_FLOWS_PER_SESSION 4

/* One flow, as the browser's session carries it (sealed). */
typedef struct cn_flow_t {
    const char *kind;           /* a row of the kinds table: "hosted", "authorize" */
    const char *app_id;
    const char *integration_id;
    const char *provider;
    const char *origin;         /* what started it, as its kind knows it (hosted: the login's digest) */
    const char *state;          /* sent upstream; 256 random bits */
    const char *verifier;       /* the upstream PKCE verifier (S256) */
    apr_int64_t created, deadline;
    const char *login_hint;     /* the address to sign in, when known (may be NULL) */
    const char *mail_type;      /* the application's hint of the mailbox's kind (seed
                                 * settings.type, e.g. yahoo), or NULL */
    const char *return_origin;  /* the origin of the application's redirect URI (a form's
                                 * answer may redirect there), or NULL */
    const void *loaded;         /* what began it loaded, for its launch in the same request (not sealed) */
} cn_flow_t;

/* What started a flow, loaded anew when it goes on. */
typedef struct cn_flow_origin_t {
    cn_integration_t *it;       /* as it is now */
    json_t *scope;              /* what the application asked for */
    const char *redirect_uri;   /* the application's, still one of the integration's */
    const char *app_state;      /* the application's own state */
    const char *login_hint;
    const char *reauth_grant_id;
    void *data;                 /* the kind's own (hosted: the cn_login_t) */
} cn_flow_origin_t;

/* What an upstream step proved: provider tokens (OAuth) or a mailbox
 * password (IMAP), and who signed in when the step knows it itself (else the
 * engine asks the provider with the tokens). */
typedef struct cn_flow_proof_t {
    cn_tokens_t *tokens;
    cn_identity_t *id;
    const char *retry_field;    /* a form step's APR_EAGAIN: the field at fault, or NULL */
    const char *password; /* IMAP: sealed as the grant's secret; tokens is NULL then */
    json_t *settings;     /* set in the grant's settings (IMAP: where the mailbox is), or NULL */
    const char *consented_tenant; /* admin consent: the tenant whose admin consented */
} cn_flow_proof_t;

/* An upstream step: how a mailbox is proven. */
typedef struct cn_flow_step_t {
    const char *name;
    unsigned caps; /* the providers it serves: CN_PROVIDER_* of cn_provider_t */
    /* 1: the browser proves the mailbox in a form the module serves (start
     * sends it there). Its FINISH runs on each submission before the origin
     * is resumed, with only ORIGIN->it and ->login_hint set, and may answer
     * APR_EAGAIN: show the form again (ctx->res says why, PROOF->retry_field
     * which field), the flow goes on. */
    int form;
    /* Where the browser goes to prove it (no database handle held). */
    apr_status_t (*start)(cn_ctx_t *ctx, const cn_flow_t *flow, const cn_flow_origin_t *origin,
                          const char **location);
    /* What came back (the callback's query) as a proof (no database handle held). */
    apr_status_t (*finish)(cn_ctx_t *ctx, const cn_flow_t *flow, const cn_flow_origin_t *origin,
                           const apr_table_t *query, cn_flow_proof_t *proof);
} cn_flow_step_t;

/* A kind of flow: what starts it and what the application hears at its end. */
typedef struct cn_flow_kind_t {
    const char *name;
    /* Spend what started the flow, once its session value is written, and
     * load the origin (in a database section). */
    apr_status_t (*claim)(cn_ctx_t *ctx, const cn_flow_t *flow, cn_flow_origin_t *origin);
    /* At the callback: the origin again, as it is now; accepted once (in a
     * database section). A failure here is a page: the application's
     * redirect URI is not known to be good. */
    apr_status_t (*resume)(cn_ctx_t *ctx, const cn_flow_t *flow, cn_flow_origin_t *origin);
    /* The proven mailbox stored; where the browser goes. */
    apr_status_t (*done)(cn_ctx_t *ctx, const cn_flow_t *flow, const cn_flow_origin_t *origin,
                         const cn_flow_proof_t *proof, const char **location);
    /* Where the browser goes to tell the application of the failure in ctx->res. */
    const char *(*failed)(cn_ctx_t *ctx, const cn_flow_t *flow, const cn_flow_origin_t *origin);
} cn_flow_kind_t;

/* The rows (flow/engine.c): NULL when there is none. */
const cn_flow_kind_t *cn_flow_kind(const char *name);
const cn_flow_step_t *cn_flow_step_for(const char *provider);

/* A new flow of KIND: fresh state and PKCE verifier, created now. */
apr_status_t cn_flow_new(cn_ctx_t *ctx, const char *kind, cn_flow_t **out);

/* ---- the flow in the browser's session ---- */

/* The session key of the flow whose state is STATE:
 * CN_FLOW_SESSION_PREFIX + the first 8 hex digits of SHA-256(state). */
const char *cn_flow_session_key(apr_pool_t *pool, const char *state);
/* FLOW as one sealed value (AES-256-GCM, bound to its session key). */
apr_status_t cn_flow_seal(cn_ctx_t *ctx, const cn_flow_t *flow, const char **key,
                          const char **sealed);
/* The flow sealed under KEY, without further checks (to find the oldest). */
apr_status_t cn_flow_unseal(cn_ctx_t *ctx, const char *key, const char *sealed,
                            cn_flow_t **out);
/* The flow sealed under KEY for the callback's STATE: the states must match
 * (compared in constant time) and the deadline must not have passed; else
 * login_id_invalid. */
apr_status_t cn_flow_open(cn_ctx_t *ctx, const char *key, const char *sealed, const char *state,
                          cn_flow_t **out);

/* ---- running a flow ---- */

/* Hosted authentication, GET /login: a new flow for login request ID as it
 * stands (unknown, used or expired, or a cookie_nonce that does not match:
 * login_id_invalid). Nothing is spent. */
apr_status_t cn_flow_hosted_begin(cn_ctx_t *ctx, const char *id, const char *cookie_nonce,
                                  cn_flow_t **out);

/* The login screen: what it offers, when a hosted login names no single
 * provider or its prompt asks for it (seed "select_provider,detect"). */
typedef struct cn_flow_screen_t {
    cn_prompt_t prompt;             /* which parts, in which order */
    apr_array_header_t *providers;  /* const char *: the integrations offered, oldest first */
    const char *email;              /* the address typed, to show again (may be NULL) */
    cn_event_id_t error;            /* 0, or why the address typed cannot go on */
    const char *return_origin;      /* the origin of the application's redirect URI (where
                                     * the email box's answer may end), or NULL */
    int names;                      /* the email box asks for first and last name too
                                     * (the Context.IO connect UI's first page) */
    const char *first_name, *last_name; /* what they show */
} cn_flow_screen_t;

/* GET /login with the login screen's answer: CHOSEN, the provider of a
 * button (or NULL), or EMAIL, the address typed (or NULL; detected, without
 * a database handle held, to one of the offered providers). Either *OUT is a
 * new flow for the provider chosen (or the login's own, or the only one
 * offered), or *SCREEN is the screen to show. A failure is a page. Nothing
 * is spent. */
apr_status_t cn_flow_hosted_choose(cn_ctx_t *ctx, const char *id, const char *cookie_nonce,
                                   const char *chosen, const char *email, cn_flow_t **out,
                                   cn_flow_screen_t **screen);

/* GET /auth without a provider and with prompt select_provider and/or
 * detect (seed "Server-Side Login Screen"), of the application ctx->app_id:
 * *CHOSEN the provider to go on with (a button's PROVIDER is in QUERY once
 * chosen; EMAIL, the address typed, detected: *LOGIN_HINT then), or
 * *SCREEN the screen to show. APR_ENOENT: the request asks for no screen
 * (a provider, or no such prompt). A failure is a page (the redirect URI is
 * not one of the application's). */
apr_status_t cn_flow_authorize_choose(cn_ctx_t *ctx, const apr_table_t *query, const char **chosen,
                                      const char **login_hint, cn_flow_screen_t **screen);

/* The OAuth 2.0 authorization request, GET /auth, of the application
 * ctx->app_id (the glue checked client_id) with QUERY. A failure (in
 * ctx->res) is a page: the provider, the integration or the redirect URI
 * (an exact match of one of the integration's) is not right. Else either
 * *OUT is a new flow (nothing stored yet), or the request has another fault
 * and *LOCATION sends the browser back to the application with error,
 * error_description and state (RFC 6749 §4.1.2.1). */
apr_status_t cn_flow_authorize_begin(cn_ctx_t *ctx, const apr_table_t *query, cn_flow_t **out,
                                     const char **location);

/* Once the browser's session holds FLOW: spend what started it, and where
 * the browser goes for the upstream step. A failure is a page. */
apr_status_t cn_flow_launch(cn_ctx_t *ctx, const cn_flow_t *flow, const char **location);

/* The callback of FLOW with its QUERY (or a form step's submitted FORM).
 * APR_SUCCESS: *LOCATION is where the browser goes (the application, told of
 * success or failure). APR_EAGAIN (form steps only): the form again, ctx->res
 * and *RETRY_FIELD say why; the flow goes on. Another failure is a page (the
 * origin is gone, or no longer allowed). RETRY_FIELD may be NULL. */
apr_status_t cn_flow_complete(cn_ctx_t *ctx, const cn_flow_t *flow, const apr_table_t *query,
                              const char **location, const char **retry_field);

/* The step that proves FLOW's mailbox (NULL: none). */
const cn_flow_step_t *cn_flow_step_of(const cn_flow_t *flow);

/* The anti-forgery token of FLOW's forms: derived from its upstream
 * verifier, which never leaves the sealed session value. */
const char *cn_flow_csrf(apr_pool_t *pool, const cn_flow_t *flow);
/* 1 when TOKEN is FLOW's (compared in constant time). */
int cn_flow_csrf_ok(apr_pool_t *pool, const cn_flow_t *flow, const char *token);

/* The tail every way in shares: who signed in (from PROOF, else asked of the
 * provider with its tokens), then the grant of that identity stored or
 * re-authenticated (in a database section). */
apr_status_t cn_flow_connect(cn_ctx_t *ctx, const cn_integration_t *it, json_t *scope,
                             const char *state, const char *reauth_grant_id,
                             const cn_flow_proof_t *proof, cn_grant_t **grant, int *reauth);

/* POST /grants, native authentication: by the provider's capabilities,
 * BODY's refresh token proven by a refresh at the provider (OAuth), or the
 * IMAP settings' password proven by a LOGIN (cn_imap_prove); then the same
 * tail. Nothing is stored unless the proof passed. */
apr_status_t cn_flow_native(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant, int *reauth);

/* DELETE /grants/{id}: the grant and its secrets deleted (in a database
 * section), then its refresh token revoked at the provider, best effort. */
apr_status_t cn_grant_revoke(cn_ctx_t *ctx, const char *id);

/* How close to its expiry a stored provider access token is refreshed, in
 * seconds; how long a refresh holds the grant's lease; how long another
 * caller waits for that refresh, and how often it looks, in milliseconds. */
#define CN_ACCESS_MARGIN 300
#define CN_ACCESS_LEASE 30
#define CN_ACCESS_WAIT_MS 5000
#define CN_ACCESS_POLL_MS 50

/* A refresh the provider fails transiently (no answer, a 5xx, an error
 * other than invalid_grant) is tried CN_REFRESH_ATTEMPTS times in one call,
 * after a backoff of CN_REFRESH_BACKOFF_MS doubling per attempt plus up to
 * as much again of jitter, while the call stays within CN_REFRESH_BUDGET_MS.
 * When it still fails, the grant cools down: for CN_REFRESH_COOLDOWN
 * seconds, doubling per failed refresh in a row up to
 * CN_REFRESH_COOLDOWN_MAX, no caller of any process or node asks the
 * provider again (503 with Retry-After; the stored token while it is still
 * valid). A refresh that works ends the cool-down. */
#define CN_REFRESH_ATTEMPTS 3
#define CN_REFRESH_BACKOFF_MS 200
#define CN_REFRESH_BUDGET_MS 8000
#define CN_REFRESH_COOLDOWN 10
#define CN_REFRESH_COOLDOWN_MAX 1800

/* The cool-down after FAILURES (>= 1) failed refreshes in a row, seconds. */
apr_int64_t cn_refresh_cooldown(int failures);
/* The wait before attempt ATTEMPT + 1 after attempt ATTEMPT (>= 1) failed,
 * with the jitter drawn from RND. */
apr_interval_time_t cn_refresh_backoff(int attempt, apr_uint32_t rnd);

/* What cn_grant_refresh_unused did with a grant. */
typedef enum {
    CN_REFRESH_DONE,    /* refreshed, the tokens stored */
    CN_REFRESH_SKIPPED, /* refreshed meanwhile, cooling down, held by another, not OAuth */
    CN_REFRESH_INVALID, /* the provider refused the refresh token: grant invalid, grant_expired */
    CN_REFRESH_FAILED   /* failed otherwise: the grant cools down (ctx->res says why) */
} cn_refresh_outcome_t;

/* The refresh job's refresh of grant ID of ctx->app_id when its refresh
 * token went unused since before UNUSED_BEFORE: under the same per-grant
 * lease as POST /grants/{id}/access_token, with no database handle held
 * while the provider is asked. APR_SUCCESS unless the database failed. */
apr_status_t cn_grant_refresh_unused(cn_ctx_t *ctx, const char *id, apr_int64_t unused_before,
                                     cn_refresh_outcome_t *outcome);

/* POST /grants/{id}/access_token with BODY ({} or {"include_password": bool}):
 * *OUT gets, for an OAuth grant, a current provider access token (refreshed
 * at the provider when it expires within CN_ACCESS_MARGIN, one refresh per
 * grant in flight) with its expiry and the IMAP settings with the XOAUTH2
 * string; for an IMAP grant, its IMAP settings (the password only when
 * asked). A refresh token the provider refuses makes the grant invalid
 * (grant_expired); a provider that fails otherwise answers
 * service_unavailable. */
apr_status_t cn_grant_access_token(cn_ctx_t *ctx, const char *id, json_t *body, json_t **out);

/* ---- app permissions (flow/app_token.c, flow/app_grant.c) ---- */

/* Mint a token for an app-permission grant: for G, whose refresh lease this
 * caller holds until UNTIL, a new provider access token by the credential G
 * was made with (Microsoft client credentials, a Google service account's
 * assertion), stored sealed with its expiry and the lease released; *TOKEN
 * the token. The database handle is open on entry and on return, closed
 * while the provider is asked. APR_ENOTIMPL (nothing done, the lease still
 * held): G is no app-permission grant, its refresh token is refreshed as
 * usual. A refusal (the credential gone, consent withdrawn, the key revoked)
 * makes G invalid (grant_expired); a provider that fails otherwise answers
 * service_unavailable. */
apr_status_t cn_app_token_mint(cn_ctx_t *ctx, cn_grant_t *g, apr_int64_t until,
                               const char **token);

/* Tokens for USER (an email address) from the provider by CRED (of
 * integration IT, which cn_integration_with made for CRED), with SCOPE
 * (Google): what POST /grants and the minting share. No database handle may
 * be held. */
apr_status_t cn_app_tokens(cn_ctx_t *ctx, const cn_integration_t *it, const cn_credential_t *cred,
                           const char *user, json_t *scope, cn_tokens_t **out);

/* POST /grants naming settings.credential_id: by the credential's type, an
 * app-permission grant for settings.email_address (adminconsent: Microsoft
 * Graph names the user; serviceaccount: settings.scopes, the user's address
 * is the identity), or (integration) the refresh token proven by a refresh
 * as the credential's client. Nothing is stored unless the provider agreed. */
apr_status_t cn_flow_native_credential(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant,
                                       int *reauth);

/* ---- IMAP: a mailbox proven by its password (flow/imap.c) ---- */

/* A mailbox and its password, as the hosted form or POST /grants has them. */
typedef struct cn_imap_login_t {
    const char *email;    /* the grant's email; NULL: the username, when it is an address */
    const char *username, *password;
    const char *host;     /* lowercased by cn_imap_prove */
    const char *security; /* CN_IMAP_SSL, CN_IMAP_STARTTLS or CN_IMAP_PLAIN (cn_proto.h) */
    int port;
    const char *type;     /* what kind of provider (yahoo, icloud, generic, ...), may be NULL */
} cn_imap_login_t;

/* Limits of what a login may hold. */
#define CN_IMAP_USERNAME_MAX 320
#define CN_IMAP_PASSWORD_MAX 1024
#define CN_IMAP_TYPE_MAX 32

/* The key of the grant of mailbox USERNAME at HOST: "<host lowercased>/
 * <username as given>". The same mailbox re-authenticates the same grant
 * whatever the port or the security it is reached with; the username is
 * kept as typed, since a server may tell "Ann" from "ann" (two spellings of
 * one mailbox are two grants rather than one grant for two mailboxes). */
const char *cn_imap_subject(apr_pool_t *pool, const char *host, const char *username);

/* LOGIN's values checked (no network): username, password, host, port,
 * security, email and type present and well-formed; else
 * invalid_request_payload naming the setting (never quoting the password). */
apr_status_t cn_imap_login_check(cn_ctx_t *ctx, const cn_imap_login_t *login);

/* LOGIN checked, then validated by an IMAP LOGIN through ctx->imap (no
 * database handle may be held: the call is refused), then PROOF filled: the
 * identity (cn_imap_subject; provider_user_id the username; the email
 * lowercased), the grant's settings (imap_username, imap_host, imap_port,
 * imap_security, type; never the password) and the password, which
 * cn_flow_connect seals as the grant's secret. Failures in ctx->res:
 * invalid_request_payload, invalid_authentication, provider_not_responding,
 * provider_tls_failed, provider_settings_invalid (security plain refused). */
apr_status_t cn_imap_prove(cn_ctx_t *ctx, const cn_imap_login_t *login, cn_flow_proof_t *proof);

/* POST /grants with provider imap: SETTINGS (imap_username, imap_password,
 * imap_host, imap_port, imap_security, type, email; null is absent) read
 * into LOGIN as they are: JSON types, unknown keys and a missing username or
 * password refused (invalid_request_payload, in ctx->res). */
apr_status_t cn_imap_settings_read(cn_ctx_t *ctx, json_t *settings, cn_imap_login_t *login);

/* What LOGIN leaves out: without a host, the host (and the port, security
 * and type not given) discovered from the email's (else the username's)
 * domain; then the port and the security from each other (143: starttls,
 * else ssl; ssl: 993, else 143). Discovery may use the network: no database
 * handle may be held. Nothing found: invalid_request_payload. */
apr_status_t cn_imap_login_fill(cn_ctx_t *ctx, cn_imap_login_t *login);

/* ---- the IMAP form (flow/imap_form.c): the upstream step of imap ---- */

/* Where the step sends the browser, below ConnectBaseURL (?state=). */
#define CN_FLOW_IMAP_FORM_PATH "/imap"
/* Wrong passwords a flow may try; the last one ends it (auth_limit_reached). */
#define CN_IMAP_ATTEMPTS 3

/* The IMAP form as submitted, checked, and completed by discovery. */
typedef struct cn_imap_form_t {
    const char *email, *username, *password, *host, *security, *type;
    int port;
    const char *fault; /* when the reading failed: the field at fault */
} cn_imap_form_t;

/* Read FORM (the submitted fields email, password, username, host, port,
 * security) of FLOW into *IN: what the user left out of the advanced
 * settings, discovery fills (no database handle held). A failure says in
 * ctx->res, in words for the user, what is wrong, and IN->fault which
 * field. */
apr_status_t cn_flow_imap_read(cn_ctx_t *ctx, const cn_flow_t *flow, const apr_table_t *form,
                               cn_imap_form_t *in);

/* The IMAP form's template values (conf/templates/imap.html: email,
 * username, host, port, security_ssl, security_starttls, advanced_open,
 * hint.text, hint.url) for FLOW: FORM, a submission shown again (never its
 * password), or NULL for the first showing (the flow's login hint, and what
 * discovery finds for it, or for the flow's mailbox kind). No database
 * handle held. */
json_t *cn_flow_imap_values(cn_ctx_t *ctx, const cn_flow_t *flow, const apr_table_t *form);

/* ---- the Context.IO API's sources (src/core/flow/contextio.c) ---- */

/* The connect UI (<ConnectBaseURL>/contextio/connect?token=): a kind of flow. */
#define CN_FLOW_KIND_CONTEXTIO "contextio"

/* The connect UI of connect token TOKEN (unknown, used or expired:
 * login_id_invalid, a page telling the user to ask for a new link): with an
 * email (the token's, else EMAIL typed, detected) or a provider CHOSEN, *OUT
 * is a new flow of the application's integration for it; else *SCREEN is
 * the login screen to show: the first page (email box with first and last
 * name, then the integrations' buttons). FIRST_NAME and LAST_NAME typed
 * there are kept on the token for its account. Nothing is spent: the token
 * is used when the flow ends. */
apr_status_t cn_flow_cio_choose(cn_ctx_t *ctx, const char *token, const char *chosen,
                                const char *email, const char *first_name, const char *last_name,
                                cn_flow_t **out, cn_flow_screen_t **screen);

/* The POST /grants body of the source PARAMS describe (Context.IO's names):
 * server, username, password, port, use_ssl, type=IMAP (use_ssl=0: STARTTLS),
 * or provider_refresh_token with provider_consumer_key (the client id of the
 * application's google or microsoft integration). bad_request otherwise. */
apr_status_t cn_cio_source_body(cn_ctx_t *ctx, const apr_table_t *params, const char *email,
                                json_t **body);
/* BODY proven and stored as cn_flow_native does, then a source of ACCOUNT. */
apr_status_t cn_cio_source_add(cn_ctx_t *ctx, const cn_cio_account_t *account, json_t *body,
                               cn_grant_t **grant);
/* The source LABEL of the account deleted (its grant revoked); not_found_error. */
apr_status_t cn_cio_source_remove(cn_ctx_t *ctx, const char *account_id, const char *label);
/* The account, its connect tokens and its grants deleted. */
apr_status_t cn_cio_account_delete(cn_ctx_t *ctx, const char *account_id);

#endif
