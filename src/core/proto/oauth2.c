/* Upstream OAuth 2.0 with Google and Microsoft. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_util.h"
#include "cn_proto.h"
#include "cn_metrics.h"
#include "provider.h"

typedef struct endpoint_default_t {
    const char *key, *url;
} endpoint_default_t;

static const endpoint_default_t defaults[] = {
    {"google:authorize", "https://accounts.google.com/o/oauth2/v2/auth"},
    {"google:token", "https://oauth2.googleapis.com/token"},
    {"google:userinfo", "https://openidconnect.googleapis.com/v1/userinfo"},
    {"google:revoke", "https://oauth2.googleapis.com/revoke"},
    {"microsoft:authorize", "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"},
    {"microsoft:token", "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"},
    {"microsoft:userinfo", "https://graph.microsoft.com/v1.0/me"},
    {"microsoft:adminconsent", "https://login.microsoftonline.com/{tenant}/v2.0/adminconsent"},
    {"microsoft:graph", "https://graph.microsoft.com/v1.0"},
    {NULL, NULL}
};

const char *cn_oauth_endpoint(cn_ctx_t *ctx, const char *provider, const char *name,
                              const char *tenant)
{
    const char *key = apr_pstrcat(ctx->pool, provider, ":", name, NULL), *url = NULL, *at;
    const endpoint_default_t *d;
    if (ctx->endpoints) {
        url = apr_table_get(ctx->endpoints, key);
    }
    for (d = defaults; !url && d->key; ++d) {
        if (!strcmp(d->key, key)) {
            url = d->url;
        }
    }
    if (url && (at = strstr(url, "{tenant}"))) {
        /* Validated when the integration was stored; checked and encoded again
         * here so that no stored value can leave its path segment. */
        if (!tenant) {
            tenant = "common";
        }
        if (!cn_url_tenant_valid(tenant)) {
            return NULL;
        }
        url = apr_pstrcat(ctx->pool, apr_pstrndup(ctx->pool, url, (apr_size_t)(at - url)),
                          cn_url_encode(ctx->pool, tenant), at + 8, NULL);
    }
    return url;
}

const char *cn_oauth_tenant(const cn_integration_t *it)
{
    json_t *t = json_object_get(it->settings, "tenant");
    return json_is_string(t) ? json_string_value(t) : "common";
}

const char *cn_oauth_redirect_uri(cn_ctx_t *ctx)
{
    return apr_pstrcat(ctx->pool, ctx->base_url, "/callback", NULL);
}

/* The scopes sent upstream: the requested ones plus what the dance itself
 * needs (an email, and a refresh token). */
static const char *upstream_scope(apr_pool_t *p, const char *provider, json_t *scope)
{
    const char *out = "";
    size_t i;
    json_t *v;
    json_array_foreach(scope, i, v) {
        out = apr_pstrcat(p, out, *out ? " " : "", json_string_value(v), NULL);
    }
    if (!strcmp(provider, "google")) {
        if (!cn_json_array_has(scope, "openid")) {
            out = apr_pstrcat(p, out, *out ? " " : "", "openid", NULL);
        }
        if (!cn_json_array_has(scope, "email")
            && !cn_json_array_has(scope, "https://www.googleapis.com/auth/userinfo.email")) {
            out = apr_pstrcat(p, out, " https://www.googleapis.com/auth/userinfo.email", NULL);
        }
    }
    else {
        static const char *const needed[] = {"openid", "email", "offline_access", NULL};
        const char *const *n;
        for (n = needed; *n; ++n) {
            if (!cn_json_array_has(scope, *n)) {
                out = apr_pstrcat(p, out, *out ? " " : "", *n, NULL);
            }
        }
    }
    return out;
}

/* Microsoft: the user always picks the account (a browser already signed in
 * cannot complete someone else's link without a click), or consents again
 * when the integration's settings say prompt=consent. */
static const char *microsoft_prompt(const cn_integration_t *it)
{
    json_t *v = json_object_get(it->settings, "prompt");
    return json_is_string(v) && !strcmp(json_string_value(v), "consent") ? "consent"
                                                                          : "select_account";
}

