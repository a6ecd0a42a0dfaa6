/* The Context.IO 2.0 API's resources: connect tokens (what starts the
 * hosted connect UI), accounts (one application's user) and their sources,
 * which are the account's grants seen in Context.IO's shape. Everything is
 * scoped to ctx->app_id. The database handle is the caller's (ctx->db), or
 * a short section opened here. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_model.h"
#include "cn_discover.h"
#include "cn_util.h"

#define TOKENS_TABLE "cio_connect_tokens"
#define ACCOUNTS_TABLE "cio_accounts"
#define CIO_NAME_MAX 100        /* bytes of a first or last name */
#define OPTION_MAX 1024     /* bytes of a kept source_* value */
#define LIST_MAX 1000       /* connect tokens in one list */

static apr_status_t bad(cn_ctx_t *ctx, const char *fmt, const char *arg)
{
    return cn_fail(ctx->pool, &ctx->res, CN_EV_BAD_REQUEST, fmt, arg);
}

/* The end of a database section: a failed statement RV is logged (with the
 * driver's message, while the handle is still there) as internal_error. */
static apr_status_t db_done(cn_ctx_t *ctx, apr_status_t rv)
{
    if (rv != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
    return rv;
}

/* Statement LABEL with NARGS ARGS in a database section of its own: its
 * rows into *ROWS, or (exec_alone) the rows it changed into *CHANGED when
 * given. A failure is answered as db_done does. */
static apr_status_t select_rows(cn_ctx_t *ctx, const char *label, int nargs, const char **args,
                                apr_array_header_t **rows)
{
    apr_status_t rv;
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    rv = cn_db_select(ctx->pool, ctx->db, label, nargs, args, rows);
    return db_done(ctx, rv) != APR_SUCCESS ? APR_EGENERAL : APR_SUCCESS;
}

static apr_status_t exec_alone(cn_ctx_t *ctx, const char *label, int nargs, const char **args,
                               int *changed)
{
    apr_status_t rv;
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    rv = cn_db_exec(ctx->pool, ctx->db, label, nargs, args, changed);
    return db_done(ctx, rv) != APR_SUCCESS ? APR_EGENERAL : APR_SUCCESS;
}

static const char *i64(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

/* An absolute http(s) URL a browser may be sent to (or a POST made to). */
static int http_url_ok(apr_pool_t *pool, const char *url)
{
    return cn_url_redirect_uri_check(pool, url, NULL) == APR_SUCCESS
           && (!strncasecmp(url, "https://", 8) || !strncasecmp(url, "http://", 7));
}

static int name_ok(apr_pool_t *pool, const char *v)
{
    const unsigned char *c;
    if (strlen(v) > CIO_NAME_MAX || !cn_json_utf8_prefix(pool, v, CIO_NAME_MAX)) {
        return 0;
    }
    for (c = (const unsigned char *)v; *c; ++c) {
        if (*c < 0x20 || *c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int flag_ok(const char *v)
{
    return !strcmp(v, "0") || !strcmp(v, "1");
}

/* ---- accounts ------------------------------------------------------------ */

static cn_cio_account_t *account_from_row(apr_pool_t *p, const cn_row_t *r)
{
    cn_cio_account_t *a = apr_pcalloc(p, sizeof(*a));
    a->id = r->cols[0];
    a->app_id = r->cols[1];
    a->email = r->cols[2];
    a->first_name = r->cols[3];
    a->last_name = r->cols[4];
    a->suspended = apr_atoi64(r->cols[5]);
    a->access_token = r->cols[6];
    a->created_at = apr_atoi64(r->cols[7]);
    a->access_token_secret = r->ncols > 8 ? r->cols[8] : NULL;
    return a;
}

apr_status_t cn_cio_account_load(cn_ctx_t *ctx, const char *id, cn_cio_account_t **out)
{
    const char *args[] = {id, ctx->app_id};
    apr_array_header_t *rows = NULL;
    apr_status_t rv;
    *out = NULL;
    if ((rv = select_rows(ctx, "cn_cio_account_get", 2, args, &rows)) != APR_SUCCESS) {
        return rv;
    }
    if (!rows->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NOT_FOUND_ERROR, "no such account");
    }
    *out = account_from_row(ctx->pool, APR_ARRAY_IDX(rows, 0, cn_row_t *));
    return APR_SUCCESS;
}

apr_status_t cn_cio_account_by_access_token(cn_ctx_t *ctx, const char *access_token,
                                            cn_cio_account_t **out, const char **secret)
{
    const char *args[] = {access_token, ctx->app_id};
    apr_array_header_t *rows = NULL;
    cn_cio_account_t *a;
    apr_status_t rv;
    *out = NULL;
    *secret = NULL;
    if ((rv = select_rows(ctx, "cn_cio_account_by_token", 2, args, &rows)) != APR_SUCCESS) {
        return rv;
    }
    if (!rows->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_ERROR,
                       "oauth_token is not an access token of this application");
    }
    a = account_from_row(ctx->pool, APR_ARRAY_IDX(rows, 0, cn_row_t *));
    if (!a->access_token_secret
        || cn_crypto_open(ctx->pool, ctx->ring, a->access_token_secret,
                          cn_crypto_aad(ctx->pool, ACCOUNTS_TABLE, "access_token_secret", a->id),
                          secret, NULL) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "an account's access token secret does not open");
    }
    *out = a;
    return APR_SUCCESS;
}

/* A grant as a Context.IO source: where the mailbox is and how it is proven. */
static json_t *source_json(apr_pool_t *pool, const cn_grant_t *g)
{
    json_t *settings = g->settings ? g->settings : cn_json_load_stored(pool, g->settings_text);
    int password = cn_provider_can(g->provider, CN_PROVIDER_PASSWORD);
    const char *server = NULL, *username = NULL, *security = NULL;
    long long port = 993;
    if (password && settings) {
        cn_json_get_string(settings, "imap_host", &server);
        cn_json_get_string(settings, "imap_username", &username);
        cn_json_get_string(settings, "imap_security", &security);
        cn_json_get_int(settings, "imap_port", &port);
    }
    else if (!strcmp(g->provider, "google")) {
        server = "imap.gmail.com";
    }
    else if (!strcmp(g->provider, "microsoft")) {
        server = "outlook.office365.com";
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:b,s:s,s:s,s:s,s:s,s:I}", "label", g->id, "email",
                     g->email, "username", username ? username : g->email, "server",
                     server ? server : "", "port", (json_int_t)port, "use_ssl",
                     !security || strcmp(security, "plain"), "type", "imap",
                     "authentication_type", password ? "password" : "oauth2", "provider",
                     g->provider, "status", strcmp(g->grant_status, "valid") ? "INVALID_CREDENTIALS"
                                                                            : "OK",
                     "created", (json_int_t)g->created_at);
}

apr_status_t cn_cio_account_sources(cn_ctx_t *ctx, const char *account_id, json_t **out)
{
    const char *args[] = {ctx->app_id, account_id};
    apr_array_header_t *rows = NULL;
    json_t *list;
    apr_status_t rv;
    int i;
    *out = NULL;
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    if (cn_db_select(ctx->pool, ctx->db, "cn_cio_account_grants", 2, args, &rows)
        != APR_SUCCESS) {
        return db_done(ctx, APR_EGENERAL);
    }
    list = cn_json_own(ctx->pool, json_array());
    for (i = 0; i < rows->nelts; ++i) {
        cn_grant_t *g = NULL;
        /* a grant deleted in between is simply not there */
        if (cn_grant_load(ctx, APR_ARRAY_IDX(rows, i, cn_row_t *)->cols[0], &g) == APR_SUCCESS) {
            json_array_append_new(list, source_json(ctx->pool, g));
        }
    }
    cn_ctx_db_close(ctx);
    *out = list;
    return APR_SUCCESS;
}

apr_status_t cn_cio_source_read(cn_ctx_t *ctx, const char *account_id, const char *label,
                                json_t **out)
{
    apr_array_header_t *ids = NULL;
    cn_grant_t *g = NULL;
    int i;
    *out = NULL;
    if (cn_cio_account_grant_ids(ctx, account_id, &ids) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (i = 0; i < ids->nelts && strcmp(APR_ARRAY_IDX(ids, i, const char *), label); ++i) {
    }
    if (i == ids->nelts || cn_grant_load(ctx, label, &g) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NOT_FOUND_ERROR, "no such source");
    }
    *out = cn_json_own(ctx->pool, source_json(ctx->pool, g));
    return APR_SUCCESS;
}

apr_status_t cn_cio_account_json(cn_ctx_t *ctx, const cn_cio_account_t *a, json_t **out)
{
    json_t *sources = NULL;
    *out = NULL;
    if (cn_cio_account_sources(ctx, a->id, &sources) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *out = cn_json_own(ctx->pool,
                       json_pack("{s:s,s:I,s:I,s:[s],s:s,s:s,s:O}", "id", a->id, "created",
                                 (json_int_t)a->created_at, "suspended",
                                 (json_int_t)a->suspended, "email_addresses", a->email,
                                 "first_name", a->first_name, "last_name", a->last_name,
                                 "sources", sources));
    return *out ? APR_SUCCESS : cn_fail_internal(ctx, "an account does not render");
}

apr_status_t cn_cio_account_list(cn_ctx_t *ctx, const char *email, int limit, int offset,
                                 json_t **out)
{
    const char *e = email ? email : "";
    const char *args[] = {ctx->app_id, e, e, apr_itoa(ctx->pool, limit),
                          apr_itoa(ctx->pool, offset)};
    apr_array_header_t *rows = NULL;
    json_t *list;
    int i;
    *out = NULL;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_db_select(ctx->pool, ctx->db, "cn_cio_account_list", 5, args, &rows) != APR_SUCCESS) {
        return db_done(ctx, APR_EGENERAL);
    }
    list = cn_json_own(ctx->pool, json_array());
    for (i = 0; i < rows->nelts; ++i) {
        json_t *one = NULL;
        if (cn_cio_account_json(ctx, account_from_row(ctx->pool, APR_ARRAY_IDX(rows, i,
                                                                               cn_row_t *)),
                                &one) != APR_SUCCESS) {
            cn_ctx_db_close(ctx);
            return APR_EGENERAL;
        }
        json_array_append(list, one);
    }
    cn_ctx_db_close(ctx);
    *out = list;
    return APR_SUCCESS;
}

apr_status_t cn_cio_account_check(cn_ctx_t *ctx, const char *email, const char *first_name,
                                  const char *last_name)
{
    if (!email || !cn_email_valid(email)) {
        return bad(ctx, "%s", "email must be an email address");
    }
    if ((first_name && !name_ok(ctx->pool, first_name))
        || (last_name && !name_ok(ctx->pool, last_name))) {
        return bad(ctx, "first_name and last_name must be at most %s bytes of text", "100");
    }
    return APR_SUCCESS;
}

apr_status_t cn_cio_account_create(cn_ctx_t *ctx, const char *email, const char *first_name,
                                   const char *last_name, int three_legged, const char *grant_id,
                                   cn_cio_account_t **out, const char **secret)
{
    cn_cio_account_t *a = apr_pcalloc(ctx->pool, sizeof(*a));
    const char *sealed = NULL, *args[9];
    apr_status_t rv;
    *out = NULL;
    if (secret) {
        *secret = NULL;
    }
    if (cn_cio_account_check(ctx, email, first_name, last_name) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    a->app_id = ctx->app_id;
    a->email = cn_lower(ctx->pool, email);
    a->first_name = first_name ? first_name : "";
    a->last_name = last_name ? last_name : "";
    a->created_at = ctx->now;
    if (cn_uuid(ctx->pool, &a->id) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "no random account id");
    }
    if (three_legged) {
        /* the token names the account in signatures; its secret signs them */
        if (cn_random_token(ctx->pool, 16, &a->access_token) != APR_SUCCESS
            || cn_random_token(ctx->pool, 32, &a->access_token_secret) != APR_SUCCESS
            || cn_crypto_seal(ctx->pool, ctx->ring, a->access_token_secret,
                              strlen(a->access_token_secret),
                              cn_crypto_aad(ctx->pool, ACCOUNTS_TABLE, "access_token_secret",
                                            a->id),
                              &sealed) != APR_SUCCESS) {
            return cn_fail_internal(ctx, "no access token for a 3-legged account");
        }
    }
    args[0] = a->id;
    args[1] = a->app_id;
    args[2] = a->email;
    args[3] = a->first_name;
    args[4] = a->last_name;
    args[5] = "0";
    args[6] = a->access_token;
    args[7] = i64(ctx->pool, a->created_at);
    args[8] = sealed;
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    /* the account and its first source at once */
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return db_done(ctx, APR_EGENERAL);
    }
    if (cn_db_exec(ctx->pool, ctx->db, "cn_cio_account_insert", 9, args, NULL) != APR_SUCCESS
        || (grant_id
            && cn_db_exec(ctx->pool, ctx->db, "cn_cio_grant_link", 3,
                          (const char *[]){a->id, grant_id, ctx->app_id}, NULL)
                   != APR_SUCCESS)) {
        cn_db_rollback(ctx->db);
        rv = APR_EGENERAL;
    }
    if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS) {
        rv = APR_EGENERAL;
    }
    if (db_done(ctx, rv) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (secret) {
        *secret = a->access_token_secret;
    }
    a->access_token_secret = sealed;
    *out = a;
    return APR_SUCCESS;
}

