/* POST /grants naming a credential (seed "App Permissions", "Credentials"):
 * an app-permission grant for a user of the provider (Microsoft: an
 * adminconsent credential, whose app the tenant's admin consented to;
 * Google: a service account acting for the user), or a refresh token proven
 * as an integration credential's client. The provider is asked with no
 * database handle held; nothing is stored unless it agreed. */
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "cn_discover.h"
#include "flow.h"

#define EMAIL_MAX 254

/* What the request asks. */
typedef struct cred_request_t {
    const char *provider, *credential_id, *email, *refresh, *state;
    json_t *scope; /* settings.scopes, else the body's scope, or NULL */
} cred_request_t;

static apr_status_t read_request(cn_ctx_t *ctx, json_t *body, cred_request_t *req)
{
    static const char *const allowed[] = {"provider", "settings", "scope", "state", NULL};
    static const char *const settings_allowed[] = {"credential_id", "email_address", "scopes",
                                                   "refresh_token", NULL};
    json_t *settings = NULL, *scopes = NULL, *scope = NULL;
    const char *bad;
    memset(req, 0, sizeof(*req));
    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_json_get_string(body, "provider", &req->provider) != APR_SUCCESS
        || cn_json_get_object(body, "settings", &settings) != APR_SUCCESS
        || cn_json_get_string_array(body, "scope", 100, 512, &scope) != APR_SUCCESS
        || cn_json_get_string(body, "state", &req->state) != APR_SUCCESS
        || (req->state && strlen(req->state) > 512)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings must be an object, scope an array of strings, state a string");
    }
    if ((bad = cn_json_unknown_key(settings, settings_allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "unknown setting '%s' beside credential_id", bad);
    }
    if (cn_json_get_string(settings, "credential_id", &req->credential_id) != APR_SUCCESS
        || cn_json_get_string(settings, "email_address", &req->email) != APR_SUCCESS
        || cn_json_get_string(settings, "refresh_token", &req->refresh) != APR_SUCCESS
        || cn_json_get_string_array(settings, "scopes", 100, 512, &scopes) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings.credential_id, email_address and refresh_token are strings, "
                       "settings.scopes an array of strings");
    }
    if (!req->provider) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_REQUIRED, NULL);
    }
    if (!cn_provider_can(req->provider, CN_PROVIDER_OAUTH)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                       "credentials are for google or microsoft");
    }
    req->scope = json_array_size(scopes) ? scopes : json_array_size(scope) ? scope : NULL;
    return APR_SUCCESS;
}

/* An app permission's user: an address, lowercased. */
static apr_status_t user_of(cn_ctx_t *ctx, const cred_request_t *req, const char **email)
{
    if (!req->email || !*req->email) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings.email_address is required for an app permission");
    }
    if (strlen(req->email) > EMAIL_MAX || !cn_email_valid(req->email)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings.email_address is not an email address");
    }
    *email = cn_lower(ctx->pool, req->email);
    return APR_SUCCESS;
}