const char *cn_oauth_authorize_url(cn_ctx_t *ctx, const cn_integration_t *it, json_t *scope,
                                   const char *state, const char *code_challenge,
                                   const char *login_hint)
{
    const char *client_id = json_string_value(json_object_get(it->settings, "client_id"));
    const char *url = cn_oauth_endpoint(ctx, it->provider, "authorize", cn_oauth_tenant(it));
    int google = !strcmp(it->provider, "google");
    const char *pairs[] = {
        "client_id", client_id,
        "redirect_uri", cn_oauth_redirect_uri(ctx),
        "response_type", "code",
        "scope", upstream_scope(ctx->pool, it->provider, scope),
        "state", state,
        "code_challenge", code_challenge,
        "code_challenge_method", "S256",
        "login_hint", login_hint && *login_hint ? login_hint : NULL,
        "access_type", google ? "offline" : NULL,
        "prompt", google ? "consent" : microsoft_prompt(it),
        "include_granted_scopes", google ? "true" : NULL,
        "response_mode", google ? NULL : "query",
        NULL, NULL
    };
    return url ? cn_http_url_with_query(ctx->pool, url, pairs) : NULL;
}

json_t *cn_jwt_claims(apr_pool_t *pool, const char *jwt)
{
    const char *dot1, *dot2;
    const unsigned char *raw;
    apr_size_t len = 0;
    json_t *claims;
    /* A JWS in compact form has exactly three segments (a JWE has five). */
    if (!jwt || !(dot1 = strchr(jwt, '.')) || !(dot2 = strchr(dot1 + 1, '.'))
        || strchr(dot2 + 1, '.')) {
        return NULL;
    }
    raw = cn_b64url_decode(pool, apr_pstrndup(pool, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1)),
                           &len);
    if (!raw) {
        return NULL;
    }
    claims = cn_json_parse(pool, (const char *)raw, len, NULL);
    return json_is_object(claims) ? claims : NULL; /* RFC 7519 §7.2: a JSON object */
}

/* provider_call's status when the process has no HTTP client, and when the
 * caller holds a database handle. */
#define CN_NO_HTTP_CLIENT APR_ENOTIMPL
#define CN_DB_HELD APR_EBUSY

/* Turn a failed provider exchange into a result. */
static apr_status_t provider_failure(cn_ctx_t *ctx, const char *what, apr_status_t rv,
                                     const cn_http_response_t *resp, json_t *body,
                                     cn_event_id_t invalid_grant_type)
{
    const char *err = NULL, *desc = NULL;
    if (rv == CN_DB_HELD) {
        return cn_fail_rv(ctx->pool, &ctx->res, rv, CN_EV_INTERNAL_ERROR, "%s: %s", what,
                          resp->error);
    }
    if (rv == CN_NO_HTTP_CLIENT) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE, "%s: %s", what, resp->error);
    }
    if (rv == APR_TIMEUP || rv == APR_EGENERAL) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_RESPONDING, "%s: %s", what,
                       resp->error ? resp->error : "no answer");
    }
    if (rv == APR_ENOSPC) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "%s: the answer is larger than allowed", what);
    }
    if (body) {
        cn_json_get_string(body, "error", &err);
        cn_json_get_string(body, "error_description", &desc);
    }
    if (err && !strcmp(err, "invalid_grant")) {
        return cn_fail(ctx->pool, &ctx->res, invalid_grant_type, "%s: invalid_grant%s%s", what,
                       desc ? ": " : "", desc ? desc : "");
    }
    if (err && (!strcmp(err, "invalid_client") || !strcmp(err, "unauthorized_client"))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_CLIENT, "%s: %s%s%s", what, err,
                       desc ? ": " : "", desc ? desc : "");
    }
    if (err) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR, "%s: %s%s%s", what, err,
                       desc ? ": " : "", desc ? desc : "");
    }
    if (!body) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "%s: HTTP %d with a body that is not JSON", what, resp->status);
    }
    return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR, "%s: HTTP %d", what,
                   resp->status);
}

