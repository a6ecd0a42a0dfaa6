/* Private to metrics.c and metrics_text.c: the layout of the shared block. */
#ifndef CN_JOBS_METRICS_H
#define CN_JOBS_METRICS_H

#include "cn_metrics.h"

/* Latency buckets: upper bounds in microseconds, the last (+Inf) implied. */
#define CN_METRIC_BUCKETS 14
extern const apr_int64_t cn_metric_bucket_us[CN_METRIC_BUCKETS - 1];
extern const char *const cn_metric_bucket_le[CN_METRIC_BUCKETS];

#define CN_METRIC_PROVIDERS 3 /* google, microsoft, other */
#define CN_METRIC_ENDPOINTS 5 /* token, userinfo, graph, revoke, other */
extern const char *const cn_metric_providers[CN_METRIC_PROVIDERS];
extern const char *const cn_metric_endpoints[CN_METRIC_ENDPOINTS];

/* Observations per bucket (not cumulative: one add per observation; the
 * text sums them), and their sum. The count is the buckets' sum. */
typedef struct cn_metric_histogram_t {
    apr_uint64_t bucket[CN_METRIC_BUCKETS];
    apr_uint64_t sum_us;
} cn_metric_histogram_t;

typedef struct cn_metric_route_cell_t {
    apr_uint64_t status[5]; /* 1xx .. 5xx */
    cn_metric_histogram_t latency;
} cn_metric_route_cell_t;

typedef struct cn_metric_call_cell_t {
    apr_uint64_t outcome[CN_METRIC_CALL_OUTCOMES];
    cn_metric_histogram_t latency;
} cn_metric_call_cell_t;

/* The shared block. Only 64-bit words: no padding, one layout everywhere. */
typedef struct cn_metric_block_t {
    apr_uint64_t magic;   /* written last when a block is laid out */
    apr_uint64_t layout;  /* a hash of the version and the routes */
    apr_uint64_t nroutes;
    apr_int64_t started;  /* seconds since the epoch */
    apr_uint64_t refreshes[CN_METRIC_REFRESH_RESULTS];
    apr_uint64_t db_errors[CN_METRIC_DB_KINDS];
    apr_uint64_t db_transactions, db_transaction_works; /* the group commit's */
    apr_uint64_t webhooks[CN_METRIC_WEBHOOK_OUTCOMES];
    apr_int64_t webhook_backlog;
    cn_metric_histogram_t webhook_latency;
    cn_metric_call_cell_t calls[CN_METRIC_PROVIDERS][CN_METRIC_ENDPOINTS];
    cn_metric_route_cell_t routes[]; /* nroutes */
} cn_metric_block_t;

struct cn_metrics_t {
    cn_metric_block_t *block;
    int nroutes;
    cn_metrics_route_t *routes; /* their labels, in the process's memory */
};

#endif
