/* Microsoft admin consent (seed "Microsoft App Permission via Nylas"):
 * GET /auth?provider=microsoft&response_type=adminconsent&credential_id=
 * validates like any authorization request (pages until the application,
 * its integration and the redirect URI hold), then sends the tenant's admin
 * to Microsoft's adminconsent endpoint as the credential's app, with
 * <ConnectBaseURL>/callback. The callback records the consented tenant on
 * the credential (app-permission grants get their tokens there) and sends
 * the browser to the application with admin_consent=true, tenant and state,
 * or the error. A kind of flow and an upstream step: rows of the engine. */
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "flow.h"

#define CN_ADMINCONSENT_TTL 1800 /* seconds for the admin to consent */
#define TENANT_MAX 256

apr_status_t cn_flow_adminconsent_begin(cn_ctx_t *ctx, const apr_table_t *query,
                                        const cn_integration_t *it, json_t *request,
                                        cn_flow_t **out)
{
    const char *credential_id = apr_table_get(query, "credential_id"), *id;
    cn_credential_t *cred;
    cn_login_t *login;
    apr_status_t rv;
    if (strcmp(it->provider, "microsoft")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_UNSUPPORTED_RESPONSE_TYPE,
                       "admin consent (response_type=adminconsent) is for provider microsoft");
    }
    if (!credential_id || !*credential_id) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "credential_id is required for admin consent");
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_credential_use(ctx, it, credential_id, &cred);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(cred->type, CN_CRED_ADMINCONSENT)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "credential %s is of type %s; admin consent takes an adminconsent "
                       "credential", cred->id, cred->type);
    }
    if (!cn_integration_with(ctx->pool, it, cred)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                       "the credential has no client_id and client_secret");
    }
    if (cn_random_token(ctx->pool, 32, &id) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "randomness");
    }
    json_object_set_new(request, "credential_id", json_string(cred->id));
    json_object_set_new(request, "scope", json_array());
    login = apr_pcalloc(ctx->pool, sizeof(*login));
    login->digest = cn_sha256_hex(ctx->pool, id, strlen(id));
    login->kind = CN_LOGIN_ADMINCONSENT;
    login->app_id = ctx->app_id;
    login->integration_id = it->id;
    login->provider = it->provider;
    login->request = request;
    login->expires_at = ctx->now + CN_ADMINCONSENT_TTL;
    return cn_flow_from_login(ctx, login, out);
}

/* ---- the kind ---- */

/* Stored once the browser's session holds the flow, and spent at once. */
static apr_status_t adminconsent_claim(cn_ctx_t *ctx, const cn_flow_t *flow,
                                       cn_flow_origin_t *origin)
{
    const cn_login_t *login = flow->loaded;
    if (!login) {
        return cn_fail_internal(ctx, "launching an admin consent not begun here");
    }
    if (cn_login_save(ctx, login) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return cn_flow_login_claim(ctx, flow, origin);
}

static const char *to_app(cn_ctx_t *ctx, const cn_flow_origin_t *origin,
                          const char *const *pairs)
{
    return cn_http_url_with_query(ctx->pool, origin->redirect_uri, pairs);
}

static apr_status_t adminconsent_done(cn_ctx_t *ctx, const cn_flow_t *flow,
                                      const cn_flow_origin_t *origin,
                                      const cn_flow_proof_t *proof, const char **location)
{
    const cn_login_t *login = origin->data;
    cn_credential_t cred = {0};
    apr_status_t rv;
    (void)flow;
    cred.id = cn_flow_request_str(login, "credential_id");
    cred.integration_id = origin->it->id;
    if (!cred.id || !proof->consented_tenant) {
        return cn_fail_internal(ctx, "an admin consent without its credential or tenant");
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_credential_consented(ctx, &cred, proof->consented_tenant);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    cn_log(ctx, CN_LOG_INFO, CNLOGNO(04020) "admin consent of tenant %s recorded for credential %s",
           proof->consented_tenant, cred.id);
    {
        const char *pairs[] = {"admin_consent", "true", "tenant", proof->consented_tenant,
                               "state", origin->app_state, NULL, NULL};
        *location = to_app(ctx, origin, pairs);
    }
    return APR_SUCCESS;
}

static const char *adminconsent_failed(cn_ctx_t *ctx, const cn_flow_t *flow,
                                       const cn_flow_origin_t *origin)
{
    const cn_result_t *res = &ctx->res;
    const char *pairs[] = {
        "admin_consent", "false",
        "error", cn_oauth_authorize_error(res->event),
        "error_description", cn_oauth_error_description(ctx->pool, res),
        "state", origin->app_state,
        NULL, NULL
    };
    (void)flow;
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(04021) "admin consent failed: %s (%d)%s%s",
           res->event->type, res->event->code, res->description ? ": " : "",
           res->description ? res->description : "");
    return to_app(ctx, origin, pairs);
}

const cn_flow_kind_t cn_flow_kind_adminconsent = {
    CN_LOGIN_ADMINCONSENT, adminconsent_claim, cn_flow_login_resume, adminconsent_done,
    adminconsent_failed
};

/* ---- the step: the tenant admin's consent at Microsoft ---- */

static apr_status_t adminconsent_start(cn_ctx_t *ctx, const cn_flow_t *flow,
                                       const cn_flow_origin_t *origin, const char **location)
{
    const char *url = cn_oauth_endpoint(ctx, "microsoft", "adminconsent", cn_oauth_tenant(origin->it));
    const char *pairs[] = {
        "client_id", json_string_value(json_object_get(origin->it->settings, "client_id")),
        "redirect_uri", cn_oauth_redirect_uri(ctx),
        "scope", CN_GRAPH_DEFAULT_SCOPE,
        "state", flow->state,
        NULL, NULL
    };
    if (!origin->it->credential_id) {
        return cn_fail_internal(ctx, "an admin consent without its credential");
    }
    if (!url) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_PROBLEM,
                       "the integration's tenant is not valid");
    }
    *location = cn_http_url_with_query(ctx->pool, url, pairs);
    return APR_SUCCESS;
}

static apr_status_t adminconsent_finish(cn_ctx_t *ctx, const cn_flow_t *flow,
                                        const cn_flow_origin_t *origin, const apr_table_t *query,
                                        cn_flow_proof_t *proof)
{
    const char *error = apr_table_get(query, "error");
    const char *consent = apr_table_get(query, "admin_consent");
    const char *tenant = apr_table_get(query, "tenant");
    (void)flow;
    (void)origin;
    if (error) {
        const char *desc = apr_table_get(query, "error_description");
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_FAILED,
                       "the admin did not consent: %.64s%s%.200s", error, desc ? ": " : "",
                       desc ? desc : "");
    }
    if (!consent || strcasecmp(consent, "true")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_FAILED,
                       "Microsoft did not say that the admin consented");
    }
    /* A tenant's directory: its id (or a verified domain), never a keyword. */
    if (!tenant || strlen(tenant) > TENANT_MAX || !cn_url_tenant_valid(tenant)
        || !strcasecmp(tenant, "common") || !strcasecmp(tenant, "organizations")
        || !strcasecmp(tenant, "consumers")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "the admin consent names no valid tenant");
    }
    proof->consented_tenant = cn_lower(ctx->pool, tenant);
    return APR_SUCCESS;
}

const cn_flow_step_t cn_flow_step_adminconsent = {
    "adminconsent", CN_PROVIDER_OAUTH, 0, adminconsent_start, adminconsent_finish
};