/* Every provider call goes through here: a process whose HTTP client could
 * not be set up answers service_unavailable instead of crashing. The call
 * is counted under PROVIDER and ENDPOINT (names of the metrics' tables). */
static apr_status_t provider_call(cn_ctx_t *ctx, const char *provider, const char *endpoint,
                                  const cn_http_request_t *req, cn_http_response_t *resp)
{
    apr_time_t start;
    apr_status_t rv;
    memset(resp, 0, sizeof(*resp));
    if (ctx->db) {
        /* The rule of every flow: no database handle while a provider is
         * asked (it may take the whole ConnectProviderTimeout). */
        cn_log(ctx, CN_LOG_CRIT, CNLOGNO(01101) "a database handle is held across a call to %s",
               req->url);
        resp->error = "a database handle is held across a provider call";
        return CN_DB_HELD;
    }
    if (!ctx->http || !ctx->http->perform) {
        resp->error = "no HTTP client in this process";
        return CN_NO_HTTP_CLIENT;
    }
    start = apr_time_now();
    rv = ctx->http->perform(ctx->http, ctx->pool, req, resp);
    cn_metrics_provider_call(ctx->metrics, provider, endpoint,
                             cn_metrics_call_outcome(rv, resp->status), apr_time_now() - start);
    return rv;
}

static json_t *json_answer(cn_ctx_t *ctx, const cn_http_response_t *resp)
{
    json_t *j;
    if (!resp->body || !resp->body_len) {
        return NULL;
    }
    j = cn_json_parse(ctx->pool, resp->body, resp->body_len, NULL);
    return json_is_object(j) ? j : NULL;
}

/* The three above for the other provider calls of proto/ (provider.h). */
apr_status_t cn_provider_call(cn_ctx_t *ctx, const char *provider, const char *endpoint,
                              const cn_http_request_t *req, cn_http_response_t *resp)
{
    return provider_call(ctx, provider, endpoint, req, resp);
}

apr_status_t cn_provider_failure(cn_ctx_t *ctx, const char *what, apr_status_t rv,
                                 const cn_http_response_t *resp, json_t *body,
                                 cn_event_id_t invalid_grant_type)
{
    return provider_failure(ctx, what, rv, resp, body, invalid_grant_type);
}

json_t *cn_provider_json(cn_ctx_t *ctx, const cn_http_response_t *resp)
{
    return json_answer(ctx, resp);
}

apr_status_t cn_oauth_token(cn_ctx_t *ctx, const cn_integration_t *it, const char *client_secret,
                            const char *code, const char *verifier, const char *refresh,
                            cn_tokens_t **out)
{
    const char *client_id = json_string_value(json_object_get(it->settings, "client_id"));
    const char *pairs[] = {
        "grant_type", code ? "authorization_code" : "refresh_token",
        "code", code,
        "code_verifier", code ? verifier : NULL,
        "redirect_uri", code ? cn_oauth_redirect_uri(ctx) : NULL,
        "refresh_token", code ? NULL : refresh,
        "client_id", client_id,
        "client_secret", client_secret,
        NULL, NULL
    };
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    cn_tokens_t *t;
    json_t *body;
    json_int_t exp = 0;
    apr_status_t rv;
    const char *what = code ? "code exchange" : "token refresh";
    cn_event_id_t grant_err = code ? CN_EV_PROVIDER_CODE_REQUEST_FAILED : CN_EV_REFRESH_TOKEN_INVALID;

    req.method = "POST";
    req.url = cn_oauth_endpoint(ctx, it->provider, "token", cn_oauth_tenant(it));
    if (!req.url) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_PROBLEM,
                       "the integration's tenant is not valid");
    }
    req.body = cn_http_form(ctx->pool, pairs);
    req.body_len = strlen(req.body);
    rv = provider_call(ctx, it->provider, "token", &req, &resp);
    body = rv == APR_SUCCESS ? json_answer(ctx, &resp) : NULL;
    if (rv != APR_SUCCESS || resp.status != 200 || !body) {
        return provider_failure(ctx, what, rv, &resp, body, grant_err);
    }
    t = apr_pcalloc(ctx->pool, sizeof(*t));
    if (cn_json_get_string(body, "access_token", &t->access_token) != APR_SUCCESS
        || !t->access_token || cn_json_get_string(body, "refresh_token", &t->refresh_token)
        || cn_json_get_string(body, "id_token", &t->id_token)
        || cn_json_get_string(body, "scope", &t->scope)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "%s: the answer has no usable access_token", what);
    }
    if (json_is_integer(json_object_get(body, "expires_in"))) {
        exp = json_integer_value(json_object_get(body, "expires_in"));
    }
    t->expires_in = exp > 0 ? (long)exp : 3600;
    t->claims = cn_jwt_claims(ctx->pool, t->id_token);
    *out = t;
    return APR_SUCCESS;
}

