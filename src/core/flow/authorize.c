/* The OAuth 2.0 authorization request, GET /auth (RFC 6749 §4.1, RFC 7636):
 * the application sends its user here; the user signs in at the provider as
 * in the hosted flow; the flow ends with a redirect to the application's
 * redirect URI with an authorization code and its state, which POST /token
 * exchanges for tokens.
 *
 * Until the application, its integration for the provider and an exact match
 * of the redirect URI are known, every failure is a page (RFC 6749 §4.1.2.1,
 * RFC 9700 §4.1): nothing may be sent to a URI that is not the
 * application's. After that, failures go back to it with error,
 * error_description and state. The request is kept as a login request of its
 * own kind, spent at once. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "cn_discover.h"
#include "flow.h"

#define CN_AUTHORIZE_TTL 1800 /* seconds to sign in at the provider */
#define STATE_MAX 1024
#define NONCE_MAX 512
#define LOGIN_HINT_MAX 254
#define PROMPT_MAX 64

/* Back to the application's REDIRECT_URI with the failure in ctx->res. */
static const char *error_location(cn_ctx_t *ctx, const char *redirect_uri, const char *state)
{
    const char *pairs[] = {
        "error", cn_oauth_authorize_error(ctx->res.event),
        "error_description", cn_oauth_error_description(ctx->pool, &ctx->res),
        "state", state,
        NULL, NULL
    };
    const cn_result_t *res = &ctx->res;
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(01311) "authorization request failed: %s (%d)%s%s",
           res->event->type, res->event->code, res->description ? ": " : "",
           res->description ? res->description : "");
    return cn_http_url_with_query(ctx->pool, redirect_uri, pairs);
}

/* The (first) value of NAME in QUERY (NULL when absent); *TWICE when it is
 * given more than once (RFC 6749 §3.1). */
static const char *single(const apr_table_t *query, const char *name, int *twice)
{
    const apr_array_header_t *arr = apr_table_elts(query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *v = NULL;
    int i, n = 0;
    for (i = 0; i < arr->nelts; ++i) {
        if (e[i].key && !strcmp(e[i].key, name) && !n++) {
            v = e[i].val;
        }
    }
    if (n > 1) {
        *twice = 1;
    }
    return v;
}

/* A text parameter: at most MAX bytes of UTF-8 (it goes into JSON and URLs). */
static int text_ok(apr_pool_t *pool, const char *v, apr_size_t max)
{
    return !v || (strlen(v) <= max && cn_json_utf8_prefix(pool, v, max));
}

/* An integration credential ID (or NULL) stands in for the integration's own
 * provider app: checked here, applied when the flow's origin is loaded. */
static apr_status_t credential_of(cn_ctx_t *ctx, const cn_integration_t *it, const char *id,
                                  json_t *request)
{
    cn_credential_t *cred;
    apr_status_t rv;
    if (!id) {
        return APR_SUCCESS;
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_credential_use(ctx, it, id, &cred);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(cred->type, CN_CRED_INTEGRATION) || !cn_integration_with(ctx->pool, it, cred)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "credential %s is of type %s: an authorization request takes an "
                       "integration credential (admin consent: response_type=adminconsent)",
                       cred->id, cred->type);
    }
    json_object_set_new(request, "credential_id", json_string(cred->id));
    return APR_SUCCESS;
}

/* What the application may ask beyond the three that pick the redirect URI;
 * the request as the login request keeps it, into REQUEST. */
