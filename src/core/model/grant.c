/* Grants: the connected mailboxes of an application. One per (application,
 * provider, provider identity): the key is the subject the provider
 * guarantees, the email only an attribute. Provider tokens sealed at rest,
 * never returned. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_util.h"
#include "cn_model.h"

#define CN_FAR_FUTURE "9000000000000"

static const char *nz(const char *s)
{
    return s ? s : "";
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

static cn_grant_t *from_row(apr_pool_t *p, const cn_row_t *r)
{
    cn_grant_t *g = apr_pcalloc(p, sizeof(*g));
    g->id = r->cols[0];
    g->app_id = r->cols[1];
    g->integration_id = r->cols[2];
    g->provider = r->cols[3];
    g->email = r->cols[4];
    g->grant_status = r->cols[5];
    g->scope = cn_json_load_stored(p, r->cols[6]);
    g->user_agent = or_null(r->cols[7]);
    g->ip = or_null(r->cols[8]);
    g->state = or_null(r->cols[9]);
    g->provider_user_id = or_null(r->cols[10]);
    g->settings_text = r->cols[11]; /* parsed only where it is changed or shown */
    if (r->ncols == 15) { /* GRANT_PUBLIC_COLS: a list row */
        g->created_at = apr_atoi64(r->cols[12]);
        g->updated_at = apr_atoi64(r->cols[13]);
    }
    else {
        g->refresh_token = or_null(r->cols[12]);
        g->access_token = or_null(r->cols[13]);
        g->access_expires_at = r->cols[14] ? apr_atoi64(r->cols[14]) : 0;
        g->created_at = apr_atoi64(r->cols[15]);
        g->updated_at = apr_atoi64(r->cols[16]);
        g->subject = or_null(r->cols[17]);
    }
    if (!g->scope) {
        g->scope = cn_json_own(p, json_array());
    }
    return g;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* SETTINGS without their secret-bearing keys (a new reference), or NULL
 * when they are not an object. */
static json_t *settings_shown(json_t *settings)
{
    json_t *o, *v;
    const char *key;
    if (!json_is_object(settings)) {
        return NULL;
    }
    o = json_object();
    json_object_foreach(settings, key, v) {
        if (!cn_grant_setting_is_secret(key)) {
            json_object_set_nocheck(o, key, v);
        }
    }
    return o;
}

/* The grant as the API shows it (a new reference, not owned by a pool). Keys
 * are constants; values come from the store, where only valid UTF-8 goes. */
static json_t *grant_json_new(const cn_grant_t *g)
{
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "id", json_string(g->id));
    json_object_set_new_nocheck(o, "provider", json_string(g->provider));
    json_object_set_new_nocheck(o, "grant_status", json_string(g->grant_status));
    json_object_set_new_nocheck(o, "email", json_string(g->email));
    json_object_set_nocheck(o, "scope", g->scope);
    json_object_set_new_nocheck(o, "user_agent", str_or_null(g->user_agent));
    json_object_set_new_nocheck(o, "ip", str_or_null(g->ip));
    json_object_set_new_nocheck(o, "state", str_or_null(g->state));
    json_object_set_new_nocheck(o, "created_at", json_integer((json_int_t)g->created_at));
    json_object_set_new_nocheck(o, "updated_at", json_integer((json_int_t)g->updated_at));
    json_object_set_new_nocheck(o, "provider_user_id", str_or_null(g->provider_user_id));
    /* A password grant's settings say where its mailbox is; an OAuth
     * grant's are the application's and stay as they were: not shown. */
    if (cn_provider_can(g->provider, CN_PROVIDER_PASSWORD)) {
        json_t *parsed = g->settings ? json_incref(g->settings)
                                     : (g->settings_text ? json_loads(g->settings_text, 0, NULL)
                                                         : NULL);
        json_t *shown = settings_shown(parsed);
        json_object_set_new_nocheck(o, "settings", shown ? shown : json_object());
        json_decref(parsed);
    }
    return o;
}

json_t *cn_grant_json(apr_pool_t *pool, const cn_grant_t *g)
{
    return cn_json_own(pool, grant_json_new(g));
}

