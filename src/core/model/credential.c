/* Credentials of an integration: app-permission and override secrets, sealed
 * at rest, never returned. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_model.h"

#define CN_CRED_NAME_MAX 256
#define CN_CRED_DATA_MAX 32768

typedef struct cred_type_t {
    const char *type;
    const char *provider; /* NULL: any OAuth provider */
    const char *const *required;
} cred_type_t;

static const char *const sa_required[] = {"private_key_id", "private_key", "client_email", NULL};
static const char *const client_required[] = {"client_id", "client_secret", NULL};

static const cred_type_t cred_types[] = {
    {"serviceaccount", "google", sa_required},
    {"adminconsent", "microsoft", client_required},
    {"integration", NULL, client_required},
    {NULL, NULL, NULL}
};

static const cred_type_t *cred_type(const char *type)
{
    const cred_type_t *t;
    for (t = cred_types; type && t->type; ++t) {
        if (!strcmp(t->type, type)) {
            return t;
        }
    }
    return NULL;
}

static json_t *to_json(apr_pool_t *p, const cn_row_t *row)
{
    return cn_json_own(p, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "id", row->cols[0],
                                    "integration_id", row->cols[1], "name", row->cols[4],
                                    "credential_type", row->cols[5], "created_at",
                                    (json_int_t)apr_atoi64(row->cols[7]), "updated_at",
                                    (json_int_t)apr_atoi64(row->cols[8])));
}

/* DATA must hold the type's required keys as non-empty strings. */
static apr_status_t check_data(cn_ctx_t *ctx, const cred_type_t *t, json_t *data,
                               const char **text)
{
    const char *const *k;
    for (k = t->required; *k; ++k) {
        json_t *v = json_object_get(data, *k);
        if (!json_is_string(v) || !json_string_length(v)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                           "credential_data.%s is required for %s credentials", *k, t->type);
        }
    }
    *text = cn_json_dump(ctx->pool, data);
    if (!*text || strlen(*text) > CN_CRED_DATA_MAX) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "credential_data is larger than 32 KiB");
    }
    return APR_SUCCESS;
}

static apr_status_t seal_data(cn_ctx_t *ctx, const char *id, const char *text,
                              const char **sealed)
{
    if (cn_crypto_seal(ctx->pool, ctx->ring, text, strlen(text),
                       cn_crypto_aad(ctx->pool, "credentials", "credential_data", id), sealed)
        != APR_SUCCESS) {
        return cn_fail_internal(ctx, "sealing credential data");
    }
    return APR_SUCCESS;
}

static apr_status_t check_name(cn_ctx_t *ctx, const char *name)
{
    if (!*name || strlen(name) > CN_CRED_NAME_MAX) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "name must be a non-empty string of at most 256 bytes");
    }
    return APR_SUCCESS;
}

static apr_status_t name_taken(cn_ctx_t *ctx, const char *integration_id, const char *name,
                               const char *except_id, int *taken)
{
    apr_array_header_t *rows;
    const char *args[2] = {integration_id, name};
    if (cn_db_select(ctx->pool, ctx->db, "cn_credential_by_name", 2, args, &rows)
        != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *taken = rows->nelts > 0
             && (!except_id || strcmp(APR_ARRAY_IDX(rows, 0, cn_row_t *)->cols[0], except_id));
    return APR_SUCCESS;
}

static apr_status_t load(cn_ctx_t *ctx, const char *integration_id, const char *id,
                         cn_row_t **row)
{
    apr_array_header_t *rows;
    const char *args[2] = {id, integration_id};
    if (cn_db_select(ctx->pool, ctx->db, "cn_credential_get", 2, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!rows->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_NOT_FOUND, NULL);
    }
    *row = APR_ARRAY_IDX(rows, 0, cn_row_t *);
    return APR_SUCCESS;
}

apr_status_t cn_credential_create(cn_ctx_t *ctx, const char *provider, json_t *body,
                                  json_t **out)
{
    static const char *const allowed[] = {"name", "credential_type", "credential_data", NULL};
    const char *name = NULL, *type = NULL, *bad, *text = NULL, *sealed = NULL, *id = NULL;
    const char *args[9], *now;
    json_t *data = NULL;
    const cred_type_t *t;
    cn_integration_t *it;
    cn_row_t row;
    int taken = 0;

    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_json_get_string(body, "name", &name) != APR_SUCCESS || !name) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "name is required and must be a string");
    }
    if (check_name(ctx, name) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_json_get_string(body, "credential_type", &type) != APR_SUCCESS || !(t = cred_type(type))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "credential_type must be adminconsent, serviceaccount or integration");
    }
    if (cn_json_get_object(body, "credential_data", &data) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "credential_data must be an object");
    }
    if (!data) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                       "credential_data is required");
    }
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!cn_provider_can(provider, CN_PROVIDER_OAUTH)
        || (t->provider && strcmp(t->provider, provider))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "%s credentials do not apply to the %s provider", t->type, provider);
    }
    if (check_data(ctx, t, data, &text) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (name_taken(ctx, it->id, name, NULL, &taken) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (taken) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_ALREADY_EXISTS, NULL);
    }
    if (cn_uuid(ctx->pool, &id) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "randomness");
    }
    if (seal_data(ctx, id, text, &sealed) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    now = apr_ltoa(ctx->pool, (long)ctx->now);
    args[0] = id;
    args[1] = it->id;
    args[2] = ctx->app_id;
    args[3] = provider;
    args[4] = name;
    args[5] = t->type;
    args[6] = sealed;
    args[7] = now;
    args[8] = now;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_credential_insert", 9, args, NULL) != APR_SUCCESS) {
        /* A concurrent create of the same name loses on the unique index. */
        if (name_taken(ctx, it->id, name, NULL, &taken) == APR_SUCCESS && taken) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_ALREADY_EXISTS, NULL);
        }
        return cn_fail_db(ctx);
    }
    row.ncols = 9;
    row.cols = args;
    *out = to_json(ctx->pool, &row);
    return APR_SUCCESS;
}

