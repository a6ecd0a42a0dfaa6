/* Hosted login requests (POST /auth → GET /login → GET /callback). The login
 * id is 256 random bits, handed out once and stored only as its SHA-256. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_model.h"
#include "cn_util.h"

#define CN_LOGIN_MIN 60
#define CN_LOGIN_MAX 86400

static apr_status_t check_string(cn_ctx_t *ctx, json_t *body, const char *key, apr_size_t max,
                                 const char **out)
{
    if (cn_json_get_string(body, key, out) != APR_SUCCESS || (*out && strlen(*out) > max)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "%s must be a string of at most %" APR_SIZE_T_FMT " bytes", key, max);
    }
    return APR_SUCCESS;
}

apr_status_t cn_prompt_parse(const char *prompt, cn_prompt_t *out)
{
    const char *p = prompt, *end;
    memset(out, 0, sizeof(*out));
    while (p && *p) {
        apr_size_t n;
        end = strchr(p, ',');
        n = end ? (apr_size_t)(end - p) : strlen(p);
        if (n == 15 && !strncmp(p, "select_provider", n) && !out->select) {
            out->select = 1;
        }
        else if (n == 6 && !strncmp(p, "detect", n) && !out->detect) {
            out->detect = 1;
            out->detect_first = !out->select;
        }
        else {
            return APR_EINVAL;
        }
        p = end ? end + 1 : NULL;
        if (p && !*p) {
            return APR_EINVAL; /* a trailing comma */
        }
    }
    return APR_SUCCESS;
}

/* The seed's settings of a hosted login: type, the kind of mailbox (yahoo,
 * icloud, ...) an IMAP sign-in is for. */
static apr_status_t check_login_settings(cn_ctx_t *ctx, const char *provider, json_t *settings)
{
    static const char *const allowed[] = {"type", NULL};
    const char *bad, *type = NULL, *c;
    if (!settings || !json_object_size(settings)) {
        return APR_SUCCESS;
    }
    if ((bad = cn_json_unknown_key(settings, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "unknown setting '%s'", bad);
    }
    if (cn_json_get_string(settings, "type", &type) != APR_SUCCESS || !type || !*type
        || strlen(type) > 32) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings.type must be a word of at most 32 letters, e.g. yahoo");
    }
    for (c = type; *c; ++c) {
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_", *c)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                           "settings.type must be a word of at most 32 letters, e.g. yahoo");
        }
    }
    if (provider && strcmp(provider, "imap")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings.type is for provider imap");
    }
    return APR_SUCCESS;
}