/* Microsoft: the tenant's app-only token, then Graph names the user. */
static apr_status_t prove_adminconsent(cn_ctx_t *ctx, const cn_integration_t *it,
                                       const cn_credential_t *cred, const cred_request_t *req,
                                       json_t **scope, cn_flow_proof_t *proof)
{
    const char *email;
    if (user_of(ctx, req, &email) != APR_SUCCESS
        || cn_app_tokens(ctx, it, cred, email, NULL, &proof->tokens) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* The token's tenant: where the consent is (cn_app_tokens asked there). */
    if (cn_graph_user(ctx, proof->tokens->access_token,
                      cred->consented_tenant ? cred->consented_tenant : cn_oauth_tenant(it), email,
                      &proof->id) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* What an app-only token holds: every permission the admin consented to. */
    *scope = req->scope ? req->scope
                        : cn_json_own(ctx->pool, json_pack("[s]", CN_GRAPH_DEFAULT_SCOPE));
    return APR_SUCCESS;
}

/* Google: the service account acts for the user; Google's token is the proof
 * that it may. The address is the identity (no sign-in names a subject), in
 * a form of its own so that it never meets a signed-in user's sub. */
static apr_status_t prove_serviceaccount(cn_ctx_t *ctx, const cn_integration_t *it,
                                         const cn_credential_t *cred, const cred_request_t *req,
                                         json_t **scope, cn_flow_proof_t *proof)
{
    const char *email;
    cn_identity_t *id;
    if (user_of(ctx, req, &email) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *scope = req->scope ? req->scope : it->scope;
    if (!json_array_size(*scope)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NO_LOGIN_SCOPES,
                       "a service account grant needs settings.scopes");
    }
    if (cn_app_tokens(ctx, it, cred, email, *scope, &proof->tokens) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    id = apr_pcalloc(ctx->pool, sizeof(*id));
    id->subject = id->legacy_subject = apr_pstrcat(ctx->pool, "serviceaccount:", email, NULL);
    id->user_id = id->email = email;
    proof->id = id;
    return APR_SUCCESS;
}

/* Another provider app of the integration: its refresh token, refreshed as
 * that app's client. */
static apr_status_t prove_integration(cn_ctx_t *ctx, const cn_integration_t *it,
                                      const cn_credential_t *cred, const cred_request_t *req,
                                      json_t **scope, cn_flow_proof_t *proof)
{
    const char *secret = NULL;
    (void)cred;
    if (!req->refresh || !*req->refresh || strlen(req->refresh) > 4096) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REFRESH_TOKEN_REQUIRED, NULL);
    }
    if (cn_integration_secret(ctx, it, &secret) != APR_SUCCESS
        || cn_oauth_token(ctx, it, secret, NULL, NULL, req->refresh, &proof->tokens)
               != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!proof->tokens->refresh_token) {
        proof->tokens->refresh_token = req->refresh;
    }
    *scope = req->scope ? req->scope : it->scope;
    return APR_SUCCESS;
}

/* The ways a credential proves a grant, by its type. */
static const struct cred_way_t {
    const char *type;
    apr_status_t (*prove)(cn_ctx_t *ctx, const cn_integration_t *it, const cn_credential_t *cred,
                          const cred_request_t *req, json_t **scope, cn_flow_proof_t *proof);
} cred_ways[] = {
    {CN_CRED_ADMINCONSENT, prove_adminconsent},
    {CN_CRED_SERVICEACCOUNT, prove_serviceaccount},
    {CN_CRED_INTEGRATION, prove_integration},
    {NULL, NULL}
};

apr_status_t cn_flow_native_credential(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant,
                                       int *reauth)
{
    cred_request_t req;
    cn_integration_t *it = NULL, *as = NULL;
    cn_credential_t *cred = NULL;
    cn_flow_proof_t proof = {0};
    const struct cred_way_t *way;
    json_t *scope = NULL;
    apr_status_t rv;

    if (read_request(ctx, body, &req) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_integration_require(ctx, req.provider, &it);
    if (rv == APR_SUCCESS) {
        rv = cn_credential_use(ctx, it, req.credential_id, &cred);
    }
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (way = cred_ways; way->type && strcmp(way->type, cred->type); ++way) {
    }
    if (!way->type) {
        return cn_fail_internal(ctx, "a credential of an unknown type");
    }
    if (!(as = cn_integration_with(ctx->pool, it, cred))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                       "the credential has no client_id and client_secret");
    }
    if (way->prove(ctx, as, cred, &req, &scope, &proof) != APR_SUCCESS) {
        cn_log(ctx, CN_LOG_INFO, CNLOGNO(04010) "POST /grants with %s credential %s refused: "
               "%s (%d)%s%s", cred->type, cred->id, ctx->res.event->type, ctx->res.event->code,
               ctx->res.description ? ": " : "",
               ctx->res.description ? ctx->res.description : "");
        return APR_EGENERAL;
    }
    return cn_flow_connect(ctx, as, scope, req.state, NULL, &proof, grant, reauth);
}