apr_status_t cn_cio_grant_link(cn_ctx_t *ctx, const char *grant_id, const char *account_id)
{
    const char *args[] = {account_id, grant_id, ctx->app_id};
    return exec_alone(ctx, "cn_cio_grant_link", 3, args, NULL);
}

apr_status_t cn_cio_account_grant_ids(cn_ctx_t *ctx, const char *account_id,
                                      apr_array_header_t **ids)
{
    const char *args[] = {ctx->app_id, account_id};
    apr_array_header_t *rows = NULL;
    apr_status_t rv;
    int i;
    if ((rv = select_rows(ctx, "cn_cio_account_grants", 2, args, &rows)) != APR_SUCCESS) {
        return rv;
    }
    *ids = apr_array_make(ctx->pool, rows->nelts + 1, sizeof(const char *));
    for (i = 0; i < rows->nelts; ++i) {
        APR_ARRAY_PUSH(*ids, const char *) = APR_ARRAY_IDX(rows, i, cn_row_t *)->cols[0];
    }
    return APR_SUCCESS;
}

apr_status_t cn_cio_account_remove(cn_ctx_t *ctx, const char *account_id)
{
    const char *args[] = {account_id, ctx->app_id};
    apr_status_t rv;
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return db_done(ctx, APR_EGENERAL);
    }
    if (cn_db_exec(ctx->pool, ctx->db, "cn_cio_token_delete_account", 2, args, NULL)
            != APR_SUCCESS
        || cn_db_exec(ctx->pool, ctx->db, "cn_cio_account_delete", 2, args, NULL)
               != APR_SUCCESS) {
        cn_db_rollback(ctx->db);
        cn_db_end(ctx->pool, ctx->db);
        return db_done(ctx, APR_EGENERAL);
    }
    rv = cn_db_end(ctx->pool, ctx->db);
    return db_done(ctx, rv);
}