apr_status_t cn_login_create(cn_ctx_t *ctx, json_t *body, json_t **out)
{
    static const char *const allowed[] = {"provider", "redirect_uri", "scope", "state",
                                          "login_hint", "grant_id", "expires_in",
                                          "cookie_nonce", "settings", "prompt", "credential_id",
                                          NULL};
    const char *provider = NULL, *redirect_uri = NULL, *state = NULL, *hint = NULL;
    const char *grant_id = NULL, *nonce = NULL, *prompt = NULL, *bad, *id, *cred_id = NULL;
    json_t *scope = NULL, *settings = NULL, *request;
    long long expires = -1;
    cn_integration_t *it = NULL;
    cn_prompt_t screen;
    cn_login_t login = {0};
    apr_int64_t expires_at;

    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (check_string(ctx, body, "provider", 32, &provider) != APR_SUCCESS
        || check_string(ctx, body, "redirect_uri", 2048, &redirect_uri) != APR_SUCCESS
        || check_string(ctx, body, "state", 1024, &state) != APR_SUCCESS
        || check_string(ctx, body, "login_hint", 254, &hint) != APR_SUCCESS
        || check_string(ctx, body, "grant_id", 64, &grant_id) != APR_SUCCESS
        || check_string(ctx, body, "cookie_nonce", 256, &nonce) != APR_SUCCESS
        || check_string(ctx, body, "prompt", 64, &prompt) != APR_SUCCESS
        || check_string(ctx, body, "credential_id", 64, &cred_id) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_prompt_parse(prompt, &screen) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "prompt must be select_provider, detect, or both, comma-separated");
    }
    if (cn_json_get_string_array(body, "scope", 100, 512, &scope) != APR_SUCCESS
        || cn_json_get_object(body, "settings", &settings) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "scope must be an array of strings, settings an object");
    }
    if (cn_json_get_int(body, "expires_in", &expires) != APR_SUCCESS
        || (json_object_get(body, "expires_in") && expires < 0)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_EXPIRES_IN_INVALID,
                       "expires_in must be an integer number of seconds");
    }
    /* Without a provider, the login screen chooses one (prompt). */
    if (!provider && !screen.select && !screen.detect) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_REQUIRED,
                       "provider is required unless prompt asks for the login screen");
    }
    if (provider && !cn_provider(provider)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                       "hosted authentication takes google, microsoft or imap");
    }
    if (check_login_settings(ctx, provider, settings) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!redirect_uri) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "redirect_uri is required");
    }
    if (provider) {
        if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (!cn_json_array_has(it->redirect_uris, redirect_uri)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED, NULL);
        }
    }
    /* Another provider app of the integration (seed "Credentials"). */
    if (cred_id) {
        cn_credential_t *cred;
        if (!it) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                           "credential_id needs a provider");
        }
        if (cn_credential_use(ctx, it, cred_id, &cred) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (strcmp(cred->type, CN_CRED_INTEGRATION) || !cn_integration_with(ctx->pool, it, cred)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                           "credential %s is of type %s: hosted authentication takes an "
                           "integration credential", cred->id, cred->type);
        }
    }
    else {
        apr_array_header_t *usable;
        if (cn_integration_usable(ctx, redirect_uri, &usable) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (!usable->nelts) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                           "no integration of the application allows this redirect_uri");
        }
    }
    /* One stored before redirect URIs were checked is refused before a login
     * can be spent on it. */
    if (cn_url_redirect_uri_check(ctx->pool, redirect_uri, NULL) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "the integration's redirect URI is not a valid one: update it");
    }
    /* Scopes: the request's, else the integration's (the login screen's
     * chosen one, then); an IMAP mailbox has none. */
    if ((!scope || !json_array_size(scope)) && it) {
        scope = it->scope;
    }
    if (!scope) {
        scope = cn_json_own(ctx->pool, json_array());
    }
    if (it && cn_provider_can(provider, CN_PROVIDER_OAUTH) && !json_array_size(scope)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NO_LOGIN_SCOPES, NULL);
    }
    if (expires == -1) {
        expires = it && it->expires_in < CN_LOGIN_MAX ? it->expires_in : CN_LOGIN_MAX;
    }
    if (expires < CN_LOGIN_MIN || expires > CN_LOGIN_MAX) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_EXPIRES_IN_INVALID, NULL);
    }
    if (grant_id) {
        cn_grant_t *g;
        if (cn_grant_load(ctx, grant_id, &g) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (!provider || strcmp(g->provider, provider)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                           "grant_id belongs to another provider");
        }
    }
    if (cn_random_token(ctx->pool, 32, &id) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "randomness");
    }
    expires_at = ctx->now + expires;
    request = cn_json_own(ctx->pool, json_pack("{s:s,s:O}", "redirect_uri", redirect_uri,
                                               "scope", scope));
    if (provider) {
        json_object_set_new(request, "provider", json_string(provider));
    }
    if (prompt && *prompt) {
        json_object_set_new(request, "prompt", json_string(prompt));
    }
    if (settings && json_object_size(settings)) {
        json_object_set(request, "settings", settings);
    }
    if (hint) {
        json_object_set_new(request, "login_hint", json_string(hint));
    }
    if (state) {
        json_object_set_new(request, "state", json_string(state));
    }
    if (grant_id) {
        json_object_set_new(request, "grant_id", json_string(grant_id));
    }
    if (nonce) {
        json_object_set_new(request, "cookie_nonce", json_string(nonce));
    }
    if (cred_id) {
        json_object_set_new(request, "credential_id", json_string(cred_id));
    }
    login.digest = cn_sha256_hex(ctx->pool, id, strlen(id));
    login.kind = CN_LOGIN_HOSTED;
    login.app_id = ctx->app_id;
    login.integration_id = it ? it->id : "";
    login.provider = provider ? provider : "";
    login.request = request;
    login.expires_at = expires_at;
    if (cn_login_save(ctx, &login) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* What the application sees of its request: never the cookie nonce. */
    json_object_del(request, "cookie_nonce");
    *out = cn_json_own(ctx->pool,
                       json_pack("{s:s,s:s,s:I,s:O}", "url",
                                 apr_pstrcat(ctx->pool, ctx->base_url, "/login?id=", id, NULL),
                                 "id", id, "expires_at", (json_int_t)expires_at, "request",
                                 request));
    return APR_SUCCESS;
}