static int parse_time(const char *s, apr_int64_t *out)
{
    char *end;
    apr_int64_t v;
    if (!s || !*s || strlen(s) > 12) {
        return 0;
    }
    v = apr_strtoi64(s, &end, 10);
    if (*end || v < 0) {
        return 0;
    }
    *out = v;
    return 1;
}

apr_status_t cn_grant_query_parse(cn_ctx_t *ctx, const char *sort_by, const char *order_by,
                                  const char *since, const char *before, const char *email,
                                  const char *grant_status, const char *ip, const char *provider,
                                  cn_grant_query_t *q)
{
    q->sort_by = sort_by ? sort_by : "created_at";
    q->order_by = order_by ? order_by : "desc";
    if (strcmp(q->sort_by, "created_at") && strcmp(q->sort_by, "updated_at")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "sort_by must be created_at or updated_at");
    }
    if (strcmp(q->order_by, "asc") && strcmp(q->order_by, "desc")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "order_by must be asc or desc");
    }
    q->since = 0;
    q->before = 0;
    if ((since && !parse_time(since, &q->since)) || (before && !parse_time(before, &q->before))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "since and before are Unix times in seconds");
    }
    if (grant_status && *grant_status && strcmp(grant_status, "valid")
        && strcmp(grant_status, "invalid")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "grant_status must be valid or invalid");
    }
    if (provider && *provider && !cn_provider(provider)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS, "unknown provider");
    }
    if ((email && strlen(email) > 254) || (ip && strlen(ip) > 64)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS, "filter value too long");
    }
    q->email = email && *email ? cn_lower(ctx->pool, email) : NULL;
    q->grant_status = grant_status && *grant_status ? grant_status : NULL;
    q->ip = ip && *ip ? ip : NULL;
    q->provider = provider && *provider ? provider : NULL;
    return APR_SUCCESS;
}

/* A list row as the API shows it, dumped by jansson into the request pool. */
static apr_status_t render(cn_ctx_t *ctx, const cn_row_t *row, cn_text_t *out)
{
    json_t *o = grant_json_new(from_row(ctx->pool, row));
    out->text = cn_json_dump_len(ctx->pool, o, &out->len);
    json_decref(o);
    return out->text ? APR_SUCCESS : APR_EGENERAL;
}

/* The rows of list KIND ("list": GRANT_PUBLIC_COLS, "ids": id and revision). */
static apr_status_t list_rows(cn_ctx_t *ctx, const cn_grant_query_t *q, const char *kind,
                              apr_array_header_t **rows)
{
    const char *args[12], *variant, *label;
    int n = 0;
    variant = q->provider ? (q->email ? "provider_email" : "provider")
                          : (q->email ? "email" : "all");
    label = apr_pstrcat(ctx->pool, "cn_grant_", kind, "_", variant, "_",
                        !strcmp(q->sort_by, "updated_at") ? "updated" : "created", "_",
                        q->order_by, NULL);
    args[n++] = ctx->app_id;
    if (q->provider) {
        args[n++] = q->provider;
    }
    if (q->email) {
        args[n++] = q->email;
    }
    args[n++] = nz(q->grant_status);
    args[n++] = nz(q->grant_status);
    args[n++] = nz(q->ip);
    args[n++] = nz(q->ip);
    args[n++] = apr_ltoa(ctx->pool, (long)q->since);
    args[n++] = q->before ? apr_ltoa(ctx->pool, (long)q->before) : CN_FAR_FUTURE;
    args[n++] = apr_itoa(ctx->pool, q->limit);
    args[n++] = apr_itoa(ctx->pool, q->offset);
    return cn_db_select(ctx->pool, ctx->db, label, n, args, rows) == APR_SUCCESS
               ? APR_SUCCESS
               : cn_fail_db(ctx);
}

/* Keys (ids) and signatures (revisions) of ROWS, whose first column is the
 * id and last the revision. */
static void keys_of(apr_pool_t *p, const apr_array_header_t *rows, const char ***keys,
                    const char ***sigs)
{
    int i;
    *keys = apr_palloc(p, sizeof(char *) * (apr_size_t)rows->nelts);
    *sigs = apr_palloc(p, sizeof(char *) * (apr_size_t)rows->nelts);
    for (i = 0; i < rows->nelts; ++i) {
        const cn_row_t *row = APR_ARRAY_IDX(rows, i, cn_row_t *);
        (*keys)[i] = row->cols[0];
        (*sigs)[i] = row->cols[row->ncols - 1] ? row->cols[row->ncols - 1] : "";
    }
}