/* ---- connect tokens -------------------------------------------------------- */

apr_status_t cn_cio_token_create(cn_ctx_t *ctx, const char *account_id,
                                 const apr_table_t *params, const char **token)
{
    const apr_array_header_t *arr = apr_table_elts(params);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *callback = NULL, *email = "", *first = "", *last = "", *sealed, *digest;
    const char *args[12];
    json_t *options = cn_json_own(ctx->pool, json_object());
    apr_status_t rv;
    int i, j;

    *token = NULL;
    for (i = 0; i < arr->nelts; ++i) {
        const char *k = e[i].key, *v = e[i].val;
        if (!strncmp(k, "oauth_", 6)) {
            continue; /* the signature's */
        }
        for (j = 0; j < i; ++j) {
            if (!strcmp(e[j].key, k) && strcmp(e[j].val, v)) {
                return bad(ctx, "%s is given twice with different values", k);
            }
        }
        if (!strcmp(k, "callback_url")) {
            callback = v;
        }
        else if (!strcmp(k, "email")) {
            email = v;
        }
        else if (!strcmp(k, "first_name")) {
            first = v;
        }
        else if (!strcmp(k, "last_name")) {
            last = v;
        }
        else if (!strcmp(k, "source_callback_url") || !strcmp(k, "status_callback_url")) {
            if (*v && !http_url_ok(ctx->pool, v)) {
                return bad(ctx, "%s must be an absolute http or https URL", k);
            }
            json_object_set_new(options, k, json_string(v));
        }
        else if (!strcmp(k, "source_sync_all_folders") || !strcmp(k, "source_sync_flags")
                 || !strcmp(k, "source_raw_file_list")) {
            if (!flag_ok(v)) {
                return bad(ctx, "%s must be 0 or 1", k);
            }
            json_object_set_new(options, k, json_integer(*v == '1'));
        }
        else if (!strcmp(k, "service_level") || !strncmp(k, "source_", 7)) {
            if (strlen(v) > OPTION_MAX || !cn_json_utf8_prefix(ctx->pool, v, OPTION_MAX)) {
                return bad(ctx, "%s must be at most 1024 bytes of text", k);
            }
            json_object_set_new(options, k, json_string(v));
        }
        else {
            return bad(ctx, "unknown parameter '%s'", cn_json_utf8_prefix(ctx->pool, k, 64));
        }
    }
    if (!callback || !http_url_ok(ctx->pool, callback)) {
        return bad(ctx, "%s is required: an absolute http or https URL", "callback_url");
    }
    if ((*email && !cn_email_valid(email)) || !name_ok(ctx->pool, first)
        || !name_ok(ctx->pool, last)) {
        return bad(ctx, "%s", "email must be an email address, first_name and last_name at "
                              "most 100 bytes of text");
    }
    if (cn_random_token(ctx->pool, 32, token) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "no random connect token");
    }
    digest = cn_sha256_hex(ctx->pool, *token, strlen(*token));
    if (cn_crypto_seal(ctx->pool, ctx->ring, *token, strlen(*token),
                       cn_crypto_aad(ctx->pool, TOKENS_TABLE, "token", digest), &sealed)
        != APR_SUCCESS) {
        return cn_fail_internal(ctx, "a connect token could not be sealed");
    }
    args[0] = digest;
    args[1] = sealed;
    args[2] = ctx->app_id;
    args[3] = account_id ? account_id : "";
    args[4] = account_id ? "1" : "0";
    args[5] = cn_lower(ctx->pool, email);
    args[6] = first;
    args[7] = last;
    args[8] = callback;
    args[9] = cn_json_dump(ctx->pool, options);
    args[10] = i64(ctx->pool, ctx->now);
    args[11] = i64(ctx->pool, ctx->now + CN_CIO_TOKEN_LIFETIME);
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    rv = cn_db_exec(ctx->pool, ctx->db, "cn_cio_token_insert", 12, args, NULL);
    return db_done(ctx, rv);
}