static const char *claim(json_t *claims, const char *name)
{
    json_t *v = json_object_get(claims, name);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

/* A boolean claim: JSON true, or the strings "true"/"1" some issuers send. */
static int claim_true(json_t *claims, const char *name)
{
    json_t *v = json_object_get(claims, name);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    return json_is_true(v) || (s && (!strcmp(s, "true") || !strcmp(s, "1")));
}

/* GET userinfo (Google) or Graph /me (Microsoft) with the access token. The
 * user it names (sub; id) must be *USER_ID when that is known already, and
 * becomes it when not. */
static apr_status_t user_document(cn_ctx_t *ctx, int google, const cn_tokens_t *tokens,
                                  const char **user_id, json_t **out)
{
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    const char *what = google ? "userinfo" : "Graph /me", *named;
    json_t *body;
    apr_status_t rv;
    req.method = "GET";
    req.url = google ? cn_oauth_endpoint(ctx, "google", "userinfo", NULL)
                     : apr_pstrcat(ctx->pool, cn_oauth_endpoint(ctx, "microsoft", "graph", NULL),
                                   "/me", NULL);
    req.bearer = tokens->access_token;
    rv = provider_call(ctx, google ? "google" : "microsoft", google ? "userinfo" : "graph",
                       &req, &resp);
    body = rv == APR_SUCCESS ? json_answer(ctx, &resp) : NULL;
    if (rv != APR_SUCCESS || resp.status != 200 || !body) {
        return provider_failure(ctx, what, rv, &resp, body, CN_EV_OAUTH_PROVIDER_ERROR);
    }
    named = claim(body, google ? "sub" : "id");
    if (*user_id && named && strcmp(*user_id, named)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "%s names another user than the id_token", what);
    }
    if (!*user_id) {
        *user_id = named;
    }
    *out = body;
    return APR_SUCCESS;
}

static int usable_email(const char *e)
{
    return e && strchr(e, '@') && strlen(e) <= 254;
}

/* Google: sub is the identity; the email counts when email_verified says so. */
static apr_status_t google_identity(cn_ctx_t *ctx, const cn_tokens_t *tokens,
                                    cn_identity_t *id)
{
    json_t *c = tokens->claims;
    const char *sub = c ? claim(c, "sub") : NULL, *email = NULL;
    if (c && claim_true(c, "email_verified")) {
        email = claim(c, "email");
    }
    if (!sub || !usable_email(email)) {
        json_t *info;
        if (user_document(ctx, 1, tokens, &sub, &info) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        email = claim_true(info, "email_verified") ? claim(info, "email") : NULL;
        if (!email && claim(info, "email")) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                           "Google has not verified the user's email address");
        }
    }
    if (!sub) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "the provider did not identify the user (no sub)");
    }
    id->subject = id->legacy_subject = id->user_id = sub;
    id->email = email;
    return APR_SUCCESS;
}

/* Microsoft: tid + oid is the identity (oid alone is unique in its tenant;
 * sub is pairwise per application). email, mail and preferred_username are
 * values a tenant admin can set: the email claim counts only with xms_edov
 * (the domain is verified by its owner), else the userPrincipalName, whose
 * domain must be one the tenant verified. */