apr_status_t cn_credential_list(cn_ctx_t *ctx, const char *provider, int limit, int offset,
                                const char *sort_by, const char *order_by, json_t **out)
{
    apr_array_header_t *rows;
    cn_integration_t *it;
    const char *args[3], *label;
    int i;
    if (sort_by && strcmp(sort_by, "created_at") && strcmp(sort_by, "updated_at")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "sort_by must be created_at or updated_at");
    }
    if (order_by && strcmp(order_by, "asc") && strcmp(order_by, "desc")) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "order_by must be asc or desc");
    }
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    label = apr_pstrcat(ctx->pool, "cn_credential_list_",
                        sort_by && !strcmp(sort_by, "updated_at") ? "updated_" : "created_",
                        order_by && !strcmp(order_by, "asc") ? "asc" : "desc", NULL);
    args[0] = it->id;
    args[1] = apr_itoa(ctx->pool, limit);
    args[2] = apr_itoa(ctx->pool, offset);
    if (cn_db_select(ctx->pool, ctx->db, label, 3, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    *out = cn_json_own(ctx->pool, json_array());
    for (i = 0; i < rows->nelts; ++i) {
        json_array_append(*out, to_json(ctx->pool, APR_ARRAY_IDX(rows, i, cn_row_t *)));
    }
    return APR_SUCCESS;
}

apr_status_t cn_credential_read(cn_ctx_t *ctx, const char *provider, const char *id,
                                json_t **out)
{
    cn_integration_t *it;
    cn_row_t *row;
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS || load(ctx, it->id, id, &row) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *out = to_json(ctx->pool, row);
    return APR_SUCCESS;
}

apr_status_t cn_credential_update(cn_ctx_t *ctx, const char *provider, const char *id,
                                  json_t *body, json_t **out)
{
    static const char *const allowed[] = {"name", "credential_data", NULL};
    const char *name = NULL, *bad, *text, *sealed, *args[5];
    json_t *data = NULL;
    cn_integration_t *it;
    cn_row_t *row;
    int taken = 0, n = 0;

    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_json_get_string(body, "name", &name) != APR_SUCCESS
        || (name && check_name(ctx, name) != APR_SUCCESS)) {
        return ctx->res.event ? APR_EGENERAL
                              : cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                                        "name must be a string");
    }
    if (cn_json_get_object(body, "credential_data", &data) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "credential_data must be an object");
    }
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS || load(ctx, it->id, id, &row) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    sealed = row->cols[6];
    if (data) {
        if (check_data(ctx, cred_type(row->cols[5]), data, &text) != APR_SUCCESS
            || seal_data(ctx, id, text, &sealed) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    if (name) {
        if (name_taken(ctx, it->id, name, id, &taken) != APR_SUCCESS) {
            return cn_fail_db(ctx);
        }
        if (taken) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_ALREADY_EXISTS, NULL);
        }
        row->cols[4] = name;
    }
    row->cols[6] = sealed;
    row->cols[8] = apr_ltoa(ctx->pool, (long)ctx->now);
    args[0] = row->cols[4];
    args[1] = sealed;
    args[2] = row->cols[8];
    args[3] = id;
    args[4] = it->id;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_credential_update", 5, args, &n) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_NOT_FOUND, NULL);
    }
    /* New data may be another provider app: an admin's consent was for the old one. */
    if (data && cn_db_exec(ctx->pool, ctx->db, "cn_credential_consent_clear", 2, args + 3, NULL)
                    != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    *out = to_json(ctx->pool, row);
    return APR_SUCCESS;
}