apr_status_t cn_grant_list(cn_ctx_t *ctx, const cn_grant_query_t *q, cn_text_t **items, int *count)
{
    apr_array_header_t *rows;
    const char **keys, **sigs;
    int i;
    *count = 0;
    *items = NULL;
    if (ctx->grant_cache) {
        /* Ids and revisions first: when every rendering is cached, that is all
         * the database is asked for. */
        if (list_rows(ctx, q, "ids", &rows) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        *items = apr_palloc(ctx->pool, sizeof(cn_text_t) * (apr_size_t)(rows->nelts + 1));
        keys_of(ctx->pool, rows, &keys, &sigs);
        if (cn_text_cache_get_many(ctx->grant_cache, ctx->pool, rows->nelts, keys, sigs, *items)
            == rows->nelts) {
            *count = rows->nelts;
            return APR_SUCCESS;
        }
    }
    /* The rows themselves (they may have changed since: they are what is shown). */
    if (list_rows(ctx, q, "list", &rows) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *items = apr_pcalloc(ctx->pool, sizeof(cn_text_t) * (apr_size_t)(rows->nelts + 1));
    keys_of(ctx->pool, rows, &keys, &sigs);
    if (ctx->grant_cache) {
        cn_text_cache_get_many(ctx->grant_cache, ctx->pool, rows->nelts, keys, sigs, *items);
    }
    for (i = 0; i < rows->nelts; ++i) {
        if ((*items)[i].text) {
            continue; /* from the cache */
        }
        if (render(ctx, APR_ARRAY_IDX(rows, i, cn_row_t *), &(*items)[i]) != APR_SUCCESS) {
            return cn_fail_internal(ctx, "rendering a grant");
        }
        if (ctx->grant_cache) {
            cn_text_cache_put(ctx->grant_cache, keys[i], sigs[i], &(*items)[i]);
        }
    }
    *count = rows->nelts;
    return APR_SUCCESS;
}

apr_status_t cn_grant_load(cn_ctx_t *ctx, const char *id, cn_grant_t **out)
{
    apr_array_header_t *rows;
    const char *args[2] = {id, ctx->app_id};
    if (strlen(id) > 64) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_GRANT_NOT_FOUND, NULL);
    }
    if (cn_db_select(ctx->pool, ctx->db, "cn_grant_get", 2, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!rows->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_GRANT_NOT_FOUND, NULL);
    }
    *out = from_row(ctx->pool, APR_ARRAY_IDX(rows, 0, cn_row_t *));
    return APR_SUCCESS;
}

static const char *aad(cn_ctx_t *ctx, const char *column, const char *id)
{
    return cn_crypto_aad(ctx->pool, "grants", column, id);
}

static apr_status_t seal(cn_ctx_t *ctx, const char *column, const char *id, const char *plain,
                         const char **out)
{
    if (!plain) {
        *out = NULL;
        return APR_SUCCESS;
    }
    if (cn_crypto_seal(ctx->pool, ctx->ring, plain, strlen(plain), aad(ctx, column, id), out)
        != APR_SUCCESS) {
        return cn_fail_internal(ctx, "sealing a grant's token");
    }
    return APR_SUCCESS;
}

static json_t *grant_event_data(cn_ctx_t *ctx, const cn_grant_t *g)
{
    return cn_json_own(ctx->pool, json_pack("{s:s,s:s,s:s,s:s}", "integration_id",
                                            g->integration_id, "grant_id", g->id, "provider",
                                            g->provider, "email", g->email));
}

/* Change exactly one grant row with statement LABEL, run the statements
 * ALSO (NULL-terminated, or NULL; each takes the grant's id) and record
 * EVENT, in one transaction; grant_not_found when no row matched. */
