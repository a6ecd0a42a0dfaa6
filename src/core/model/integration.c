/* Integrations: one per provider per application, provider client secret
 * sealed at rest and never returned. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_model.h"

#define CN_NAME_MAX 256
#define CN_SCOPES_MAX 100
#define CN_SCOPE_MAX 512
#define CN_SETTING_MAX 4096
#define CN_EXPIRES_DEFAULT 43200
#define CN_EXPIRES_MIN 60
#define CN_EXPIRES_MAX 315360000 /* ten years, as the seed's invalid_token_expiry says */

/* The providers an integration can be made for, and what each can do. */
static const cn_provider_t providers[] = {
    {"google", CN_PROVIDER_OAUTH},
    {"microsoft", CN_PROVIDER_OAUTH},
    {"imap", CN_PROVIDER_PASSWORD},
    {NULL, 0}
};

const cn_provider_t *cn_provider(const char *name)
{
    const cn_provider_t *p;
    for (p = providers; name && p->name; ++p) {
        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

int cn_provider_can(const char *name, unsigned caps)
{
    const cn_provider_t *p = cn_provider(name);
    return p && (p->caps & caps) == caps;
}

static int parse_nonneg(const char *s, long *out)
{
    char *end;
    long v;
    if (!s || !*s || strlen(s) > 9) {
        return 0;
    }
    v = strtol(s, &end, 10);
    if (*end || v < 0) {
        return 0;
    }
    *out = v;
    return 1;
}

apr_status_t cn_paging_parse(cn_ctx_t *ctx, const char *limit, const char *offset, int *lim,
                             int *off)
{
    long l = 10, o = 0;
    if (limit && (!parse_nonneg(limit, &l) || l < 1 || l > 200)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "limit must be an integer from 1 to 200");
    }
    if (offset && !parse_nonneg(offset, &o)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "offset must be a non-negative integer");
    }
    *lim = (int)l;
    *off = (int)o;
    return APR_SUCCESS;
}

/* ---- rows <-> structs <-> JSON ---------------------------------------- */

static cn_integration_t *from_row(apr_pool_t *p, const cn_row_t *row)
{
    cn_integration_t *it = apr_pcalloc(p, sizeof(*it));
    it->id = row->cols[0];
    it->app_id = row->cols[1];
    it->provider = row->cols[2];
    it->name = row->cols[3];
    it->settings = cn_json_load_stored(p, row->cols[4]);
    it->client_secret = row->cols[5];
    it->redirect_uris = cn_json_load_stored(p, row->cols[6]);
    it->scope = cn_json_load_stored(p, row->cols[7]);
    it->expires_in = row->cols[8] ? atoi(row->cols[8]) : CN_EXPIRES_DEFAULT;
    it->created_at = row->cols[9] ? apr_atoi64(row->cols[9]) : 0;
    it->updated_at = row->cols[10] ? apr_atoi64(row->cols[10]) : 0;
    if (!it->settings) {
        it->settings = cn_json_own(p, json_object());
    }
    if (!it->redirect_uris) {
        it->redirect_uris = cn_json_own(p, json_array());
    }
    if (!it->scope) {
        it->scope = cn_json_own(p, json_array());
    }
    return it;
}

static json_t *to_json(apr_pool_t *p, const cn_integration_t *it)
{
    return cn_json_own(p, json_pack("{s:s,s:s,s:s,s:O,s:O,s:i,s:O,s:I,s:I}", "id", it->id, "name",
                                    it->name, "provider", it->provider, "settings", it->settings,
                                    "redirect_uris", it->redirect_uris, "expires_in",
                                    it->expires_in, "scope", it->scope, "created_at",
                                    (json_int_t)it->created_at, "updated_at",
                                    (json_int_t)it->updated_at));
}

apr_status_t cn_integration_load(cn_ctx_t *ctx, const char *provider, cn_integration_t **out)
{
    apr_array_header_t *rows;
    const char *args[2] = {ctx->app_id, provider};
    if (cn_db_select(ctx->pool, ctx->db, "cn_integration_get", 2, args, &rows) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!rows->nelts) {
        return APR_ENOENT;
    }
    *out = from_row(ctx->pool, APR_ARRAY_IDX(rows, 0, cn_row_t *));
    return APR_SUCCESS;
}

apr_status_t cn_integration_require(cn_ctx_t *ctx, const char *provider, cn_integration_t **out)
{
    apr_status_t rv;
    if (!cn_provider(provider)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NOT_FOUND,
                       "no integration for that provider");
    }
    rv = cn_integration_load(ctx, provider, out);
    if (rv == APR_ENOENT) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NOT_FOUND,
                       "no integration for that provider");
    }
    return rv == APR_SUCCESS ? APR_SUCCESS : cn_fail_db(ctx);
}