/* Seed 000's token object: `used` 0 until used, `expires` a time until used,
 * then false; `account` empty until used. */
static apr_status_t token_json(cn_ctx_t *ctx, const cn_row_t *r, json_t **out)
{
    const char *token = NULL;
    apr_int64_t used = apr_atoi64(r->cols[12]);
    json_t *account = NULL;
    *out = NULL;
    if (cn_crypto_open(ctx->pool, ctx->ring, r->cols[1],
                       cn_crypto_aad(ctx->pool, TOKENS_TABLE, "token", r->cols[0]), &token, NULL)
        != APR_SUCCESS) {
        return cn_fail_internal(ctx, "a stored connect token does not open");
    }
    if (used && r->cols[3] && *r->cols[3]) {
        cn_cio_account_t *a = NULL;
        if (cn_cio_account_load(ctx, r->cols[3], &a) == APR_SUCCESS) {
            if (cn_cio_account_json(ctx, a, &account) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
        }
    }
    *out = cn_json_own(ctx->pool,
                       json_pack("{s:s,s:s,s:I,s:I,s:o,s:s,s:s,s:s,s:O}", "token", token, "email",
                                 r->cols[5], "created", (json_int_t)apr_atoi64(r->cols[10]),
                                 "used", (json_int_t)used, "expires",
                                 used ? json_false() : json_integer(apr_atoi64(r->cols[11])),
                                 "callback_url", r->cols[8], "first_name", r->cols[6],
                                 "last_name", r->cols[7], "account",
                                 account ? account : cn_json_own(ctx->pool, json_object())));
    return *out ? APR_SUCCESS : cn_fail_internal(ctx, "a connect token does not render");
}

/* The row of TOKEN: of the application, of ACCOUNT_ID when given (NULL: any,
 * account-scoped ones included); an unknown, foreign or expired unused one
 * is not found. */
static apr_status_t token_row(cn_ctx_t *ctx, const char *account_id, const char *token,
                              cn_row_t **out)
{
    const char *args[2];
    apr_array_header_t *rows = NULL;
    cn_row_t *r;
    apr_status_t rv;
    *out = NULL;
    if (!token || strlen(token) > 128) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NOT_FOUND_ERROR, "no such connect token");
    }
    args[0] = cn_sha256_hex(ctx->pool, token, strlen(token));
    args[1] = ctx->app_id;
    if ((rv = select_rows(ctx, "cn_cio_token_get", 2, args, &rows)) != APR_SUCCESS) {
        return rv;
    }
    r = rows->nelts ? APR_ARRAY_IDX(rows, 0, cn_row_t *) : NULL;
    if (!r || (account_id && (strcmp(r->cols[4], "1") || strcmp(r->cols[3], account_id)))
        || (apr_atoi64(r->cols[12]) == 0 && apr_atoi64(r->cols[11]) <= ctx->now)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NOT_FOUND_ERROR, "no such connect token");
    }
    *out = r;
    return APR_SUCCESS;
}