static apr_status_t change_one(cn_ctx_t *ctx, const char *label, int nargs, const char **args,
                               const char *const *also, cn_event_id_t event, const cn_grant_t *g)
{
    apr_status_t rv;
    int n = 0;
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    rv = cn_db_exec(ctx->pool, ctx->db, label, nargs, args, &n);
    for (; rv == APR_SUCCESS && n == 1 && also && *also; ++also) {
        const char *id[1] = {g->id};
        rv = cn_db_exec(ctx->pool, ctx->db, *also, 1, id, NULL);
    }
    if (rv == APR_SUCCESS && n == 1) {
        rv = cn_event_record(ctx, event, "info", grant_event_data(ctx, g));
    }
    if (rv != APR_SUCCESS || n != 1) {
        cn_db_rollback(ctx->db);
    }
    if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS || rv != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_GRANT_NOT_FOUND, NULL);
    }
    return APR_SUCCESS;
}

apr_status_t cn_grant_update(cn_ctx_t *ctx, const char *id, json_t *body, json_t **out)
{
    static const char *const allowed[] = {"settings", "scope", NULL};
    const char *bad, *refresh = NULL, *args[6];
    json_t *settings = NULL, *scope = NULL;
    cn_grant_t *g;

    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_json_get_object(body, "settings", &settings) != APR_SUCCESS
        || cn_json_get_string_array(body, "scope", 100, 512, &scope) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings must be an object, scope an array of strings");
    }
    if (settings && json_dumpb(settings, NULL, 0, JSON_COMPACT) > 8192) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "settings too large");
    }
    if (cn_grant_load(ctx, id, &g) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    g->settings = cn_json_load_stored(ctx->pool, g->settings_text);
    if (settings && cn_provider_can(g->provider, CN_PROVIDER_PASSWORD)) {
        /* Where a password mailbox lives, and its password, were proven by a
         * LOGIN together: they change only by proving them again. */
        static const char *const proven[] = {"imap_username", "imap_password", "imap_host",
                                             "imap_port", "imap_security", "type", "email",
                                             "password", NULL};
        const char *const *k;
        for (k = proven; *k; ++k) {
            if (json_object_get(settings, *k)) {
                return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                               "settings.%s of an IMAP grant changes only by signing in again "
                               "(POST /grants with provider imap)", *k);
            }
        }
    }
    if (settings) {
        const char *why = NULL;
        json_t *merged = NULL;
        apr_status_t rv = cn_grant_settings_merge(ctx->pool, ctx->ring, g->id, g->settings,
                                                  settings, CN_GRANT_SETTINGS_MAX, &merged,
                                                  &refresh, &why);
        if (rv == APR_EINVAL || rv == APR_ENOSPC) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "%s", why);
        }
        if (rv != APR_SUCCESS) {
            return cn_fail_internal(ctx, "sealing a grant's settings");
        }
        g->settings = merged;
        if (refresh && !cn_provider_can(g->provider, CN_PROVIDER_OAUTH)) {
            /* its refresh_token column keeps the mailbox password */
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                           "settings.refresh_token: a %s grant has no refresh token", g->provider);
        }
        if (refresh && seal(ctx, "refresh_token", g->id, refresh, &g->refresh_token) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    if (!g->settings) {
        g->settings = cn_json_own(ctx->pool, json_object());
    }
    if (scope) {
        g->scope = scope;
    }
    g->updated_at = ctx->now;
    args[0] = cn_json_dump(ctx->pool, g->scope);
    args[1] = cn_json_dump(ctx->pool, g->settings);
    args[2] = g->refresh_token;
    args[3] = apr_ltoa(ctx->pool, (long)g->updated_at);
    args[4] = g->id;
    args[5] = ctx->app_id;
    if (change_one(ctx, "cn_grant_update", 6, args, NULL, CN_EV_GRANT_UPDATED, g) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *out = cn_grant_json(ctx->pool, g);
    return APR_SUCCESS;
}

apr_status_t cn_grant_delete(cn_ctx_t *ctx, const char *id, cn_grant_t **gone,
                             const char **refresh)
{
    /* the codes and tokens the OAuth server issued for it go with it */
    static const char *const with_grant[] = {"cn_token_delete_grant", "cn_code_delete_grant",
                                             NULL};
    cn_grant_t *g;
    const char *args[2];
    *refresh = NULL;
    if (cn_grant_load(ctx, id, &g) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (g->refresh_token && cn_provider_can(g->provider, CN_PROVIDER_OAUTH)) {
        apr_size_t len;
        if (cn_crypto_open(ctx->pool, ctx->ring, g->refresh_token, aad(ctx, "refresh_token", g->id),
                           refresh, &len) != APR_SUCCESS) {
            *refresh = NULL; /* cannot revoke upstream; the local secret goes anyway */
        }
    }
    args[0] = g->id;
    args[1] = ctx->app_id;
    if (change_one(ctx, "cn_grant_delete", 2, args, with_grant, CN_EV_GRANT_DELETED, g)
        != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *gone = g;
    return APR_SUCCESS;
}

static apr_status_t by_subject(cn_ctx_t *ctx, const char *provider,
                               const cn_identity_t *id, cn_grant_t **out)
{
    apr_array_header_t *rows;
    const char *args[5] = {ctx->app_id, provider, id->subject, id->legacy_subject, id->subject};
    if (cn_db_select(ctx->pool, ctx->db, "cn_grant_by_subject", 5, args, &rows) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!rows->nelts) {
        return APR_ENOENT;
    }
    *out = from_row(ctx->pool, APR_ARRAY_IDX(rows, 0, cn_row_t *));
    return APR_SUCCESS;
}

/* Whether grant G belongs to identity ID (a row of schema 4 still has the
 * legacy form of the subject). */
static int same_identity(const cn_grant_t *g, const cn_identity_t *id)
{
    return g->subject && (!strcmp(g->subject, id->subject)
                          || !strcmp(g->subject, id->legacy_subject));
}

/* The credential a grant was made with: set on creation, and on every
 * re-authentication (NULL: made again with the integration's own app). */
static apr_status_t write_credential(cn_ctx_t *ctx, const cn_grant_t *g, const char *credential_id,
                                     int reauth)
{
    const char *args[3] = {credential_id, g->id, ctx->app_id};
    if (!credential_id && !reauth) {
        return APR_SUCCESS;
    }
    return cn_db_exec(ctx->pool, ctx->db, "cn_grant_set_credential", 3, args, NULL);
}

/* Write the grant (insert or re-auth) and its event; inside a transaction. */
static apr_status_t write_grant(cn_ctx_t *ctx, cn_grant_t *g, int reauth, int settings_changed)
{
    const char *args[18], *exp = apr_ltoa(ctx->pool, (long)g->access_expires_at);
    const char *scope = cn_json_dump(ctx->pool, g->scope);
    int n = 0;
    if (reauth) {
        args[0] = scope;
        args[1] = g->user_agent;
        args[2] = g->ip;
        args[3] = g->state;
        args[4] = g->provider_user_id;
        args[5] = g->refresh_token;
        args[6] = g->access_token;
        args[7] = exp;
        args[8] = g->integration_id;
        args[9] = apr_ltoa(ctx->pool, (long)g->updated_at);
        args[10] = g->email;
        args[11] = g->subject;
        args[12] = settings_changed ? cn_json_dump(ctx->pool, g->settings) : NULL;
        args[13] = g->id;
        args[14] = ctx->app_id;
        if (cn_db_exec(ctx->pool, ctx->db, "cn_grant_reauth", 15, args, &n) != APR_SUCCESS
            || n != 1) {
            return APR_EGENERAL;
        }
    }
    else {
        args[0] = g->id;
        args[1] = g->app_id;
        args[2] = g->integration_id;
        args[3] = g->provider;
        args[4] = g->email;
        args[5] = g->grant_status;
        args[6] = scope;
        args[7] = g->user_agent;
        args[8] = g->ip;
        args[9] = g->state;
        args[10] = g->provider_user_id;
        args[11] = cn_json_dump(ctx->pool, g->settings);
        args[12] = g->refresh_token;
        args[13] = g->access_token;
        args[14] = exp;
        args[15] = apr_ltoa(ctx->pool, (long)g->created_at);
        args[16] = args[15];
        args[17] = g->subject;
        if (cn_db_exec(ctx->pool, ctx->db, "cn_grant_insert", 18, args, NULL) != APR_SUCCESS) {
            return APR_EEXIST;
        }
    }
    {
        /* a new refresh token: no cool-down, and unused from now on */
        const char *touch[3] = {args[reauth ? 9 : 15], g->id, ctx->app_id};
        if (cn_db_exec(ctx->pool, ctx->db, "cn_grant_signed_in", 3, touch, NULL) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    return cn_event_record(ctx, reauth ? CN_EV_GRANT_REAUTHENTICATED : CN_EV_GRANT_CREATED, "info",
                           grant_event_data(ctx, g));
}

/* G's settings with the keys of SET set (a null value removes one): the
 * stored ones of a grant being re-authenticated, else none yet. */
static apr_status_t settings_set(cn_ctx_t *ctx, cn_grant_t *g, json_t *set)
{
    json_t *merged = g->settings_text ? cn_json_load_stored(ctx->pool, g->settings_text) : NULL;
    const char *key;
    json_t *v;
    merged = cn_json_own(ctx->pool, json_is_object(merged) ? json_deep_copy(merged)
                                                            : json_object());
    if (!merged) {
        return cn_fail_internal(ctx, "a grant's settings");
    }
    json_object_foreach(set, key, v) {
        if (json_is_null(v)) {
            json_object_del(merged, key);
        }
        else {
            json_object_set(merged, key, v);
        }
    }
    g->settings = merged;
    return APR_SUCCESS;
}

/* The secrets of G sealed into its columns: OAuth tokens, or a password. */
static apr_status_t seal_secrets(cn_ctx_t *ctx, cn_grant_t *g, const cn_grant_secrets_t *secrets)
{
    const cn_tokens_t *tokens = secrets->tokens;
    if (!tokens) {
        g->access_token = NULL;
        g->access_expires_at = 0;
        return seal(ctx, CN_GRANT_PASSWORD_AAD, g->id, secrets->password, &g->refresh_token);
    }
    g->access_expires_at = ctx->now + tokens->expires_in;
    if (seal(ctx, "refresh_token", g->id, tokens->refresh_token, &g->refresh_token)
        != APR_SUCCESS
        || seal(ctx, "access_token", g->id, tokens->access_token, &g->access_token)
               != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t cn_grant_store(cn_ctx_t *ctx, const cn_integration_t *it, json_t *scope,
                            const char *state, const char *reauth_id,
                            const cn_grant_secrets_t *secrets, const cn_identity_t *id,
                            cn_grant_t **out, int *reauthenticated)
{
    cn_grant_t *g = NULL, *asked = NULL;
    apr_status_t rv;
    int attempt;

    if (reauth_id) {
        if (cn_grant_load(ctx, reauth_id, &asked) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (strcmp(asked->provider, it->provider) || !same_identity(asked, id)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_REAUTH_EMAIL_INVALID,
                           "the account that signed in is not the grant's");
        }
    }
    /* Two attempts: a concurrent first authentication of the same mailbox
     * makes our insert lose on the unique index; then we re-authenticate. */
    for (attempt = 0; attempt < 2; ++attempt) {
        rv = by_subject(ctx, it->provider, id, &g);
        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            return cn_fail_db(ctx);
        }
        *reauthenticated = rv == APR_SUCCESS;
        if (!*reauthenticated) {
            g = apr_pcalloc(ctx->pool, sizeof(*g));
            if (cn_uuid(ctx->pool, &g->id) != APR_SUCCESS) {
                return cn_fail_internal(ctx, "randomness");
            }
            g->app_id = ctx->app_id;
            g->provider = it->provider;
            g->settings = cn_json_own(ctx->pool, json_object());
            g->created_at = ctx->now;
        }
        g->integration_id = it->id;
        g->grant_status = "valid";
        g->scope = scope;
        g->user_agent = ctx->user_agent;
        g->ip = ctx->client_ip;
        g->state = state;
        g->provider_user_id = id->user_id;
        g->email = id->email;
        g->subject = id->subject;
        g->updated_at = ctx->now;
        if (seal_secrets(ctx, g, secrets) != APR_SUCCESS
            || (secrets->settings && settings_set(ctx, g, secrets->settings) != APR_SUCCESS)) {
            return APR_EGENERAL;
        }
        if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
            return cn_fail_db(ctx);
        }
        rv = write_grant(ctx, g, *reauthenticated, secrets->settings != NULL);
        if (rv == APR_SUCCESS) {
            rv = write_credential(ctx, g, secrets->credential_id, *reauthenticated);
        }
        if (rv != APR_SUCCESS) {
            cn_db_rollback(ctx->db);
        }
        if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS && rv == APR_SUCCESS) {
            rv = APR_EGENERAL;
        }
        if (rv == APR_SUCCESS) {
            *out = g;
            return APR_SUCCESS;
        }
        if (rv != APR_EEXIST) {
            break;
        }
    }
    return cn_fail_db(ctx);
}

apr_status_t cn_integration_secret(cn_ctx_t *ctx, const cn_integration_t *it,
                                   const char **secret)
{
    apr_size_t len;
    if (it->credential_secret) { /* a credential's client stands in (cn_integration_with) */
        *secret = it->credential_secret;
        return APR_SUCCESS;
    }
    if (!it->client_secret
        || cn_crypto_open(ctx->pool, ctx->ring, it->client_secret,
                          cn_crypto_aad(ctx->pool, "integrations", "client_secret", it->id),
                          secret, &len) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_PROBLEM,
                       "the integration's client secret cannot be opened");
    }
    return APR_SUCCESS;
}

apr_status_t cn_grant_native_prepare(cn_ctx_t *ctx, json_t *body, cn_integration_t **it,
                                     const char **client_secret, const char **refresh,
                                     json_t **scope, const char **state)
{
    static const char *const allowed[] = {"provider", "settings", "scope", "state", NULL};
    const char *provider = NULL, *bad;
    json_t *settings = NULL;
    *refresh = NULL;
    *state = NULL;
    *scope = NULL;
    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_json_get_string(body, "provider", &provider) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "provider must be a string");
    }
    if (!provider) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_REQUIRED, NULL);
    }
    if (!cn_provider_can(provider, CN_PROVIDER_OAUTH)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                       "native authentication takes google or microsoft here");
    }
    if (cn_json_get_object(body, "settings", &settings) != APR_SUCCESS
        || (settings && cn_json_get_string(settings, "refresh_token", refresh) != APR_SUCCESS)
        || cn_json_get_string_array(body, "scope", 100, 512, scope) != APR_SUCCESS
        || cn_json_get_string(body, "state", state) != APR_SUCCESS
        || (*state && strlen(*state) > 512)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "settings must be an object, scope an array of strings, state a string");
    }
    if (!*refresh || !**refresh || strlen(*refresh) > 4096) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_REFRESH_TOKEN_REQUIRED, NULL);
    }
    if (cn_integration_require(ctx, provider, it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!*scope) {
        *scope = (*it)->scope;
    }
    return cn_integration_secret(ctx, *it, client_secret);
}