/* ---- validation -------------------------------------------------------- */

static apr_status_t check_uri(cn_ctx_t *ctx, size_t i, const char *s)
{
    const char *why = NULL;
    if (cn_url_redirect_uri_check(ctx->pool, s, &why) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "redirect_uris[%" APR_SIZE_T_FMT "] must be an absolute URI (http, https "
                       "or a native app's scheme) without a fragment: %s",
                       (apr_size_t)i, why);
    }
    return APR_SUCCESS;
}

static apr_status_t check_common(cn_ctx_t *ctx, json_t *body, const char **name,
                                 json_t **uris, json_t **scope, long long *expires)
{
    size_t i;
    json_t *u;
    if (cn_json_get_string(body, "name", name) != APR_SUCCESS
        || (*name && (!**name || strlen(*name) > CN_NAME_MAX))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "name must be a non-empty string of at most 256 bytes");
    }
    if (cn_json_get_string_array(body, "redirect_uris", CN_REDIRECT_URIS_MAX, CN_REDIRECT_URI_MAX,
                                 uris)
        != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "redirect_uris must be an array of at most 50 strings of 1 to 2048 bytes");
    }
    if (*uris) {
        json_array_foreach(*uris, i, u) {
            if (check_uri(ctx, i, json_string_value(u)) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
        }
    }
    if (cn_json_get_string_array(body, "scope", CN_SCOPES_MAX, CN_SCOPE_MAX, scope)
        != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "scope must be an array of at most 100 non-empty strings");
    }
    if (cn_json_get_int(body, "expires_in", expires) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "expires_in must be an integer");
    }
    if (*expires != -1 && (*expires < CN_EXPIRES_MIN || *expires > CN_EXPIRES_MAX)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_TOKEN_EXPIRY, NULL);
    }
    return APR_SUCCESS;
}

/* Validate SETTINGS for PROVIDER. Splits the client secret out (into
 * *SECRET) and returns the rest to store in the clear. On create, OAuth
 * providers need client_id and client_secret. */
static apr_status_t check_settings(cn_ctx_t *ctx, const char *provider, json_t *settings,
                                   int create, json_t **pub, const char **secret)
{
    static const char *const oauth_keys[] = {"client_id", "client_secret", "tenant", "prompt",
                                             NULL};
    static const char *const google_keys[] = {"client_id", "client_secret", NULL};
    const char *bad, *key;
    json_t *v;
    *pub = cn_json_own(ctx->pool, json_object());
    *secret = NULL;
    if (!settings) {
        if (create && cn_provider_can(provider, CN_PROVIDER_OAUTH)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                           "settings.client_id and settings.client_secret are required");
        }
        return APR_SUCCESS;
    }
    if (!cn_provider_can(provider, CN_PROVIDER_OAUTH)) {
        if (json_object_size(settings)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                           "the imap provider takes no settings");
        }
        return APR_SUCCESS;
    }
    bad = cn_json_unknown_key(settings, strcmp(provider, "google") ? oauth_keys : google_keys);
    if (bad) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                       "unknown setting '%s'", bad);
    }
    json_object_foreach(settings, key, v) {
        if (!json_is_string(v) || !json_string_length(v)
            || json_string_length(v) > CN_SETTING_MAX) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                           "settings.%s must be a non-empty string", key);
        }
        if (!strcmp(key, "tenant") && !cn_url_tenant_valid(json_string_value(v))) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                           "settings.tenant must be a GUID, a DNS name, or common, "
                           "organizations or consumers");
        }
        /* what Microsoft's sign-in asks the user: pick the account (default),
         * or consent again */
        if (!strcmp(key, "prompt") && strcmp(json_string_value(v), "select_account")
            && strcmp(json_string_value(v), "consent")) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                           "settings.prompt must be select_account or consent");
        }
        if (!strcmp(key, "client_secret")) {
            *secret = json_string_value(v);
        }
        else {
            json_object_set(*pub, key, v);
        }
    }
    if (create && (!json_object_get(settings, "client_id") || !*secret)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                       "settings.client_id and settings.client_secret are required");
    }
    if (!create && (!json_object_get(settings, "client_id") != !*secret)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_SECRET_REQUIRED, NULL);
    }
    if (!strcmp(provider, "microsoft") && !json_object_get(*pub, "tenant") && create) {
        json_object_set_new(*pub, "tenant", json_string("common"));
    }
    return APR_SUCCESS;
}

