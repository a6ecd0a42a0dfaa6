/* Server-side hosted authentication: POST /auth stored a single-use login
 * request; GET /login begins a flow from it; the flow ends with a redirect
 * to the application's redirect URI with success, grant_id, state, provider
 * and email, or success=false and the error. */
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "flow.h"

const char *cn_flow_request_str(const cn_login_t *login, const char *key)
{
    json_t *v = json_object_get(login->request, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void origin_of(cn_login_t *login, cn_integration_t *it, cn_flow_origin_t *origin)
{
    origin->it = it;
    origin->scope = json_object_get(login->request, "scope");
    origin->redirect_uri = cn_flow_request_str(login, "redirect_uri");
    origin->app_state = cn_flow_request_str(login, "state");
    origin->login_hint = cn_flow_request_str(login, "login_hint");
    origin->reauth_grant_id = cn_flow_request_str(login, "grant_id");
    origin->data = login;
}

apr_status_t cn_flow_from_login(cn_ctx_t *ctx, cn_login_t *login, cn_flow_t **out)
{
    if (cn_flow_new(ctx, login->kind, out) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    (*out)->app_id = login->app_id;
    (*out)->integration_id = login->integration_id;
    (*out)->provider = login->provider;
    (*out)->origin = login->digest;
    (*out)->deadline = login->expires_at;
    (*out)->loaded = login;
    return APR_SUCCESS;
}

apr_status_t cn_flow_hosted_begin(cn_ctx_t *ctx, const char *id, const char *cookie_nonce,
                                  cn_flow_t **out)
{
    cn_login_t *login;
    apr_status_t rv;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_login_check(ctx, id, cookie_nonce, &login);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return cn_flow_from_login(ctx, login, out);
}

static json_t *login_event(cn_ctx_t *ctx, const cn_integration_t *it)
{
    return cn_json_own(ctx->pool, json_pack("{s:s,s:s}", "integration_id", it->id, "provider",
                                            it->provider));
}

apr_status_t cn_flow_login_claim(cn_ctx_t *ctx, const cn_flow_t *flow, cn_flow_origin_t *origin)
{
    cn_login_t *login = (cn_login_t *)flow->loaded;
    cn_integration_t *it;
    if (!login) {
        return cn_fail_internal(ctx, "launching a flow not begun in this request");
    }
    if (cn_login_spend(ctx, login, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    cn_event_record(ctx, CN_EV_HOSTED_LOGIN_STARTED, "info", login_event(ctx, it));
    origin_of(login, it, origin);
    return APR_SUCCESS;
}

apr_status_t cn_flow_login_resume(cn_ctx_t *ctx, const cn_flow_t *flow, cn_flow_origin_t *origin)
{
    cn_login_t *login;
    cn_integration_t *it;
    if (cn_login_by_digest(ctx, flow->kind, flow->origin, &login, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    cn_event_record(ctx, CN_EV_HOSTED_LOGIN_USED, "info", login_event(ctx, it));
    origin_of(login, it, origin);
    return APR_SUCCESS;
}

/* Back to the application with the outcome. */
static const char *back_to_app(cn_ctx_t *ctx, const cn_flow_origin_t *origin,
                               const char *grant_id, const char *email, const char *error)
{
    const char *pairs[] = {
        "success", error ? "false" : "true",
        "grant_id", grant_id,
        "error", error,
        "state", origin->app_state,
        "provider", origin->it->provider,
        "email", email,
        NULL, NULL
    };
    return cn_http_url_with_query(ctx->pool, origin->redirect_uri, pairs);
}

static apr_status_t hosted_done(cn_ctx_t *ctx, const cn_flow_t *flow,
                                const cn_flow_origin_t *origin, const cn_flow_proof_t *proof,
                                const char **location)
{
    cn_grant_t *grant;
    int reauth = 0;
    if (cn_flow_connect(ctx, origin->it, origin->scope, origin->app_state,
                        origin->reauth_grant_id, proof, &grant, &reauth) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    cn_log(ctx, CN_LOG_INFO, CNLOGNO(00203) "grant %s %s (%s)", grant->id,
           reauth ? "re-authenticated" : "created", origin->it->provider);
    *location = back_to_app(ctx, origin, grant->id, grant->email, NULL);
    return APR_SUCCESS;
}

static const char *hosted_failed(cn_ctx_t *ctx, const cn_flow_t *flow,
                                 const cn_flow_origin_t *origin)
{
    const cn_result_t *res = &ctx->res;
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(00202) "hosted %s login failed: %s (%d)%s%s",
           origin->it->provider, res->event->type, res->event->code,
           res->description ? ": " : "", res->description ? res->description : "");
    return back_to_app(ctx, origin, NULL, NULL, res->event->type);
}

const cn_flow_kind_t cn_flow_kind_hosted = {
    CN_LOGIN_HOSTED, cn_flow_login_claim, cn_flow_login_resume, hosted_done, hosted_failed
};