apr_status_t cn_cio_token_read(cn_ctx_t *ctx, const char *account_id, const char *token,
                               json_t **out)
{
    cn_row_t *r = NULL;
    *out = NULL;
    if (token_row(ctx, account_id, token, &r) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return token_json(ctx, r, out);
}

apr_status_t cn_cio_token_list(cn_ctx_t *ctx, const char *account_id, json_t **out)
{
    const char *now = i64(ctx->pool, ctx->now), *max = apr_itoa(ctx->pool, LIST_MAX);
    const char *args_app[] = {ctx->app_id, now, max};
    const char *args_acc[] = {ctx->app_id, account_id, now, max};
    apr_array_header_t *rows = NULL;
    json_t *list;
    apr_status_t rv;
    int i;
    *out = NULL;
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    rv = account_id ? cn_db_select(ctx->pool, ctx->db, "cn_cio_token_list_account", 4, args_acc,
                                   &rows)
                    : cn_db_select(ctx->pool, ctx->db, "cn_cio_token_list", 3, args_app, &rows);
    if (rv != APR_SUCCESS) {
        return db_done(ctx, APR_EGENERAL);
    }
    list = cn_json_own(ctx->pool, json_array());
    for (i = 0; i < rows->nelts; ++i) {
        json_t *one = NULL;
        if (token_json(ctx, APR_ARRAY_IDX(rows, i, cn_row_t *), &one) != APR_SUCCESS) {
            cn_ctx_db_close(ctx);
            return APR_EGENERAL;
        }
        json_array_append(list, one);
    }
    cn_ctx_db_close(ctx);
    *out = list;
    return APR_SUCCESS;
}

apr_status_t cn_cio_token_delete(cn_ctx_t *ctx, const char *account_id, const char *token)
{
    cn_row_t *r = NULL;
    const char *args[2];
    if (token_row(ctx, account_id, token, &r) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    args[0] = r->cols[0];
    args[1] = ctx->app_id;
    return exec_alone(ctx, "cn_cio_token_delete", 2, args, NULL);
}

/* ---- the connect UI's token ------------------------------------------------ */

static cn_cio_token_t *token_from_row(apr_pool_t *p, const cn_row_t *r)
{
    cn_cio_token_t *t = apr_pcalloc(p, sizeof(*t));
    t->digest = r->cols[0];
    t->app_id = r->cols[2];
    t->account_id = r->cols[3] && *r->cols[3] ? r->cols[3] : NULL;
    t->for_account = r->cols[4] && !strcmp(r->cols[4], "1");
    t->email = r->cols[5];
    t->first_name = r->cols[6];
    t->last_name = r->cols[7];
    t->callback_url = r->cols[8];
    {
        json_t *options = cn_json_load_stored(p, r->cols[9]);
        const char *v = NULL;
        if (options && cn_json_get_string(options, "source_callback_url", &v) == APR_SUCCESS
            && v && *v) {
            t->source_callback_url = v;
        }
    }
    t->created_at = apr_atoi64(r->cols[10]);
    t->expires_at = apr_atoi64(r->cols[11]);
    t->used_at = apr_atoi64(r->cols[12]);
    return t;
}

apr_status_t cn_cio_token_by_digest(cn_ctx_t *ctx, const char *digest, cn_cio_token_t **out)
{
    const char *args[] = {digest};
    apr_array_header_t *rows = NULL;
    cn_cio_token_t *t;
    cn_row_t *r;
    apr_status_t rv;
    *out = NULL;
    if ((rv = select_rows(ctx, "cn_cio_token_by_digest", 1, args, &rows)) != APR_SUCCESS) {
        return rv;
    }
    r = rows->nelts ? APR_ARRAY_IDX(rows, 0, cn_row_t *) : NULL;
    t = r ? token_from_row(ctx->pool, r) : NULL;
    if (!t || t->used_at || t->expires_at <= ctx->now) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       t ? "this connect link was used or has expired"
                         : "no such connect link");
    }
    if (cn_crypto_open(ctx->pool, ctx->ring, r->cols[1],
                       cn_crypto_aad(ctx->pool, TOKENS_TABLE, "token", t->digest), &t->token,
                       NULL) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "a stored connect token does not open");
    }
    *out = t;
    return APR_SUCCESS;
}

