/* Events in the seed's pub/sub message shape, recorded in the events table
 * and, for an application with a webhook, in its outbox in the same
 * transaction. */
#include <apr_strings.h>

#include "cn_model.h"
#include "cn_util.h"
#include "cn_webhook.h"

/* The pub/sub message of the seed (004, "PUB/SUB SAMPLE MESSAGE"). */
static const char *message_json(cn_ctx_t *ctx, const cn_event_t *ev, const char *level,
                                const char *log_id, json_t *data)
{
    json_t *m = cn_json_own(ctx->pool, json_object());
    if (!m || json_object_set_new(m, "code", json_integer(ev->code))
        || json_object_set_new(m, "type", json_string(ev->type))
        || json_object_set_new(m, "level", json_string(level))
        || json_object_set_new(m, "message", json_string(ev->message))
        || json_object_set(m, "data", data ? data : cn_json_own(ctx->pool, json_object()))
        || json_object_set_new(m, "log_id", json_string(log_id))
        || json_object_set_new(m, "request_id", ctx->request_id && *ctx->request_id
                                                    ? json_string(ctx->request_id)
                                                    : json_null())
        || json_object_set_new(m, "time", json_integer((json_int_t)ctx->now))) {
        return NULL;
    }
    return cn_json_dump(ctx->pool, m);
}

apr_status_t cn_event_record(cn_ctx_t *ctx, cn_event_id_t type, const char *level, json_t *data)
{
    const cn_event_t *ev = cn_event(type);
    const char *log_id = NULL, *args[9], *body;
    int outbox, own_txn;
    apr_status_t rv;
    if (!ev || cn_uuid(ctx->pool, &log_id) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    args[0] = log_id;
    args[1] = ctx->app_id ? ctx->app_id : "";
    args[2] = apr_itoa(ctx->pool, ev->code);
    args[3] = ev->type;
    args[4] = level;
    args[5] = ev->message;
    args[6] = data ? cn_json_dump(ctx->pool, data) : "{}";
    args[7] = ctx->request_id ? ctx->request_id : "";
    args[8] = apr_ltoa(ctx->pool, (long)ctx->now);
    outbox = ctx->webhooks && ctx->app_id
             && apr_hash_get(ctx->webhooks, ctx->app_id, APR_HASH_KEY_STRING);
    if (!outbox) {
        return cn_db_exec(ctx->pool, ctx->db, "cn_event_insert", 9, args, NULL);
    }
    if (!(body = message_json(ctx, ev, level, log_id, data))) {
        return APR_ENOMEM;
    }
    /* The event and its delivery together: in the caller's transaction, or in one of their own. */
    own_txn = !ctx->db->trans;
    if (own_txn && cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_db_exec(ctx->pool, ctx->db, "cn_event_insert", 9, args, NULL);
    if (rv == APR_SUCCESS) {
        json_t *g = data ? json_object_get(data, "grant_id") : NULL;
        rv = cn_webhook_enqueue(ctx, log_id, ev->type, json_string_value(g), body);
    }
    if (own_txn) {
        if (rv != APR_SUCCESS) {
            cn_db_rollback(ctx->db);
        }
        if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS && rv == APR_SUCCESS) {
            rv = APR_EGENERAL;
        }
    }
    return rv;
}
