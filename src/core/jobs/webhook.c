/* Webhook delivery (run by the glue from mod_watchdog): the due rows of the
 * outbox are POSTed, signed, oldest first; the oldest pending delivery of a
 * grant holds back its later ones, so a receiver sees each grant's events
 * in order. A failed attempt is tried again after an exponential, jittered
 * wait, until the retry period ends; then the row is marked failed, and the
 * application sees it in GET /webhooks/deliveries. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cn_webhook.h"
#include "cn_metrics.h"
#include "cn_proto.h"

/* Rows deleted per statement by the purge. */
#define CN_WEBHOOK_PURGE_BATCH 500
/* Bytes of a receiver's answer read (and dropped). */
#define CN_WEBHOOK_MAX_ANSWER (64 * 1024)

const char *cn_webhook_signature(apr_pool_t *pool, const unsigned char *secret,
                                 apr_size_t secret_len, apr_int64_t t, const char *body,
                                 apr_size_t len)
{
    const char *ts = apr_psprintf(pool, "%" APR_INT64_T_FMT, t);
    apr_size_t tlen = strlen(ts);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char *signed_text = apr_palloc(pool, tlen + 1 + len), *hex;
    unsigned int i;
    memcpy(signed_text, ts, tlen);
    signed_text[tlen] = '.';
    if (len) {
        memcpy(signed_text + tlen + 1, body, len);
    }
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)signed_text,
              tlen + 1 + len, mac, &mac_len) || mac_len != 32) {
        return NULL;
    }
    hex = apr_palloc(pool, 2 * mac_len + 1);
    for (i = 0; i < mac_len; ++i) {
        static const char digits[] = "0123456789abcdef";
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0xf];
    }
    hex[2 * mac_len] = '\0';
    return apr_pstrcat(pool, "t=", ts, ",v1=", hex, NULL);
}

apr_int64_t cn_webhook_backoff(const cn_webhook_policy_t *p, int attempts, apr_uint32_t random)
{
    apr_int64_t lo = p->backoff_min > 0 ? p->backoff_min : 1;
    apr_int64_t hi = p->backoff_max > lo ? p->backoff_max : lo;
    apr_int64_t window = lo;
    int i;
    for (i = 1; i < attempts && window < hi; ++i) {
        window *= 2;
    }
    if (window > hi) {
        window = hi;
    }
    return lo + (apr_int64_t)(random % (apr_uint64_t)(window - lo + 1));
}

/* ---- one run --------------------------------------------------------- */

/* A due row of the outbox (cn_webhook_due: seq, then WEBHOOK_COLS). */
typedef struct delivery_t {
    const char *id, *app_id, *grant_key, *type, *body;
    int attempts;
    apr_int64_t retry_from;
} delivery_t;

/* What an attempt came to. */
typedef struct attempt_t {
    int tried;          /* 0: no attempt was made (no webhook for the application) */
    int ok;             /* the receiver answered 2xx */
    int status;         /* its HTTP status; 0: no answer */
    const char *error;  /* why it failed, for the row and the log */
    apr_interval_time_t duration;
} attempt_t;

typedef enum outcome_t { OUTCOME_DELIVERED, OUTCOME_RETRY, OUTCOME_FAILED } outcome_t;

static apr_int64_t clock_now(const cn_webhook_run_t *run)
{
    return run->clock ? run->clock(run->baton) : (apr_int64_t)apr_time_sec(apr_time_now());
}

static apr_uint32_t random32(const cn_webhook_run_t *run)
{
    unsigned char b[4] = {0, 0, 0, 0};
    if (run->random) {
        return run->random(run->baton);
    }
    (void)cn_random_bytes(b, sizeof(b)); /* on failure: no jitter, still a wait */
    return (apr_uint32_t)b[0] << 24 | (apr_uint32_t)b[1] << 16 | (apr_uint32_t)b[2] << 8 | b[3];
}

static int stopping(const cn_webhook_run_t *run)
{
    return run->stopping && run->stopping(run->baton);
}