apr_status_t cn_cio_token_use(cn_ctx_t *ctx, const cn_cio_token_t *t, const cn_grant_t *grant,
                              const char **account_id)
{
    const char *id = t->account_id, *now = i64(ctx->pool, ctx->now);
    apr_status_t rv;
    int n = 0;
    *account_id = NULL;
    ctx->app_id = t->app_id;
    if (!t->for_account && cn_uuid(ctx->pool, &id) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "no random account id");
    }
    if ((rv = cn_ctx_db_open(ctx)) != APR_SUCCESS) {
        return rv;
    }
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return db_done(ctx, APR_EGENERAL);
    }
    if (!t->for_account) {
        const char *args[] = {id, t->app_id, *t->email ? t->email : cn_lower(ctx->pool, grant->email),
                              t->first_name, t->last_name, "0", NULL, now, NULL};
        rv = cn_db_exec(ctx->pool, ctx->db, "cn_cio_account_insert", 9, args, NULL);
    }
    if (rv == APR_SUCCESS) {
        const char *args[] = {id, grant->id, t->app_id};
        rv = cn_db_exec(ctx->pool, ctx->db, "cn_cio_grant_link", 3, args, NULL);
    }
    if (rv == APR_SUCCESS) {
        const char *args[] = {now, id, t->digest, now};
        rv = cn_db_exec(ctx->pool, ctx->db, "cn_cio_token_use", 4, args, &n);
    }
    if (rv != APR_SUCCESS || n != 1) {
        cn_db_rollback(ctx->db);
        cn_db_end(ctx->pool, ctx->db);
        if (rv != APR_SUCCESS) {
            return db_done(ctx, rv);
        }
        cn_ctx_db_close(ctx);
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "this connect link was used meanwhile");
    }
    if (db_done(ctx, cn_db_end(ctx->pool, ctx->db)) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *account_id = id;
    return APR_SUCCESS;
}