static apr_status_t microsoft_identity(cn_ctx_t *ctx, const cn_tokens_t *tokens,
                                       cn_identity_t *id)
{
    json_t *c = tokens->claims;
    const char *tid = c ? claim(c, "tid") : NULL, *oid = c ? claim(c, "oid") : NULL;
    const char *email = NULL;
    if (c && claim_true(c, "xms_edov")) {
        email = claim(c, "email");
    }
    if (!tid) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "the id_token names no tenant (tid)");
    }
    if (!oid || !usable_email(email)) {
        json_t *me;
        if (user_document(ctx, 0, tokens, &oid, &me) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (!usable_email(email)) {
            email = claim(me, "userPrincipalName");
        }
    }
    if (!oid) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "the provider did not identify the user (no oid)");
    }
    id->subject = apr_pstrcat(ctx->pool, tid, "/", oid, NULL);
    id->legacy_subject = id->user_id = oid;
    id->email = email;
    return APR_SUCCESS;
}

apr_status_t cn_oauth_identity(cn_ctx_t *ctx, const cn_integration_t *it,
                               const cn_tokens_t *tokens, cn_identity_t **out)
{
    cn_identity_t *id = apr_pcalloc(ctx->pool, sizeof(*id));
    apr_status_t rv = !strcmp(it->provider, "google") ? google_identity(ctx, tokens, id)
                                                      : microsoft_identity(ctx, tokens, id);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strlen(id->subject) > 512) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "the provider's user identifier is too long");
    }
    if (!usable_email(id->email)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_PROVIDER_ERROR,
                       "the provider did not vouch for the user's email address");
    }
    id->email = cn_lower(ctx->pool, id->email);
    *out = id;
    return APR_SUCCESS;
}

/* A scope as the provider echoes it back. */
static const char *normal_scope(apr_pool_t *p, const char *provider, const char *s)
{
    if (!strcmp(provider, "google")) {
        if (!strcmp(s, "email")) {
            return "https://www.googleapis.com/auth/userinfo.email";
        }
        if (!strcmp(s, "profile")) {
            return "https://www.googleapis.com/auth/userinfo.profile";
        }
        return s;
    }
    if (!strncasecmp(s, "https://graph.microsoft.com/", 28)) {
        s += 28;
    }
    return cn_lower(p, s);
}

const char *cn_oauth_missing_scope(apr_pool_t *pool, const char *provider, json_t *requested,
                                   const char *granted)
{
    apr_hash_t *have = apr_hash_make(pool);
    char *copy = apr_pstrdup(pool, granted ? granted : ""), *tok, *state = NULL;
    size_t i;
    json_t *v;
    for (tok = apr_strtok(copy, " ", &state); tok; tok = apr_strtok(NULL, " ", &state)) {
        apr_hash_set(have, normal_scope(pool, provider, tok), APR_HASH_KEY_STRING, "");
    }
    json_array_foreach(requested, i, v) {
        const char *s = json_string_value(v);
        /* never echoed back: openid and offline_access everywhere, and Microsoft's
         * OpenID scopes */
        if (!strcmp(s, "openid") || !strcmp(s, "offline_access")
            || (strcmp(provider, "google") && (!strcmp(s, "email") || !strcmp(s, "profile")))) {
            continue;
        }
        if (!granted) {
            continue; /* the provider did not say: trust the consent screen */
        }
        if (!apr_hash_get(have, normal_scope(pool, provider, s), APR_HASH_KEY_STRING)) {
            return s;
        }
    }
    return NULL;
}

void cn_oauth_revoke(cn_ctx_t *ctx, const cn_integration_t *it, const char *token)
{
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    const char *url = cn_oauth_endpoint(ctx, it->provider, "revoke", NULL);
    const char *pairs[] = {"token", token, NULL, NULL};
    if (!url || !token) {
        return;
    }
    req.method = "POST";
    req.url = url;
    req.body = cn_http_form(ctx->pool, pairs);
    req.body_len = strlen(req.body);
    provider_call(ctx, it->provider, "revoke", &req, &resp);
}
