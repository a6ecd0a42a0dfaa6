/* Events in the seed's pub/sub message shape, recorded in the events table. */
#include <apr_strings.h>

#include "cn_model.h"
#include "cn_util.h"

apr_status_t cn_event_record(cn_ctx_t *ctx, cn_event_id_t type, const char *level, json_t *data)
{
    const cn_event_t *ev = cn_event(type);
    const char *log_id = NULL, *args[9];
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
    return cn_db_exec(ctx->pool, ctx->db, "cn_event_insert", 9, args, NULL);
}
