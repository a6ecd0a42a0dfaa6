/* App permissions upstream: tokens that no user signs in for. Microsoft's
 * client credentials at the consented tenant and Graph /users/{email};
 * Google's service-account assertion (RFC 7523 jwt-bearer), signed with the
 * service account's key by cjose. No secret (client secret, key, assertion,
 * token) goes into a result's description or the log. */
#include <string.h>
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_proto.h"
#include "provider.h"

#define JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define ASSERTION_LIFETIME 3600 /* Google's longest */
#define EMAIL_MAX 254

/* A token endpoint's answer to an app-permission request: an access token,
 * its lifetime, never a refresh token. */
static apr_status_t token_answer(cn_ctx_t *ctx, const char *what, json_t *body,
                                 cn_tokens_t **out)
{
    cn_tokens_t *t = apr_pcalloc(ctx->pool, sizeof(*t));
    json_t *exp = json_object_get(body, "expires_in");
    if (cn_json_get_string(body, "access_token", &t->access_token) != APR_SUCCESS
        || !t->access_token || !*t->access_token
        || cn_json_get_string(body, "scope", &t->scope) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "%s: the answer has no usable access_token", what);
    }
    t->expires_in = json_is_integer(exp) && json_integer_value(exp) > 0
                        ? (long)json_integer_value(exp) : 3600;
    *out = t;
    return APR_SUCCESS;
}

/* POST the form PAIRS to URL; the answer's tokens, or the failure of WHAT. */
static apr_status_t token_post(cn_ctx_t *ctx, const char *provider, const char *what,
                               const char *url, const char *const *pairs, cn_tokens_t **out)
{
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    json_t *body;
    apr_status_t rv;
    req.method = "POST";
    req.url = url;
    req.body = cn_http_form(ctx->pool, pairs);
    req.body_len = strlen(req.body);
    rv = cn_provider_call(ctx, provider, "token", &req, &resp);
    body = rv == APR_SUCCESS ? cn_provider_json(ctx, &resp) : NULL;
    if (rv != APR_SUCCESS || resp.status != 200 || !body) {
        return cn_provider_failure(ctx, what, rv, &resp, body, CN_EV_INVALID_GRANT);
    }
    return token_answer(ctx, what, body, out);
}

apr_status_t cn_oauth_client_credentials(cn_ctx_t *ctx, const cn_integration_t *it,
                                         const char *tenant, cn_tokens_t **out)
{
    const char *client_id = json_string_value(json_object_get(it->settings, "client_id"));
    const char *secret = NULL, *url;
    if (cn_integration_secret(ctx, it, &secret) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* A tenant's own endpoint: "common" and its kind name no directory. */
    if (!tenant || !strcasecmp(tenant, "common") || !strcasecmp(tenant, "organizations")
        || !strcasecmp(tenant, "consumers")
        || !(url = cn_oauth_endpoint(ctx, "microsoft", "token", tenant))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_FAILED,
                       "no tenant's admin has consented to this credential's app: run the admin "
                       "consent (GET /auth?response_type=adminconsent) first");
    }
    {
        const char *pairs[] = {
            "grant_type", "client_credentials",
            "client_id", client_id,
            "client_secret", secret,
            "scope", CN_GRAPH_DEFAULT_SCOPE,
            NULL, NULL
        };
        return token_post(ctx, "microsoft", "client credentials", url, pairs, out);
    }
}

/* Graph's error: {"error": {"code", "message"}}. */
static const char *graph_error(apr_pool_t *pool, json_t *body)
{
    json_t *e = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    return apr_psprintf(pool, "%.64s%s%.200s", code ? code : "no error code", msg ? ": " : "",
                        msg ? msg : "");
}

apr_status_t cn_graph_user(cn_ctx_t *ctx, const char *token, const char *tenant,
                           const char *email, cn_identity_t **out)
{
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    const char *graph = cn_oauth_endpoint(ctx, "microsoft", "graph", NULL), *id, *upn;
    cn_identity_t *who;
    json_t *body;
    apr_status_t rv;
    if (!graph) {
        return cn_fail_internal(ctx, "no Graph endpoint");
    }
    req.method = "GET";
    req.url = apr_pstrcat(ctx->pool, graph, "/users/", cn_url_encode(ctx->pool, email), NULL);
    req.bearer = token;
    rv = cn_provider_call(ctx, "microsoft", "graph", &req, &resp);
    body = rv == APR_SUCCESS ? cn_provider_json(ctx, &resp) : NULL;
    if (rv == APR_SUCCESS && resp.status == 404) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "Microsoft Graph has no user %s in tenant %s (%s)", email, tenant,
                       graph_error(ctx->pool, body));
    }
    if (rv == APR_SUCCESS && (resp.status == 401 || resp.status == 403)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_FAILED,
                       "Microsoft Graph refused to read user %s: the admin consent of tenant %s "
                       "does not cover it (%s)", email, tenant, graph_error(ctx->pool, body));
    }
    if (rv != APR_SUCCESS || resp.status != 200 || !body) {
        return cn_provider_failure(ctx, "Graph /users", rv, &resp, NULL,
                                   CN_EV_OAUTH_PROVIDER_ERROR);
    }
    id = json_string_value(json_object_get(body, "id"));
    upn = json_string_value(json_object_get(body, "userPrincipalName"));
    if (!id || !*id || strlen(id) > 128 || !upn || !strchr(upn, '@') || strlen(upn) > EMAIL_MAX) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "Graph /users answered no user id or userPrincipalName");
    }
    /* The tenant's own directory names its user: the same identity (tenant and
     * object id) a hosted sign-in of that user has. */
    who = apr_pcalloc(ctx->pool, sizeof(*who));
    who->subject = apr_pstrcat(ctx->pool, tenant, "/", id, NULL);
    who->legacy_subject = who->user_id = id;
    who->email = cn_lower(ctx->pool, upn);
    *out = who;
    return APR_SUCCESS;
}

apr_status_t cn_oauth_service_account(cn_ctx_t *ctx, json_t *key, const char *user,
                                       json_t *scope, cn_tokens_t **out)
{
    const char *url = cn_oauth_endpoint(ctx, "google", "token", NULL);
    const char *pem = json_string_value(json_object_get(key, "private_key"));
    const char *kid = json_string_value(json_object_get(key, "private_key_id"));
    const char *iss = json_string_value(json_object_get(key, "client_email"));
    const char *assertion = NULL, *why = NULL;
    json_t *claims;
    if (!url) {
        return cn_fail_internal(ctx, "no Google token endpoint");
    }
    if (!iss || !*iss || strlen(iss) > EMAIL_MAX) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                       "credential_data.client_email is not a service account's address");
    }
    claims = cn_json_own(ctx->pool,
                         json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "iss", iss, "sub", user, "scope",
                                   cn_oauth_scope_string(ctx->pool, scope), "aud", url, "iat",
                                   (json_int_t)ctx->now, "exp",
                                   (json_int_t)(ctx->now + ASSERTION_LIFETIME)));
    if (!claims) {
        return cn_fail_internal(ctx, "an assertion's claims");
    }
    if (cn_jose_sign_rs256_pem(ctx->pool, pem, kid, claims, &assertion, &why) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                       "credential_data.private_key cannot sign: %s", why ? why : "?");
    }
    {
        const char *pairs[] = {"grant_type", JWT_BEARER, "assertion", assertion, NULL, NULL};
        return token_post(ctx, "google", "service account assertion", url, pairs, out);
    }
}
