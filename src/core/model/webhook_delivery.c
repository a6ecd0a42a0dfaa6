/* The webhook outbox as the model sees it: a row per event of an
 * application with a webhook (written with the event), and what the
 * application may see of its deliveries (GET /webhooks/deliveries) and do
 * with a failed one (POST /webhooks/deliveries/{id}/retry). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_model.h"
#include "cn_webhook.h"

apr_status_t cn_webhook_enqueue(cn_ctx_t *ctx, const char *log_id, const char *type,
                                const char *grant_id, const char *body)
{
    const char *id = NULL, *args[10], *now;
    if (!ctx->webhooks || !ctx->app_id
        || !apr_hash_get(ctx->webhooks, ctx->app_id, APR_HASH_KEY_STRING)) {
        return APR_SUCCESS;
    }
    if (cn_uuid(ctx->pool, &id) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    now = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, ctx->now);
    args[0] = id;
    args[1] = ctx->app_id;
    args[2] = grant_id ? grant_id : ""; /* events of no grant keep their order too */
    args[3] = log_id;
    args[4] = type;
    args[5] = body;
    args[6] = now; /* due at once */
    args[7] = now; /* retried until the retry period after now */
    args[8] = now;
    args[9] = now;
    return cn_db_exec(ctx->pool, ctx->db, "cn_webhook_insert", 10, args, NULL);
}

static json_t *int_or_null(const char *v)
{
    return v && *v ? json_integer((json_int_t)apr_atoi64(v)) : json_null();
}

/* A row of WEBHOOK_COLS as the API shows it: id, app_id, grant_key, log_id,
 * type, body, status, attempts, next_attempt_at, retry_from,
 * last_attempt_at, last_status, last_error, created_at, updated_at. */
static json_t *to_json(cn_ctx_t *ctx, const cn_row_t *row)
{
    const char *const *c = row->cols;
    json_t *event = c[5] ? cn_json_parse(ctx->pool, c[5], strlen(c[5]), NULL) : NULL;
    int pending = c[6] && !strcmp(c[6], CN_WEBHOOK_PENDING);
    json_t *o = json_pack("{s:s,s:s,s:s?,s:s,s:s,s:i}", "id", c[0], "event_id", c[3],
                          "grant_id", c[2] && *c[2] ? c[2] : NULL, "type", c[4], "status", c[6],
                          "attempts", c[7] ? atoi(c[7]) : 0);
    if (!o) {
        return NULL;
    }
    json_object_set_new(o, "next_attempt_at", pending ? int_or_null(c[8]) : json_null());
    json_object_set_new(o, "last_attempt_at", int_or_null(c[10]));
    json_object_set_new(o, "last_status",
                        c[11] && atoi(c[11]) > 0 ? json_integer(atoi(c[11])) : json_null());
    json_object_set_new(o, "last_error", c[12] && *c[12] ? json_string(c[12]) : json_null());
    json_object_set_new(o, "created_at", int_or_null(c[13]));
    json_object_set_new(o, "updated_at", int_or_null(c[14]));
    /* the message as it is (was) POSTed */
    json_object_set(o, "event", event ? event : json_null());
    return cn_json_own(ctx->pool, o);
}

static int status_known(const char *s)
{
    return !strcmp(s, CN_WEBHOOK_PENDING) || !strcmp(s, CN_WEBHOOK_DELIVERED)
           || !strcmp(s, CN_WEBHOOK_FAILED);
}

apr_status_t cn_webhook_list(cn_ctx_t *ctx, const char *status, int limit, int offset,
                             json_t **out)
{
    const char *args[5];
    apr_array_header_t *rows = NULL;
    json_t *arr;
    int i;
    if (!status) {
        status = "";
    }
    if (*status && !status_known(status)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "status must be pending, delivered or failed");
    }
    args[0] = ctx->app_id;
    args[1] = status;
    args[2] = status;
    args[3] = apr_itoa(ctx->pool, limit);
    args[4] = apr_itoa(ctx->pool, offset);
    if (cn_db_select(ctx->pool, ctx->db, "cn_webhook_list", 5, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    arr = cn_json_own(ctx->pool, json_array());
    for (i = 0; i < rows->nelts; ++i) {
        json_t *o = to_json(ctx, APR_ARRAY_IDX(rows, i, const cn_row_t *));
        if (!o || json_array_append(arr, o)) {
            return cn_fail_internal(ctx, "rendering a webhook delivery");
        }
    }
    *out = arr;
    return APR_SUCCESS;
}

static apr_status_t get_one(cn_ctx_t *ctx, const char *id, const cn_row_t **row)
{
    const char *args[2] = {id, ctx->app_id};
    apr_array_header_t *rows = NULL;
    if (cn_db_select(ctx->pool, ctx->db, "cn_webhook_get", 2, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!rows->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NOT_FOUND_ERROR, "no such webhook delivery");
    }
    *row = APR_ARRAY_IDX(rows, 0, const cn_row_t *);
    return APR_SUCCESS;
}

apr_status_t cn_webhook_retry(cn_ctx_t *ctx, const char *id, json_t **out)
{
    const char *args[5], *now;
    const cn_row_t *row = NULL;
    int n = 0;
    if (get_one(ctx, id, &row) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!strcmp(row->cols[6], CN_WEBHOOK_DELIVERED)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "the delivery was delivered; only a failed or pending one is retried");
    }
    now = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, ctx->now);
    args[0] = now; /* due at once */
    args[1] = now; /* the retry period runs from now */
    args[2] = now;
    args[3] = id;
    args[4] = ctx->app_id;
    if (cn_db_exec(ctx->pool, ctx->db, "cn_webhook_requeue", 5, args, &n) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        /* delivered meanwhile */
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "the delivery was delivered; only a failed or pending one is retried");
    }
    cn_log(ctx, CN_LOG_INFO, CNLOGNO(02010) "webhook: %s of %s queued again by the application",
           id, ctx->app_id);
    if (get_one(ctx, id, &row) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *out = to_json(ctx, row);
    return *out ? APR_SUCCESS : cn_fail_internal(ctx, "rendering a webhook delivery");
}