static apr_status_t seal_secret(cn_ctx_t *ctx, const char *id, const char *secret,
                                const char **sealed)
{
    if (cn_crypto_seal(ctx->pool, ctx->ring, secret, strlen(secret),
                       cn_crypto_aad(ctx->pool, "integrations", "client_secret", id), sealed)
        != APR_SUCCESS) {
        return cn_fail_internal(ctx, "sealing a client secret");
    }
    return APR_SUCCESS;
}

/* ---- operations -------------------------------------------------------- */

apr_status_t cn_integration_create(cn_ctx_t *ctx, json_t *body, json_t **out)
{
    static const char *const allowed[] = {"name", "provider", "settings", "redirect_uris",
                                          "expires_in", "scope", NULL};
    const char *name = NULL, *provider = NULL, *bad, *secret = NULL, *sealed = NULL;
    json_t *settings = NULL, *uris = NULL, *scope = NULL, *pub = NULL;
    long long expires = -1;
    cn_integration_t it, *existing;
    const char *args[11];
    apr_status_t rv;

    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_json_get_string(body, "provider", &provider) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                       "provider must be a string");
    }
    if (!provider) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_REQUIRED, NULL);
    }
    if (!cn_provider(provider)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                       "provider must be google, microsoft or imap");
    }
    if (check_common(ctx, body, &name, &uris, &scope, &expires) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!name) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "name is required");
    }
    if (cn_json_get_object(body, "settings", &settings) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                       "settings must be an object");
    }
    if (check_settings(ctx, provider, settings, 1, &pub, &secret) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    memset(&it, 0, sizeof(it));
    if (cn_uuid(ctx->pool, &it.id) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "randomness");
    }
    if (secret && seal_secret(ctx, it.id, secret, &sealed) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    it.app_id = ctx->app_id;
    it.provider = provider;
    it.name = name;
    it.settings = pub;
    it.client_secret = sealed;
    it.redirect_uris = uris ? uris : cn_json_own(ctx->pool, json_array());
    it.scope = scope ? scope : cn_json_own(ctx->pool, json_array());
    it.expires_in = expires == -1 ? CN_EXPIRES_DEFAULT : (int)expires;
    it.created_at = it.updated_at = ctx->now;

    args[0] = it.id;
    args[1] = it.app_id;
    args[2] = it.provider;
    args[3] = it.name;
    args[4] = cn_json_dump(ctx->pool, it.settings);
    args[5] = it.client_secret;
    args[6] = cn_json_dump(ctx->pool, it.redirect_uris);
    args[7] = cn_json_dump(ctx->pool, it.scope);
    args[8] = apr_itoa(ctx->pool, it.expires_in);
    args[9] = apr_ltoa(ctx->pool, (long)it.created_at);
    args[10] = args[9];
    rv = cn_db_exec(ctx->pool, ctx->db, "cn_integration_insert", 11, args, NULL);
    if (rv != APR_SUCCESS) {
        /* The unique (app, provider) constraint is the arbiter between
         * concurrent creators; tell the loser why. */
        if (cn_integration_load(ctx, provider, &existing) == APR_SUCCESS) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_ALREADY_EXISTS,
                           "an integration for %s exists already", provider);
        }
        return cn_fail_db(ctx);
    }
    *out = to_json(ctx->pool, &it);
    return APR_SUCCESS;
}