/* POST D to TG. */
static void attempt(cn_ctx_t *ctx, const cn_webhook_run_t *run, const delivery_t *d,
                    const cn_webhook_target_t *tg, apr_int64_t now, attempt_t *a)
{
    cn_http_request_t req;
    cn_http_response_t resp;
    const char *sig, *headers[5];
    apr_size_t len = strlen(d->body);
    apr_time_t start;
    apr_status_t rv;

    memset(a, 0, sizeof(*a));
    a->tried = 1;
    if (!ctx->http) {
        a->error = "no HTTP client in this process";
        return;
    }
    if (!(sig = cn_webhook_signature(ctx->pool, tg->secret, tg->secret_len, now, d->body, len))) {
        a->error = "the body could not be signed";
        return;
    }
    headers[0] = apr_pstrcat(ctx->pool, CN_WEBHOOK_SIGNATURE_HEADER ": ", sig, NULL);
    headers[1] = apr_pstrcat(ctx->pool, CN_WEBHOOK_DELIVERY_HEADER ": ", d->id, NULL);
    headers[2] = apr_pstrcat(ctx->pool, CN_WEBHOOK_EVENT_HEADER ": ", d->type, NULL);
    headers[3] = "Expect:"; /* the body at once, no 100-continue round trip */
    headers[4] = NULL;
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = tg->url;
    req.content_type = "application/json";
    req.body = d->body;
    req.body_len = len;
    req.headers = headers;
    req.max_response = CN_WEBHOOK_MAX_ANSWER;
    req.timeout_ms = run->policy.timeout_ms;
    start = apr_time_now();
    rv = ctx->http->perform(ctx->http, ctx->pool, &req, &resp);
    a->duration = apr_time_now() - start;
    if (rv == APR_SUCCESS) {
        a->status = resp.status;
        a->ok = resp.status >= 200 && resp.status < 300;
        if (!a->ok) {
            a->error = resp.status >= 300 && resp.status < 400
                           ? apr_psprintf(ctx->pool, "HTTP %d (redirects are not followed)",
                                          resp.status)
                           : apr_psprintf(ctx->pool, "HTTP %d", resp.status);
        }
    }
    else if (rv == APR_ENOSPC) {
        /* an answer came, too long to read: what it says is unknown */
        a->error = "the answer exceeds the size limit";
    }
    else {
        a->error = resp.error ? resp.error : "no answer";
    }
}

/* The one place an attempt's outcome is known: the row, the log (and, when
 * the module counts, its counters: kind, duration). */
