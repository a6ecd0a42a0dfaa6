/* Webhooks: every event of an application that has a webhook
 * (ConnectApplication ... webhook_url= webhook_secret=) is POSTed to it as
 * the seed's pub/sub message, signed, at least once, in order per grant.
 * An outbox row is written in the event's own transaction; the watchdog
 * (src/httpd/webhooks.c) delivers with retries, so no request ever waits
 * for a receiver. */
#ifndef CN_WEBHOOK_H
#define CN_WEBHOOK_H

#include <jansson.h>
#include "cn_core.h"

/* The header that carries the signature: "t=<unix time>,v1=<hex>", the hex
 * of HMAC-SHA256(secret, "<unix time>." body), as Stripe signs. */
#define CN_WEBHOOK_SIGNATURE_HEADER "X-Connect-Signature"
/* The delivery's id (the same on every attempt: receivers drop repeats). */
#define CN_WEBHOOK_DELIVERY_HEADER "X-Connect-Delivery"
/* The event's type, e.g. grant_created. */
#define CN_WEBHOOK_EVENT_HEADER "X-Connect-Event"

#define CN_WEBHOOK_PENDING "pending"
#define CN_WEBHOOK_DELIVERED "delivered"
#define CN_WEBHOOK_FAILED "failed"

/* Where an application's events go (a value of cn_ctx_t.webhooks, keyed by
 * client id). The secret stays in memory for signing; never logged. */
typedef struct cn_webhook_target_t {
    const char *url; /* http or https */
    const unsigned char *secret;
    apr_size_t secret_len;
} cn_webhook_target_t;

/* The outbox row of the event LOG_ID (its JSON BODY, of TYPE, about
 * GRANT_ID or NULL) for ctx->app_id, when that application has a webhook
 * (ctx->webhooks); nothing otherwise. In the caller's database section and
 * transaction, so that the event and its delivery are written together. */
apr_status_t cn_webhook_enqueue(cn_ctx_t *ctx, const char *log_id, const char *type,
                                const char *grant_id, const char *body);

/* The value of the signature header for BODY (LEN bytes) sent at time T,
 * "t=<T>,v1=<64 hex digits>"; NULL when OpenSSL fails. */
const char *cn_webhook_signature(apr_pool_t *pool, const unsigned char *secret,
                                 apr_size_t secret_len, apr_int64_t t, const char *body,
                                 apr_size_t len);

/* How deliveries are retried. */
typedef struct cn_webhook_policy_t {
    int backoff_min;  /* seconds before the first retry, at least */
    int backoff_max;  /* the cap of the exponential wait */
    int retry_for;    /* seconds after the event (or a manual retry) before giving up */
    long timeout_ms;  /* of one attempt, connection included */
    int batch;        /* due deliveries read at once */
    int budget;       /* seconds a run may go on starting attempts */
} cn_webhook_policy_t;

/* The wait before the next attempt after ATTEMPTS failed ones (1, 2, ...):
 * exponential backoff with jitter. The window is backoff_min * 2^(ATTEMPTS-1)
 * capped at backoff_max; the wait is drawn uniformly from [backoff_min,
 * window] with RANDOM (any 32-bit value), so receivers that failed together
 * are not retried together. */
apr_int64_t cn_webhook_backoff(const cn_webhook_policy_t *p, int attempts, apr_uint32_t random);

/* A delivery run: what it needs besides ctx (ctx->http, ctx->dbs, ctx->log). */
typedef struct cn_webhook_run_t {
    cn_webhook_policy_t policy;
    apr_hash_t *targets;                    /* client id -> cn_webhook_target_t */
    apr_int64_t (*clock)(void *baton);      /* seconds; NULL: the system's */
    apr_uint32_t (*random)(void *baton);    /* NULL: OpenSSL's */
    int (*stopping)(void *baton);           /* non-zero: end the run now; NULL: never */
    void *baton;
} cn_webhook_run_t;

/* What a run did. */
typedef struct cn_webhook_counts_t {
    int delivered; /* answered 2xx */
    int retried;   /* failed, tried again later */
    int failed;    /* failed, and past the retry period: given up */
} cn_webhook_counts_t;

/* Whether a delivery is due (a cheap read: a run without work takes no lease). */
/* The deliveries pending (due or waiting for a retry) into *PENDING, and
 * into the metrics' backlog gauge. */
apr_status_t cn_webhook_backlog(cn_ctx_t *ctx, apr_int64_t *pending);

apr_status_t cn_webhook_any_due(cn_ctx_t *ctx, apr_int64_t now, int *due);

/* Deliver what is due, oldest first, the oldest pending delivery of each
 * grant before its later ones, until nothing is due, the budget is spent or
 * RUN->stopping says so. Database sections are short and closed during
 * every HTTP call. *COUNTS (may be NULL) gets what was done. */
apr_status_t cn_webhook_deliver(cn_ctx_t *ctx, const cn_webhook_run_t *run,
                                cn_webhook_counts_t *counts);

/* Delete delivered and failed rows last changed before BEFORE (batches). */
apr_status_t cn_webhook_purge(cn_ctx_t *ctx, apr_int64_t before, int *deleted);

/* GET /webhooks/deliveries: ctx->app_id's deliveries, newest first, those
 * of STATUS (pending, delivered, failed; NULL or "": all). */
apr_status_t cn_webhook_list(cn_ctx_t *ctx, const char *status, int limit, int offset,
                             json_t **out);

/* POST /webhooks/deliveries/{id}/retry: a failed (or pending) delivery of
 * ctx->app_id is due now, its retry period counted again from now.
 * not_found_error when there is none; invalid_request when it was delivered. */
apr_status_t cn_webhook_retry(cn_ctx_t *ctx, const char *id, json_t **out);

#endif
