/* Private to the flow engine: the rows its tables hold. */
#ifndef CN_FLOW_PRIVATE_H
#define CN_FLOW_PRIVATE_H

#include "cn_flow.h"

/* flow/hosted.c: server-side hosted authentication (POST /auth, /login). */
extern const cn_flow_kind_t cn_flow_kind_hosted;

/* flow/authorize.c: the OAuth 2.0 authorization request (GET /auth), ending
 * with an authorization code for the application. */
extern const cn_flow_kind_t cn_flow_kind_authorize;

/* flow/contextio.c: the Context.IO connect UI, begun from a connect token,
 * ending with callback_url?contextio_token=. */
extern const cn_flow_kind_t cn_flow_kind_contextio;

/* flow/hosted.c: what kinds begun from a stored login request share. */
/* A new flow of LOGIN's kind for it (the login is what it launches with). */
apr_status_t cn_flow_from_login(cn_ctx_t *ctx, cn_login_t *login, cn_flow_t **out);
/* Claim: spend the login request the flow was begun from, and its origin. */
apr_status_t cn_flow_login_claim(cn_ctx_t *ctx, const cn_flow_t *flow, cn_flow_origin_t *origin);
/* Resume: the spent login request, called back once, and its origin. */
apr_status_t cn_flow_login_resume(cn_ctx_t *ctx, const cn_flow_t *flow, cn_flow_origin_t *origin);
/* The login screen's shared parts: the provider that serves EMAIL's mailbox
 * (discovery; "imap" when nothing is known; no database handle held), and
 * the integration of PROVIDER among USABLE (cn_integration_usable), or NULL. */
const char *cn_flow_detect_provider(cn_ctx_t *ctx, const char *email);
cn_integration_t *cn_flow_offered(const apr_array_header_t *usable, const char *provider);
/* A string of LOGIN's request, or NULL. */
const char *cn_flow_request_str(const cn_login_t *login, const char *key);

/* flow/oauth2.c: the provider's OAuth 2.0 authorization code, with PKCE. */
extern const cn_flow_step_t cn_flow_step_oauth2;

/* flow/adminconsent.c: Microsoft admin consent (GET /auth?response_type=
 * adminconsent): its kind, ending with admin_consent=true and the tenant at
 * the application, and its step, the tenant admin's consent. */
extern const cn_flow_kind_t cn_flow_kind_adminconsent;
extern const cn_flow_step_t cn_flow_step_adminconsent;
/* The request of authorization request QUERY (REQUEST: redirect_uri,
 * provider, state) for integration IT as an admin consent: *OUT a new flow,
 * or the failure in ctx->res (told to the application). */
apr_status_t cn_flow_adminconsent_begin(cn_ctx_t *ctx, const apr_table_t *query,
                                        const cn_integration_t *it, json_t *request,
                                        cn_flow_t **out);
/* flow/hosted.c: a flow's origin made with the credential its request names
 * (credential_id), in place of the integration's own app. */
apr_status_t cn_flow_origin_credential(cn_ctx_t *ctx, const cn_login_t *login,
                                       cn_flow_origin_t *origin);

/* flow/imap_form.c: the module's own IMAP form, proven by a LOGIN. */
extern const cn_flow_step_t cn_flow_step_imap;

/* flow/imap.c: POST /grants of a password provider: the settings read (host
 * and port discovered when left out), the password proven by an IMAP LOGIN,
 * then cn_flow_connect. */
apr_status_t cn_flow_native_imap(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant, int *reauth);

#endif
