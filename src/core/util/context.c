/* The context's seams: log lines and short database sections. */
#include <stdarg.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "cn_core.h"
#include "cn_metrics.h"

void cn_log(cn_ctx_t *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    const char *line;
    if (!ctx->log.write || (ctx->log.enabled && !ctx->log.enabled(ctx->log.baton, level))) {
        return;
    }
    va_start(ap, fmt);
    line = apr_pvsprintf(ctx->pool, fmt, ap);
    va_end(ap);
    ctx->log.write(ctx->log.baton, level, line);
}

apr_time_t cn_ctx_time(const cn_ctx_t *ctx)
{
    return ctx->clock ? ctx->clock->now(ctx->clock->baton) : apr_time_now();
}

void cn_ctx_sleep(const cn_ctx_t *ctx, apr_interval_time_t t)
{
    if (ctx->clock) {
        ctx->clock->sleep(ctx->clock->baton, t);
    }
    else {
        apr_sleep(t);
    }
}

apr_status_t cn_ctx_db_open(cn_ctx_t *ctx)
{
    cn_db_t *db = NULL;
    apr_status_t rv;
    if (ctx->db) {
        ctx->db_depth++; /* a section inside the caller's */
        return APR_SUCCESS;
    }
    if (!ctx->dbs.open) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, NULL);
    }
    rv = ctx->dbs.open(ctx->dbs.baton, ctx->pool, &db);
    if (rv != APR_SUCCESS || !db) {
        cn_log(ctx, CN_LOG_ERR, CNLOGNO(01001) "no database connection");
        cn_metrics_db_error(ctx->metrics, CN_METRIC_DB_CONNECTION);
        return cn_fail_rv(ctx->pool, &ctx->res, rv, CN_EV_INTERNAL_ERROR, NULL);
    }
    ctx->db = db;
    ctx->db_owned = 1;
    ctx->db_depth = 1;
    return APR_SUCCESS;
}

void cn_ctx_db_close(cn_ctx_t *ctx)
{
    if (ctx->db_depth > 0 && --ctx->db_depth > 0) {
        return;
    }
    if (ctx->db_owned && ctx->db) {
        if (ctx->dbs.close) {
            ctx->dbs.close(ctx->dbs.baton, ctx->db);
        }
        ctx->db = NULL;
    }
    ctx->db_owned = 0;
}

apr_status_t cn_fail_db(cn_ctx_t *ctx)
{
    cn_log(ctx, CN_LOG_ERR, CNLOGNO(01002) "database: %s",
           ctx->db && ctx->db->error ? ctx->db->error : "no connection");
    cn_metrics_db_error(ctx->metrics, ctx->db ? CN_METRIC_DB_STATEMENT : CN_METRIC_DB_CONNECTION);
    return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, NULL);
}

apr_status_t cn_fail_internal(cn_ctx_t *ctx, const char *what)
{
    cn_log(ctx, CN_LOG_ERR, CNLOGNO(01003) "%s failed", what);
    return cn_fail(ctx->pool, &ctx->res, CN_EV_INTERNAL_ERROR, NULL);
}