/* ---- provider access tokens (POST /grants/{id}/access_token) ---- */

apr_status_t cn_grant_secret_open(cn_ctx_t *ctx, const cn_grant_t *g, const char *column,
                                  const char *sealed, const char **plain)
{
    apr_size_t len;
    if (!sealed || cn_crypto_open(ctx->pool, ctx->ring, sealed, aad(ctx, column, g->id), plain,
                                  &len) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "a grant's secret does not open");
    }
    return APR_SUCCESS;
}

/* One statement in a short transaction of its own; *N the rows changed. */
static apr_status_t exec_short(cn_ctx_t *ctx, const char *label, int nargs, const char **args,
                               int *n)
{
    apr_status_t rv;
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    rv = cn_db_exec(ctx->pool, ctx->db, label, nargs, args, n);
    if (rv != APR_SUCCESS) {
        cn_db_rollback(ctx->db);
    }
    if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS || rv != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    return APR_SUCCESS;
}

apr_status_t cn_grant_lease(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t now,
                            apr_int64_t until, apr_int64_t stale_before, int *won)
{
    const char *args[6];
    int n = 0;
    args[0] = apr_off_t_toa(ctx->pool, (apr_off_t)until);
    args[1] = g->id;
    args[2] = g->app_id;
    args[3] = apr_off_t_toa(ctx->pool, (apr_off_t)now);
    args[4] = args[3];
    args[5] = apr_off_t_toa(ctx->pool, (apr_off_t)stale_before);
    if (exec_short(ctx, "cn_grant_lease", 6, args, &n) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *won = n == 1;
    return APR_SUCCESS;
}

apr_status_t cn_grant_lease_unused(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t now,
                                   apr_int64_t until, apr_int64_t unused_before, int *won)
{
    const char *args[6];
    int n = 0;
    args[0] = apr_off_t_toa(ctx->pool, (apr_off_t)until);
    args[1] = g->id;
    args[2] = g->app_id;
    args[3] = apr_off_t_toa(ctx->pool, (apr_off_t)now);
    args[4] = args[3];
    args[5] = apr_off_t_toa(ctx->pool, (apr_off_t)unused_before);
    if (exec_short(ctx, "cn_grant_lease_unused", 6, args, &n) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *won = n == 1;
    return APR_SUCCESS;
}

apr_status_t cn_grant_refresh_failed(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t until,
                                     int failures, apr_int64_t retry_at)
{
    const char *args[5];
    int n = 0;
    args[0] = apr_itoa(ctx->pool, failures);
    args[1] = apr_off_t_toa(ctx->pool, (apr_off_t)retry_at);
    args[2] = g->id;
    args[3] = g->app_id;
    args[4] = apr_off_t_toa(ctx->pool, (apr_off_t)until);
    return exec_short(ctx, "cn_grant_refresh_failed", 5, args, &n);
}

apr_status_t cn_grant_refresh_state(cn_ctx_t *ctx, const cn_grant_t *g, int *failures,
                                    apr_int64_t *retry_at)
{
    const char *args[2] = {g->id, g->app_id};
    apr_array_header_t *rows = NULL;
    cn_row_t *r;
    if (cn_db_select(ctx->pool, ctx->db, "cn_grant_refresh_state", 2, args, &rows)
        != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (rows->nelts < 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_GRANT_NOT_FOUND, NULL);
    }
    r = APR_ARRAY_IDX(rows, 0, cn_row_t *);
    *failures = r->cols[0] ? atoi(r->cols[0]) : 0;
    *retry_at = r->cols[1] ? apr_atoi64(r->cols[1]) : 0;
    return APR_SUCCESS;
}

apr_status_t cn_grant_lease_release(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t until)
{
    const char *args[3] = {g->id, g->app_id, apr_off_t_toa(ctx->pool, (apr_off_t)until)};
    int n = 0;
    return exec_short(ctx, "cn_grant_lease_release", 3, args, &n);
}

apr_status_t cn_grant_tokens_refreshed(cn_ctx_t *ctx, cn_grant_t *g, const cn_tokens_t *t)
{
    const char *args[6], *rt = NULL;
    int n = 0;
    if (seal(ctx, "access_token", g->id, t->access_token, &g->access_token) != APR_SUCCESS
        || (t->refresh_token
            && seal(ctx, "refresh_token", g->id, t->refresh_token, &rt) != APR_SUCCESS)) {
        return APR_EGENERAL;
    }
    g->access_expires_at = ctx->now + t->expires_in;
    if (rt) {
        g->refresh_token = rt; /* a provider that rotates (Microsoft): the new one from now on */
    }
    args[0] = g->access_token;
    args[1] = apr_off_t_toa(ctx->pool, (apr_off_t)g->access_expires_at);
    args[2] = rt;
    args[3] = apr_off_t_toa(ctx->pool, (apr_off_t)ctx->now);
    args[4] = g->id;
    args[5] = g->app_id;
    if (exec_short(ctx, "cn_grant_set_tokens", 6, args, &n) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_GRANT_NOT_FOUND, NULL);
    }
    return APR_SUCCESS;
}

apr_status_t cn_grant_invalidate(cn_ctx_t *ctx, cn_grant_t *g)
{
    const char *args[3];
    apr_status_t rv;
    int n = 0;
    args[0] = apr_off_t_toa(ctx->pool, (apr_off_t)ctx->now);
    args[1] = g->id;
    args[2] = g->app_id;
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    rv = cn_db_exec(ctx->pool, ctx->db, "cn_grant_invalidate", 3, args, &n);
    if (rv == APR_SUCCESS && n == 1) {
        rv = cn_event_record(ctx, CN_EV_GRANT_EXPIRED, "warning", grant_event_data(ctx, g));
    }
    if (rv != APR_SUCCESS) {
        cn_db_rollback(ctx->db);
    }
    if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS || rv != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    g->grant_status = "invalid";
    return APR_SUCCESS;
}
