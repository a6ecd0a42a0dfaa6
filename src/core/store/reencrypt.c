/* Re-seal stored secrets under the newest key, so an old key can be retired. */
#include <string.h>
#include <apr_strings.h>

#include "cn_model.h"
#include "cn_util.h"

typedef struct sealed_column_t {
    const char *select_label; /* SELECT id, value */
    const char *update_label; /* UPDATE ... SET value = %s WHERE id = %s */
    const char *table, *column;
} sealed_column_t;

static const sealed_column_t columns[] = {
    {"cn_integration_all_secrets", "cn_integration_set_secret", "integrations", "client_secret"},
    {"cn_credential_all_secrets", "cn_credential_set_secret", "credentials", "credential_data"},
    {"cn_grant_all_refresh", "cn_grant_set_refresh", "grants", "refresh_token"},
    /* a mailbox password, in the same column under its own AAD */
    {"cn_grant_all_password", "cn_grant_set_refresh", "grants", CN_GRANT_PASSWORD_AAD},
    {"cn_grant_all_access", "cn_grant_set_access", "grants", "access_token"},
    /* the Context.IO API's connect tokens and 3-legged account secrets */
    {"cn_cio_all_tokens", "cn_cio_set_token", "cio_connect_tokens", "token"},
    {"cn_cio_all_account_secrets", "cn_cio_set_account_secret", "cio_accounts",
     "access_token_secret"},
    {NULL, NULL, NULL, NULL}
};

static apr_status_t reseal_column(cn_ctx_t *ctx, const sealed_column_t *c, int *count)
{
    apr_array_header_t *rows;
    int i;
    if (cn_db_select(ctx->pool, ctx->db, c->select_label, 0, NULL, &rows) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "cannot read %s", c->table);
    }
    for (i = 0; i < rows->nelts; ++i) {
        cn_row_t *row = APR_ARRAY_IDX(rows, i, cn_row_t *);
        const char *id = row->cols[0], *value = row->cols[1], *plain, *sealed, *aad;
        const char *args[2];
        apr_size_t len;
        if (!value || !cn_crypto_needs_rekey(ctx->ring, value)) {
            continue;
        }
        aad = cn_crypto_aad(ctx->pool, c->table, c->column, id);
        if (cn_crypto_open(ctx->pool, ctx->ring, value, aad, &plain, &len) != APR_SUCCESS) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR,
                           "%s.%s of row %s opens with no configured key", c->table,
                           c->column, id);
        }
        if (cn_crypto_seal(ctx->pool, ctx->ring, plain, len, aad, &sealed) != APR_SUCCESS) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "sealing failed");
        }
        args[0] = sealed;
        args[1] = id;
        if (cn_db_exec(ctx->pool, ctx->db, c->update_label, 2, args, NULL) != APR_SUCCESS) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "cannot update %s", c->table);
        }
        ++*count;
    }
    return APR_SUCCESS;
}

/* Secrets sealed inside the grants' settings (JSON), each bound to its key
 * and grant. */
static apr_status_t reseal_grant_settings(cn_ctx_t *ctx, int *count)
{
    apr_array_header_t *rows;
    int i;
    if (cn_db_select(ctx->pool, ctx->db, "cn_grant_all_settings", 0, NULL, &rows)
        != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "cannot read grants");
    }
    for (i = 0; i < rows->nelts; ++i) {
        cn_row_t *row = APR_ARRAY_IDX(rows, i, cn_row_t *);
        json_t *settings = cn_json_load_stored(ctx->pool, row->cols[1]);
        const char *args[2], *why = NULL;
        int changed = 0;
        apr_status_t rv;
        if (!json_is_object(settings)) {
            continue;
        }
        rv = cn_grant_settings_reseal(ctx->pool, ctx->ring, row->cols[0], settings, &changed,
                                      &why);
        if (rv == APR_EINVAL) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR,
                           "grants.%s of row %s opens with no configured key", why,
                           row->cols[0]);
        }
        if (rv != APR_SUCCESS) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "sealing failed");
        }
        if (!changed) {
            continue;
        }
        args[0] = cn_json_dump(ctx->pool, settings);
        args[1] = row->cols[0];
        if (!args[0]
            || cn_db_exec(ctx->pool, ctx->db, "cn_grant_set_settings", 2, args, NULL)
                   != APR_SUCCESS) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "cannot update grants");
        }
        *count += changed;
    }
    return APR_SUCCESS;
}

apr_status_t cn_store_reencrypt(cn_ctx_t *ctx, int *count)
{
    const sealed_column_t *c;
    apr_status_t rv = APR_SUCCESS;
    *count = 0;
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "cannot start a transaction");
    }
    for (c = columns; c->table && rv == APR_SUCCESS; ++c) {
        rv = reseal_column(ctx, c, count);
    }
    if (rv == APR_SUCCESS) {
        rv = reseal_grant_settings(ctx, count);
    }
    if (rv != APR_SUCCESS) {
        cn_db_rollback(ctx->db);
        *count = 0;
    }
    if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS && rv == APR_SUCCESS) {
        *count = 0;
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "commit failed");
    }
    return rv;
}