apr_status_t cn_login_save(cn_ctx_t *ctx, const cn_login_t *login)
{
    const char *args[8];
    args[0] = login->digest;
    args[1] = login->app_id;
    args[2] = login->integration_id;
    args[3] = login->provider;
    args[4] = cn_json_dump(ctx->pool, login->request);
    args[5] = apr_ltoa(ctx->pool, (long)login->expires_at);
    args[6] = apr_ltoa(ctx->pool, (long)ctx->now);
    args[7] = login->kind;
    if (!args[4]) {
        return cn_fail_internal(ctx, "writing a login request");
    }
    if (cn_db_exec(ctx->pool, ctx->db, "cn_login_insert", 8, args, NULL) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    return APR_SUCCESS;
}

static apr_status_t load(cn_ctx_t *ctx, const char *digest, cn_login_t **out)
{
    apr_array_header_t *rows;
    const char *args[1] = {digest};
    cn_row_t *r;
    cn_login_t *l;
    if (cn_db_select(ctx->pool, ctx->db, "cn_login_get", 1, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!rows->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID, NULL);
    }
    r = APR_ARRAY_IDX(rows, 0, cn_row_t *);
    l = apr_pcalloc(ctx->pool, sizeof(*l));
    l->digest = r->cols[0];
    l->app_id = r->cols[1];
    l->integration_id = r->cols[2];
    l->provider = r->cols[3];
    l->request = cn_json_load_stored(ctx->pool, r->cols[4]);
    l->expires_at = apr_atoi64(r->cols[5]);
    l->used_at = r->cols[6] ? apr_atoi64(r->cols[6]) : 0;
    l->kind = r->cols[7];
    if (!l->request) {
        return cn_fail_internal(ctx, "reading a stored login request");
    }
    *out = l;
    return APR_SUCCESS;
}

/* The login's integration as it is now, and the login's redirect URI still
 * one of its exact members: an integration PATCHed in between no longer
 * sends anything to a URI it dropped. */
static apr_status_t with_integration(cn_ctx_t *ctx, cn_login_t *l, cn_integration_t **it)
{
    apr_status_t rv;
    json_t *uri = json_object_get(l->request, "redirect_uri");
    ctx->app_id = l->app_id;
    rv = cn_integration_load(ctx, l->provider, it);
    if (rv == APR_ENOENT || (rv == APR_SUCCESS && strcmp((*it)->id, l->integration_id))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NO_LONGER_EXISTS, NULL);
    }
    if (rv != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!json_is_string(uri) || !cn_json_array_has((*it)->redirect_uris, json_string_value(uri))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "the integration no longer allows this sign-in's redirect_uri");
    }
    /* A value that went bad in the store never reaches a Location header. */
    if (cn_url_redirect_uri_check(ctx->pool, json_string_value(uri), NULL) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                       "this sign-in's redirect_uri is not a valid redirect URI");
    }
    return APR_SUCCESS;
}

apr_status_t cn_login_check(cn_ctx_t *ctx, const char *id, const char *cookie_nonce,
                            cn_login_t **login)
{
    const char *nonce;
    json_t *v;
    if (!id || strlen(id) != 43) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID, NULL);
    }
    if (load(ctx, cn_sha256_hex(ctx->pool, id, strlen(id)), login) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* Only a hosted login request has an id that was handed out. */
    if ((*login)->used_at || (*login)->expires_at <= ctx->now
        || strcmp((*login)->kind, CN_LOGIN_HOSTED)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID, NULL);
    }
    /* A browser without the application's cookie does not burn the link. */
    v = json_object_get((*login)->request, "cookie_nonce");
    nonce = json_is_string(v) ? json_string_value(v) : NULL;
    if (nonce && (!cookie_nonce
                  || !cn_ct_equal(cookie_nonce, strlen(cookie_nonce), nonce, strlen(nonce)))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "the x-cookie-nonce cookie does not match the login request");
    }
    return APR_SUCCESS;
}

apr_status_t cn_login_spend(cn_ctx_t *ctx, cn_login_t *login, cn_integration_t **it)
{
    const char *args[6];
    int n = 0;
    if (!login->provider || !*login->provider || !login->integration_id
        || !*login->integration_id) {
        return cn_fail_internal(ctx, "spending a login without a provider");
    }
    /* Spending is one conditional UPDATE: of two concurrent visits, one wins. */
    args[0] = apr_ltoa(ctx->pool, (long)ctx->now);
    args[1] = login->provider;
    args[2] = login->integration_id;
    args[3] = login->digest;
    args[4] = args[0];
    args[5] = login->provider;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_login_use", 6, args, &n) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID, NULL);
    }
    return with_integration(ctx, login, it);
}

apr_status_t cn_login_by_digest(cn_ctx_t *ctx, const char *kind, const char *digest,
                                cn_login_t **login, cn_integration_t **it)
{
    const char *args[3];
    int n = 0;
    if (load(ctx, digest, login) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (strcmp((*login)->kind, kind)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "the sign-in is of another kind");
    }
    /* The provider's answer is taken once: a replay with an old copy of the
     * session cookie finds the login request already called back. */
    args[0] = apr_ltoa(ctx->pool, (long)ctx->now);
    args[1] = digest;
    args[2] = args[0];
    if (cn_db_exec(ctx->pool, ctx->db, "cn_login_callback", 3, args, &n) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "this sign-in was already completed, or has expired");
    }
    return with_integration(ctx, *login, it);
}
