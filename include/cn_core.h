/* The context of every core call: the caller's pool, the seams to the host
 * (database, HTTP and IMAP clients), the keyring, who calls, and the result of a call
 * that failed. The glue fills one per request (or per background job); the
 * core never sees a request_rec. */
#ifndef CN_CORE_H
#define CN_CORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <apr_hash.h>

#include "cn_util.h"
#include "cn_store.h"

typedef struct cn_http_t cn_http_t; /* cn_proto.h */
typedef struct cn_imap_t cn_imap_t; /* cn_proto.h */
typedef struct cn_signing_keys_t cn_signing_keys_t; /* cn_proto.h */
typedef struct cn_discover_conf_t cn_discover_conf_t; /* cn_discover.h */
typedef struct cn_metrics_t cn_metrics_t; /* cn_metrics.h */
typedef struct cn_ctx_t cn_ctx_t;

/* The module's own log IDs: "CN" + five digits, unique per call site (make
 * test checks: scripts/check-logids.sh), in the core and in the glue alike. */
#define CNLOGNO(n) "CN" #n ": "

/* Log levels: syslog's numbers, as httpd's APLOG_*. */
#define CN_LOG_CRIT 2
#define CN_LOG_ERR 3
#define CN_LOG_WARNING 4
#define CN_LOG_NOTICE 5
#define CN_LOG_INFO 6
#define CN_LOG_DEBUG 7

/* How the core writes a log line: httpd's log with the request (or, for
 * background work, the server) behind it; a test may collect the lines.
 * LINE starts with the log ID and never holds a secret. */
typedef struct cn_log_seam_t {
    void (*write)(void *baton, int level, const char *line);
    int (*enabled)(void *baton, int level); /* may be NULL: every level */
    void *baton;
} cn_log_seam_t;

/* Short database sections: the core opens a handle for a few statements
 * and closes it before it talks to a provider (mod_dbd's ap_dbd_open and
 * ap_dbd_close behind it in httpd, a plain apr_dbd connection in tests). */
typedef struct cn_db_seam_t {
    apr_status_t (*open)(void *baton, apr_pool_t *pool, cn_db_t **db);
    void (*close)(void *baton, cn_db_t *db);
    void *baton;
} cn_db_seam_t;

/* The shared cache (mod_socache through ConnectCache in the glue): small
 * values with a lifetime, seen by every process (and every node, with
 * memcache or redis). Attempt counters, replay nonces, discovery results. */
typedef struct cn_cache_seam_t {
    /* The value under KEY, copied into POOL; APR_NOTFOUND when there is none
     * or it expired. */
    apr_status_t (*get)(void *baton, apr_pool_t *pool, const char *key, const char **val,
                        apr_size_t *len);
    /* VAL (LEN bytes) under KEY for TTL seconds. */
    apr_status_t (*put)(void *baton, apr_pool_t *pool, const char *key, const char *val,
                        apr_size_t len, apr_int64_t ttl);
    apr_status_t (*remove)(void *baton, apr_pool_t *pool, const char *key);
    /* The counter under KEY plus DELTA, into *OUT; a counter that does not
     * exist starts at 0 and lives TTL seconds from its first increment.
     * Atomic across the processes of one server. */
    apr_status_t (*incr)(void *baton, apr_pool_t *pool, const char *key, long delta,
                         apr_int64_t ttl, long *out);
    void *baton;
} cn_cache_seam_t;

/* The clock of waits measured in the wall time (retries, a refresh's
 * waiters): apr_time_now and apr_sleep unless a test injects its own. */
typedef struct cn_clock_seam_t {
    apr_time_t (*now)(void *baton);
    void (*sleep)(void *baton, apr_interval_time_t t);
    void *baton;
} cn_clock_seam_t;

struct cn_ctx_t {
    apr_pool_t *pool;
    cn_db_t *db;          /* the open database handle, or NULL */
    int db_depth;         /* sections begun and not yet ended */
    int db_owned;         /* db came from the seam (closed with the last section) */
    cn_db_seam_t dbs;
    cn_log_seam_t log;
    const cn_keyring_t *ring;
    const char *app_id; /* the authenticated application's client id */
    apr_int64_t now;    /* seconds since the epoch */
    cn_result_t res;    /* the failure, when a call fails */
    const char *request_id;        /* for events and logs */
    cn_http_t *http;               /* outgoing calls to providers */
    cn_imap_t *imap;               /* IMAP LOGINs that prove a mailbox password */
    const apr_table_t *endpoints;  /* "provider:name" -> URL overrides */
    const char *base_url;          /* ConnectBaseURL */
    const char *client_ip, *user_agent; /* of the browser or caller */
    cn_text_cache_t *grant_cache; /* rendered grants, per process; may be NULL */
    const cn_signing_keys_t *signing; /* ConnectSigningKey: id_tokens; may be NULL */
    const cn_cache_seam_t *cache;     /* ConnectCache; NULL: none (callers go on uncached) */
    const cn_discover_conf_t *discover; /* auto-discovery's network settings; NULL: the
                                         * bundled table only */
    cn_metrics_t *metrics;        /* the shared counters (cn_metrics.h); NULL: none */
    const cn_clock_seam_t *clock;       /* NULL: the system's */
    apr_hash_t *webhooks; /* client id -> cn_webhook_target_t (cn_webhook.h): the
                           * applications whose events go to their outbox; NULL: none */
};

/* A log line of LEVEL through the context's seam (nothing when it has none). */
void cn_log(cn_ctx_t *ctx, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Begin a database section: a handle from the seam, unless the caller
 * already holds one (then the section is part of the caller's). Every
 * cn_ctx_db_open is paired with a cn_ctx_db_close. A failure is in ctx->res. */
apr_status_t cn_ctx_db_open(cn_ctx_t *ctx);
void cn_ctx_db_close(cn_ctx_t *ctx);

/* The wall time and a wait, through ctx->clock. */
apr_time_t cn_ctx_time(const cn_ctx_t *ctx);
void cn_ctx_sleep(const cn_ctx_t *ctx, apr_interval_time_t t);

/* internal_error for a failed database statement or transaction: the
 * driver's message goes to the log (never to the caller). */
apr_status_t cn_fail_db(cn_ctx_t *ctx);

/* internal_error for something that must not fail (randomness, sealing, a
 * stored value that does not parse): WHAT goes to the log. */
apr_status_t cn_fail_internal(cn_ctx_t *ctx, const char *what);

#endif