apr_status_t cn_credential_delete(cn_ctx_t *ctx, const char *provider, const char *id)
{
    cn_integration_t *it;
    const char *args[2];
    int n = 0;
    if (cn_integration_require(ctx, provider, &it) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    args[0] = id;
    args[1] = it->id;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_credential_delete", 2, args, &n) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_NOT_FOUND, NULL);
    }
    return APR_SUCCESS;
}

/* ---- credentials in use: app permissions and integration credentials ---- */

apr_status_t cn_credential_use(cn_ctx_t *ctx, const cn_integration_t *it, const char *id,
                               cn_credential_t **out)
{
    apr_array_header_t *rows;
    const char *args[2] = {id, it->id}, *plain;
    apr_size_t len;
    cn_credential_t *c;
    cn_row_t *row;
    if (!id || !*id || strlen(id) > 64) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_NOT_FOUND, NULL);
    }
    if (cn_db_select(ctx->pool, ctx->db, "cn_credential_use", 2, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!rows->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_NOT_FOUND,
                       "no credential %.64s of the %s integration", id, it->provider);
    }
    row = APR_ARRAY_IDX(rows, 0, cn_row_t *);
    c = apr_pcalloc(ctx->pool, sizeof(*c));
    c->id = row->cols[0];
    c->integration_id = row->cols[1];
    c->name = row->cols[4];
    c->type = row->cols[5];
    c->consented_tenant = row->cols[9] && *row->cols[9] ? row->cols[9] : NULL;
    if (cn_crypto_open(ctx->pool, ctx->ring, row->cols[6],
                       cn_crypto_aad(ctx->pool, "credentials", "credential_data", c->id), &plain,
                       &len) != APR_SUCCESS
        || !json_is_object(c->data = cn_json_parse(ctx->pool, plain, len, NULL))) {
        return cn_fail_internal(ctx, "a credential's data does not open");
    }
    *out = c;
    return APR_SUCCESS;
}

cn_integration_t *cn_integration_with(apr_pool_t *pool, const cn_integration_t *it,
                                      const cn_credential_t *cred)
{
    cn_integration_t *copy = apr_pmemdup(pool, it, sizeof(*it));
    const char *id = json_string_value(json_object_get(cred->data, "client_id"));
    const char *secret = json_string_value(json_object_get(cred->data, "client_secret"));
    copy->credential_id = cred->id;
    copy->credential_secret = NULL;
    if (strcmp(cred->type, CN_CRED_SERVICEACCOUNT)) {
        if (!id || !*id || !secret || !*secret) {
            return NULL;
        }
        copy->settings = cn_json_own(pool, json_deep_copy(it->settings));
        if (!copy->settings || json_object_set_new(copy->settings, "client_id", json_string(id))) {
            return NULL;
        }
        copy->credential_secret = secret;
    }
    return copy;
}

apr_status_t cn_credential_consented(cn_ctx_t *ctx, const cn_credential_t *cred,
                                     const char *tenant)
{
    const char *args[4] = {tenant, apr_ltoa(ctx->pool, (long)ctx->now), cred->id,
                           cred->integration_id};
    int n = 0;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_credential_consent", 4, args, &n) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_NOT_FOUND,
                       "the credential was deleted during the admin consent");
    }
    return APR_SUCCESS;
}

apr_status_t cn_grant_credential_id(cn_ctx_t *ctx, const cn_grant_t *g, const char **id)
{
    apr_array_header_t *rows;
    const char *args[2] = {g->id, g->app_id};
    *id = NULL;
    if (cn_db_select(ctx->pool, ctx->db, "cn_grant_credential", 2, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (rows->nelts) {
        const char *v = APR_ARRAY_IDX(rows, 0, cn_row_t *)->cols[0];
        *id = v && *v ? v : NULL;
    }
    return APR_SUCCESS;
}

apr_status_t cn_grant_integration(cn_ctx_t *ctx, const cn_grant_t *g, cn_integration_t **it)
{
    const char *cred_id = NULL;
    cn_credential_t *cred;
    if (cn_integration_require(ctx, g->provider, it) != APR_SUCCESS
        || cn_grant_credential_id(ctx, g, &cred_id) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!cred_id) {
        return APR_SUCCESS;
    }
    if (cn_credential_use(ctx, *it, cred_id, &cred) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!(*it = cn_integration_with(ctx->pool, *it, cred))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                       "the grant's credential has no client_id and client_secret");
    }
    return APR_SUCCESS;
}