apr_status_t cn_cio_token_names(cn_ctx_t *ctx, cn_cio_token_t *t, const char *first_name,
                                const char *last_name)
{
    const char *first = first_name ? first_name : "", *last = last_name ? last_name : "";
    const char *args[] = {first, last, t->digest};
    apr_status_t rv;
    if (!name_ok(ctx->pool, first) || !name_ok(ctx->pool, last)) {
        return bad(ctx, "first_name and last_name must be at most %s bytes of text", "100");
    }
    if ((rv = exec_alone(ctx, "cn_cio_token_names", 3, args, NULL)) != APR_SUCCESS) {
        return rv;
    }
    t->first_name = first;
    t->last_name = last;
    return APR_SUCCESS;
}

apr_status_t cn_cio_account_issue_token(cn_ctx_t *ctx, const char *id, const char **token,
                                        const char **secret)
{
    const char *t = NULL, *s = NULL, *sealed = NULL, *args[4];
    apr_status_t rv;
    int n = 0;
    *token = *secret = NULL;
    if (cn_random_token(ctx->pool, 16, &t) != APR_SUCCESS
        || cn_random_token(ctx->pool, 32, &s) != APR_SUCCESS
        || cn_crypto_seal(ctx->pool, ctx->ring, s, strlen(s),
                          cn_crypto_aad(ctx->pool, ACCOUNTS_TABLE, "access_token_secret", id),
                          &sealed) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "no access token for a 3-legged account");
    }
    args[0] = t;
    args[1] = sealed;
    args[2] = id;
    args[3] = ctx->app_id;
    if ((rv = exec_alone(ctx, "cn_cio_account_set_token", 4, args, &n)) != APR_SUCCESS) {
        return rv;
    }
    if (n == 1) {
        *token = t;
        *secret = s;
    }
    return APR_SUCCESS;
}