static apr_status_t check_request(cn_ctx_t *ctx, const apr_table_t *query,
                                  const cn_integration_t *it, json_t *request)
{
    static const char *const params[] = {"client_id", "provider", "redirect_uri",
                                         "response_type", "scope", "state", "nonce",
                                         "login_hint", "access_type", "code_challenge",
                                         "code_challenge_method", "prompt", "expires_in",
                                         "credential_id", NULL};
    const char *const *p;
    const char *response_type, *scope_s, *nonce, *hint, *access_type, *challenge, *method_s;
    const char *prompt, *expires_s, *method = NULL, *why = NULL;
    json_t *scope;
    int twice = 0;
    long expires = 0;

    for (p = params; *p; ++p) {
        single(query, *p, &twice);
    }
    response_type = single(query, "response_type", &twice);
    scope_s = single(query, "scope", &twice);
    nonce = single(query, "nonce", &twice);
    hint = single(query, "login_hint", &twice);
    access_type = single(query, "access_type", &twice);
    challenge = single(query, "code_challenge", &twice);
    method_s = single(query, "code_challenge_method", &twice);
    prompt = single(query, "prompt", &twice);
    expires_s = single(query, "expires_in", &twice);
    if (twice) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "a parameter is given more than once");
    }
    if (!response_type || !*response_type) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "response_type is required");
    }
    if (strcmp(response_type, "code")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_UNSUPPORTED_RESPONSE_TYPE,
                       "response_type must be code");
    }
    if (!(scope = cn_oauth_scope_parse(ctx->pool, scope_s))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_SCOPE,
                       "scope must be space-separated scope tokens (at most 100 of 512 bytes)");
    }
    if (!json_array_size(scope)) {
        scope = it->scope; /* the integration's, as the seed says */
    }
    if (!json_array_size(scope) && cn_provider_can(it->provider, CN_PROVIDER_OAUTH)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NO_LOGIN_SCOPES, NULL);
    }
    if (!text_ok(ctx->pool, nonce, NONCE_MAX) || !text_ok(ctx->pool, hint, LOGIN_HINT_MAX)
        || !text_ok(ctx->pool, prompt, PROMPT_MAX)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "nonce, login_hint and prompt are UTF-8 of at most 512, 254 and 64 bytes");
    }
    if (access_type && strcmp(access_type, "online") && strcmp(access_type, "offline")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "access_type must be online or offline");
    }
    if (method_s && !challenge) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "code_challenge_method without code_challenge");
    }
    if (challenge) {
        if (!(method = cn_pkce_method(method_s))) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                           "code_challenge_method must be plain or S256");
        }
        if (cn_pkce_challenge_check(challenge, method, &why) != APR_SUCCESS) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "%s", why);
        }
    }
    if (expires_s) {
        char *end;
        expires = strtol(expires_s, &end, 10);
        if (!*expires_s || *end || strlen(expires_s) > 6 || expires < CN_ACCESS_TTL_MIN
            || expires > CN_ACCESS_TTL_MAX) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                           "expires_in must be 300-86400 seconds");
        }
    }
    json_object_set(request, "scope", scope);
    json_object_set_new(request, "access_type",
                        json_string(access_type ? access_type : "online"));
    if (nonce) {
        json_object_set_new(request, "nonce", json_string(nonce));
    }
    if (hint && *hint) {
        json_object_set_new(request, "login_hint", json_string(hint));
    }
    if (challenge) {
        json_object_set_new(request, "code_challenge", json_string(challenge));
        json_object_set_new(request, "code_challenge_method", json_string(method));
    }
    if (prompt) {
        json_object_set_new(request, "prompt", json_string(prompt));
    }
    if (expires) {
        json_object_set_new(request, "expires_in", json_integer(expires));
    }
    return credential_of(ctx, it, single(query, "credential_id", &twice), request);
}

apr_status_t cn_flow_authorize_choose(cn_ctx_t *ctx, const apr_table_t *query, const char **chosen,
                                      const char **login_hint, cn_flow_screen_t **screen)
{
    const char *provider = apr_table_get(query, "provider");
    const char *redirect_uri = apr_table_get(query, "redirect_uri");
    const char *email = apr_table_get(query, "email");
    apr_array_header_t *usable = NULL;
    cn_integration_t *it = NULL;
    cn_prompt_t prompt;
    apr_status_t rv;
    int i;

    *chosen = *login_hint = NULL;
    *screen = NULL;
    if ((provider && *provider) || cn_prompt_parse(apr_table_get(query, "prompt"), &prompt)
        || (!prompt.select && !prompt.detect)) {
        return APR_ENOENT;
    }
    if (!redirect_uri || !*redirect_uri) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "redirect_uri is required");
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_integration_usable(ctx, redirect_uri, &usable);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!usable->nelts || cn_url_redirect_uri_check(ctx->pool, redirect_uri, NULL) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "no integration of the application allows this redirect_uri");
    }
    if (email && prompt.detect) {
        *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
        (*screen)->email = email;
        if (!cn_email_valid(email)) {
            (*screen)->error = CN_EV_INVALID_REQUEST;
        }
        else if (!(it = cn_flow_offered(usable, cn_flow_detect_provider(ctx, email)))) {
            (*screen)->error = CN_EV_PROVIDER_NOT_SUPPORTED;
        }
        else {
            *screen = NULL;
            *login_hint = email;
        }
    }
    else if (usable->nelts == 1) { /* one way in: straight there (seed) */
        it = APR_ARRAY_IDX(usable, 0, cn_integration_t *);
    }
    if (it) {
        *chosen = it->provider;
        return APR_SUCCESS;
    }
    if (!*screen) {
        *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
    }
    (*screen)->prompt = prompt;
    (*screen)->return_origin = cn_url_origin(ctx->pool, redirect_uri);
    (*screen)->providers = apr_array_make(ctx->pool, usable->nelts, sizeof(const char *));
    for (i = 0; i < usable->nelts; ++i) {
        APR_ARRAY_PUSH((*screen)->providers, const char *) =
            APR_ARRAY_IDX(usable, i, cn_integration_t *)->provider;
    }
    return APR_SUCCESS;
}