static void record(cn_ctx_t *ctx, const delivery_t *d, outcome_t kind, const attempt_t *a,
                   apr_int64_t now, apr_int64_t next, cn_webhook_counts_t *counts)
{
    const char *args[8], *label;
    const char *status = apr_itoa(ctx->pool, a->status);
    const char *at = a->tried ? apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, now) : NULL;
    const char *nows = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, now);
    int nargs;
    long ms = (long)apr_time_as_msec(a->duration);

    if (kind == OUTCOME_DELIVERED) {
        label = "cn_webhook_set_delivered";
        args[0] = at;
        args[1] = status;
        args[2] = nows;
        args[3] = d->id;
        nargs = 4;
        counts->delivered++;
        cn_log(ctx, CN_LOG_INFO, CNLOGNO(02001) "webhook: %s (%s) of %s delivered, "
               "attempt %d, HTTP %d in %ld ms", d->id, d->type, d->app_id, d->attempts + 1,
               a->status, ms);
    }
    else {
        const char *attempted = a->tried ? "1" : "0";
        label = kind == OUTCOME_RETRY ? "cn_webhook_set_retry" : "cn_webhook_set_failed";
        args[0] = attempted;
        if (kind == OUTCOME_RETRY) {
            args[1] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, next);
            args[2] = at;
            args[3] = status;
            args[4] = a->error;
            args[5] = nows;
            args[6] = d->id;
            nargs = 7;
            counts->retried++;
            cn_log(ctx, CN_LOG_NOTICE, CNLOGNO(02002) "webhook: %s (%s) of %s not delivered "
                   "(attempt %d: %s in %ld ms); next attempt in %" APR_INT64_T_FMT " s",
                   d->id, d->type, d->app_id, d->attempts + a->tried, a->error, ms, next - now);
        }
        else {
            args[1] = at;
            args[2] = status;
            args[3] = a->error;
            args[4] = nows;
            args[5] = d->id;
            nargs = 6;
            counts->failed++;
            cn_log(ctx, CN_LOG_ERR, CNLOGNO(02003) "webhook: %s (%s) of %s failed after %d "
                   "attempts (last: %s); given up", d->id, d->type, d->app_id,
                   d->attempts + a->tried, a->error);
        }
    }
    if (a->tried || kind == OUTCOME_FAILED) {
        cn_metrics_webhook_delivery(ctx->metrics,
                                    kind == OUTCOME_DELIVERED ? CN_METRIC_WEBHOOK_DELIVERED
                                    : kind == OUTCOME_RETRY   ? CN_METRIC_WEBHOOK_RETRY
                                                              : CN_METRIC_WEBHOOK_FAILED,
                                    a->duration);
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return;
    }
    if (cn_db_exec(ctx->pool, ctx->db, label, nargs, args, NULL) != APR_SUCCESS) {
        /* Stays pending: tried again, at least once delivered. */
        (void)cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
}

static void process(cn_ctx_t *ctx, const cn_webhook_run_t *run, const delivery_t *d,
                    cn_webhook_counts_t *counts)
{
    const cn_webhook_target_t *tg = apr_hash_get(run->targets, d->app_id, APR_HASH_KEY_STRING);
    apr_int64_t deadline = d->retry_from + run->policy.retry_for, now = clock_now(run), wait;
    attempt_t a;
    if (!tg) {
        /* No webhook for the application here (configurations of nodes
         * differ for a while): kept for a node that has it, until the end. */
        memset(&a, 0, sizeof(a));
        a.error = "the application has no webhook_url on this server";
        record(ctx, d, now >= deadline ? OUTCOME_FAILED : OUTCOME_RETRY, &a, now,
               now + run->policy.backoff_max, counts);
        return;
    }
    attempt(ctx, run, d, tg, now, &a);
    now = clock_now(run);
    if (a.ok) {
        record(ctx, d, OUTCOME_DELIVERED, &a, now, 0, counts);
        return;
    }
    if (now >= deadline) {
        record(ctx, d, OUTCOME_FAILED, &a, now, 0, counts);
        return;
    }
    wait = cn_webhook_backoff(&run->policy, d->attempts + 1, random32(run));
    record(ctx, d, OUTCOME_RETRY, &a, now, now + wait < deadline ? now + wait : deadline, counts);
}

static apr_status_t due_rows(cn_ctx_t *ctx, apr_int64_t now, int batch, apr_array_header_t **rows)
{
    const char *args[2];
    apr_status_t rv = APR_SUCCESS;
    args[0] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, now);
    args[1] = apr_itoa(ctx->pool, batch);
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_db_select(ctx->pool, ctx->db, "cn_webhook_due", 2, args, rows) != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
    return rv;
}

apr_status_t cn_webhook_backlog(cn_ctx_t *ctx, apr_int64_t *pending)
{
    apr_array_header_t *rows = NULL;
    apr_status_t rv = APR_SUCCESS;
    *pending = 0;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_db_select(ctx->pool, ctx->db, "cn_webhook_backlog", 0, NULL, &rows) != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    else if (rows && rows->nelts && APR_ARRAY_IDX(rows, 0, const cn_row_t *)->cols[0]) {
        *pending = apr_atoi64(APR_ARRAY_IDX(rows, 0, const cn_row_t *)->cols[0]);
    }
    cn_ctx_db_close(ctx);
    if (rv == APR_SUCCESS) {
        cn_metrics_webhook_backlog(ctx->metrics, *pending);
    }
    return rv;
}

