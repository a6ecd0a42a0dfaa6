/* Server-side hosted authentication: POST /auth stored a single-use login
 * request; GET /login begins a flow from it; the flow ends with a redirect
 * to the application's redirect URI with success, grant_id, state, provider
 * and email, or success=false and the error. */
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "cn_discover.h"
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
    if (!json_array_size(origin->scope)) { /* a login screen's: the chosen integration's */
        origin->scope = it->scope;
    }
    origin->redirect_uri = cn_flow_request_str(login, "redirect_uri");
    origin->app_state = cn_flow_request_str(login, "state");
    origin->login_hint = cn_flow_request_str(login, "login_hint");
    origin->reauth_grant_id = cn_flow_request_str(login, "grant_id");
    origin->data = login;
}

apr_status_t cn_flow_origin_credential(cn_ctx_t *ctx, const cn_login_t *login,
                                       cn_flow_origin_t *origin)
{
    const char *id = cn_flow_request_str(login, "credential_id");
    cn_credential_t *cred;
    if (!id) {
        return APR_SUCCESS;
    }
    if (cn_credential_use(ctx, origin->it, id, &cred) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!(origin->it = cn_integration_with(ctx->pool, origin->it, cred))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                       "the credential has no client_id and client_secret");
    }
    return APR_SUCCESS;
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
    (*out)->login_hint = cn_flow_request_str(login, "login_hint");
    {
        json_t *type = json_object_get(json_object_get(login->request, "settings"), "type");
        (*out)->mail_type = json_is_string(type) ? json_string_value(type) : NULL;
    }
    (*out)->return_origin = cn_url_origin(ctx->pool, cn_flow_request_str(login, "redirect_uri"));
    return APR_SUCCESS;
}

const char *cn_flow_detect_provider(cn_ctx_t *ctx, const char *email)
{
    cn_mail_settings_t *found = NULL;
    if (cn_discover(ctx, email, &found) == APR_SUCCESS && found && found->provider) {
        return found->provider;
    }
    /* Nothing known: any mailbox may still be reached by IMAP (its form asks
     * for the server). */
    memset(&ctx->res, 0, sizeof(ctx->res));
    return "imap";
}

cn_integration_t *cn_flow_offered(const apr_array_header_t *usable, const char *provider)
{
    int i;
    for (i = 0; provider && i < usable->nelts; ++i) {
        cn_integration_t *it = APR_ARRAY_IDX(usable, i, cn_integration_t *);
        if (!strcmp(it->provider, provider)) {
            return it;
        }
    }
    return NULL;
}

apr_status_t cn_flow_hosted_choose(cn_ctx_t *ctx, const char *id, const char *cookie_nonce,
                                   const char *chosen, const char *email, cn_flow_t **out,
                                   cn_flow_screen_t **screen)
{
    cn_login_t *login;
    cn_prompt_t prompt;
    apr_array_header_t *usable = NULL;
    cn_integration_t *it = NULL;
    apr_status_t rv;
    int i;

    *out = NULL;
    *screen = NULL;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_login_check(ctx, id, cookie_nonce, &login);
    if (rv == APR_SUCCESS
        && cn_prompt_parse(cn_flow_request_str(login, "prompt"), &prompt) != APR_SUCCESS) {
        rv = cn_fail_internal(ctx, "a stored prompt that does not parse");
    }
    if (rv == APR_SUCCESS && (!*login->provider || prompt.select || prompt.detect)) {
        ctx->app_id = login->app_id;
        rv = cn_integration_usable(ctx, cn_flow_request_str(login, "redirect_uri"), &usable);
    }
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!usable) { /* one provider, no screen: a choice is not taken */
        if ((chosen && strcmp(chosen, login->provider)) || email) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                           "this sign-in is for one provider");
        }
        return cn_flow_from_login(ctx, login, out);
    }
    if (!usable->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "no integration of the application allows this sign-in's redirect_uri");
    }
    if (chosen) {
        if (!(prompt.select || !*login->provider) || !(it = cn_flow_offered(usable, chosen))) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                           "the provider chosen is not one this sign-in offers");
        }
    }
    else if (email && prompt.detect) {
        if (!cn_email_valid(email) || strlen(email) > 254) {
            *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
            (*screen)->error = CN_EV_INVALID_REQUEST;
        }
        else if (!(it = cn_flow_offered(usable, cn_flow_detect_provider(ctx, email)))) {
            *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
            (*screen)->error = CN_EV_PROVIDER_NOT_SUPPORTED;
        }
        if (*screen) {
            (*screen)->email = email;
        }
    }
    else if (usable->nelts == 1) { /* one way in: straight there (seed) */
        it = APR_ARRAY_IDX(usable, 0, cn_integration_t *);
    }
    if (!it) {
        if (!*screen) {
            *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
        }
        (*screen)->prompt = prompt;
        (*screen)->return_origin =
            cn_url_origin(ctx->pool, cn_flow_request_str(login, "redirect_uri"));
        if (!prompt.select && !prompt.detect) {
            (*screen)->prompt.select = 1;
        }
        (*screen)->providers = apr_array_make(ctx->pool, usable->nelts, sizeof(const char *));
        for (i = 0; i < usable->nelts; ++i) {
            APR_ARRAY_PUSH((*screen)->providers, const char *) =
                APR_ARRAY_IDX(usable, i, cn_integration_t *)->provider;
        }
        return APR_SUCCESS;
    }
    login->provider = it->provider;
    login->integration_id = it->id;
    if (cn_flow_from_login(ctx, login, out) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (email && !chosen) {
        (*out)->login_hint = email;
    }
    return APR_SUCCESS;
}

apr_status_t cn_flow_hosted_begin(cn_ctx_t *ctx, const char *id, const char *cookie_nonce,
                                  cn_flow_t **out)
{
    cn_flow_screen_t *screen;
    if (cn_flow_hosted_choose(ctx, id, cookie_nonce, NULL, NULL, out, &screen) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!*out) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "this sign-in begins on the login screen");
    }
    return APR_SUCCESS;
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
    return cn_flow_origin_credential(ctx, login, origin);
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
    return cn_flow_origin_credential(ctx, login, origin);
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