apr_status_t cn_integration_list(cn_ctx_t *ctx, int limit, int offset, json_t **out)
{
    apr_array_header_t *rows;
    const char *args[3] = {ctx->app_id, apr_itoa(ctx->pool, limit), apr_itoa(ctx->pool, offset)};
    int i;
    if (cn_db_select(ctx->pool, ctx->db, "cn_integration_list", 3, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    *out = cn_json_own(ctx->pool, json_array());
    for (i = 0; i < rows->nelts; ++i) {
        json_array_append(*out, to_json(ctx->pool,
                                        from_row(ctx->pool, APR_ARRAY_IDX(rows, i, cn_row_t *))));
    }
    return APR_SUCCESS;
}

/* Where PROVIDER stands in the table of providers. */
static int provider_rank(const char *provider)
{
    const cn_provider_t *p = cn_provider(provider);
    return p ? (int)(p - providers) : (int)(sizeof(providers) / sizeof(providers[0]));
}

apr_status_t cn_integration_usable(cn_ctx_t *ctx, const char *redirect_uri,
                                   apr_array_header_t **out)
{
    apr_array_header_t *rows;
    const char *args[3] = {ctx->app_id, "100", "0"};
    int i;
    if (cn_db_select(ctx->pool, ctx->db, "cn_integration_list", 3, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    *out = apr_array_make(ctx->pool, rows->nelts, sizeof(cn_integration_t *));
    for (i = 0; i < rows->nelts; ++i) {
        cn_integration_t *it = from_row(ctx->pool, APR_ARRAY_IDX(rows, i, cn_row_t *));
        if (cn_provider(it->provider) && cn_json_array_has(it->redirect_uris, redirect_uri)) {
            /* oldest first; made in the same second, in the providers' order */
            int j = (*out)->nelts;
            APR_ARRAY_PUSH(*out, cn_integration_t *) = it;
            for (; j > 0; --j) {
                cn_integration_t *prev = APR_ARRAY_IDX(*out, j - 1, cn_integration_t *);
                if (prev->created_at < it->created_at
                    || (prev->created_at == it->created_at
                        && provider_rank(prev->provider) <= provider_rank(it->provider))) {
                    break;
                }
                APR_ARRAY_IDX(*out, j, cn_integration_t *) = prev;
            }
            APR_ARRAY_IDX(*out, j, cn_integration_t *) = it;
        }
    }
    return APR_SUCCESS;
}

apr_status_t cn_integration_read(cn_ctx_t *ctx, const char *provider, json_t **out)
{
    cn_integration_t *it;
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *out = to_json(ctx->pool, it);
    return APR_SUCCESS;
}

apr_status_t cn_integration_update(cn_ctx_t *ctx, const char *provider, json_t *body,
                                   json_t **out)
{
    static const char *const allowed[] = {"name", "provider", "settings", "redirect_uris",
                                          "expires_in", "scope", NULL};
    const char *name = NULL, *bad, *secret = NULL, *body_provider = NULL;
    json_t *settings = NULL, *uris = NULL, *scope = NULL, *pub = NULL;
    long long expires = -1;
    cn_integration_t *it;
    const char *args[9];
    int n = 0;

    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_json_get_string(body, "provider", &body_provider) != APR_SUCCESS
        || (body_provider && strcmp(body_provider, provider))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "the provider of an integration cannot change");
    }
    if (check_common(ctx, body, &name, &uris, &scope, &expires) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_json_get_object(body, "settings", &settings) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                       "settings must be an object");
    }
    if (settings) {
        if (check_settings(ctx, provider, settings, 0, &pub, &secret) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        json_object_update(it->settings, pub);
        if (secret && seal_secret(ctx, it->id, secret, &it->client_secret) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    if (name) {
        it->name = name;
    }
    if (uris) {
        it->redirect_uris = uris;
    }
    if (scope) {
        it->scope = scope;
    }
    if (expires != -1) {
        it->expires_in = (int)expires;
    }
    it->updated_at = ctx->now;
    args[0] = it->name;
    args[1] = cn_json_dump(ctx->pool, it->settings);
    args[2] = it->client_secret;
    args[3] = cn_json_dump(ctx->pool, it->redirect_uris);
    args[4] = cn_json_dump(ctx->pool, it->scope);
    args[5] = apr_itoa(ctx->pool, it->expires_in);
    args[6] = apr_ltoa(ctx->pool, (long)it->updated_at);
    args[7] = it->id;
    args[8] = ctx->app_id;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_integration_update", 9, args, &n) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NOT_FOUND, NULL);
    }
    *out = to_json(ctx->pool, it);
    return APR_SUCCESS;
}

apr_status_t cn_integration_delete(cn_ctx_t *ctx, const char *provider)
{
    cn_integration_t *it;
    const char *one[1], *two[2];
    int n = 0;
    apr_status_t rv;
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* The integration and everything hanging off it go together or not at all. */
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    one[0] = it->id;
    two[0] = it->id;
    two[1] = ctx->app_id;
    rv = cn_db_exec(ctx->pool, ctx->db, "cn_credential_delete_all", 1, one, NULL);
    /* the OAuth server's codes and tokens of its grants, then the grants */
    if (rv == APR_SUCCESS) {
        rv = cn_db_exec(ctx->pool, ctx->db, "cn_token_delete_integration", 1, one, NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = cn_db_exec(ctx->pool, ctx->db, "cn_code_delete_integration", 1, one, NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = cn_db_exec(ctx->pool, ctx->db, "cn_grant_delete_integration", 1, one, NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = cn_db_exec(ctx->pool, ctx->db, "cn_integration_delete", 2, two, &n);
    }
    if (rv != APR_SUCCESS || n != 1) {
        cn_db_rollback(ctx->db);
    }
    if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS || rv != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NOT_FOUND, NULL);
    }
    return APR_SUCCESS;
}