apr_status_t cn_flow_authorize_begin(cn_ctx_t *ctx, const apr_table_t *query, cn_flow_t **out,
                                     const char **location)
{
    const char *provider, *redirect_uri, *state, *id, *response_type;
    cn_integration_t *it;
    cn_login_t *login;
    json_t *request;
    apr_status_t rv;
    int twice = 0;

    *out = NULL;
    *location = NULL;
    /* Which redirect URI: until it is known to be the application's, a page. */
    single(query, "client_id", &twice);
    provider = single(query, "provider", &twice);
    redirect_uri = single(query, "redirect_uri", &twice);
    if (twice) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "client_id, provider or redirect_uri is given more than once");
    }
    if (!provider || !*provider) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_REQUIRED, NULL);
    }
    if (!cn_provider(provider)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                       "the authorization request takes google, microsoft or imap");
    }
    if (!redirect_uri || !*redirect_uri) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "redirect_uri is required");
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_integration_require(ctx, provider, &it);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!cn_json_array_has(it->redirect_uris, redirect_uri)
        || cn_url_redirect_uri_check(ctx->pool, redirect_uri, NULL) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "redirect_uri is not one of the integration's redirect URIs");
    }

    /* From here on the application hears of every failure. */
    state = single(query, "state", &twice);
    if (!text_ok(ctx->pool, state, STATE_MAX)) {
        cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                "state is UTF-8 of at most 1024 bytes");
        *location = error_location(ctx, redirect_uri, NULL);
        return APR_SUCCESS;
    }
    request = cn_json_own(ctx->pool, json_pack("{s:s,s:s}", "redirect_uri", redirect_uri,
                                               "provider", provider));
    if (state) {
        json_object_set_new(request, "state", json_string(state));
    }
    /* Microsoft admin consent: a flow of its own kind (flow/adminconsent.c). */
    response_type = single(query, "response_type", &twice);
    if (request && !twice && response_type && !strcmp(response_type, "adminconsent")) {
        if (cn_flow_adminconsent_begin(ctx, query, it, request, out) != APR_SUCCESS) {
            *location = error_location(ctx, redirect_uri, state);
        }
        return APR_SUCCESS;
    }
    if (!request || check_request(ctx, query, it, request) != APR_SUCCESS) {
        *location = error_location(ctx, redirect_uri, state);
        return APR_SUCCESS;
    }
    if (cn_random_token(ctx->pool, 32, &id) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "randomness");
    }
    login = apr_pcalloc(ctx->pool, sizeof(*login));
    login->digest = cn_sha256_hex(ctx->pool, id, strlen(id));
    login->kind = CN_LOGIN_AUTHORIZE;
    login->app_id = ctx->app_id;
    login->integration_id = it->id;
    login->provider = provider;
    login->request = request;
    login->expires_at = ctx->now + CN_AUTHORIZE_TTL;
    return cn_flow_from_login(ctx, login, out);
}

/* Stored once the browser's session holds the flow, and spent at once. */
static apr_status_t authorize_claim(cn_ctx_t *ctx, const cn_flow_t *flow,
                                    cn_flow_origin_t *origin)
{
    const cn_login_t *login = flow->loaded;
    if (!login) {
        return cn_fail_internal(ctx, "launching an authorization request not begun here");
    }
    if (cn_login_save(ctx, login) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return cn_flow_login_claim(ctx, flow, origin);
}

static apr_status_t authorize_done(cn_ctx_t *ctx, const cn_flow_t *flow,
                                   const cn_flow_origin_t *origin, const cn_flow_proof_t *proof,
                                   const char **location)
{
    const cn_login_t *login = origin->data;
    const char *access_type = cn_flow_request_str(login, "access_type"), *code;
    cn_code_request_t req = {0};
    cn_grant_t *grant;
    json_int_t expires = json_integer_value(json_object_get(login->request, "expires_in"));
    int reauth = 0;
    apr_status_t rv;

    if (cn_flow_connect(ctx, origin->it, origin->scope, origin->app_state, NULL, proof, &grant,
                        &reauth) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    req.client_id = login->app_id;
    req.redirect_uri = origin->redirect_uri;
    req.scope = cn_oauth_scope_string(ctx->pool, origin->scope);
    req.nonce = cn_flow_request_str(login, "nonce");
    req.code_challenge = cn_flow_request_str(login, "code_challenge");
    req.code_challenge_method = cn_flow_request_str(login, "code_challenge_method");
    req.offline = access_type && !strcmp(access_type, "offline");
    req.token_expires_in = (long)expires;
    req.auth_time = ctx->now;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_code_issue(ctx, grant->id, &req, &code);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    cn_log(ctx, CN_LOG_INFO, CNLOGNO(01312) "authorization code issued for grant %s %s (%s)",
           grant->id, reauth ? "re-authenticated" : "created", origin->it->provider);
    {
        const char *pairs[] = {"code", code, "state", origin->app_state, NULL, NULL};
        *location = cn_http_url_with_query(ctx->pool, origin->redirect_uri, pairs);
    }
    return APR_SUCCESS;
}

static const char *authorize_failed(cn_ctx_t *ctx, const cn_flow_t *flow,
                                    const cn_flow_origin_t *origin)
{
    return error_location(ctx, origin->redirect_uri, origin->app_state);
}

const cn_flow_kind_t cn_flow_kind_authorize = {
    CN_LOGIN_AUTHORIZE, authorize_claim, cn_flow_login_resume, authorize_done, authorize_failed
};