apr_status_t cn_webhook_any_due(cn_ctx_t *ctx, apr_int64_t now, int *due)
{
    const char *args[1];
    apr_array_header_t *rows = NULL;
    apr_status_t rv = APR_SUCCESS;
    *due = 0;
    args[0] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, now);
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_db_select(ctx->pool, ctx->db, "cn_webhook_any_due", 1, args, &rows) != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
    *due = rv == APR_SUCCESS && rows && rows->nelts > 0;
    return rv;
}

apr_status_t cn_webhook_deliver(cn_ctx_t *ctx, const cn_webhook_run_t *run,
                                cn_webhook_counts_t *counts)
{
    cn_webhook_counts_t c = {0, 0, 0};
    apr_int64_t start = clock_now(run);
    apr_status_t rv = APR_SUCCESS;
    int done = 0;

    while (!done && !stopping(run) && clock_now(run) - start < run->policy.budget) {
        /* A pool per batch: a long run does not grow the caller's. */
        cn_ctx_t bctx = *ctx;
        apr_array_header_t *rows = NULL;
        int i;
        if (apr_pool_create(&bctx.pool, ctx->pool) != APR_SUCCESS) {
            rv = APR_ENOMEM;
            break;
        }
        if ((rv = due_rows(&bctx, clock_now(run), run->policy.batch, &rows)) != APR_SUCCESS) {
            apr_pool_destroy(bctx.pool);
            break;
        }
        done = !rows || !rows->nelts;
        for (i = 0; rows && i < rows->nelts; ++i) {
            const cn_row_t *row = APR_ARRAY_IDX(rows, i, const cn_row_t *);
            delivery_t d;
            if (stopping(run) || clock_now(run) - start >= run->policy.budget) {
                done = 1;
                break;
            }
            /* seq, id, app_id, grant_key, log_id, type, body, status, attempts,
             * next_attempt_at, retry_from, ... */
            d.id = row->cols[1];
            d.app_id = row->cols[2];
            d.grant_key = row->cols[3];
            d.type = row->cols[5];
            d.body = row->cols[6] ? row->cols[6] : "";
            d.attempts = row->cols[8] ? atoi(row->cols[8]) : 0;
            d.retry_from = row->cols[10] ? apr_atoi64(row->cols[10]) : 0;
            process(&bctx, run, &d, &c);
        }
        apr_pool_destroy(bctx.pool);
    }
    if (c.delivered + c.retried + c.failed) {
        cn_log(ctx, CN_LOG_INFO, CNLOGNO(02004) "webhook run: %d delivered, %d to retry, "
               "%d failed", c.delivered, c.retried, c.failed);
    }
    if (counts) {
        *counts = c;
    }
    return rv;
}

apr_status_t cn_webhook_purge(cn_ctx_t *ctx, apr_int64_t before, int *deleted)
{
    const char *args[2];
    int n, total = 0;
    args[0] = apr_psprintf(ctx->pool, "%" APR_INT64_T_FMT, before);
    args[1] = apr_itoa(ctx->pool, CN_WEBHOOK_PURGE_BATCH);
    do {
        n = 0;
        if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (cn_db_exec(ctx->pool, ctx->db, "cn_webhook_purge", 2, args, &n) != APR_SUCCESS) {
            apr_status_t rv = cn_fail_db(ctx);
            cn_ctx_db_close(ctx);
            return rv;
        }
        cn_ctx_db_close(ctx);
        total += n;
    } while (n >= CN_WEBHOOK_PURGE_BATCH);
    if (total) {
        cn_log(ctx, CN_LOG_NOTICE, CNLOGNO(02005) "webhook: %d delivered or failed deliveries "
               "older than the event retention deleted", total);
    }
    if (deleted) {
        *deleted = total;
    }
    return APR_SUCCESS;
}
